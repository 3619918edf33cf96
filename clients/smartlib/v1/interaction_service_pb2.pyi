import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InteractionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INTERACTION_KIND_UNSPECIFIED: _ClassVar[InteractionKind]
    INTERACTION_KIND_VIEW: _ClassVar[InteractionKind]
    INTERACTION_KIND_CLICK: _ClassVar[InteractionKind]
    INTERACTION_KIND_LIKE: _ClassVar[InteractionKind]
    INTERACTION_KIND_DISLIKE: _ClassVar[InteractionKind]
    INTERACTION_KIND_RATE: _ClassVar[InteractionKind]
    INTERACTION_KIND_READ: _ClassVar[InteractionKind]
    INTERACTION_KIND_DISMISS: _ClassVar[InteractionKind]
INTERACTION_KIND_UNSPECIFIED: InteractionKind
INTERACTION_KIND_VIEW: InteractionKind
INTERACTION_KIND_CLICK: InteractionKind
INTERACTION_KIND_LIKE: InteractionKind
INTERACTION_KIND_DISLIKE: InteractionKind
INTERACTION_KIND_RATE: InteractionKind
INTERACTION_KIND_READ: InteractionKind
INTERACTION_KIND_DISMISS: InteractionKind

class Interaction(_message.Message):
    __slots__ = ("user_id", "book_id", "kind", "rating", "timestamp", "recommendation_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    BOOK_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RATING_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDATION_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    book_id: str
    kind: InteractionKind
    rating: int
    timestamp: _timestamp_pb2.Timestamp
    recommendation_id: str
    def __init__(self, user_id: _Optional[str] = ..., book_id: _Optional[str] = ..., kind: _Optional[_Union[InteractionKind, str]] = ..., rating: _Optional[int] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recommendation_id: _Optional[str] = ...) -> None: ...

class RecordInteractionsRequest(_message.Message):
    __slots__ = ("interactions",)
    INTERACTIONS_FIELD_NUMBER: _ClassVar[int]
    interactions: _containers.RepeatedCompositeFieldContainer[Interaction]
    def __init__(self, interactions: _Optional[_Iterable[_Union[Interaction, _Mapping]]] = ...) -> None: ...

class RecordInteractionsResponse(_message.Message):
    __slots__ = ("accepted", "rejected")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    rejected: _containers.RepeatedCompositeFieldContainer[RejectedInteraction]
    def __init__(self, accepted: _Optional[int] = ..., rejected: _Optional[_Iterable[_Union[RejectedInteraction, _Mapping]]] = ...) -> None: ...

class RejectedInteraction(_message.Message):
    __slots__ = ("index", "field", "description")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    index: int
    field: str
    description: str
    def __init__(self, index: _Optional[int] = ..., field: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class ForgetUserRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class ForgetUserResponse(_message.Message):
    __slots__ = ("interactions", "experiment_exposures", "chat_sessions", "chat_taste_entries", "cf_preferences")
    INTERACTIONS_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_EXPOSURES_FIELD_NUMBER: _ClassVar[int]
    CHAT_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    CHAT_TASTE_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    CF_PREFERENCES_FIELD_NUMBER: _ClassVar[int]
    interactions: int
    experiment_exposures: int
    chat_sessions: int
    chat_taste_entries: int
    cf_preferences: int
    def __init__(self, interactions: _Optional[int] = ..., experiment_exposures: _Optional[int] = ..., chat_sessions: _Optional[int] = ..., chat_taste_entries: _Optional[int] = ..., cf_preferences: _Optional[int] = ...) -> None: ...
