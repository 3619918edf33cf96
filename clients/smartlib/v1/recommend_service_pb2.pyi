from smartlib.v1 import books_pb2 as _books_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SimilarBooksRequest(_message.Message):
    __slots__ = ("book_id", "k", "approach", "filter")
    BOOK_ID_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    APPROACH_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    book_id: str
    k: int
    approach: _books_pb2.Approach
    filter: _books_pb2.BookFilter
    def __init__(self, book_id: _Optional[str] = ..., k: _Optional[int] = ..., approach: _Optional[_Union[_books_pb2.Approach, str]] = ..., filter: _Optional[_Union[_books_pb2.BookFilter, _Mapping]] = ...) -> None: ...

class SearchByTextRequest(_message.Message):
    __slots__ = ("query", "k", "approach", "filter")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    APPROACH_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    query: str
    k: int
    approach: _books_pb2.Approach
    filter: _books_pb2.BookFilter
    def __init__(self, query: _Optional[str] = ..., k: _Optional[int] = ..., approach: _Optional[_Union[_books_pb2.Approach, str]] = ..., filter: _Optional[_Union[_books_pb2.BookFilter, _Mapping]] = ...) -> None: ...

class RecommendForUserRequest(_message.Message):
    __slots__ = ("user_id", "k", "filter")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    k: int
    filter: _books_pb2.BookFilter
    def __init__(self, user_id: _Optional[str] = ..., k: _Optional[int] = ..., filter: _Optional[_Union[_books_pb2.BookFilter, _Mapping]] = ...) -> None: ...

class RecommendResponse(_message.Message):
    __slots__ = ("items", "approach", "model_version", "arm", "recommendation_id")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    APPROACH_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    ARM_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDATION_ID_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[_books_pb2.RecommendedItem]
    approach: _books_pb2.Approach
    model_version: str
    arm: str
    recommendation_id: str
    def __init__(self, items: _Optional[_Iterable[_Union[_books_pb2.RecommendedItem, _Mapping]]] = ..., approach: _Optional[_Union[_books_pb2.Approach, str]] = ..., model_version: _Optional[str] = ..., arm: _Optional[str] = ..., recommendation_id: _Optional[str] = ...) -> None: ...
