"""Channel construction: TLS, the load-balancing service config and the bearer-token metadata."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import grpc

# Methods that are safe to send twice: reads. The client retries them (retries.RetryPolicy);
# UpsertBooks, DeleteBook, RecordInteractions, ForgetUser, RecommendForUser (it logs an
# experiment exposure), the admin writes and chat are sent once.
IDEMPOTENT_METHODS = {
    "smartlib.v1.CatalogService": ("GetBook", "ListBooks", "SearchBooks"),
    "smartlib.v1.RecommendService": ("SimilarBooks", "SearchByText"),
    "smartlib.v1.AdminService": ("ListVersions", "GetStats", "ListExperiments", "GetExperimentResults"),
    "grpc.health.v1.Health": ("Check",),
}
LOAD_BALANCING = ("pick_first", "round_robin")


def is_idempotent(service: str, method: str) -> bool:
    return method in IDEMPOTENT_METHODS.get(service, ())


def service_config(load_balancing: str | None = None) -> str | None:
    """The gRPC service config: the load-balancing policy, or None for gRPC's default (pick_first).

    round_robin keeps a connection to every address the target resolves to (`dns:///host:port`,
    `ipv4:10.0.0.1:50051,10.0.0.2:50051`) and sends each call to the next ready one, so one
    client spreads its calls over all replicas behind a headless Service.

    Raises:
        ValueError: an unknown policy name.
    """
    if load_balancing is None:
        return None
    if load_balancing not in LOAD_BALANCING:
        raise ValueError(f"load_balancing must be one of {LOAD_BALANCING}, not {load_balancing!r}")
    return json.dumps({"loadBalancingConfig": [{load_balancing: {}}]})


def _read(value: bytes | str | Path | None) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    return Path(value).read_bytes()


@dataclass(frozen=True)
class TLS:
    """TLS options. Paths or PEM bytes; leave `root_certificates` unset to trust the system roots.

    Attributes:
        root_certificates: CA bundle that signed the server's certificate.
        certificate_chain: client certificate, for servers that require mutual TLS.
        private_key: the client certificate's key.
        server_name: expected name in the server's certificate when it differs from the address host.
    """

    root_certificates: bytes | str | Path | None = None
    certificate_chain: bytes | str | Path | None = None
    private_key: bytes | str | Path | None = None
    server_name: str | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        if (self.certificate_chain is None) != (self.private_key is None):
            raise ValueError("mutual TLS needs both certificate_chain and private_key")
        return grpc.ssl_channel_credentials(
            root_certificates=_read(self.root_certificates),
            private_key=_read(self.private_key),
            certificate_chain=_read(self.certificate_chain),
        )


def make_channel(
    address: str,
    tls: TLS | bool | None = None,
    max_message_bytes: int = 4 * 1024 * 1024,
    load_balancing: str | None = None,
    aio: bool = False,
):
    """Opens a channel (a grpc.aio one with `aio=True`); `tls=True` means TLS with the system roots.

    Args:
        address: a gRPC target: "host:port", "dns:///host:port", "ipv4:a:p1,b:p2", ...
        tls: None or False for plaintext, True for the system roots, or TLS options.
        max_message_bytes: the send and receive limit.
        load_balancing: None (gRPC's pick_first), "pick_first" or "round_robin".
        aio: a grpc.aio channel, for the asyncio client.
    """
    options = [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
    ]
    config = service_config(load_balancing)
    if config is not None:
        options.append(("grpc.service_config", config))
    module = grpc.aio if aio else grpc
    if tls is None or tls is False:
        return module.insecure_channel(address, options=options)
    if tls is True:
        tls = TLS()
    if tls.server_name:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    return module.secure_channel(address, tls.credentials(), options=options)


def auth_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    """Per-call metadata carrying the bearer token (works on plaintext and TLS channels alike)."""
    return (("authorization", f"Bearer {token}"),) if token else ()
