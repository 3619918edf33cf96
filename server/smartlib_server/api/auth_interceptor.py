"""Bearer-token authentication for every unary and streaming method, and the loopback rules.

Clients send `authorization: Bearer <token>` metadata. The rules:
- grpc.health.v1 is exempt, so load balancers and orchestrators can probe without a secret.
- Reflection is NOT exempt: it needs the ordinary token. The schema is public, but listing a
  server's services is reconnaissance an anonymous caller does not need.
- Admin methods (AdminService, InteractionService.ForgetUser) need the admin token. Without an
  admin token configured they answer loopback callers only (still with the ordinary token when
  one is set), so a server on 0.0.0.0 never lets the network activate, roll back or erase.
- The admin token also opens every ordinary method (it is the stronger credential).
- No or unreadable credentials: UNAUTHENTICATED. A token that is wrong, the ordinary token on
  an admin method, or an admin call from another host without an admin token: PERMISSION_DENIED.
Tokens are compared with hmac.compare_digest, and never appear in logs or status messages.

`check_exposure` is Redis's protected mode: a non-loopback bind with no token at all refuses to
start unless SMARTLIB_ALLOW_INSECURE=true, which is then warned about at every start.
"""
from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging

import grpc

from smartlib_server.api.pipeline import Call, Step
from smartlib_server.config import Settings
from smartlib_server.errors import ConfigError

log = logging.getLogger(__name__)

EXEMPT = ("/grpc.health.v1.Health/",)
ADMIN = ("/smartlib.v1.AdminService/", "/smartlib.v1.InteractionService/ForgetUser")
MIN_TOKEN_CHARS = 16
MIN_ADMIN_TOKEN_CHARS = 32

Denial = tuple[grpc.StatusCode, str]
LOOPBACK_ONLY: Denial = (grpc.StatusCode.PERMISSION_DENIED,
                         "admin methods answer loopback callers only: the server has no admin token (SMARTLIB_ADMIN_TOKEN)")


def is_loopback_host(host: str) -> bool:
    """True for a bind address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    host = host.strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost, or 0.0.0.0-style wildcards below


def is_loopback_peer(peer: str) -> bool:
    """True for a gRPC peer string of a local caller: 'ipv4:127.0.0.1:5', 'ipv6:[::1]:5', 'unix:...'."""
    kind, _, rest = peer.partition(":")
    if kind == "unix":
        return True
    if kind == "ipv4":
        return is_loopback_host(rest.rpartition(":")[0])
    if kind == "ipv6":
        address = rest.rpartition(":")[0].strip("[]").removeprefix("::ffff:")  # v4-mapped loopback too
        return is_loopback_host(address)
    return False


def check_exposure(settings: Settings, metrics=None) -> None:
    """Refuses a non-loopback bind with no token unless the operator opted out explicitly.

    Raises:
        ConfigError: SMARTLIB_GRPC_HOST is reachable from other hosts and neither token is set,
            without SMARTLIB_ALLOW_INSECURE=true.
    """
    exposed = not is_loopback_host(settings.grpc_host) and not settings.auth_token and not settings.admin_token
    if metrics is not None:
        metrics.insecure.set(1 if exposed else 0)
    if not exposed:
        return
    if not settings.allow_insecure:
        raise ConfigError(
            f"SMARTLIB_GRPC_HOST={settings.grpc_host} is reachable from other hosts and no token is set: set "
            "SMARTLIB_AUTH_TOKEN and SMARTLIB_ADMIN_TOKEN (make secrets writes both to docker/.env), bind "
            "127.0.0.1, or opt out with SMARTLIB_ALLOW_INSECURE=true"
        )
    log.warning(
        "SMARTLIB_ALLOW_INSECURE=true: serving %s without any token; every caller that reaches the port can "
        "read and write the catalog (admin methods still answer loopback callers only)", settings.grpc_host,
    )


def check_tokens(auth_token: str, admin_token: str) -> None:
    """Start-up checks; messages name the variable, never the value.

    Raises:
        ConfigError: a token is too short, has surrounding spaces, or both are the same.
    """
    for var, token, minimum in (("SMARTLIB_AUTH_TOKEN", auth_token, MIN_TOKEN_CHARS),
                                ("SMARTLIB_ADMIN_TOKEN", admin_token, MIN_ADMIN_TOKEN_CHARS)):
        if token and (len(token) < minimum or token != token.strip() or not token.isprintable()):
            raise ConfigError(f"{var}: must be at least {minimum} printable characters without surrounding spaces")
    if auth_token and admin_token and hmac.compare_digest(auth_token.encode(), admin_token.encode()):
        raise ConfigError("SMARTLIB_ADMIN_TOKEN: must differ from SMARTLIB_AUTH_TOKEN")


def _bearer(metadata) -> str | None:
    """The bearer token from call metadata; None when absent, malformed or sent twice."""
    values = [value for key, value in (metadata or ()) if key == "authorization"]
    if len(values) != 1 or not isinstance(values[0], str):
        return None
    scheme, _, token = values[0].strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _matches(presented: str, expected: str) -> bool:
    # Bytes, because compare_digest refuses non-ASCII str; an empty `expected` never matches.
    return bool(expected) and hmac.compare_digest(presented.encode(), expected.encode())


class AuthInterceptor(Step):
    """Checks the bearer token (and, for admin methods without an admin token, that the caller
    is local) before a handler runs. build_server always installs one."""

    def __init__(self, auth_token: str, admin_token: str):
        check_tokens(auth_token, admin_token)
        self._token = auth_token
        self._admin = admin_token

    def decide(self, method: str, metadata) -> Denial | None:
        """None when the call may proceed; LOOPBACK_ONLY when it may proceed from a loopback
        peer only; else the status code and a message for the caller."""
        if method.startswith(EXEMPT):
            return None
        admin_method = method.startswith(ADMIN)
        presented = _bearer(metadata)
        if admin_method and not self._admin:
            if self._token and presented is None:
                return grpc.StatusCode.UNAUTHENTICATED, "missing credentials: send 'authorization: Bearer <token>' metadata"
            if self._token and not _matches(presented, self._token):
                return grpc.StatusCode.PERMISSION_DENIED, "the token is not valid for this server"
            return LOOPBACK_ONLY
        if not admin_method and not self._token:
            return None  # no ordinary token configured: ordinary methods stay open
        if presented is None:
            return grpc.StatusCode.UNAUTHENTICATED, "missing credentials: send 'authorization: Bearer <token>' metadata"
        if _matches(presented, self._admin):
            return None
        if admin_method:
            return grpc.StatusCode.PERMISSION_DENIED, "this method needs the admin token"
        if _matches(presented, self._token):
            return None
        return grpc.StatusCode.PERMISSION_DENIED, "the token is not valid for this server"

    @contextlib.asynccontextmanager
    async def around(self, call: Call):
        denial = self.decide(call.method, call.context.invocation_metadata())
        if denial is LOOPBACK_ONLY and call.shape == "unary_unary" and is_loopback_peer(call.context.peer()):
            denial = None  # the peer is only known per call, so the loopback rule is checked here
        if denial is not None:
            if denial is LOOPBACK_ONLY:
                log.warning("denied %s: PERMISSION_DENIED (not loopback, no admin token)", call.method)
            else:
                log.warning("denied %s: %s", call.method, denial[0].name)  # the method and outcome, never the token
            await call.context.abort(*denial)  # before any request message is read
        yield


def auth_interceptor(settings: Settings) -> AuthInterceptor:
    """The interceptor for these settings: with no token at all it still keeps admin methods local."""
    return AuthInterceptor(settings.auth_token, settings.admin_token)
