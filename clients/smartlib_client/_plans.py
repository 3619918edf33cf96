"""How one description of the client serves both the synchronous and the asyncio client.

Every client method is written once, in operations.py and admin.py, as a *plan*: a generator
that yields what it needs done (a `Call` of one RPC, or a `Sleep`) and gets back the reply, or
has the failure thrown into it. An iterator method (page_iter) is a generator of plans, one per
item, each made only once the one before it has run. It builds the requests, converts the
replies, and decides on retries, but does no I/O. SmartLibrary runs plans with blocking calls
and time.sleep; AsyncSmartLibrary with grpc.aio and asyncio.sleep. This is the "sans-I/O" shape
of h11 and hyper-h2: the logic exists once, and only the few lines that touch the network twice.

`operation` and `stream_operation` turn a plan (a generator of plans) into a method: accessed on
a sync client they give a plain function (an iterator), on an async client a coroutine function
(an async iterator), with the plan's signature and docstring; their overloads tell a type
checker which.
"""
from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

import grpc

from smartlib_client.errors import SmartLibError, from_rpc_error
from smartlib_client.tracing import client_span

P = ParamSpec("P")
R = TypeVar("R")


@dataclasses.dataclass(frozen=True)
class Call:
    """One RPC: `service` is the full gRPC service name, `admin` sends the admin token."""

    service: str
    method: str
    request: Any
    timeout: float | None
    admin: bool = False


@dataclasses.dataclass(frozen=True)
class Sleep:
    seconds: float


Plan = Generator[Call | Sleep, Any, R]
Plans = Iterator[Plan[R]]


def step(plan: Generator, reply: Any = None, error: BaseException | None = None) -> tuple[bool, Any]:
    """Resumes `plan` with a reply or an error: (True, its result) once it returned, else (False, what it yields next)."""
    try:
        return False, (plan.throw(error) if error is not None else plan.send(reply))
    except StopIteration as done:
        return True, done.value


def _method_signature(plan: Callable) -> inspect.Signature:
    signature = inspect.signature(plan)
    returns = signature.return_annotation  # "Plan[Table]" reads as "Table" to the caller
    if isinstance(returns, str) and returns.startswith("Plan[") and returns.endswith("]"):
        returns = returns[5:-1]
    return signature.replace(parameters=list(signature.parameters.values())[1:], return_annotation=returns)


class operation(Generic[P, R]):  # noqa: N801 - used as a decorator, like property
    """A client method from a plan: sync on SmartLibrary, a coroutine function on AsyncSmartLibrary."""

    def __init__(self, plan: Callable[Concatenate[Any, P], Plan[R]]):
        self.plan = plan
        self.signature = _method_signature(plan)
        functools.update_wrapper(self, plan)

    def __set_name__(self, owner: type, name: str) -> None:
        self.__name__, self.__qualname__ = name, f"{owner.__qualname__}.{name}"  # `find = operation(_find)`

    @overload
    def __get__(self, obj: None, owner: type) -> operation[P, R]: ...
    @overload
    def __get__(self, obj: SyncDriver, owner: type) -> Callable[P, R]: ...
    @overload
    def __get__(self, obj: AsyncDriver, owner: type) -> Callable[P, Awaitable[R]]: ...
    def __get__(self, obj, owner=None):
        return self if obj is None else obj._bind(self)


class stream_operation(Generic[P, R]):  # noqa: N801
    """A client method that returns an iterator of the results of a generator of plans: async on AsyncSmartLibrary."""

    def __init__(self, plan: Callable[Concatenate[Any, P], Plans[R]]):
        self.plan = plan
        self.signature = _method_signature(plan)
        functools.update_wrapper(self, plan)

    def __set_name__(self, owner: type, name: str) -> None:
        self.__name__, self.__qualname__ = name, f"{owner.__qualname__}.{name}"

    @overload
    def __get__(self, obj: None, owner: type) -> stream_operation[P, R]: ...
    @overload
    def __get__(self, obj: SyncDriver, owner: type) -> Callable[P, Iterator[R]]: ...
    @overload
    def __get__(self, obj: AsyncDriver, owner: type) -> Callable[P, AsyncIterator[R]]: ...
    def __get__(self, obj, owner=None):
        return self if obj is None else obj._bind_stream(self)


def _named(function, op) -> Any:
    functools.update_wrapper(function, op.plan)
    function.__name__, function.__qualname__, function.__signature__ = op.__name__, op.__qualname__, op.signature
    return function


class SyncDriver:
    """Runs plans with blocking gRPC calls. Subclasses set `_stubs` (service name -> stub)."""

    _stubs: dict[str, Any]
    _metadata: Callable[[Call], tuple[tuple[str, str], ...]]

    def _bind(self, op: operation) -> Callable:
        return _named(lambda *args, **kwargs: self._run(op.plan(self, *args, **kwargs)), op)

    def _bind_stream(self, op: stream_operation) -> Callable:
        return _named(lambda *args, **kwargs: self._stream(op.plan(self, *args, **kwargs)), op)

    def _run(self, plan: Plan[R]) -> R:
        finished, item = step(plan)
        while not finished:
            finished, item = step(plan, *self._perform(item))
        return item

    def _stream(self, plans: Plans[R]) -> Iterator[R]:
        for plan in plans:
            yield self._run(plan)

    def _perform(self, item: Call | Sleep) -> tuple[Any, SmartLibError | None]:
        if isinstance(item, Sleep):
            time.sleep(item.seconds)
            return None, None
        method = getattr(self._stubs[item.service], item.method)
        with client_span(item.service, item.method) as traced:
            try:
                return method(item.request, timeout=item.timeout, metadata=self._metadata(item) + traced.metadata), None
            except grpc.RpcError as err:
                traced.failed(err.code().name)
                return None, from_rpc_error(err)


class AsyncDriver:
    """Runs plans with grpc.aio calls on the running event loop."""

    _stubs: dict[str, Any]
    _metadata: Callable[[Call], tuple[tuple[str, str], ...]]

    def _bind(self, op: operation) -> Callable:
        async def method(*args, **kwargs):
            return await self._run(op.plan(self, *args, **kwargs))

        return _named(method, op)

    def _bind_stream(self, op: stream_operation) -> Callable:
        return _named(lambda *args, **kwargs: self._stream(op.plan(self, *args, **kwargs)), op)

    async def _run(self, plan: Plan[R]) -> R:
        finished, item = step(plan)
        while not finished:
            finished, item = step(plan, *await self._perform(item))
        return item

    async def _stream(self, plans: Plans[R]) -> AsyncIterator[R]:
        for plan in plans:
            yield await self._run(plan)

    async def _perform(self, item: Call | Sleep) -> tuple[Any, SmartLibError | None]:
        if isinstance(item, Sleep):
            await asyncio.sleep(item.seconds)
            return None, None
        method = getattr(self._stubs[item.service], item.method)
        with client_span(item.service, item.method) as traced:
            try:
                return await method(item.request, timeout=item.timeout, metadata=self._metadata(item) + traced.metadata), None
            except grpc.RpcError as err:
                traced.failed(err.code().name)
                return None, from_rpc_error(err)
