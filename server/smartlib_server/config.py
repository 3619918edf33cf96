"""One frozen Settings object, built once from environment and flags and passed down."""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from smartlib_core.errors import ConfigError
from smartlib_core.runtime import PREFERRED_RUNTIME
from smartlib_server.variables import NOT_SERVER, OTHERS, SERVER, Variable

ENV_PREFIX = "SMARTLIB_"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Server configuration. Field `grpc_port` is read from `SMARTLIB_GRPC_PORT`; RULES gives each its range."""

    home: Path = Path("var")  # data folder: SQLite file, local artifacts, exports
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50051
    metrics_port: int = 0  # 0 disables the /metrics endpoint
    health_port: int = 0  # grpc.health.v1 alone, outside the RPC cap; 0 picks a free port (logged)
    database_url: str = ""  # empty: SQLite under home; postgresql://... for PostgreSQL
    redis_url: str = ""  # empty: in-process cache and conversation memory
    memory_redis_url: str = ""  # conversation memory's own Redis (noeviction); empty: redis_url
    environment: str = "dev"  # namespaces cache keys so environments never share answers
    workers: int = 8  # threads running blocking work (FAISS, database, embedding)
    max_k: int = 100
    max_query_chars: int = 512
    max_message_bytes: int = 4 * 1024 * 1024
    max_upsert_batch: int = 1000
    embed_batch_size: int = 32
    embed_bf16: bool = True  # bf16 where the CPU has it natively (about 3x the naive embedder); fp32 elsewhere (embedding.native_bf16)
    faiss_threads: int = 1  # one OpenMP thread gives steady single-query latency on 2 cores
    warm_rows: bool = True  # build every book's reader-ranked SimilarBooks row in the background (services/recommend/row_warmer.py)
    text_fusion: bool = True  # SearchByText fuses BM25 (the lexical index) with the dense ranking; false: dense only
    index_kind: str = "auto"  # auto | flat | ivf: auto is flat up to 32 MiB of vectors, IVF-SQ8 above (docs/scale.md)
    model_store: Path = Path("model_store")
    encoder_version: str = ""  # empty: the newest valid version in model_store/encoder
    inference: str = "local"  # local | torchserve
    # The in-process runtime for MiniLM and the encoder (smartlib_core/runtime.py); torch is the
    # reference and the fallback when the chosen runtime's package is missing.
    runtime: str = PREFERRED_RUNTIME  # openvino | onnx | torch: openvino by measurement under load (README, Performance)
    runtime_threads: int = 1  # threads per inference call (torch: intra-op threads per calling thread): 1 held up best under load
    batch_max: int = 32  # query texts or 2688-d vectors per shared forward pass (books: 8x as many)
    # How long a batch waits for company. 0 by measurement (make bench's window sweep): batches
    # form anyway while one runs, and 1-5 ms bought no throughput but cost a lone query the wait.
    batch_wait_ms: float = 0.0
    batch_queue: int = 1024  # items waiting per batcher; more are refused with RESOURCE_EXHAUSTED
    query_max_tokens: int = 64  # query tokens embedded (0: the model's 256); cosine >= 0.999 on the bench set
    query_cache_mb: int = 64  # query-embedding LRU bound (0 disables it)
    torchserve_url: str = "127.0.0.1:7070"  # TorchServe gRPC inference address
    torchserve_fallback: bool = True  # fall back to in-process inference when TorchServe is down
    inference_timeout_ms: int = 2000
    cache_ttl_s: int = 300
    gcs_bucket: str = ""
    gcs_endpoint: str = ""  # for the emulator; empty uses Google's endpoint
    auth_token: str = ""  # when set, every call needs `authorization: Bearer <token>` (health exempt)
    admin_token: str = ""  # AdminService needs this one; without it AdminService answers loopback callers only
    allow_insecure: bool = False  # serve a non-loopback address without tokens (warned at every start)
    # With tokens on a non-loopback bind: reads answer without one (warned at every start); writes still need one.
    allow_anonymous_reads: bool = False
    tls_cert: str = ""  # server certificate (PEM); with tls_key, the port speaks TLS
    tls_key: str = ""
    tls_client_ca: str = ""  # with it, clients must present a certificate signed by this CA (mTLS)
    max_concurrent_rpcs: int = 32  # admitted unary calls; more fail fast with RESOURCE_EXHAUSTED
    max_streams: int = 256  # admitted streams
    cf_retrain_interval_s: float = 60.0  # how often collaborative filtering folds in new interactions
    personal_cache_users: int = 512  # users whose RecommendForUser candidates are kept between calls; 0: none
    llm_url: str = ""  # OpenAI-compatible chat-completions endpoint for optional chat phrasing (and parsing)
    llm_model: str = ""
    llm_timeout_s: float = 30.0
    llm_parse: bool = True  # with llm_url: the model reads each message first, the local intent model is the fallback
    chat_max_text_chars: int = 2000
    chat_max_turns_per_stream: int = 500
    chat_idle_timeout_s: float = 300.0
    chat_max_streams: int = 256  # at most max_streams: admission lets no more streams in
    chat_chunk_words: int = 8
    shutdown_grace_s: float = 5.0
    log_format: str = "text"  # text for a terminal, json for one object per line with trace and request ids
    otlp_endpoint: str = ""  # empty: no tracing; http://collector:4317 exports spans over OTLP/gRPC

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Builds settings from `env` (default os.environ), then applies non-None overrides.

        Raises:
            ConfigError: a variable is unknown, or its value does not parse or is out of its
                range; the message names the variable, the value and the range.
        """
        env = os.environ if env is None else env
        fields = {f.name: f for f in dataclasses.fields(cls)}
        known = {env_name(name) for name in fields}
        unknown = sorted(k for k in env if k.startswith(ENV_PREFIX) and k not in known and k not in NOT_SERVER)
        if unknown:
            raise ConfigError(
                f"unknown setting(s) {', '.join(unknown)}; the server reads: {', '.join(sorted(known))}"
                " (other components' variables are listed in smartlib_server/variables.py)"
            )
        values: dict[str, Any] = {}
        for name, field in fields.items():
            raw = env.get(env_name(name))
            if raw is not None:
                values[name] = _parse(name, raw, type(field.default))
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Checks every field against its range in RULES.

        Raises:
            ConfigError: naming the first variable out of range, its value and the range.
        """
        for name, rule in RULES.items():
            value = getattr(self, name)
            if not rule.accepts(value):
                raise out_of_range(name, value)
        if self.auth_token and self.auth_token == self.admin_token:
            raise ConfigError("SMARTLIB_ADMIN_TOKEN: must differ from SMARTLIB_AUTH_TOKEN")
        if self.chat_max_streams > self.max_streams:
            raise ConfigError(
                f"SMARTLIB_CHAT_MAX_STREAMS={self.chat_max_streams} can never be reached: admission lets at most "
                f"SMARTLIB_MAX_STREAMS={self.max_streams} streams in; set it to {self.max_streams} or less"
            )

    @property
    def sqlite_path(self) -> Path:
        return self.home / "catalog.sqlite3"


def registry() -> dict[str, Variable]:
    """Every variable by name: the server's (from Settings) and everyone else's (variables.py)."""
    found = {env_name(name): Variable(env_name(name), (SERVER,), f"server setting; range {rule.describe}")
             for name, rule in RULES.items()}
    for variable in OTHERS:
        found[variable.name] = variable
    return found


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def out_of_range(field: str, value: Any) -> ConfigError:
    rule = RULES[field]
    shown = f"<{len(value)} characters, not shown>" if rule.secret and isinstance(value, str) else repr(
        str(value) if isinstance(value, Path) else value)
    return ConfigError(f"{env_name(field)}={shown} is out of range: must be {rule.describe}")


def _parse(field: str, raw: str, kind: type) -> Any:
    try:
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if issubclass(kind, Path):
            if not raw.strip():
                raise ValueError(raw)  # Path("") would silently mean the current folder
            return Path(raw)
        return kind(raw)
    except ValueError:
        raise out_of_range(field, raw) from None


@dataclasses.dataclass(frozen=True)
class Rule:
    """The values a setting accepts; `describe` is how error messages state them."""

    describe: str
    accepts: Callable[[Any], bool]
    secret: bool = False


def _between(lo: float, hi: float) -> Rule:
    # A bool is an int to Python; refuse it where a number is meant. NaN fails both comparisons.
    return Rule(f"{lo}..{hi}", lambda v: not isinstance(v, bool) and lo <= v <= hi)


def _one_of(*choices: str) -> Rule:
    return Rule(" or ".join(repr(c) for c in choices), lambda v: v in choices)


def _url(*schemes: str) -> Rule:
    return Rule(f"empty or a {' / '.join(s + '://' for s in schemes)} URL",
                lambda v: not v or (v.startswith(tuple(s + "://" for s in schemes)) and v.isprintable() and " " not in v))


def _token(minimum: int) -> Rule:
    return Rule(f"empty or at least {minimum} printable characters without surrounding spaces",
                lambda v: not v or (len(v) >= minimum and v == v.strip() and v.isprintable()), secret=True)


def _host_port(v: str) -> bool:
    host, _, port = v.rpartition(":")
    return bool(host) and " " not in host and port.isdigit() and 1 <= int(port) <= 65535


_BOOL = Rule("true or false (1/0, yes/no, on/off)", lambda v: isinstance(v, bool))
_PATH = Rule("a non-empty path", lambda v: isinstance(v, Path) and str(v).strip() != "" and "\x00" not in str(v))
_FILE = Rule("empty or a file path", lambda v: v == "" or (v.strip() == v and "\x00" not in v))
_NAME = Rule("1..64 letters, digits, '-' and '_'",
             lambda v: 0 < len(v) <= 64 and v.replace("-", "").replace("_", "").isalnum() and v.isascii())

# The range of every setting; tests/unit/test_config.py checks each one and that none is missing.
RULES: dict[str, Rule] = {
    "home": _PATH,
    "grpc_host": Rule("a host name or IP address without spaces or port",
                      lambda v: 0 < len(v) <= 253 and v.isprintable() and " " not in v and (v.count(":") != 1)),
    "grpc_port": _between(0, 65535),
    "metrics_port": _between(0, 65535),
    "health_port": _between(0, 65535),
    "database_url": _url("postgresql", "postgres"),
    "redis_url": _url("redis", "rediss"),
    "memory_redis_url": _url("redis", "rediss"),
    "environment": _NAME,
    "workers": _between(1, 256),
    "max_k": _between(1, 1000),
    "max_query_chars": _between(1, 65536),
    "max_message_bytes": _between(65536, 256 * 1024 * 1024),
    "max_upsert_batch": _between(1, 100_000),
    "embed_batch_size": _between(1, 4096),
    "embed_bf16": _BOOL,
    "faiss_threads": _between(1, 256),
    "warm_rows": _BOOL,
    "text_fusion": _BOOL,
    "index_kind": _one_of("auto", "flat", "ivf"),
    "model_store": _PATH,
    "encoder_version": Rule("empty or a version name from ListVersions (up to 128 characters, no '/')",
                            lambda v: not v or (len(v) <= 128 and "/" not in v and not v.startswith(".") and v.isprintable())),
    "inference": _one_of("local", "torchserve"),
    "runtime": _one_of("openvino", "onnx", "torch"),
    "runtime_threads": _between(1, 64),
    "batch_max": _between(1, 1024),
    "batch_wait_ms": _between(0, 100),
    "batch_queue": _between(1, 100_000),
    "query_max_tokens": Rule("0 (the model's own limit) or 16..256", lambda v: not isinstance(v, bool) and (v == 0 or 16 <= v <= 256)),
    "query_cache_mb": _between(0, 16_384),
    "torchserve_url": Rule("host:port with a port in 1..65535", _host_port),
    "torchserve_fallback": _BOOL,
    "inference_timeout_ms": _between(1, 600_000),
    "cache_ttl_s": _between(1, 7 * 24 * 3600),
    "gcs_bucket": Rule("empty or 3..222 lowercase letters, digits, '-', '_' and '.'",
                       lambda v: not v or (3 <= len(v) <= 222 and v.isascii()
                                           and all(c.islower() or c.isdigit() or c in "-_." for c in v))),
    "gcs_endpoint": _url("http", "https"),
    "auth_token": _token(16),
    "admin_token": _token(32),
    "allow_insecure": _BOOL,
    "allow_anonymous_reads": _BOOL,
    "tls_cert": _FILE,
    "tls_key": _FILE,
    "tls_client_ca": _FILE,
    "max_concurrent_rpcs": _between(1, 10_000),
    "max_streams": _between(1, 100_000),
    "cf_retrain_interval_s": _between(1, 86_400),
    "personal_cache_users": _between(0, 1_000_000),
    "llm_url": _url("http", "https"),
    "llm_model": Rule("up to 200 printable characters", lambda v: len(v) <= 200 and v.isprintable()),
    "llm_timeout_s": _between(0.1, 600),
    "llm_parse": _BOOL,
    "chat_max_text_chars": _between(1, 100_000),
    "chat_max_turns_per_stream": _between(1, 100_000),
    "chat_idle_timeout_s": _between(1, 86_400),
    "chat_max_streams": _between(1, 100_000),
    "chat_chunk_words": _between(1, 1000),
    "shutdown_grace_s": _between(0, 600),
    "log_format": _one_of("text", "json"),
    "otlp_endpoint": _url("http", "https"),
}


def log_format_from_env(env: Mapping[str, str] | None = None) -> str:
    """SMARTLIB_LOG_FORMAT, checked: logging is set up before the command builds its Settings.

    Raises:
        ConfigError: a value other than text or json.
    """
    value = (os.environ if env is None else env).get(env_name("log_format"), Settings.log_format).strip()
    if not RULES["log_format"].accepts(value):
        raise out_of_range("log_format", value)
    return value
