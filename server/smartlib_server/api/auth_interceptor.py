"""Bearer-token authentication for every unary and streaming method, and the loopback rules.

Clients send `authorization: Bearer <token>` metadata. The rules:
- grpc.health.v1 is exempt, so load balancers and orchestrators can probe without a secret.
- Reflection is NOT exempt: it needs the ordinary token. The schema is public, but listing a
  server's services is reconnaissance an anonymous caller does not need.
- Admin methods (AdminService, InteractionService.ForgetUser) need the admin token. Without an
  admin token configured they answer loopback callers only (still with the ordinary token when
  one is set), so a server on 0.0.0.0 never lets the network activate, roll back or erase.
- The admin token also opens every ordinary method (it is the stronger credential).
- Writes (WRITES below, and a chat turn carrying a user_id, which stores that user's tastes) on
  a non-loopback bind need a token whenever the server has one, even where reads do not: with
  SMARTLIB_ALLOW_ANONYMOUS_READS=true, or with only an admin token on a loopback bind.
- No or unreadable credentials: UNAUTHENTICATED. A token that is wrong, the ordinary token on
  an admin method, or an admin call from another host without an admin token: PERMISSION_DENIED.
Tokens are compared with hmac.compare_digest, and never appear in logs or status messages.

`check_exposure` is Redis's protected mode: a non-loopback bind with no token at all refuses to
start unless SMARTLIB_ALLOW_INSECURE=true, and one with only an admin token (reads would need
none) unless SMARTLIB_ALLOW_ANONYMOUS_READS=true; either opt-out is warned about at every start.
The public/loopback decision for writes is the bind's, not the caller's: behind a sidecar proxy
every caller arrives from 127.0.0.1.
"""
from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
from typing import Any

import grpc

from smartlib.v1 import chat_service_pb2
from smartlib_core.errors import ConfigError, SmartLibError
from smartlib_server.api.pipeline import Call, Step
from smartlib_server.config import Settings

log = logging.getLogger(__name__)

