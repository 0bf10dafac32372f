"""The prediction log: records, the asynchronous Parquet writer, its layout, and the readers."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loopml.core.errors import Conflict, InvalidInput, NotFound, StoreError
from loopml.core.settings import load_settings
from loopml.predictions import (
    Feedback,
    PredictionBatch,
    PredictionLog,
    joined,
    list_deployments,
    read_feedback,
    read_predictions,
)
from loopml.predictions._layout import file_name, parse_name, visible

#: 2024-05-01T12:00:00Z in epoch milliseconds.
NOON = 1_714_564_800_000
DAY = 86_400_000
CARRIERS = pd.CategoricalDtype(["AA", "DL", "UA"])


def batch(
    ids: list[str],
    ts: int | list[int] = NOON,
    *,
    deployment: str = "flights",
    version: int | None = 1,
    features: Any = None,
    proba: Any = "binary",
    units: list[str] | None = None,
    arm: str | None = None,
) -> PredictionBatch:
    n = len(ids)
    if features is None:
        features = pd.DataFrame(
            {
                "distance": np.arange(n, dtype=np.float64) * 100.0,
                "carrier": pd.Categorical((["UA", "DL", "AA"] * n)[:n], dtype=CARRIERS),
            }
        )
    if isinstance(proba, str):
        proba = np.column_stack([np.linspace(0.9, 0.1, n), np.linspace(0.1, 0.9, n)])
    return PredictionBatch(
        deployment=deployment,
        arm=arm or f"{deployment}/{version}",
        model_name=deployment,
        model_version=version,
        request_ids=ids,
        unit_ids=units,
        timestamps_ms=ts,
        features=features,
        predictions=np.array([i % 2 for i in range(n)]),
        probabilities=proba,
        latency_ms=np.full(n, 0.5),
    )


@pytest.fixture
def root(tmp_path: Path) -> str:
    return str(tmp_path / "predictions")


@pytest.fixture
def log(root: str) -> Iterator[PredictionLog]:
    with PredictionLog(root, flush_interval=0.05) as opened:
        yield opened


def data_files(root: str, deployment: str = "flights") -> list[Path]:
    return sorted(Path(root, deployment).glob("date=*/*.parquet"))


# ---- records -------------------------------------------------------------------------------------


def test_a_batch_checks_that_every_per_row_field_has_one_entry_per_row() -> None:
    with pytest.raises(InvalidInput, match=r"predictions must have one entry per row \(2"):
        PredictionBatch(
            deployment="flights",
            arm="flights/1",
            model_name="flights",
            model_version=1,
            request_ids=["a", "b"],
            timestamps_ms=NOON,
            features={"x": [1.0, 2.0]},
            predictions=[1],
            latency_ms=1.0,
        )
    with pytest.raises(InvalidInput, match="features must have columns of one length"):
        batch(["a", "b"], features={"x": [1.0, 2.0], "y": [1.0]})
    with pytest.raises(InvalidInput, match="unit ids must have one entry per row"):
        batch(["a", "b"], units=["u1"])
    with pytest.raises(InvalidInput, match="not one string"):
        batch("ab")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("deployment", "../etc", "deployment name must start with a letter or digit"),
        ("deployment", "a/b", "deployment name must start with a letter or digit"),
        ("model_version", 0, "must be a registry version"),
        ("model_version", "3", "must be a registry version"),
        ("arm", "", "arm must be a non-empty string"),
    ],
)
def test_a_batch_checks_its_names(field: str, value: object, message: str) -> None:
    good = batch(["a"])
    fields = {name: getattr(good, name) for name in good.__dataclass_fields__}
    with pytest.raises(InvalidInput, match=message):
        PredictionBatch(**{**fields, field: value})


def test_feedback_needs_a_prediction_to_name_and_something_to_say() -> None:
    with pytest.raises(InvalidInput, match="must name a prediction by request_id or unit_id"):
        Feedback(label=1)
    with pytest.raises(InvalidInput, match="must carry a label or at least one outcome"):
        Feedback(request_id="r1")
    with pytest.raises(InvalidInput, match="feedback outcome name must be an identifier"):
        Feedback(request_id="r1", outcomes={"net revenue": 1.0})
    with pytest.raises(InvalidInput, match="feedback outcome 'revenue' must be a finite number"):
        Feedback(request_id="r1", outcomes={"revenue": float("nan")})
    with pytest.raises(InvalidInput, match="did you mean 'label'"):
        Feedback.from_dict({"request_id": "r1", "lable": 1})
    record = Feedback.from_dict({"unit_id": 7, "outcomes": {"delay": 3}})
    assert (record.unit_id, dict(record.outcomes)) == ("7", {"delay": 3.0})


# ---- writing and reading back --------------------------------------------------------------------


def test_predictions_round_trip_with_typed_feature_columns(log: PredictionLog, root: str) -> None:
    features = pd.DataFrame(
        {
            "distance": [1400.5, 760.0, np.nan],
            "passengers": np.array([120, 80, 95], dtype=np.int64),
            "carrier": pd.Series(["UA", "DL", None], dtype=CARRIERS),
            "origin": pd.Series(["JFK", None, "EWR"], dtype="str"),
            "weekend": [True, False, True],
            "departure": pd.to_datetime(["2024-05-01 10:00", "2024-05-01 11:00", None], utc=True),
            "label": [9.0, 9.0, 9.0],  # named like a feedback column: stays a feature
        }
    )
    log.log(batch(["r1", "r2", "r3"], [NOON + 2, NOON, NOON + 1], features=features))
    log.flush()

    table = read_predictions("flights", root=root)
    assert table.column_names[:10] == [
        "request_id",
        "ts",
        "deployment",
        "arm",
        "model_name",
        "model_version",
        "unit_id",
        "prediction",
        "proba",
        "latency_ms",
    ]
    types = {f.name: f.type for f in table.schema}
    assert types["ts"] == pa.timestamp("ms", tz="UTC")
    assert types["f_distance"] == pa.float64()
    assert types["f_passengers"] == pa.int64()
    assert types["f_carrier"] == pa.string()
    assert types["f_origin"] == pa.string()
    assert types["f_weekend"] == pa.bool_()
    assert pa.types.is_timestamp(types["f_departure"])
    rows = table.to_pylist()
    assert [r["request_id"] for r in rows] == ["r2", "r3", "r1"]  # sorted by ts
    by_id = {r["request_id"]: r for r in rows}
    assert by_id["r1"]["f_distance"] == 1400.5
    assert by_id["r3"]["f_distance"] is None
    assert by_id["r3"]["f_carrier"] is None
    assert by_id["r2"]["f_origin"] is None
    assert by_id["r2"]["f_carrier"] == "DL"
    assert by_id["r1"]["f_label"] == 9.0
    assert by_id["r1"]["proba"] == pytest.approx(0.1)  # the positive class of an n x 2 array
    assert by_id["r1"]["model_version"] == 1
    assert by_id["r1"]["arm"] == "flights/1"
    assert by_id["r1"]["ts"] == datetime.datetime(2024, 5, 1, 12, 0, 0, 2000, tzinfo=datetime.UTC)


def test_mappings_tables_and_frames_are_logged_alike(log: PredictionLog, root: str) -> None:
    columns = {"distance": [1.5, 2.5], "carrier": ["UA", "DL"], "stops": [0, 1]}
    log.log(batch(["m1", "m2"], features=columns))
    log.log(batch(["t1", "t2"], NOON + 1, features=pa.table(columns)))
    log.log(batch(["d1", "d2"], NOON + 2, features=pd.DataFrame(columns)))
    log.flush()
    table = read_predictions("flights", root=root, columns=["f_distance", "f_carrier", "f_stops"])
    assert table.schema.types == [pa.float64(), pa.string(), pa.int64()]
    assert table.to_pydict() == {
        "f_distance": [1.5, 2.5] * 3,
        "f_carrier": ["UA", "DL"] * 3,
        "f_stops": [0, 1] * 3,
    }


def test_one_row_batches_are_gathered_into_columns_with_their_gaps(
    log: PredictionLog, root: str
) -> None:
    """Batches of one flush are converted together: a column some lack is null there, and
    objects Arrow cannot type become text."""
    log.log(batch(["a"], NOON, features={"x": [1.0]}))
    log.log(batch(["b"], NOON + 1, features={"x": [2.0], "y": ["new"]}))
    log.log(batch(["c"], NOON + 2, features={"y": ["late"]}))
    log.log(batch(["d"], NOON + 3, features={"x": [4.0], "odd": [object.__new__(object)]}))
    log.flush()
    table = read_predictions("flights", root=root)
    assert table.column("f_x").to_pylist() == [1.0, 2.0, None, 4.0]
    assert table.column("f_y").to_pylist() == [None, "new", "late", None]
    assert table.column("f_odd").type == pa.string()


def test_probabilities_of_many_classes_are_lists_and_none_is_null(
    log: PredictionLog, root: str
) -> None:
    log.log(batch(["a", "b"], version=1, proba=np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])))
    log.log(batch(["c"], NOON + 1, version=2, proba=None))
    log.flush()
    one = read_predictions("flights", root=root, columns=["model_version", "proba"]).to_pylist()
    assert one[0]["proba"] == pytest.approx([0.2, 0.3, 0.5])
    assert one[2] == {"model_version": 2, "proba": None}


def test_each_model_version_has_its_files_and_they_read_together(
    log: PredictionLog, root: str
) -> None:
    log.log(batch(["v1"], NOON, version=1, features={"distance": [1.0]}))
    log.log(batch(["v2"], NOON + 1, version=2, features={"distance": [2.0], "hour": [7]}))
    log.flush()
    files = data_files(root)
    assert len(files) == 2
    schemas = {tuple(pq.read_schema(f).names[10:]) for f in files}
    assert schemas == {("f_distance",), ("f_distance", "f_hour")}
    rows = read_predictions("flights", root=root).to_pylist()
    assert [(r["model_version"], r["f_distance"], r["f_hour"]) for r in rows] == [
        (1, 1.0, None),
        (2, 2.0, 7),
    ]


def test_rows_are_partitioned_by_utc_day_and_read_by_half_open_ranges(
    log: PredictionLog, root: str
) -> None:
    log.log(batch(["d0", "d1a", "d1b", "d2"], [NOON - DAY, NOON, NOON + 1000, NOON + DAY]))
    log.flush()
    days = sorted(p.parent.name for p in data_files(root))
    assert days == ["date=2024-04-30", "date=2024-05-01", "date=2024-05-02"]
    for path in data_files(root):
        parsed = parse_name(str(path))
        assert parsed is not None
        assert parsed.first == parsed.last == 0

    def ids(start: Any = None, end: Any = None) -> list[str]:
        table = read_predictions("flights", start, end, root=root, columns=["request_id"])
        return table.column("request_id").to_pylist()

    assert ids() == ["d0", "d1a", "d1b", "d2"]
    assert ids("2024-05-01") == ["d1a", "d1b", "d2"]
    assert ids(datetime.date(2024, 5, 1), datetime.date(2024, 5, 2)) == ["d1a", "d1b"]
    assert ids("2024-05-01T12:00:00Z", "2024-05-01T12:00:01Z") == ["d1a"]  # end excluded
    naive = datetime.datetime(2024, 5, 1, 12, 0, 1)  # naive means UTC
    assert ids(naive) == ["d1b", "d2"]
    paris = datetime.timezone(datetime.timedelta(hours=2))
    assert ids(datetime.datetime(2024, 5, 1, 14, 0, 1, tzinfo=paris)) == ["d1b", "d2"]
    assert ids("2030-01-01") == []
    with pytest.raises(InvalidInput, match="argument 'start' must be an ISO 8601 time"):
        ids("yesterday")


def test_unknown_deployments_and_columns_are_named_with_a_suggestion(
    log: PredictionLog, root: str
) -> None:
    log.log(batch(["a"]))
    log.flush()
    assert list_deployments(root) == ["flights"]
    with pytest.raises(NotFound, match=r"deployment 'flight' has no prediction log.*'flights'"):
        read_predictions("flight", root=root)
    with pytest.raises(InvalidInput, match=r"column 'f_distanse' does not exist.*'f_distance'"):
        read_predictions("flights", root=root, columns=["f_distanse"])
    with pytest.raises(NotFound, match="nothing was logged there yet"):
        read_predictions("flights", root=str(Path(root).parent / "elsewhere"))


def test_flush_writes_without_closing_and_close_is_final(root: str) -> None:
    log = PredictionLog(root, flush_interval=3600)
    log.flush()  # nothing logged: nothing to wait for
    log.log(batch(["a", "b"]))
    log.flush()
    assert read_predictions("flights", root=root).num_rows == 2
    log.close()
    log.close()  # idempotent
    with pytest.raises(Conflict, match="is closed"):
        log.log(batch(["c"]))
    stats = log.stats()
    assert (stats.logged_rows, stats.written_rows, stats.dropped_rows) == (2, 2, 0)


def test_a_full_buffer_drops_new_batches_instead_of_blocking(root: str) -> None:
    with PredictionLog(root, max_buffer_rows=3, flush_interval=3600) as log:
        log.log(batch(["a", "b", "c", "d"]))  # more than the buffer holds: dropped
        log.log(batch(["e"]))
    stats = log.stats()
    assert (stats.logged_rows, stats.written_rows, stats.dropped_rows) == (1, 1, 4)


def test_a_batch_that_cannot_be_converted_is_dropped_alone(log: PredictionLog, root: str) -> None:
    log.log(batch(["good"]))
    log.log(batch([1], NOON + 1))  # type: ignore[list-item]  # request ids must be text
    log.log(batch(["fine"], NOON + 2))
    log.flush()
    assert read_predictions("flights", root=root).column("request_id").to_pylist() == [
        "good",
        "fine",
    ]
    stats = log.stats()
    assert stats.dropped_rows == 1
    assert stats.last_error is not None


def test_an_unwritable_root_keeps_the_rows_and_says_so(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the log's directory should be")
    log = PredictionLog(blocker, flush_interval=3600, max_buffer_rows=10)
    log.log(batch(["a", "b"]))
    with pytest.raises(StoreError, match="could not write its rows"):
        log.flush()
    assert log.stats().pending_rows == 2  # kept for the next attempt
    with pytest.raises(StoreError, match="closed with 2 rows it could not write"):
        log.close()


def test_constructor_arguments_are_checked_and_do_no_io(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="'flush_interval' must be a positive number"):
        PredictionLog(tmp_path, flush_interval=0)
    with pytest.raises(InvalidInput, match="'flush_interval' must be a positive number"):
        PredictionLog(tmp_path, flush_interval=float("inf"))
    with pytest.raises(InvalidInput, match="'max_buffer_rows' must be a positive integer"):
        PredictionLog(tmp_path, max_buffer_rows=1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="prediction log root must be a non-empty"):
        PredictionLog("")
    PredictionLog(tmp_path / "later").close()
    assert not (tmp_path / "later").exists()


def test_the_default_root_follows_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOOPML_PREDICTIONS_URI", raising=False)
    home = load_settings().home_path
    assert PredictionLog().uri == f"file://{home / 'predictions'}"
    monkeypatch.setenv("LOOPML_PREDICTIONS_URI", str(tmp_path / "elsewhere"))
    with PredictionLog(flush_interval=0.05) as log:
        log.log(batch(["a"]))
    assert read_predictions("flights").num_rows == 1
    assert data_files(str(tmp_path / "elsewhere"))


def test_settings_declare_the_predictions_uri_and_mask_it() -> None:
    settings = load_settings({"LOOPML_PREDICTIONS_URI": "s3://me:secret@bucket/log"})
    assert settings.resolved_predictions_uri() == "s3://me:secret@bucket/log"
    assert "secret" not in repr(settings)
    assert load_settings({"LOOPML_HOME": "/x"}).resolved_predictions_uri() == "/x/predictions"


def test_a_log_on_an_fsspec_url_reads_back_through_duckdb() -> None:
    root = f"memory://loopml-test-{uuid.uuid4().hex}/log"
    with PredictionLog(root, flush_interval=0.05) as log:
        log.log(batch(["a", "b"]))
        log.log_feedback("flights", [{"request_id": "a", "label": 1}])
    assert read_predictions("flights", root=root).num_rows == 2
    assert joined("flights", root=root).column("label").to_pylist() == [1, None]


# ---- merging small files -------------------------------------------------------------------------


def test_small_files_are_merged_and_every_row_is_read_once(root: str) -> None:
    log = PredictionLog(root, flush_interval=3600, file_rows=1_000)
    for i in range(20):  # twenty flushes of 3 rows: 8 level-0 files merge, twice
        log.log(batch([f"r{i}-{k}" for k in range(3)], NOON + i))
        log.flush()
    stats = log.stats()
    assert stats.files_written == 20
    assert stats.files_merged == 16
    table = read_predictions("flights", root=root)
    assert table.num_rows == 60
    assert len(set(table.column("request_id").to_pylist())) == 60
    log.close()  # seals the open files into one
    assert [parse_name(str(p)).first for p in data_files(root)] == [0]  # type: ignore[union-attr]
    assert read_predictions("flights", root=root).num_rows == 60


def test_a_stream_reaching_file_rows_starts_a_new_file(root: str) -> None:
    with PredictionLog(root, flush_interval=3600, file_rows=10) as log:
        for i in range(7):
            log.log(batch([f"r{i}-{k}" for k in range(4)], NOON + i))
            log.flush()
    sizes = [pq.read_metadata(p).num_rows for p in data_files(root)]
    assert sum(sizes) == 28
    assert all(size >= 10 for size in sizes[:-1])
    assert len(sizes) == 3


def test_files_a_merge_shadows_are_never_read_twice(root: str) -> None:
    """A merge that died between writing its result and deleting its sources leaves both."""
    with PredictionLog(root, flush_interval=3600) as log:
        for i in range(3):
            log.log(batch([f"r{i}"], NOON + i))
            log.flush()
    [merged] = data_files(root)  # close merged the three flushes into one file
    parsed = parse_name(str(merged))
    assert parsed is not None
    assert (parsed.first, parsed.last) == (0, 2)
    table = pq.read_table(merged)
    for i in range(3):  # its sources, as if the merge had not deleted them yet
        pq.write_table(table.slice(i, 1), merged.parent / file_name(NOON + i, parsed.stream, i, i))
    assert len(data_files(root)) == 4
    assert read_predictions("flights", root=root).column("request_id").to_pylist() == [
        "r0",
        "r1",
        "r2",
    ]


def test_visible_keeps_the_widest_file_of_each_nested_range() -> None:
    def f(stream: str, first: int, last: int) -> Any:
        return parse_name(file_name(NOON + first, stream, first, last))

    files = [f("a" * 16, 0, 0), f("a" * 16, 0, 7), f("a" * 16, 8, 8), f("b" * 16, 0, 0)]
    kept = [(x.stream[0], x.first, x.last) for x in visible(files)]
    assert sorted(kept) == [("a", 0, 7), ("a", 8, 8), ("b", 0, 0)]
    assert parse_name("/x/.0123.tmp") is None
    assert parse_name("/x/notes.parquet") is None


# ---- feedback ------------------------------------------------------------------------------------


def test_feedback_joins_by_request_then_by_unit_latest_value_per_field(root: str) -> None:
    with PredictionLog(root, flush_interval=0.05) as log:
        log.log(batch(["r1", "r2", "r3"], [NOON, NOON + 1, NOON + 2], units=["u1", "u1", "u2"]))
        log.log(batch(["r4"], NOON + 3, units=["u3"]))
        log.log_feedback(
            "flights",
            [
                Feedback(unit_id="u1", label=0, outcomes={"revenue": 5.0}, timestamp_ms=NOON + 10),
                {"request_id": "r1", "label": 1, "timestamp_ms": NOON + 20},
                {"request_id": "r1", "outcomes": {"delay": 12}, "timestamp_ms": NOON + 30},
                {"request_id": "r3", "label": 0, "timestamp_ms": NOON + 40},
                {"request_id": "r3", "label": 1, "timestamp_ms": NOON + 50},  # a correction
            ],
        )
    rows = {r["request_id"]: r for r in joined("flights", root=root).to_pylist()}
    ms = datetime.timedelta(milliseconds=1)
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    # r1: its own label beats its unit's; its unit's revenue fills what it lacks
    assert (rows["r1"]["label"], rows["r1"]["o_delay"], rows["r1"]["o_revenue"]) == (1, 12.0, 5.0)
    assert rows["r1"]["feedback_ts"] == epoch + (NOON + 30) * ms
    assert (rows["r2"]["label"], rows["r2"]["o_revenue"]) == (0, 5.0)  # by unit u1 only
    assert rows["r3"]["label"] == 1  # the latest value wins
    assert (rows["r4"]["label"], rows["r4"]["feedback_ts"]) == (None, None)
    raw = read_feedback("flights", root=root)
    assert raw.num_rows == 5
    assert raw.column_names[:4] == ["ts", "request_id", "unit_id", "label"]


def test_joined_without_feedback_has_null_feedback_columns(log: PredictionLog, root: str) -> None:
    log.log(batch(["a"]))
    log.flush()
    table = joined("flights", root=root, columns=["request_id"])
    assert table.column_names == ["request_id", "label", "feedback_ts"]
    assert table.to_pylist() == [{"request_id": "a", "label": None, "feedback_ts": None}]
    assert read_feedback("flights", root=root).num_rows == 0
    assert joined("flights", "2030-01-01", root=root).num_rows == 0


def test_labels_of_one_call_share_a_type(log: PredictionLog) -> None:
    with pytest.raises(InvalidInput, match="feedback labels must share one type in a call"):
        log.log_feedback(
            "flights", [{"request_id": "a", "label": 1}, {"unit_id": "u", "label": "x"}]
        )
    with pytest.raises(InvalidInput, match="deployment name"):
        log.log_feedback("../x", [{"request_id": "a", "label": 1}])
    assert log.log_feedback("flights", []) == 0
