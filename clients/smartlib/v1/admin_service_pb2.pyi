import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from smartlib.v1 import books_pb2 as _books_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VersionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERSION_KIND_UNSPECIFIED: _ClassVar[VersionKind]
    VERSION_KIND_ENCODER: _ClassVar[VersionKind]
    VERSION_KIND_KNOWLEDGE_BASE: _ClassVar[VersionKind]

class PersonalRanking(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PERSONAL_RANKING_UNSPECIFIED: _ClassVar[PersonalRanking]
    PERSONAL_RANKING_READERS: _ClassVar[PersonalRanking]
    PERSONAL_RANKING_BLEND: _ClassVar[PersonalRanking]
VERSION_KIND_UNSPECIFIED: VersionKind
VERSION_KIND_ENCODER: VersionKind
VERSION_KIND_KNOWLEDGE_BASE: VersionKind
PERSONAL_RANKING_UNSPECIFIED: PersonalRanking
PERSONAL_RANKING_READERS: PersonalRanking
PERSONAL_RANKING_BLEND: PersonalRanking

class VersionInfo(_message.Message):
    __slots__ = ("kind", "version", "created_at", "active", "metrics")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    KIND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    kind: VersionKind
    version: str
    created_at: _timestamp_pb2.Timestamp
    active: bool
    metrics: _containers.ScalarMap[str, float]
    def __init__(self, kind: _Optional[_Union[VersionKind, str]] = ..., version: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., active: _Optional[bool] = ..., metrics: _Optional[_Mapping[str, float]] = ...) -> None: ...

class ListVersionsRequest(_message.Message):
    __slots__ = ("kind",)
    KIND_FIELD_NUMBER: _ClassVar[int]
    kind: VersionKind
    def __init__(self, kind: _Optional[_Union[VersionKind, str]] = ...) -> None: ...

class ListVersionsResponse(_message.Message):
    __slots__ = ("versions",)
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[VersionInfo]
    def __init__(self, versions: _Optional[_Iterable[_Union[VersionInfo, _Mapping]]] = ...) -> None: ...

class ActivateVersionRequest(_message.Message):
    __slots__ = ("kind", "version", "force")
    KIND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    kind: VersionKind
    version: str
    force: bool
    def __init__(self, kind: _Optional[_Union[VersionKind, str]] = ..., version: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class ActivateVersionResponse(_message.Message):
    __slots__ = ("active", "previous_version")
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_VERSION_FIELD_NUMBER: _ClassVar[int]
    active: VersionInfo
    previous_version: str
    def __init__(self, active: _Optional[_Union[VersionInfo, _Mapping]] = ..., previous_version: _Optional[str] = ...) -> None: ...

class RollbackRequest(_message.Message):
    __slots__ = ("kind",)
    KIND_FIELD_NUMBER: _ClassVar[int]
    kind: VersionKind
    def __init__(self, kind: _Optional[_Union[VersionKind, str]] = ...) -> None: ...

class RebuildIndexRequest(_message.Message):
    __slots__ = ("reembed",)
    REEMBED_FIELD_NUMBER: _ClassVar[int]
    reembed: bool
    def __init__(self, reembed: _Optional[bool] = ...) -> None: ...

class RebuildIndexResponse(_message.Message):
    __slots__ = ("books", "embedded", "seconds", "index_version")
    BOOKS_FIELD_NUMBER: _ClassVar[int]
    EMBEDDED_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    INDEX_VERSION_FIELD_NUMBER: _ClassVar[int]
    books: int
    embedded: int
    seconds: float
    index_version: str
    def __init__(self, books: _Optional[int] = ..., embedded: _Optional[int] = ..., seconds: _Optional[float] = ..., index_version: _Optional[str] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStatsResponse(_message.Message):
    __slots__ = ("books", "vectors", "index_sizes", "index_bytes", "active_versions", "cache")
    class IndexSizesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class IndexBytesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class ActiveVersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class CacheEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    BOOKS_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    INDEX_SIZES_FIELD_NUMBER: _ClassVar[int]
    INDEX_BYTES_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    books: int
    vectors: int
    index_sizes: _containers.ScalarMap[str, int]
    index_bytes: _containers.ScalarMap[str, int]
    active_versions: _containers.ScalarMap[str, str]
    cache: _containers.ScalarMap[str, str]
    def __init__(self, books: _Optional[int] = ..., vectors: _Optional[int] = ..., index_sizes: _Optional[_Mapping[str, int]] = ..., index_bytes: _Optional[_Mapping[str, int]] = ..., active_versions: _Optional[_Mapping[str, str]] = ..., cache: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ExperimentArm(_message.Message):
    __slots__ = ("name", "weight", "approach", "cf_weight", "content_weight", "ranking")
    NAME_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    APPROACH_FIELD_NUMBER: _ClassVar[int]
    CF_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    RANKING_FIELD_NUMBER: _ClassVar[int]
    name: str
    weight: float
    approach: _books_pb2.Approach
    cf_weight: float
    content_weight: float
    ranking: PersonalRanking
    def __init__(self, name: _Optional[str] = ..., weight: _Optional[float] = ..., approach: _Optional[_Union[_books_pb2.Approach, str]] = ..., cf_weight: _Optional[float] = ..., content_weight: _Optional[float] = ..., ranking: _Optional[_Union[PersonalRanking, str]] = ...) -> None: ...

class Experiment(_message.Message):
    __slots__ = ("name", "arms", "running", "created_at", "stopped_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARMS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STOPPED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    arms: _containers.RepeatedCompositeFieldContainer[ExperimentArm]
    running: bool
    created_at: _timestamp_pb2.Timestamp
    stopped_at: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., arms: _Optional[_Iterable[_Union[ExperimentArm, _Mapping]]] = ..., running: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stopped_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateExperimentRequest(_message.Message):
    __slots__ = ("experiment",)
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    experiment: Experiment
    def __init__(self, experiment: _Optional[_Union[Experiment, _Mapping]] = ...) -> None: ...

class StopExperimentRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListExperimentsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListExperimentsResponse(_message.Message):
    __slots__ = ("experiments",)
    EXPERIMENTS_FIELD_NUMBER: _ClassVar[int]
    experiments: _containers.RepeatedCompositeFieldContainer[Experiment]
    def __init__(self, experiments: _Optional[_Iterable[_Union[Experiment, _Mapping]]] = ...) -> None: ...

class GetExperimentResultsRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class RateEstimate(_message.Message):
    __slots__ = ("rate", "low", "high")
    RATE_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    rate: float
    low: float
    high: float
    def __init__(self, rate: _Optional[float] = ..., low: _Optional[float] = ..., high: _Optional[float] = ...) -> None: ...

class ArmResults(_message.Message):
    __slots__ = ("name", "exposures", "clicks", "likes", "reads", "ctr", "like_rate")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EXPOSURES_FIELD_NUMBER: _ClassVar[int]
    CLICKS_FIELD_NUMBER: _ClassVar[int]
    LIKES_FIELD_NUMBER: _ClassVar[int]
    READS_FIELD_NUMBER: _ClassVar[int]
    CTR_FIELD_NUMBER: _ClassVar[int]
    LIKE_RATE_FIELD_NUMBER: _ClassVar[int]
    name: str
    exposures: int
    clicks: int
    likes: int
    reads: int
    ctr: RateEstimate
    like_rate: RateEstimate
    def __init__(self, name: _Optional[str] = ..., exposures: _Optional[int] = ..., clicks: _Optional[int] = ..., likes: _Optional[int] = ..., reads: _Optional[int] = ..., ctr: _Optional[_Union[RateEstimate, _Mapping]] = ..., like_rate: _Optional[_Union[RateEstimate, _Mapping]] = ...) -> None: ...

class ExperimentResults(_message.Message):
    __slots__ = ("experiment", "arms", "ctr_p_value", "like_rate_p_value")
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    ARMS_FIELD_NUMBER: _ClassVar[int]
    CTR_P_VALUE_FIELD_NUMBER: _ClassVar[int]
    LIKE_RATE_P_VALUE_FIELD_NUMBER: _ClassVar[int]
    experiment: Experiment
    arms: _containers.RepeatedCompositeFieldContainer[ArmResults]
    ctr_p_value: float
    like_rate_p_value: float
    def __init__(self, experiment: _Optional[_Union[Experiment, _Mapping]] = ..., arms: _Optional[_Iterable[_Union[ArmResults, _Mapping]]] = ..., ctr_p_value: _Optional[float] = ..., like_rate_p_value: _Optional[float] = ...) -> None: ...
