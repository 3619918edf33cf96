from smartlib.v1 import books_pb2 as _books_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConverseRequest(_message.Message):
    __slots__ = ("turn", "cancel")
    TURN_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    turn: UserTurn
    cancel: CancelTurn
    def __init__(self, turn: _Optional[_Union[UserTurn, _Mapping]] = ..., cancel: _Optional[_Union[CancelTurn, _Mapping]] = ...) -> None: ...

class UserTurn(_message.Message):
    __slots__ = ("session_id", "user_id", "text", "language")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    user_id: str
    text: str
    language: str
    def __init__(self, session_id: _Optional[str] = ..., user_id: _Optional[str] = ..., text: _Optional[str] = ..., language: _Optional[str] = ...) -> None: ...

class CancelTurn(_message.Message):
    __slots__ = ("turn_id",)
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    def __init__(self, turn_id: _Optional[str] = ...) -> None: ...

class ConverseEvent(_message.Message):
    __slots__ = ("typing", "delta", "card", "done", "error")
    TYPING_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    CARD_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    typing: Typing
    delta: TextDelta
    card: BookCard
    done: TurnDone
    error: TurnError
    def __init__(self, typing: _Optional[_Union[Typing, _Mapping]] = ..., delta: _Optional[_Union[TextDelta, _Mapping]] = ..., card: _Optional[_Union[BookCard, _Mapping]] = ..., done: _Optional[_Union[TurnDone, _Mapping]] = ..., error: _Optional[_Union[TurnError, _Mapping]] = ...) -> None: ...

class Typing(_message.Message):
    __slots__ = ("turn_id",)
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    def __init__(self, turn_id: _Optional[str] = ...) -> None: ...

class TextDelta(_message.Message):
    __slots__ = ("text", "turn_id")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    text: str
    turn_id: str
    def __init__(self, text: _Optional[str] = ..., turn_id: _Optional[str] = ...) -> None: ...

class BookCard(_message.Message):
    __slots__ = ("book", "reason", "turn_id")
    BOOK_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    book: _books_pb2.Book
    reason: str
    turn_id: str
    def __init__(self, book: _Optional[_Union[_books_pb2.Book, _Mapping]] = ..., reason: _Optional[str] = ..., turn_id: _Optional[str] = ...) -> None: ...

class TurnDone(_message.Message):
    __slots__ = ("turn_id", "cancelled", "language")
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    cancelled: bool
    language: str
    def __init__(self, turn_id: _Optional[str] = ..., cancelled: _Optional[bool] = ..., language: _Optional[str] = ...) -> None: ...

class TurnError(_message.Message):
    __slots__ = ("code", "message", "turn_id")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    turn_id: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., turn_id: _Optional[str] = ...) -> None: ...
