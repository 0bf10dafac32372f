"""``loopml score`` as a user runs it: a registered model over a file or a query, into Parquet."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

import loopml
from conftest import run_cli
from loopml.models.package import save_model
from loopml.registry import ModelRegistry
from test_scoring import FEATURES, _frame, _pipeline

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A store holding ``delays@champion``, a classifier on x (float), n (int), c (str)."""
    train = _frame(400, seed=1)
    model = _pipeline(HistGradientBoostingClassifier(max_iter=10, random_state=0))
    model.fit(train[FEATURES], train["y"])
    save_model(model, tmp_path / "package", signature=train[FEATURES])
    uri = str(tmp_path / "store")
    registry = ModelRegistry(uri)
    version = registry.register_model(str(tmp_path / "package"), "delays")
    registry.set_alias("delays", "champion", version.version)
    return uri


@pytest.fixture
def rows(tmp_path: Path) -> Path:
    frame = _frame(300, seed=2)
    frame["n"] = frame["n"].astype("float64")
    frame.loc[[4, 150], "x"] = np.nan
    frame.loc[[8], "n"] = 0.5
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    return path


def test_score_a_file(
    capsys: pytest.CaptureFixture[str], store: str, rows: Path, tmp_path: Path
) -> None:
    out = tmp_path / "preds.parquet"
    code, stdout, stderr = run_cli(
        capsys, "--tracking-uri", store, "score", "models:/delays@champion",
        "--input", str(rows), "--output", str(out), "--chunk-rows", "100",
    )  # fmt: skip
    assert code == 0, stderr
    assert "Scored 297 of 300 rows in" in stdout
    assert "3 chunks, local) → " + str(out) in stdout
    assert "3 rows rejected by the model signature" in stdout
    assert str(tmp_path / "preds.rejected.parquet") in stdout
    assert "null_not_allowed │ x      │    2" in stdout
    assert "wrong_type       │ n      │    1" in stdout
    written = pq.read_table(out).to_pandas()
    assert written.columns.tolist() == ["key", "y", "prediction", "probability"]
    model = loopml.ModelRegistry(store).load_model("models:/delays@champion")
    good = pq.read_table(rows).to_pandas().drop(index=[4, 8, 150])
    np.testing.assert_array_equal(written["prediction"], model.predict(good[FEATURES]))
    rejected = pq.read_table(tmp_path / "preds.rejected.parquet").to_pandas()
    assert rejected["_row"].tolist() == [4, 8, 150]

    code, _, stderr = run_cli(
        capsys, "--tracking-uri", store, "score", "models:/delays@champion",
        "--input", str(rows), "--output", str(out),
    )  # fmt: skip
    assert code == 1
    assert "already exists. Fix: pass overwrite=True (--overwrite)" in stderr
    code, stdout, stderr = run_cli(
        capsys, "--tracking-uri", store, "score", "models:/delays@champion",
        "--input", str(rows), "--output", str(out), "--overwrite", "--json",
        "--id-column", "key", "--no-probabilities", "--category-policy", "error",
    )  # fmt: skip
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["columns"] == ["key", "prediction"]
    assert report["rows_rejected"] == 3
    assert report["rejected_by"] == {"null_not_allowed:x": 2, "wrong_type:n": 1}


def test_score_a_query(
    capsys: pytest.CaptureFixture[str], store: str, rows: Path, tmp_path: Path
) -> None:
    db = tmp_path / "flights.db"
    with sqlite3.connect(db) as conn:
        pq.read_table(rows).to_pandas().to_sql("flights", conn, index=False)
    out = tmp_path / "preds.parquet"
    code, _, stderr = run_cli(
        capsys, "--tracking-uri", store, "score", "models:/delays/1",
        "--input", f"sqlite:///{db}", "--query", "select key, x, n, c from flights where x > 0",
        "--output", str(out),
    )  # fmt: skip
    assert code == 0, stderr
    assert pq.read_table(out).column_names == ["key", "prediction", "probability"]
    frame = pq.read_table(rows).to_pandas()
    expected = frame[(frame["x"] > 0) & (frame["n"] % 1 == 0)]["key"]  # row 8 has n = 0.5
    assert pq.read_table(out).column("key").to_pylist() == expected.tolist()
    assert pq.read_table(tmp_path / "preds.rejected.parquet").column("key").to_pylist() == ["k8"]


def test_user_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], store: str, rows: Path, tmp_path: Path
) -> None:
    no_n = tmp_path / "no_n.parquet"
    pq.write_table(pq.read_table(rows).drop_columns(["n"]), no_n)
    out = tmp_path / "preds.parquet"
    code, _, stderr = run_cli(
        capsys, "--tracking-uri", store, "score", "models:/delays@champion",
        "--input", str(no_n), "--output", str(out),
    )  # fmt: skip
    assert code == 2
    assert "column 'n' (integer) is required by the model signature" in stderr
    assert not out.exists()
    code, _, stderr = run_cli(
        capsys, "--tracking-uri", store, "score", "models:/delays@nobody",
        "--input", str(rows), "--output", str(out),
    )  # fmt: skip
    assert code == 3
    assert "Error:" in stderr
    code, _, stderr = run_cli(
        capsys, "--tracking-uri", store, "score", "models:/delays@champion",
        "--input", str(rows), "--output", str(out), "--executor", "spark",
    )  # fmt: skip
    assert code == 2
    assert "executor must be 'local' or 'dask'; got 'spark'" in stderr
    code, _, stderr = run_cli(
        capsys, "--tracking-uri", store, "score", "models:/delays@champion",
        "--input", str(rows), "--output", str(out), "--id-column", "kee",
    )  # fmt: skip
    assert code == 2
    assert "did you mean 'key'" in stderr
