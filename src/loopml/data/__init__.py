"""The data layer: sources, schema and validation, versioned snapshots, sampling and splits.

::

    from loopml import data

    flights = data.open_source("flights.csv", bad_lines="quarantine")   # streamed in batches
    schema = data.infer_schema(flights)          # types, ranges, domains, ids -> edit the YAML
    schema.save("schema.yaml")
    report = data.validate(flights, data.Schema.load("schema.yaml"))   # never raises on data
    snap = data.snapshot(flights, "flights")     # content-addressed Parquet, versioned, profiled
    frame = data.load("flights@1")
    parts = data.split_time(frame, "time_hour", sizes=(0.8, 0.2))
"""

from loopml.core.snapshots import Snapshot
from loopml.data.expectations import AllowedSet, NotNull, Range, Regex, RowPredicate, Unique
from loopml.data.profiling import ColumnProfile, Profile, profile
from loopml.data.report import to_html
from loopml.data.sampling import (
    ImportanceSample,
    class_weights,
    importance_sample,
    oversample,
    reservoir_sample,
    sample_random,
    sample_stratified,
    sample_weighted,
    undersample,
)
from loopml.data.schema import ColumnSchema, RowCount, Schema, infer_schema
from loopml.data.snapshots import (
    LabelJoin,
    add_labels,
    get_snapshot,
    list_snapshots,
    load,
    load_arrow,
    snapshot,
)
from loopml.data.sources import (
    BadLine,
    DataSource,
    load_frame,
    open_source,
    read_csv,
    read_duckdb,
    read_jsonl,
    read_parquet,
    read_sql,
)
from loopml.data.splits import (
    LeakageReport,
    Split,
    check_leakage,
    split_group,
    split_random,
    split_stratified,
    split_time,
)
from loopml.data.validation import Finding, ValidationFailed, ValidationReport, validate

__all__ = [
    "AllowedSet",
    "BadLine",
    "ColumnProfile",
    "ColumnSchema",
    "DataSource",
    "Finding",
    "ImportanceSample",
    "LabelJoin",
    "LeakageReport",
    "NotNull",
    "Profile",
    "Range",
    "Regex",
    "RowCount",
    "RowPredicate",
    "Schema",
    "Snapshot",
    "Split",
    "Unique",
    "ValidationFailed",
    "ValidationReport",
    "add_labels",
    "check_leakage",
    "class_weights",
    "get_snapshot",
    "importance_sample",
    "infer_schema",
    "list_snapshots",
    "load",
    "load_arrow",
    "load_frame",
    "open_source",
    "oversample",
    "profile",
    "read_csv",
    "read_duckdb",
    "read_jsonl",
    "read_parquet",
    "read_sql",
    "reservoir_sample",
    "sample_random",
    "sample_stratified",
    "sample_weighted",
    "snapshot",
    "split_group",
    "split_random",
    "split_stratified",
    "split_time",
    "to_html",
    "undersample",
    "validate",
]
