"""Batch scoring (``loopml.scoring.score``) on real packages, real files and real databases.

Every expected prediction is the model's own ``predict`` / ``predict_proba`` on the same rows,
compared bit for bit; every expected rejection is what ``Signature.validate`` says of that row.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder

import loopml
from loopml.core.errors import Conflict, InvalidInput, NotFound
from loopml.data.sources import open_source
from loopml.models.package import save_model
from loopml.models.signature import SignatureMismatch
from loopml.registry import ModelRegistry
from loopml.scoring import ScoreProgress, ScoreReport, rejected_path_for, score

pytestmark = pytest.mark.usefixtures("one_thread")

FEATURES = ["x", "n", "c"]
LEVELS = np.array(["a", "b", "c"])


def _frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "key": [f"k{i}" for i in range(rows)],
            "x": rng.normal(size=rows),
            "n": rng.integers(0, 10, size=rows),
            "c": LEVELS[rng.integers(0, 3, size=rows)],
        }
    )
    frame["c"] = frame["c"].astype("str")
    signal = frame["x"] + (frame["n"] > 4) + (frame["c"] == "b")
    frame["y"] = (signal + rng.normal(scale=0.5, size=rows) > 1).astype("int64")
    return frame


def _pipeline(model: Any) -> Any:
    encode = ColumnTransformer(
        [
            ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), ["c"]),
            ("num", "passthrough", ["x", "n"]),
        ]
    )
    return make_pipeline(encode, model)


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return _frame(600, seed=1)


@pytest.fixture(scope="module")
def classifier(train: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved package of a histogram-boosting classifier on x (float), n (int), c (str)."""
    from threadpoolctl import threadpool_limits

    path = tmp_path_factory.mktemp("models") / "classifier"
    model = _pipeline(HistGradientBoostingClassifier(max_iter=15, random_state=0))
    with threadpool_limits(1):
        model.fit(train[FEATURES], train["y"])
    save_model(model, path, signature=train[FEATURES], input_example=train[FEATURES].head())
    return path


@pytest.fixture
def rows(tmp_path: Path) -> Path:
    """240 clean rows to score, as a Parquet file with the id ``key`` and the label ``y``."""
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pandas(_frame(240, seed=2), preserve_index=False), path)
    return path


