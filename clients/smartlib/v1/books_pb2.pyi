from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Approach(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPROACH_UNSPECIFIED: _ClassVar[Approach]
    APPROACH_BASELINE: _ClassVar[Approach]
    APPROACH_FINETUNED: _ClassVar[Approach]
APPROACH_UNSPECIFIED: Approach
APPROACH_BASELINE: Approach
APPROACH_FINETUNED: Approach

class Book(_message.Message):
    __slots__ = ("id", "title", "authors", "description", "genres", "characters", "avg_rating", "num_ratings", "url", "series", "list_rank")
    ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    AUTHORS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    GENRES_FIELD_NUMBER: _ClassVar[int]
    CHARACTERS_FIELD_NUMBER: _ClassVar[int]
    AVG_RATING_FIELD_NUMBER: _ClassVar[int]
    NUM_RATINGS_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    SERIES_FIELD_NUMBER: _ClassVar[int]
    LIST_RANK_FIELD_NUMBER: _ClassVar[int]
    id: str
    title: str
    authors: _containers.RepeatedScalarFieldContainer[str]
    description: str
    genres: _containers.RepeatedScalarFieldContainer[str]
    characters: _containers.RepeatedScalarFieldContainer[str]
    avg_rating: float
    num_ratings: int
    url: str
    series: Series
    list_rank: int
    def __init__(self, id: _Optional[str] = ..., title: _Optional[str] = ..., authors: _Optional[_Iterable[str]] = ..., description: _Optional[str] = ..., genres: _Optional[_Iterable[str]] = ..., characters: _Optional[_Iterable[str]] = ..., avg_rating: _Optional[float] = ..., num_ratings: _Optional[int] = ..., url: _Optional[str] = ..., series: _Optional[_Union[Series, _Mapping]] = ..., list_rank: _Optional[int] = ...) -> None: ...

class Series(_message.Message):
    __slots__ = ("name", "position")
    NAME_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    name: str
    position: str
    def __init__(self, name: _Optional[str] = ..., position: _Optional[str] = ...) -> None: ...

class BookFilter(_message.Message):
    __slots__ = ("include_genres", "exclude_genres", "min_avg_rating", "exclude_ids")
    INCLUDE_GENRES_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_GENRES_FIELD_NUMBER: _ClassVar[int]
    MIN_AVG_RATING_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_IDS_FIELD_NUMBER: _ClassVar[int]
    include_genres: _containers.RepeatedScalarFieldContainer[str]
    exclude_genres: _containers.RepeatedScalarFieldContainer[str]
    min_avg_rating: float
    exclude_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, include_genres: _Optional[_Iterable[str]] = ..., exclude_genres: _Optional[_Iterable[str]] = ..., min_avg_rating: _Optional[float] = ..., exclude_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class RecommendedItem(_message.Message):
    __slots__ = ("book", "score", "reason")
    BOOK_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    book: Book
    score: float
    reason: str
    def __init__(self, book: _Optional[_Union[Book, _Mapping]] = ..., score: _Optional[float] = ..., reason: _Optional[str] = ...) -> None: ...
