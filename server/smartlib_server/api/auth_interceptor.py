"""Optional bearer-token authentication for every unary and streaming method.

Clients send `authorization: Bearer <token>` metadata. The rules:
- grpc.health.v1 is exempt, so load balancers and orchestrators can probe without a secret.
- Reflection is NOT exempt: it needs the ordinary token. The schema is public, but listing a
  server's services is reconnaissance an anonymous caller does not need.
- AdminService methods need the admin token; when none is configured they are refused.
- The admin token also opens every ordinary method (it is the stronger credential).
- No or unreadable credentials: UNAUTHENTICATED. A token that is wrong, or the ordinary
  token on an admin method: PERMISSION_DENIED.
Tokens are compared with hmac.compare_digest, and never appear in logs or status messages.
"""
from __future__ import annotations

import hmac
import logging

import grpc

from smartlib_server.config import Settings
from smartlib_server.errors import ConfigError

log = logging.getLogger(__name__)

EXEMPT = ("/grpc.health.v1.Health/",)
ADMIN = "/smartlib.v1.AdminService/"
MIN_TOKEN_CHARS = 16
MIN_ADMIN_TOKEN_CHARS = 32

Denial = tuple[grpc.StatusCode, str]


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


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Checks the bearer token before a handler runs. Build it with `auth_interceptor()`."""

    def __init__(self, auth_token: str, admin_token: str):
        check_tokens(auth_token, admin_token)
        self._token = auth_token
        self._admin = admin_token

    def decide(self, method: str, metadata) -> Denial | None:
        """None when the call may proceed, else the status code and a message for the caller."""
        if method.startswith(EXEMPT):
            return None
        admin_method = method.startswith(ADMIN)
        if not admin_method and not self._token:
            return None  # only the admin token is configured: ordinary methods stay open
        presented = _bearer(metadata)
        if presented is None:
            return grpc.StatusCode.UNAUTHENTICATED, "missing credentials: send 'authorization: Bearer <token>' metadata"
        if _matches(presented, self._admin):
            return None
        if admin_method:
            if not self._admin:
                return grpc.StatusCode.PERMISSION_DENIED, "admin methods are disabled: the server has no admin token"
            return grpc.StatusCode.PERMISSION_DENIED, "this method needs the admin token"
        if _matches(presented, self._token):
            return None
        return grpc.StatusCode.PERMISSION_DENIED, "the token is not valid for this server"

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        denial = self.decide(method, handler_call_details.invocation_metadata)
        if denial is None:
            return handler
        code, message = denial
        log.warning("denied %s: %s", method, code.name)  # the method and outcome only, never the token

        async def deny(request_or_iterator, context):
            await context.abort(code, message)

        # A plain coroutine fits every call shape: it ends the call before any message is read.
        kind = {
            (False, False): "unary_unary", (False, True): "unary_stream",
            (True, False): "stream_unary", (True, True): "stream_stream",
        }[(handler.request_streaming, handler.response_streaming)]
        return handler._replace(**{kind: deny})


def auth_interceptor(settings: Settings) -> AuthInterceptor | None:
    """The interceptor when a token is configured; None leaves the server open (local use)."""
    if not settings.auth_token and not settings.admin_token:
        return None
    return AuthInterceptor(settings.auth_token, settings.admin_token)