def _read(path: str | Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()


def _expected(package: Path, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    model = loopml.load_model(package)
    features = frame[FEATURES]
    return np.asarray(model.predict(features)), np.asarray(model.predict_proba(features))[:, 1]


def test_scores_every_row_as_predict_does(classifier: Path, rows: Path, tmp_path: Path) -> None:
    out = tmp_path / "preds.parquet"
    report = score(classifier, rows, out, chunk_rows=50)
    frame = _read(rows)
    labels, proba = _expected(classifier, frame)
    written = _read(out)
    assert list(written.columns) == ["key", "y", "prediction", "probability"]
    assert written["key"].tolist() == frame["key"].tolist()
    assert written["y"].tolist() == frame["y"].tolist()
    np.testing.assert_array_equal(written["prediction"].to_numpy(), labels)
    np.testing.assert_array_equal(written["probability"].to_numpy(), proba)
    assert isinstance(report, ScoreReport)
    assert (report.rows_read, report.rows_scored, report.rows_rejected) == (240, 240, 0)
    assert report.chunks == 5
    assert pq.ParquetFile(out).metadata.num_row_groups == 5  # one row group per chunk
    assert report.columns == ("key", "y", "prediction", "probability")
    assert report.output == str(out)
    assert report.rejected_path == str(tmp_path / "preds.rejected.parquet")
    assert report.source["kind"] == "parquet"
    assert report.executor == "local"
    assert report.model_version is None
    rejected = pq.read_table(report.rejected_path)  # always written, empty here
    assert rejected.num_rows == 0
    assert rejected.schema.names[-2:] == ["_row", "_reason"]


def test_chunk_size_does_not_change_the_output(
    classifier: Path, rows: Path, tmp_path: Path
) -> None:
    tables = []
    for chunk_rows in (1, 7, 240, 10_000):
        out = tmp_path / f"preds-{chunk_rows}.parquet"
        score(classifier, rows, out, chunk_rows=chunk_rows)
        tables.append(pq.read_table(out))
    assert all(table.equals(tables[0]) for table in tables[1:])


def _broken(rows: int = 200) -> tuple[pd.DataFrame, dict[str, list[int]]]:
    """Clean rows with problems planted: n as floats (so that 2.5 can be there), nulls in x and
    n, and unseen categories."""
    frame = _frame(rows, seed=3).drop(columns="y")
    frame["n"] = frame["n"].astype("float64")
    planted = {"x_null": [3, 40, 41], "n_half": [5, 41, 77], "n_null": [9], "c_new": [11, 12, 77]}
    frame.loc[planted["x_null"], "x"] = np.nan
    frame.loc[planted["n_half"], "n"] = 2.5
    frame.loc[planted["n_null"], "n"] = np.nan
    frame.loc[planted["c_new"], "c"] = "zz"
    return frame, planted


def test_rejects_the_rows_the_signature_rejects_with_reasons(
    classifier: Path, tmp_path: Path
) -> None:
    frame, planted = _broken()
    source = tmp_path / "broken.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), source)
    out, side = tmp_path / "out.parquet", tmp_path / "bad.parquet"
    report = score(classifier, source, out, rejected=side, chunk_rows=32, category_policy="error")
    bad_rows = sorted({i for group in planted.values() for i in group})
    rejected = _read(side)
    assert rejected["_row"].tolist() == bad_rows
    assert rejected["key"].tolist() == [f"k{i}" for i in bad_rows]  # every input column kept
    assert list(rejected.columns) == ["key", "x", "n", "c", "_row", "_reason"]
    reasons = dict(zip(rejected["_row"], rejected["_reason"], strict=True))
    assert reasons[3] == "column 'x' must not be null (it had no nulls at fit time)"
    assert reasons[5] == "column 'n' must hold integer values"
    assert reasons[11] == "column 'c' holds a value unseen at fit time"
    assert reasons[41] == (
        "column 'x' must not be null (it had no nulls at fit time); "
        "column 'n' must hold integer values"
    )
    assert set(reasons[77].split("; ")) == {
        "column 'n' must hold integer values",
        "column 'c' holds a value unseen at fit time",
    }
    assert dict(report.rejected_by) == {
        "null_not_allowed:x": 3,
        "wrong_type:n": 3,
        "null_not_allowed:n": 1,
        "unknown_category:c": 3,
    }
    assert report.rows_rejected == len(bad_rows)
    assert report.rows_scored == 200 - len(bad_rows)
    good = frame.drop(index=bad_rows)
    written = _read(out)
    assert written["key"].tolist() == good["key"].tolist()
    labels, proba = _expected(classifier, good)
    np.testing.assert_array_equal(written["prediction"].to_numpy(), labels)
    np.testing.assert_array_equal(written["probability"].to_numpy(), proba)


@pytest.mark.parametrize("policy", ["warn", "error", "ignore"])
def test_a_row_is_rejected_exactly_when_the_signature_rejects_it_alone(
    classifier: Path, tmp_path: Path, policy: str
) -> None:
    frame, _ = _broken(120)
    source = tmp_path / "broken.parquet"
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, source)
    report = score(
        classifier, source, tmp_path / "out.parquet", chunk_rows=25, category_policy=policy
    )
    signature = loopml.load_model(classifier).signature
    assert signature is not None
    as_read = table.to_pandas()[FEATURES]
    alone = [
        not signature.validate(as_read.iloc[[i]], category_policy=policy).ok
        for i in range(len(as_read))
    ]
    rejected = _read(report.rejected_path)["_row"].tolist()
    assert rejected == [i for i, bad in enumerate(alone) if bad]
    if policy == "warn":  # unseen values are scored, and counted
        assert dict(report.warnings) == {"unknown_category:c": 3}
        assert "unknown_category:c" not in report.rejected_by
    else:
        assert dict(report.warnings) == {}


def test_a_missing_column_fails_before_anything_is_written(
    classifier: Path, rows: Path, tmp_path: Path
) -> None:
    source = tmp_path / "no_n.parquet"
    pq.write_table(pq.read_table(rows).drop_columns(["n"]), source)
    out = tmp_path / "out.parquet"
    with pytest.raises(SignatureMismatch, match="column 'n' \\(integer\\) is required") as caught:
        score(classifier, source, out)
    assert caught.value.diff.missing_columns == ("n",)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["no_n.parquet", "rows.parquet"]


def test_a_failure_midway_leaves_no_output_and_older_files_untouched(
    classifier: Path, tmp_path: Path
) -> None:
    frame = _frame(100, seed=4).drop(columns="y")
    source = tmp_path / "rows.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "out.parquet"
    score(classifier, source, out)
    before = out.read_bytes()
    lines = source.read_text().splitlines()
    lines.insert(80, "k999,1.0")  # a malformed line in the fourth chunk
    source.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidInput, match="line"):
        score(classifier, source, out, chunk_rows=20, overwrite=True)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "out.parquet",
        "out.rejected.parquet",
        "rows.csv",
    ]


