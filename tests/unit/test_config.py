from pathlib import Path

import pytest

from smartlib_core.errors import ConfigError
from smartlib_server.config import Settings


def test_defaults_and_environment():
    s = Settings.from_env({"SMARTLIB_GRPC_PORT": "6000", "SMARTLIB_HOME": "/tmp/x", "SMARTLIB_EMBED_BF16": "true"})
    assert s.grpc_port == 6000 and s.home == Path("/tmp/x") and s.embed_bf16 is True
    assert s.sqlite_path == Path("/tmp/x/catalog.sqlite3")


def test_flags_override_environment():
    assert Settings.from_env({"SMARTLIB_GRPC_PORT": "6000"}, grpc_port=7000).grpc_port == 7000


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"SMARTLIB_GRPC_PORT": "abc"}, "SMARTLIB_GRPC_PORT"),
        ({"SMARTLIB_GRPC_PORT": "70000"}, "SMARTLIB_GRPC_PORT"),
        ({"SMARTLIB_DATABASE_URL": "mysql://x"}, "SMARTLIB_DATABASE_URL"),
        ({"SMARTLIB_INFERENCE": "gpu"}, "SMARTLIB_INFERENCE"),
        ({"SMARTLIB_RUNTIME": "tensorflow"}, "SMARTLIB_RUNTIME"),
        ({"SMARTLIB_EMBED_BF16": "maybe"}, "SMARTLIB_EMBED_BF16"),
        ({"SMARTLIB_GRPC_PROT": "1"}, "SMARTLIB_GRPC_PROT"),
    ],
)
def test_invalid_values_name_the_variable(env, variable):
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env(env)


# One row per setting: a value outside its range and one inside. test_every_setting_has_a_row
# keeps the table complete as settings are added.
RANGE_TABLE = {
    "home": ("", "/tmp/smartlib"),
    "grpc_host": ("0.0.0.0:50051", "0.0.0.0"),
    "grpc_port": ("70000", "0"),
    "metrics_port": ("-1", "9100"),
    "health_port": ("65536", "50052"),
    "database_url": ("mysql://x", "postgresql://postgres@127.0.0.1/test"),
    "redis_url": ("http://x", "redis://127.0.0.1:6379/0"),
    "memory_redis_url": ("127.0.0.1:6379", "redis://127.0.0.1:6380/0"),
    "environment": ("prod env", "prod-eu_1"),
    "workers": ("0", "4"),
    "max_k": ("1001", "1000"),
    "max_query_chars": ("-1", "512"),
    "max_message_bytes": ("0", "4194304"),
    "max_upsert_batch": ("0", "1000"),
    "embed_batch_size": ("0", "32"),
    "embed_bf16": ("maybe", "off"),
    "faiss_threads": ("0", "2"),
    "index_kind": ("hnsw", "ivf"),
    "model_store": (" ", "model_store"),
    "encoder_version": ("../etc", "20260101T000000Z"),
    "inference": ("gpu", "torchserve"),
    "runtime": ("tensorrt", "torch"),
    "runtime_threads": ("0", "2"),
    "batch_max": ("0", "32"),
    "batch_wait_ms": ("101", "2.5"),
    "batch_queue": ("0", "1024"),
    "query_max_tokens": ("8", "64"),
    "query_cache_mb": ("-1", "64"),
    "torchserve_url": ("127.0.0.1", "127.0.0.1:7070"),
    "torchserve_fallback": ("2", "false"),
    "inference_timeout_ms": ("0", "2000"),
    "cache_ttl_s": ("-5", "300"),
    "gcs_bucket": ("Upper", "smartlib-models"),
    "gcs_endpoint": ("localhost:4443", "http://127.0.0.1:4443"),
    "auth_token": ("short", "a" * 16),
    "admin_token": ("b" * 31, "b" * 32),
    "allow_insecure": ("sure", "true"),
    "allow_anonymous_reads": ("anyone", "true"),
    "tls_cert": (" cert.pem", "cert.pem"),
    "tls_key": ("key.pem ", "key.pem"),
    "tls_client_ca": (" ", "ca.pem"),
    "max_concurrent_rpcs": ("0", "32"),
    "max_streams": ("0", "256"),
    "cf_retrain_interval_s": ("0", "60"),
    "personal_cache_users": ("-1", "0"),
    "llm_url": ("ftp://x", "https://llm.example/v1"),
    "llm_model": ("m" * 201, "small-model"),
    "llm_timeout_s": ("nan", "30"),
    "llm_parse": ("maybe", "false"),
    "chat_max_text_chars": ("0", "2000"),
    "chat_max_turns_per_stream": ("0", "500"),
    "chat_idle_timeout_s": ("-1", "300"),
    "chat_max_streams": ("0", "200"),
    "chat_chunk_words": ("0", "8"),
    "shutdown_grace_s": ("-3", "5"),
    "log_format": ("xml", "json"),
    "otlp_endpoint": ("collector:4317", "http://collector:4317"),
    "warm_rows": ("sometimes", "0"),
    "text_fusion": ("maybe", "false"),
}


