from pathlib import Path

import pytest

from smartlib_server.config import Settings
from smartlib_server.errors import ConfigError


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
        ({"SMARTLIB_EMBED_BF16": "maybe"}, "SMARTLIB_EMBED_BF16"),
        ({"SMARTLIB_GRPC_PROT": "1"}, "SMARTLIB_GRPC_PROT"),
    ],
)
def test_invalid_values_name_the_variable(env, variable):
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env(env)
