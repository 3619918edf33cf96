"""Optional TLS and mutual TLS for the gRPC port, from PEM files.

- `tls_cert` + `tls_key`: the server presents this certificate chain (TLS).
- plus `tls_client_ca`: clients must present a certificate signed by this CA (mTLS).
- none of them: plaintext, for local use and for deployments that terminate TLS in a proxy.
The files are read once at start-up; a missing or unreadable file fails start-up and the
message names the setting.
"""
from __future__ import annotations

from pathlib import Path

import grpc

from smartlib_core.errors import ConfigError


def _read(var: str, path: str | Path) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{var}={path}: cannot read the file ({exc.strerror})") from None
    if b"-----BEGIN " not in data:
        raise ConfigError(f"{var}={path}: not a PEM file")
    return data


def server_credentials(cert: str | Path = "", key: str | Path = "", client_ca: str | Path = "") -> grpc.ServerCredentials | None:
    """Credentials for `server.add_secure_port`, or None for plaintext.

    Raises:
        ConfigError: only one of cert and key is set, a client CA without a certificate, or a
            file cannot be read.
    """
    if not cert and not key:
        if client_ca:
            raise ConfigError("SMARTLIB_TLS_CLIENT_CA: needs SMARTLIB_TLS_CERT and SMARTLIB_TLS_KEY (mTLS runs over TLS)")
        return None
    if not cert or not key:
        missing = "SMARTLIB_TLS_KEY" if cert else "SMARTLIB_TLS_CERT"
        raise ConfigError(f"{missing}: TLS needs both SMARTLIB_TLS_CERT and SMARTLIB_TLS_KEY")
    pair = (_read("SMARTLIB_TLS_KEY", key), _read("SMARTLIB_TLS_CERT", cert))
    roots = _read("SMARTLIB_TLS_CLIENT_CA", client_ca) if client_ca else None
    return grpc.ssl_server_credentials([pair], root_certificates=roots, require_client_auth=roots is not None)


def add_port(server: grpc.aio.Server, address: str, settings) -> int:
    """Binds `address` with TLS when the settings name certificate files, else in plaintext.

    Returns the bound port (0 when binding failed, as grpc does).
    """
    # getattr: Settings gains the tls_* fields with this module; older settings mean plaintext.
    credentials = server_credentials(
        getattr(settings, "tls_cert", ""), getattr(settings, "tls_key", ""), getattr(settings, "tls_client_ca", "")
    )
    if credentials is None:
        return server.add_insecure_port(address)
    return server.add_secure_port(address, credentials)