def test_every_setting_has_a_rule_and_a_row():
    import dataclasses

    from smartlib_server.config import RULES

    fields = {f.name for f in dataclasses.fields(Settings)}
    assert set(RULES) == fields
    assert set(RANGE_TABLE) == fields


@pytest.mark.parametrize("field", sorted(RANGE_TABLE))
def test_each_setting_refuses_a_value_out_of_range_and_names_it(field):
    from smartlib_server.config import RULES

    bad, good = RANGE_TABLE[field]
    variable = f"SMARTLIB_{field.upper()}"
    with pytest.raises(ConfigError) as info:
        Settings.from_env({variable: bad})
    message = str(info.value)
    assert message.startswith(f"{variable}=") and RULES[field].describe in message
    if RULES[field].secret:
        assert bad not in message  # tokens are never echoed
    elif not bad.strip():  # "" and " " are in any message: they must show, quoted, after the name
        assert message.startswith(f"{variable}={bad!r} is out of range")
    else:
        assert bad in message
    Settings.from_env({variable: good})  # the rule is a range, not a refusal of everything


def test_the_defaults_are_in_range():
    Settings().validate()


def test_equal_tokens_are_refused():
    with pytest.raises(ConfigError, match="SMARTLIB_ADMIN_TOKEN"):
        Settings.from_env({"SMARTLIB_AUTH_TOKEN": "x" * 32, "SMARTLIB_ADMIN_TOKEN": "x" * 32})


def test_overrides_from_flags_are_checked_too():
    with pytest.raises(ConfigError, match="SMARTLIB_GRPC_PORT=-1"):
        Settings.from_env({}, grpc_port=-1)


def test_other_components_variables_are_accepted_and_ignored():
    from smartlib_server.variables import OTHERS

    env = {v.name: "1" for v in OTHERS}
    assert Settings.from_env(env) == Settings()


def test_conversation_memory_can_have_its_own_redis():
    from smartlib_server.app import build_conversation_memory

    shared = build_conversation_memory(Settings(redis_url="redis://127.0.0.1:6379/0"))
    own = build_conversation_memory(Settings(redis_url="redis://127.0.0.1:6379/0", memory_redis_url="redis://127.0.0.1:6379/3"))
    try:
        assert shared._client.connection_pool.connection_kwargs["db"] == 0
        assert own._client.connection_pool.connection_kwargs["db"] == 3
    finally:
        shared.close()
        own.close()


def test_a_chat_stream_limit_above_the_admission_limit_is_refused():
    with pytest.raises(ConfigError, match=r"SMARTLIB_CHAT_MAX_STREAMS=2000 can never be reached.*SMARTLIB_MAX_STREAMS=256"):
        Settings.from_env({"SMARTLIB_CHAT_MAX_STREAMS": "2000"})
    assert Settings.from_env({"SMARTLIB_CHAT_MAX_STREAMS": "3000", "SMARTLIB_MAX_STREAMS": "3000"}).chat_max_streams == 3000
