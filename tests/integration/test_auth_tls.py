"""Bearer tokens on every method shape, admin separation, secrets kept out of logs, TLS and mTLS.

Certificates come from a throwaway CA made in tmp_path for each test module.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import logging
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from smartlib.v1 import admin_service_pb2 as admin_pb2, catalog_service_pb2 as cs, catalog_service_pb2_grpc
from smartlib_core.errors import ConfigError
from smartlib_server import background
from smartlib_server.api import tls
from smartlib_server.api.auth_interceptor import AuthInterceptor, check_tokens

TOKEN = "user-token-7f3a9c1e5b2d4f60"
ADMIN_TOKEN = "admin-token-e41d8cd98f00b204e9800998ecf8427e"
GET_STATS = "/smartlib.v1.AdminService/GetStats"


# -- a throwaway PKI ------------------------------------------------------------------------
def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _cert(subject: str, key, issuer_name: x509.Name, issuer_key, *, ca: bool, usage=None) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject)).issuer_name(issuer_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if usage is ExtendedKeyUsageOID.SERVER_AUTH:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclasses.dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: bytes
    client_key: bytes
    rogue_ca: Path  # a second CA: its certificates must be refused
    rogue_client_cert: bytes
    rogue_client_key: bytes


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")

    def authority(name: str):
        key = ec.generate_private_key(ec.SECP256R1())
        return key, _cert(name, key, _name(name), key, ca=True)

    def leaf(name: str, ca_key, ca_cert, usage):
        key = ec.generate_private_key(ec.SECP256R1())
        return key, _cert(name, key, ca_cert.subject, ca_key, ca=False, usage=usage)

    ca_key, ca_cert = authority("smartlib test CA")
    rogue_key, rogue_cert = authority("rogue CA")
    server_key, server_cert = leaf("localhost", ca_key, ca_cert, ExtendedKeyUsageOID.SERVER_AUTH)
    client_key, client_cert = leaf("client", ca_key, ca_cert, ExtendedKeyUsageOID.CLIENT_AUTH)
    rogue_client_key, rogue_client_cert = leaf("client", rogue_key, rogue_cert, ExtendedKeyUsageOID.CLIENT_AUTH)
    paths = {name: folder / f"{name}.pem" for name in ("ca", "rogue_ca", "server", "server_key")}
    paths["ca"].write_bytes(_pem(ca_cert))
    paths["rogue_ca"].write_bytes(_pem(rogue_cert))
    paths["server"].write_bytes(_pem(server_cert))
    paths["server_key"].write_bytes(_key_pem(server_key))
    return Pki(
        paths["ca"], paths["server"], paths["server_key"], _pem(client_cert), _key_pem(client_key),
        paths["rogue_ca"], _pem(rogue_client_cert), _key_pem(rogue_client_key),
    )


# -- servers --------------------------------------------------------------------------------
def _admin_stand_in() -> grpc.GenericRpcHandler:
    """GetStats answering {books: 1}, for runs where the real AdminService is not served yet."""

    async def get_stats(request, context):
        return admin_pb2.GetStatsResponse(books=1)

    return grpc.method_handlers_generic_handler("smartlib.v1.AdminService", {
        "GetStats": grpc.unary_unary_rpc_method_handler(
            get_stats, admin_pb2.GetStatsRequest.FromString, admin_pb2.GetStatsResponse.SerializeToString
        )
    })


@pytest.fixture
def secure_server_factory(make_server, starter_settings, monkeypatch):
    """make(credentials) -> (server, TLS port): the real server stack plus a TLS port on 127.0.0.1."""

    def make(credentials: grpc.ServerCredentials | None, auth_token: str = TOKEN, admin_token: str = ADMIN_TOKEN):
        real_build = background.build_server
        ports: list[int] = []

        def build_with_extras(settings, services, interceptors=None):
            app = real_build(settings, services, interceptors)
            app.server.add_generic_rpc_handlers((_admin_stand_in(),))
            if credentials is not None:
                ports.append(app.server.add_secure_port("127.0.0.1:0", credentials))
            return app

        monkeypatch.setattr(background, "build_server", build_with_extras)
        settings = dataclasses.replace(starter_settings, auth_token=auth_token, admin_token=admin_token)
        server = make_server(settings)  # build_server adds the auth interceptor from the settings
        return server, (ports[0] if ports else None)

    return make


@pytest.fixture
def guarded(secure_server_factory):
    server, _ = secure_server_factory(None)
    with server.channel() as channel:
        yield channel


def _bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def _code(call) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def _list(channel, metadata=()):
    return catalog_service_pb2_grpc.CatalogServiceStub(channel).ListBooks(cs.ListBooksRequest(page_size=1), metadata=metadata, timeout=30)


def _get_stats(channel, metadata=()):
    call = channel.unary_unary(GET_STATS, admin_pb2.GetStatsRequest.SerializeToString, admin_pb2.GetStatsResponse.FromString)
    return call(admin_pb2.GetStatsRequest(), metadata=metadata, timeout=30)


def _reflect(channel, metadata=()):
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), metadata=metadata, timeout=30)
    return [s.name for reply in replies for s in reply.list_services_response.service]


# -- bearer tokens --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "metadata, expected",
    [
        ((), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", TOKEN),), grpc.StatusCode.UNAUTHENTICATED),  # no scheme
        ((("authorization", f"Basic {TOKEN}"),), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", "Bearer "),), grpc.StatusCode.UNAUTHENTICATED),
        (_bearer(TOKEN) + _bearer(TOKEN), grpc.StatusCode.UNAUTHENTICATED),  # ambiguous: sent twice
        (_bearer(TOKEN[:-1]), grpc.StatusCode.PERMISSION_DENIED),
        (_bearer(TOKEN + "x"), grpc.StatusCode.PERMISSION_DENIED),
        (_bearer("X" + TOKEN[1:]), grpc.StatusCode.PERMISSION_DENIED),  # same length, first byte differs
        (_bearer(TOKEN), grpc.StatusCode.OK),
        ((("authorization", f"bearer   {TOKEN}"),), grpc.StatusCode.OK),  # the scheme is case-insensitive
        (_bearer(ADMIN_TOKEN), grpc.StatusCode.OK),  # the admin token opens ordinary methods too
    ],
)
def test_unary_method_needs_the_token(guarded, metadata, expected):
    assert _code(lambda: _list(guarded, metadata)) == expected


@pytest.mark.parametrize(
    "metadata, expected",
    [
        ((), grpc.StatusCode.UNAUTHENTICATED),
        (_bearer(TOKEN), grpc.StatusCode.PERMISSION_DENIED),  # the ordinary token is not enough
        (_bearer(ADMIN_TOKEN[:-1] + "0"), grpc.StatusCode.PERMISSION_DENIED),
        (_bearer(ADMIN_TOKEN), grpc.StatusCode.OK),
    ],
)
def test_admin_methods_need_the_admin_token(guarded, metadata, expected):
    assert _code(lambda: _get_stats(guarded, metadata)) == expected


def test_streams_and_reflection_need_the_token_health_does_not(guarded):
    assert _code(lambda: _reflect(guarded)) == grpc.StatusCode.UNAUTHENTICATED
    assert _code(lambda: _reflect(guarded, _bearer("wrong-token-but-long-enough"))) == grpc.StatusCode.PERMISSION_DENIED
    assert "smartlib.v1.CatalogService" in _reflect(guarded, _bearer(TOKEN))
    health = health_pb2_grpc.HealthStub(guarded)
    assert health.Check(health_pb2.HealthCheckRequest(), timeout=10).status == health_pb2.HealthCheckResponse.SERVING
    watch = health.Watch(health_pb2.HealthCheckRequest(), timeout=10)  # server-streaming, still exempt
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    watch.cancel()


def test_without_an_admin_token_admin_needs_the_ordinary_token_and_loopback(secure_server_factory):
    # Calls from another host are refused: test_secure_defaults.py calls from one.
    server, _ = secure_server_factory(None, admin_token="")
    with server.channel() as channel:
        assert _code(lambda: _get_stats(channel)) == grpc.StatusCode.UNAUTHENTICATED
        assert _code(lambda: _get_stats(channel, _bearer("X" + TOKEN[1:]))) == grpc.StatusCode.PERMISSION_DENIED
        assert _code(lambda: _get_stats(channel, _bearer(TOKEN))) == grpc.StatusCode.OK  # over loopback
        assert _list(channel, _bearer(TOKEN)).books


def test_only_an_admin_token_leaves_ordinary_methods_open(secure_server_factory):
    server, _ = secure_server_factory(None, auth_token="")
    with server.channel() as channel:
        assert _list(channel).books
        assert _code(lambda: _get_stats(channel)) == grpc.StatusCode.UNAUTHENTICATED
        assert _code(lambda: _get_stats(channel, _bearer(ADMIN_TOKEN))) == grpc.StatusCode.OK


def test_tokens_never_reach_logs_or_statuses(guarded, caplog):
    caplog.set_level(logging.DEBUG)
    near_miss = TOKEN[:-2] + "zz"
    errors = []
    for metadata in (_bearer(near_miss), _bearer(TOKEN), (("authorization", f"Basic {TOKEN}"),)):
        for call in (_list, _get_stats):
            try:
                call(guarded, metadata)
            except grpc.RpcError as error:
                errors.append(error)
    assert len(errors) == 5  # everything but the ordinary token on ListBooks was refused
    assert "denied" in caplog.text  # the refusals were logged...
    for secret in (TOKEN, near_miss, ADMIN_TOKEN):  # ...without any credential in them
        assert secret not in caplog.text
        for error in errors:
            assert secret not in error.details()
            assert all(secret not in str(value) for _, value in error.trailing_metadata() or ())


def test_weak_token_settings_fail_at_start_without_echoing_them():
    with pytest.raises(ConfigError, match="SMARTLIB_AUTH_TOKEN") as info:
        check_tokens("short", "")
    assert "short" not in str(info.value)
    with pytest.raises(ConfigError, match="SMARTLIB_ADMIN_TOKEN"):
        check_tokens(TOKEN, TOKEN[:20])  # admin tokens need 32 characters
    same = "x" * 40
    with pytest.raises(ConfigError, match="must differ"):
        AuthInterceptor(same, same)
    with pytest.raises(ConfigError, match="SMARTLIB_AUTH_TOKEN"):
        check_tokens(f" {TOKEN}", "")


# -- TLS and mTLS ---------------------------------------------------------------------------
def _secure(port: int, ca: Path, cert: bytes | None = None, key: bytes | None = None) -> grpc.Channel:
    credentials = grpc.ssl_channel_credentials(ca.read_bytes(), private_key=key, certificate_chain=cert)
    return grpc.secure_channel(f"127.0.0.1:{port}", credentials)


def test_tls_serves_trusting_clients_only(secure_server_factory, pki):
    server, port = secure_server_factory(tls.server_credentials(pki.server_cert, pki.server_key))
    with _secure(port, pki.ca) as channel:
        assert _list(channel, _bearer(TOKEN)).books  # TLS and the token together
        assert _code(lambda: _list(channel)) == grpc.StatusCode.UNAUTHENTICATED  # TLS does not replace the token
    with _secure(port, pki.rogue_ca) as channel:  # a client that does not trust our CA gives up
        assert _code(lambda: _list(channel, _bearer(TOKEN))) == grpc.StatusCode.UNAVAILABLE
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:  # plaintext to a TLS port
        assert _code(lambda: _list(channel, _bearer(TOKEN))) == grpc.StatusCode.UNAVAILABLE


def test_mtls_requires_a_client_certificate_from_the_client_ca(secure_server_factory, pki):
    credentials = tls.server_credentials(pki.server_cert, pki.server_key, client_ca=pki.ca)
    server, port = secure_server_factory(credentials)
    with _secure(port, pki.ca, pki.client_cert, pki.client_key) as channel:
        assert _list(channel, _bearer(TOKEN)).books
    with _secure(port, pki.ca) as channel:  # no client certificate
        assert _code(lambda: _list(channel, _bearer(TOKEN))) == grpc.StatusCode.UNAVAILABLE
    with _secure(port, pki.ca, pki.rogue_client_cert, pki.rogue_client_key) as channel:
        assert _code(lambda: _list(channel, _bearer(TOKEN))) == grpc.StatusCode.UNAVAILABLE


def test_tls_settings_are_checked_at_start(pki, tmp_path):
    assert tls.server_credentials() is None  # nothing configured: plaintext
    with pytest.raises(ConfigError, match="SMARTLIB_TLS_KEY"):
        tls.server_credentials(cert=pki.server_cert)
    with pytest.raises(ConfigError, match="SMARTLIB_TLS_CERT"):
        tls.server_credentials(key=pki.server_key)
    with pytest.raises(ConfigError, match="SMARTLIB_TLS_CLIENT_CA"):
        tls.server_credentials(client_ca=pki.ca)
    with pytest.raises(ConfigError, match="SMARTLIB_TLS_CERT.*cannot read"):
        tls.server_credentials(tmp_path / "missing.pem", pki.server_key)
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match="SMARTLIB_TLS_CLIENT_CA.*not a PEM"):
        tls.server_credentials(pki.server_cert, pki.server_key, tmp_path / "junk.pem")


def test_tls_and_mtls_from_the_settings_end_to_end(make_server, starter_settings, pki):
    """SMARTLIB_TLS_* through the real build_server: the main port and the health port speak TLS
    (mTLS with a client CA), and the other tests' extra port is not involved."""
    settings = dataclasses.replace(starter_settings, auth_token=TOKEN, admin_token=ADMIN_TOKEN,
                                   tls_cert=str(pki.server_cert), tls_key=str(pki.server_key))
    server = make_server(settings, load=False)
    with _secure(server.app.port, pki.ca) as channel:
        assert _list(channel, _bearer(TOKEN)).books
        assert _code(lambda: _list(channel)) == grpc.StatusCode.UNAUTHENTICATED
    with _secure(server.app.health_port, pki.ca) as channel:
        status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service="smartlib.v1.CatalogService"), timeout=10)
        assert status.status == health_pb2.HealthCheckResponse.SERVING
    for port in (server.app.port, server.app.health_port):
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:  # plaintext to a TLS port
            assert _code(lambda: _list(channel, _bearer(TOKEN))) == grpc.StatusCode.UNAVAILABLE

    mutual = make_server(dataclasses.replace(settings, tls_client_ca=str(pki.ca)), load=False)
    with _secure(mutual.app.port, pki.ca, pki.client_cert, pki.client_key) as channel:
        assert _list(channel, _bearer(TOKEN)).books
    for cert, key in ((None, None), (pki.rogue_client_cert, pki.rogue_client_key)):
        with _secure(mutual.app.port, pki.ca, cert, key) as channel:
            assert _code(lambda: _list(channel, _bearer(TOKEN))) == grpc.StatusCode.UNAVAILABLE
