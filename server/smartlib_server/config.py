"""One frozen Settings object, built once from environment and flags and passed down."""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from smartlib_server.errors import ConfigError

ENV_PREFIX = "SMARTLIB_"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Server configuration. Field `foo_bar` is read from `SMARTLIB_FOO_BAR`."""

    home: Path = Path("var")  # data folder: SQLite file, local artifacts, exports
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50051
    metrics_port: int = 0  # 0 disables the /metrics endpoint
    database_url: str = ""  # empty: SQLite under home; postgresql://... for PostgreSQL
    redis_url: str = ""  # empty: in-process cache and conversation memory
    environment: str = "dev"  # namespaces cache keys so environments never share answers
    workers: int = 8  # threads running blocking work (FAISS, database, embedding)
    max_k: int = 100
    max_query_chars: int = 512
    max_message_bytes: int = 4 * 1024 * 1024
    max_upsert_batch: int = 1000
    embed_batch_size: int = 32
    embed_bf16: bool = True  # bf16 autocast: about 3x the naive embedder; cosine to fp32 >= 0.99996 (make bench)
    faiss_threads: int = 1  # one OpenMP thread gives steady single-query latency on 2 cores
    index_kind: str = "auto"  # auto | flat | ivf: auto is flat up to 32 MiB of vectors, IVF-SQ8 above (docs/scale.md)
    model_store: Path = Path("model_store")
    encoder_version: str = ""  # empty: the newest valid version in model_store/encoder
    inference: str = "local"  # local | torchserve
    torchserve_url: str = "127.0.0.1:7070"  # TorchServe gRPC inference address
    torchserve_fallback: bool = True  # fall back to in-process inference when TorchServe is down
    inference_timeout_ms: int = 2000
    cache_ttl_s: int = 300
    gcs_bucket: str = ""
    gcs_endpoint: str = ""  # for the emulator; empty uses Google's endpoint
    auth_token: str = ""  # when set, every call needs `authorization: Bearer <token>` (health exempt)
    admin_token: str = ""  # AdminService needs this one; without it AdminService is refused
    tls_cert: str = ""  # server certificate (PEM); with tls_key, the port speaks TLS
    tls_key: str = ""
    tls_client_ca: str = ""  # with it, clients must present a certificate signed by this CA (mTLS)
    max_concurrent_rpcs: int = 32  # admitted unary calls; more fail fast with RESOURCE_EXHAUSTED
    max_streams: int = 256  # admitted streams
    cf_retrain_interval_s: float = 60.0  # how often collaborative filtering folds in new interactions
    llm_url: str = ""  # OpenAI-compatible chat-completions endpoint for optional chat phrasing
    llm_model: str = ""
    llm_timeout_s: float = 30.0
    chat_max_text_chars: int = 2000
    chat_max_turns_per_stream: int = 500
    chat_idle_timeout_s: float = 300.0
    chat_max_streams: int = 2000
    chat_chunk_words: int = 8
    shutdown_grace_s: float = 5.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Builds settings from `env` (default os.environ), then applies non-None overrides.

        Raises:
            ConfigError: a variable is unknown or its value does not parse; the message names it.
        """
        env = os.environ if env is None else env
        fields = {f.name: f for f in dataclasses.fields(cls)}
        known = {ENV_PREFIX + name.upper() for name in fields}
        unknown = sorted(k for k in env if k.startswith(ENV_PREFIX) and k not in known)
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        values: dict[str, Any] = {}
        for name, field in fields.items():
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is not None:
                values[name] = _parse(ENV_PREFIX + name.upper(), raw, type(field.default))
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        def need(ok: bool, var: str, why: str) -> None:
            if not ok:
                raise ConfigError(f"{ENV_PREFIX}{var.upper()}: {why}")

        need(0 <= self.grpc_port <= 65535, "grpc_port", "must be 0..65535")
        need(0 <= self.metrics_port <= 65535, "metrics_port", "must be 0..65535")
        need(self.workers >= 1, "workers", "must be at least 1")
        need(1 <= self.max_k <= 1000, "max_k", "must be 1..1000")
        need(self.inference in ("local", "torchserve"), "inference", "must be 'local' or 'torchserve'")
        need(
            not self.database_url or self.database_url.startswith(("postgresql://", "postgres://")),
            "database_url",
            "must be empty (SQLite) or a postgresql:// URL",
        )
        need(not self.redis_url or self.redis_url.startswith(("redis://", "rediss://")), "redis_url", "must be a redis:// URL")
        need(self.environment.replace("-", "").replace("_", "").isalnum(), "environment", "letters, digits, - and _ only")
        need(self.faiss_threads >= 1, "faiss_threads", "must be at least 1")
        need(self.index_kind in ("auto", "flat", "ivf"), "index_kind", "must be 'auto', 'flat' or 'ivf'")
        need(self.max_concurrent_rpcs >= 1, "max_concurrent_rpcs", "must be at least 1")
        need(self.max_streams >= 1, "max_streams", "must be at least 1")
        need(self.cf_retrain_interval_s > 0, "cf_retrain_interval_s", "must be positive")
        need(self.inference_timeout_ms > 0, "inference_timeout_ms", "must be positive")
        need(not self.llm_url or self.llm_url.startswith(("http://", "https://")), "llm_url", "must be an http(s):// URL")
        for name in ("llm_timeout_s", "chat_max_text_chars", "chat_max_turns_per_stream", "chat_idle_timeout_s",
                     "chat_max_streams", "chat_chunk_words"):
            need(getattr(self, name) > 0, name, "must be positive")

    @property
    def sqlite_path(self) -> Path:
        return self.home / "catalog.sqlite3"


def _parse(var: str, raw: str, kind: type) -> Any:
    try:
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if kind is Path:
            return Path(raw)
        return kind(raw)
    except ValueError:
        raise ConfigError(f"{var}={raw!r} is not a valid {kind.__name__}") from None