EXEMPT = ("/grpc.health.v1.Health/",)
ADMIN = ("/smartlib.v1.AdminService/", "/smartlib.v1.InteractionService/ForgetUser")
# Methods that change what the server stores. RecommendForUser logs an experiment exposure as a
# side effect of answering, and counts as a read. Converse is a write only for a turn with a
# user_id (checked per message, in on_request).
WRITES = frozenset({
    "/smartlib.v1.CatalogService/UpsertBooks",
    "/smartlib.v1.CatalogService/DeleteBook",
    "/smartlib.v1.InteractionService/RecordInteractions",
})
CONVERSE = "/smartlib.v1.ChatService/Converse"
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
    public = not is_loopback_host(settings.grpc_host)
    exposed = public and not settings.auth_token and not settings.admin_token
    anonymous_reads = public and not settings.auth_token  # admin token only, or none at all
    if metrics is not None:
        metrics.insecure.set(1 if exposed else 0)
        metrics.anonymous_reads.set(1 if public and (anonymous_reads or settings.allow_anonymous_reads) else 0)
    if exposed:
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
        return
    if anonymous_reads and not settings.allow_anonymous_reads:
        raise ConfigError(
            f"SMARTLIB_GRPC_HOST={settings.grpc_host} is reachable from other hosts and only SMARTLIB_ADMIN_TOKEN is "
            "set, so reads would need no token: set SMARTLIB_AUTH_TOKEN too (make secrets writes it), or set "
            "SMARTLIB_ALLOW_ANONYMOUS_READS=true to serve reads to anyone (writes still need a token), or bind 127.0.0.1"
        )
    if public and settings.allow_anonymous_reads:
        log.warning(
            "SMARTLIB_ALLOW_ANONYMOUS_READS=true: serving reads on %s to callers without a token; writes "
            "(UpsertBooks, DeleteBook, RecordInteractions, chat turns with a user_id) still need one", settings.grpc_host,
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


class AuthDenied(SmartLibError):
    """A denial raised from a request message (a chat turn that would store tastes), so that the
    servicer reading the stream ends the call with this status."""

    def __init__(self, denial: Denial):
        super().__init__(denial[1])
        self.code = denial[0]  # grpc_code() takes a grpc.StatusCode as it is


def _stores_tastes(request: Any) -> bool:
    """A chat turn with a user_id: the agent remembers that user's tastes across sessions."""
    return (isinstance(request, chat_service_pb2.ConverseRequest) and request.WhichOneof("kind") == "turn"
            and bool(request.turn.user_id))


class AuthInterceptor(Step):
    """Checks the bearer token (and, for admin methods without an admin token, that the caller
    is local) before a handler runs. build_server always installs one.

    Args:
        auth_token: the ordinary token; empty when none is configured.
        admin_token: the admin token; empty when none is configured.
        public: the server listens beyond loopback, so writes need a token whenever one exists.
        anonymous_reads: reads need no token even when the ordinary token is set.
    """

    def __init__(self, auth_token: str, admin_token: str, *, public: bool = False, anonymous_reads: bool = False):
        check_tokens(auth_token, admin_token)
        self._token = auth_token
        self._admin = admin_token
        self._reads_need_token = bool(auth_token) and not anonymous_reads
        # With no token at all (loopback, or SMARTLIB_ALLOW_INSECURE), there is nothing to ask for.
        self._writes_need_token = bool(auth_token) or (public and bool(admin_token))

    def decide(self, method: str, metadata) -> Denial | None:
        """None when the call may proceed; LOOPBACK_ONLY when it may proceed from a loopback
        peer only; else the status code and a message for the caller."""
        if method.startswith(EXEMPT):
            return None
        presented = _bearer(metadata)
        if method.startswith(ADMIN):
            return self._admin_decision(presented)
        if method in WRITES:
            return self._ordinary_decision(presented, self._writes_need_token, write=True)
        return self._ordinary_decision(presented, self._reads_need_token, write=False)

    def write_decision(self, metadata) -> Denial | None:
        """What `decide` would answer for a write method with this metadata."""
        return self._ordinary_decision(_bearer(metadata), self._writes_need_token, write=True)

    def _admin_decision(self, presented: str | None) -> Denial | None:
        if not self._admin:
            if self._token and presented is None:
                return grpc.StatusCode.UNAUTHENTICATED, "missing credentials: send 'authorization: Bearer <token>' metadata"
            if self._token and not _matches(presented, self._token):
                return grpc.StatusCode.PERMISSION_DENIED, "the token is not valid for this server"
            return LOOPBACK_ONLY
        if presented is None:
            return grpc.StatusCode.UNAUTHENTICATED, "missing credentials: send 'authorization: Bearer <token>' metadata"
        if _matches(presented, self._admin):
            return None
        return grpc.StatusCode.PERMISSION_DENIED, "this method needs the admin token"

    def _ordinary_decision(self, presented: str | None, needed: bool, *, write: bool) -> Denial | None:
        if not needed:
            return None  # this kind of call is open here: any token presented is not looked at
        if presented is None:
            if write and not self._reads_need_token:
                return (grpc.StatusCode.UNAUTHENTICATED, "missing credentials: this server answers reads without a "
                        "token, but writes need one; send 'authorization: Bearer <token>' metadata")
            return grpc.StatusCode.UNAUTHENTICATED, "missing credentials: send 'authorization: Bearer <token>' metadata"
        if _matches(presented, self._admin) or _matches(presented, self._token):
            return None
        return grpc.StatusCode.PERMISSION_DENIED, "the token is not valid for this server"

    @contextlib.asynccontextmanager
    async def around(self, call: Call):
        metadata = call.context.invocation_metadata()
        denial = self.decide(call.method, metadata)
        if denial is LOOPBACK_ONLY and call.shape == "unary_unary" and is_loopback_peer(call.context.peer()):
            denial = None  # the peer is only known per call, so the loopback rule is checked here
        if denial is not None:
            if denial is LOOPBACK_ONLY:
                log.warning("denied %s: PERMISSION_DENIED (not loopback, no admin token)", call.method)
            else:
                log.warning("denied %s: %s", call.method, denial[0].name)  # the method and outcome, never the token
            await call.context.abort(*denial)  # before any request message is read
        if call.method == CONVERSE:
            call.state[self] = self.write_decision(metadata)  # applied to turns that carry a user_id
        yield

    async def on_request(self, call: Call, request: Any) -> None:
        denial = call.state.get(self)
        if denial is not None and _stores_tastes(request):
            log.warning("denied %s turn with a user_id: %s", call.method, denial[0].name)
            raise AuthDenied(denial)  # the chat servicer's reader ends the stream with this status


def auth_interceptor(settings: Settings) -> AuthInterceptor:
    """The interceptor for these settings: with no token at all it still keeps admin methods local."""
    return AuthInterceptor(settings.auth_token, settings.admin_token, public=not is_loopback_host(settings.grpc_host),
                           anonymous_reads=settings.allow_anonymous_reads)