def test_existing_outputs_need_overwrite(classifier: Path, rows: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    score(classifier, rows, out)
    with pytest.raises(Conflict, match=re.escape("already exists. Fix: pass overwrite=True")):
        score(classifier, rows, out)
    rejected_path_for(out).unlink()
    with pytest.raises(Conflict, match=re.escape("out.parquet' already exists")):
        score(classifier, rows, out)
    report = score(classifier, rows, out, overwrite=True, probabilities=False)
    assert report.columns == ("key", "y", "prediction")
    assert _read(out).columns.tolist() == ["key", "y", "prediction"]


@pytest.mark.parametrize("kind", ["csv", "jsonl", "sqlite", "duckdb", "DataFrame", "Table"])
def test_every_kind_of_source_gives_the_same_predictions(
    classifier: Path, tmp_path: Path, kind: str
) -> None:
    frame = _frame(90, seed=5)
    labels, proba = _expected(classifier, frame)
    source: Any
    if kind == "csv":
        source = tmp_path / "rows.csv"
        frame.to_csv(source, index=False)
    elif kind == "jsonl":
        source = tmp_path / "rows.jsonl"
        frame.to_json(source, orient="records", lines=True)
    elif kind == "sqlite":
        db = tmp_path / "rows.db"
        with sqlite3.connect(db) as conn:
            frame.to_sql("flights", conn, index=False)
        source = open_source(
            f"sqlite:///{db}", query="select * from flights order by key", batch_rows=40
        )
        frame = frame.sort_values("key").reset_index(drop=True)
        labels, proba = _expected(classifier, frame)
    elif kind == "duckdb":
        parquet = tmp_path / "rows.parquet"
        frame.to_parquet(parquet, index=False)
        source = open_source("duckdb:", query=f"select * from '{parquet}' where n >= 0")
    elif kind == "DataFrame":
        source = frame
    else:
        source = pa.Table.from_pandas(frame, preserve_index=False)
    out = tmp_path / "out.parquet"
    report = score(classifier, source, out)
    written = _read(out)
    assert report.rows_scored == 90
    assert written["key"].tolist() == frame["key"].tolist()
    np.testing.assert_array_equal(written["prediction"].to_numpy(), labels)
    np.testing.assert_array_equal(written["probability"].to_numpy(), proba)


def test_a_registered_model_by_alias(classifier: Path, rows: Path, tmp_path: Path) -> None:
    registry = ModelRegistry(str(tmp_path / "store"))
    version = registry.register_model(str(classifier), "delays")
    registry.set_alias("delays", "champion", version.version)
    out = tmp_path / "out.parquet"
    report = score("models:/delays@champion", rows, out, tracking_uri=str(tmp_path / "store"))
    assert report.model_version == version.version
    assert report.model_uri == "models:/delays@champion"
    with pytest.raises(NotFound):
        score(
            "models:/delays@nobody",
            rows,
            tmp_path / "o2.parquet",
            tracking_uri=str(tmp_path / "store"),
        )


def test_id_columns_chosen_and_checked(classifier: Path, rows: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    report = score(classifier, rows, out, id_columns=["key", "c"])
    written = _read(out)
    assert report.columns == ("key", "c", "prediction", "probability")
    assert written["c"].tolist() == _read(rows)["c"].tolist()
    with pytest.raises(
        InvalidInput,
        match=re.escape(
            "id column must name a column of the input; got 'kee'. Fix: did you mean 'key'"
        ),
    ):
        score(classifier, rows, tmp_path / "o2.parquet", id_columns=["kee"])
    with pytest.raises(InvalidInput, match="id_columns must be a list of column names"):
        score(classifier, rows, tmp_path / "o3.parquet", id_columns="key")
    renamed = tmp_path / "renamed.parquet"
    pq.write_table(
        pq.read_table(rows).rename_columns(["key", "x", "n", "c", "prediction"]), renamed
    )
    with pytest.raises(
        InvalidInput, match="id column 'prediction' has the name of an output column"
    ):
        score(classifier, renamed, tmp_path / "o4.parquet")


def test_regressor_and_multiclass_outputs(train: pd.DataFrame, tmp_path: Path) -> None:
    regressor = _pipeline(HistGradientBoostingRegressor(max_iter=10, random_state=0))
    regressor.fit(train[FEATURES], train["x"] * 2)
    save_model(regressor, tmp_path / "reg", signature=train[FEATURES])
    frame = _frame(50, seed=6)
    report = score(tmp_path / "reg", frame, tmp_path / "reg.parquet")
    assert report.columns == ("key", "y", "prediction")
    np.testing.assert_array_equal(
        _read(tmp_path / "reg.parquet")["prediction"].to_numpy(), regressor.predict(frame[FEATURES])
    )
    multi = _pipeline(HistGradientBoostingClassifier(max_iter=10, random_state=0))
    labels = np.array(["low", "mid", "high"])[train["n"].to_numpy() % 3]
    multi.fit(train[FEATURES], labels)
    save_model(multi, tmp_path / "multi", signature=train[FEATURES])
    report = score(tmp_path / "multi", frame, tmp_path / "multi.parquet")
    classes = list(multi.classes_)
    assert report.columns == ("key", "y", "prediction", *(f"probability_{c}" for c in classes))
    written = _read(tmp_path / "multi.parquet")
    assert written["prediction"].tolist() == multi.predict(frame[FEATURES]).tolist()
    np.testing.assert_array_equal(
        written[[f"probability_{c}" for c in classes]].to_numpy(),
        multi.predict_proba(frame[FEATURES]),
    )


def test_predictions_stay_predicts_when_they_are_not_the_argmax(
    train: pd.DataFrame, tmp_path: Path
) -> None:
    # A decision threshold of 0.7: predict is not the argmax of predict_proba, and the labels
    # written must still be predict's.
    model = FixedThresholdClassifier(
        _pipeline(HistGradientBoostingClassifier(max_iter=15, random_state=0)), threshold=0.7
    ).fit(train[FEATURES], train["y"])
    save_model(model, tmp_path / "tuned", signature=train[FEATURES])
    frame = _frame(400, seed=7)
    score(tmp_path / "tuned", frame, tmp_path / "tuned.parquet")
    written = _read(tmp_path / "tuned.parquet")
    proba = model.predict_proba(frame[FEATURES])
    assert (proba.argmax(axis=1) != model.predict(frame[FEATURES])).any()
    np.testing.assert_array_equal(written["prediction"], model.predict(frame[FEATURES]))
    np.testing.assert_array_equal(written["probability"], proba[:, 1])


def test_empty_input_and_all_rows_rejected_write_typed_empty_files(
    classifier: Path, rows: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.parquet"
    pq.write_table(pq.read_table(rows).slice(0, 0), empty)
    report = score(classifier, empty, tmp_path / "out.parquet")
    assert (report.rows_read, report.chunks) == (0, 1)
    written = pq.read_table(tmp_path / "out.parquet")
    assert written.num_rows == 0
    assert written.schema.names == ["key", "y", "prediction", "probability"]
    assert written.schema.field("prediction").type == pa.int64()
    nulls = _frame(30, seed=8)
    nulls["x"] = np.nan
    report = score(classifier, nulls, tmp_path / "nulls.parquet")
    assert (report.rows_scored, report.rows_rejected) == (0, 30)
    assert pq.read_table(tmp_path / "nulls.parquet").schema.equals(written.schema)


def test_a_model_without_signature_gets_every_column_but_the_ids(
    train: pd.DataFrame, tmp_path: Path
) -> None:
    model = HistGradientBoostingClassifier(max_iter=5, random_state=0)
    model.fit(train[["x", "n"]], train["y"])
    save_model(model, tmp_path / "bare")
    assert loopml.load_model(tmp_path / "bare").signature is None
    frame = _frame(40, seed=9)[["key", "x", "n"]]
    report = score(tmp_path / "bare", frame, tmp_path / "out.parquet", id_columns=["key"])
    assert report.columns == ("key", "prediction", "probability")
    np.testing.assert_array_equal(
        _read(tmp_path / "out.parquet")["prediction"], model.predict(frame[["x", "n"]])
    )


def test_progress_after_every_chunk(classifier: Path, rows: Path, tmp_path: Path) -> None:
    seen: list[ScoreProgress] = []
    score(classifier, rows, tmp_path / "out.parquet", chunk_rows=100, progress=seen.append)
    assert [(p.chunks, p.rows_read, p.rows_scored, p.total_rows) for p in seen] == [
        (1, 100, 100, 240),
        (2, 200, 200, 240),
        (3, 240, 240, 240),
    ]
    csv = tmp_path / "rows.csv"
    _read(rows).to_csv(csv, index=False)
    seen.clear()
    score(classifier, csv, tmp_path / "csv.parquet", chunk_rows=100, progress=seen.append)
    assert [p.total_rows for p in seen] == [None, None, None]  # a CSV is not counted up front


def test_memory_stays_bounded_by_the_chunk_not_the_input(classifier: Path, tmp_path: Path) -> None:
    # An in-memory Table, read as zero-copy slices: Arrow memory beyond the table itself is
    # scoring's own (files add their readers' read-ahead buffers, which are the data layer's).
    chunk_rows, chunks = 2_000, 40
    table = pa.Table.from_pandas(_frame(chunk_rows * chunks, seed=10), preserve_index=False)
    held: list[int] = []
    score(
        classifier,
        table,
        tmp_path / "out.parquet",
        chunk_rows=chunk_rows,
        id_columns=["key"],
        progress=lambda _: held.append(pa.total_allocated_bytes()),
    )
    assert len(held) == chunks
    # Keeping each chunk's predictions would add one int64 column of chunk_rows per chunk.
    one_column = chunk_rows * 8
    assert max(held[-10:]) <= max(held[:10]) + 4 * one_column


def test_argument_errors(classifier: Path, rows: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    with pytest.raises(
        InvalidInput,
        match=re.escape("executor must be 'local' or 'dask'; got 'dsak'. Fix: did you mean 'dask'"),
    ):
        score(classifier, rows, out, executor="dsak")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="address only applies to the Dask executor"):
        score(classifier, rows, out, address="tcp://127.0.0.1:8786")
    with pytest.raises(InvalidInput, match="chunk_rows must be a positive integer; got 0"):
        score(classifier, rows, out, chunk_rows=0)
    with pytest.raises(InvalidInput, match="chunk_rows with a DataSource is not used"):
        score(classifier, open_source(rows), out, chunk_rows=10)
    with pytest.raises(InvalidInput, match="category_policy must be one of warn, error, ignore"):
        score(classifier, rows, out, category_policy="strict")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="must exist"):
        score(classifier, rows, tmp_path / "nowhere" / "out.parquet")
    with pytest.raises(InvalidInput, match="rejected must be another file than the output"):
        score(classifier, rows, out, rejected=out)
    with pytest.raises(InvalidInput, match="must not be the input being read"):
        score(classifier, rows, rows, overwrite=True)
    with pytest.raises(NotFound, match="does not exist"):
        score(classifier, tmp_path / "missing.parquet", out)
    assert not out.exists()
