"""Channel construction: TLS, the retry service config and the bearer-token metadata."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import grpc

# Methods that are safe to send twice: reads, and UpsertBooks, whose second identical call
# leaves the catalog unchanged. DeleteBook, RecordInteractions, RecommendForUser (it logs an
# experiment exposure) and chat are not retried.
IDEMPOTENT_METHODS = {
    "smartlib.v1.CatalogService": ("GetBook", "ListBooks", "SearchBooks", "UpsertBooks"),
    "smartlib.v1.RecommendService": ("SimilarBooks", "SearchByText"),
    "smartlib.v1.AdminService": ("ListVersions", "GetStats", "ListExperiments", "GetExperimentResults"),
    "smartlib.v1.InteractionService": ("ForgetUser",),  # erasing twice erases the same
    "grpc.health.v1.Health": ("Check",),
}


def service_config(max_attempts: int = 4) -> str:
    """The gRPC service config: gRPC itself retries UNAVAILABLE on the idempotent methods.

    gRPC's retry runs inside the channel, with exponential backoff and jitter, and it never
    retries once response data has reached the application, so no hand-written loop is needed.
    """
    names = [{"service": service, "method": method} for service, methods in IDEMPOTENT_METHODS.items() for method in methods]
    return json.dumps(
        {
            "methodConfig": [
                {
                    "name": names,
                    "retryPolicy": {
                        "maxAttempts": max_attempts,
                        "initialBackoff": "0.1s",
                        "maxBackoff": "2s",
                        "backoffMultiplier": 2,
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            ]
        }
    )


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
    max_attempts: int = 4,
    max_message_bytes: int = 4 * 1024 * 1024,
) -> grpc.Channel:
    """Opens a channel with retries enabled; `tls=True` means TLS with the system roots."""
    options = [
        ("grpc.enable_retries", 1),
        ("grpc.service_config", service_config(max_attempts)),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
    ]
    if tls is None or tls is False:
        return grpc.insecure_channel(address, options=options)
    if tls is True:
        tls = TLS()
    if tls.server_name:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    return grpc.secure_channel(address, tls.credentials(), options=options)


def auth_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    """Per-call metadata carrying the bearer token (works on plaintext and TLS channels alike)."""
    return (("authorization", f"Bearer {token}"),) if token else ()
