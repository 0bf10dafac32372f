"""Batch scoring on a real ``distributed.LocalCluster`` (2 worker processes, 1 thread each).

One cluster serves the module; each test's workers load the model from that test's own store
(the job passes the tracking and artifact URIs), and the files must be those of a local job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from loopml.data.sources import DataSource
from loopml.models.package import save_model
from loopml.registry import ModelRegistry
from loopml.scoring import ScoreProgress, score
from test_scoring import FEATURES, _frame, _pipeline

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def dask_client() -> Iterator[object]:
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": ":0"},
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture
def registered(tmp_path: Path) -> tuple[str, str]:
    """(tracking URI, model URI by alias) of a classifier registered in this test's store."""
    train = _frame(500, seed=1)
    model = _pipeline(HistGradientBoostingClassifier(max_iter=10, random_state=0))
    model.fit(train[FEATURES], train["y"])
    save_model(model, tmp_path / "package", signature=train[FEATURES])
    store = str(tmp_path / "store")
    registry = ModelRegistry(store)
    version = registry.register_model(str(tmp_path / "package"), "delays")
    registry.set_alias("delays", "champion", version.version)
    return store, "models:/delays@champion"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    frame = _frame(1_000, seed=2)
    frame["n"] = frame["n"].astype("float64")
    frame.loc[[3, 500, 501], "x"] = np.nan
    frame.loc[[7, 501, 998], "n"] = 0.5
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    return path


def test_dask_writes_the_files_a_local_job_writes(
    dask_client: object, registered: tuple[str, str], source: Path, tmp_path: Path
) -> None:
    store, uri = registered
    local = score(uri, source, tmp_path / "local.parquet", chunk_rows=64, tracking_uri=store)
    seen: list[ScoreProgress] = []
    report = score(
        uri,
        source,
        tmp_path / "dask.parquet",
        chunk_rows=64,
        tracking_uri=store,
        executor="dask",
        address=dask_client,
        progress=seen.append,
    )
    assert report.executor == "dask"
    assert report.chunks == 16
    assert [p.chunks for p in seen] == list(range(1, 17))  # written in order, one by one
    assert (report.rows_scored, report.rows_rejected) == (995, 5)
    assert dict(report.rejected_by) == dict(local.rejected_by)
    assert pq.read_table(tmp_path / "dask.parquet").equals(
        pq.read_table(tmp_path / "local.parquet")
    )
    assert pq.read_table(report.rejected_path).equals(pq.read_table(local.rejected_path))
    assert report.model_version == 1


class _MovingAlias(DataSource):
    """A Table that moves an alias when it is first read: after the driver loaded the model,
    before any worker did (a fake of a source, through the extension point of DataSource)."""

    def __init__(self, table: pa.Table, move: Callable[[], object]) -> None:
        super().__init__(kind="arrow", uri="<Table>", batch_rows=200)
        self._table, self._move = table, move

    def _batches(self) -> Iterator[pa.RecordBatch]:
        self._move()
        yield from self._table.to_batches(max_chunksize=self.batch_rows)


def test_workers_load_the_version_the_alias_named_when_the_job_started(
    dask_client: object, registered: tuple[str, str], source: Path, tmp_path: Path
) -> None:
    store, uri = registered
    registry = ModelRegistry(store)
    other = _pipeline(HistGradientBoostingClassifier(max_iter=3, random_state=1))
    train = _frame(300, seed=9)
    other.fit(train[FEATURES], train["y"])
    save_model(other, tmp_path / "other", signature=train[FEATURES])
    second = registry.register_model(str(tmp_path / "other"), "delays")
    first = score(
        "models:/delays/1", source, tmp_path / "v1.parquet", chunk_rows=200, tracking_uri=store
    )
    later = score(
        "models:/delays/2", source, tmp_path / "v2.parquet", chunk_rows=200, tracking_uri=store
    )
    assert not pq.read_table(first.output).equals(pq.read_table(later.output))
    moving = _MovingAlias(
        pq.read_table(source), lambda: registry.set_alias("delays", "champion", second.version)
    )
    scheduler = dask_client.scheduler.address  # type: ignore[attr-defined]
    report = score(
        uri,
        moving,
        tmp_path / "dask.parquet",
        tracking_uri=store,
        address=scheduler,
        executor="dask",
    )
    assert registry.get_version_by_alias("delays", "champion").version == second.version
    assert report.model_version == 1
    assert pq.read_table(report.output).equals(pq.read_table(first.output))


@pytest.mark.slow
def test_a_local_cluster_of_its_own(source: Path, tmp_path: Path) -> None:
    train = _frame(300, seed=1)
    model = _pipeline(HistGradientBoostingClassifier(max_iter=5, random_state=0))
    model.fit(train[FEATURES], train["y"])
    save_model(model, tmp_path / "package", signature=train[FEATURES])
    local = score(tmp_path / "package", source, tmp_path / "local.parquet", chunk_rows=250)
    report = score(
        tmp_path / "package",
        source,
        tmp_path / "dask.parquet",
        chunk_rows=250,
        executor="dask",
        n_workers=1,
    )
    assert pq.read_table(report.output).equals(pq.read_table(local.output))
