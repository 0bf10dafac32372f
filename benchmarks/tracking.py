#!/usr/bin/env python
# mypy: disable-error-code="import-not-found"
"""loopml tracking vs MLflow tracking, side by side, on one machine, in one run.

    python benchmarks/tracking.py            # full run (MLflow at 10,000 runs takes minutes)
    python benchmarks/tracking.py --quick    # skip the MLflow side of the 10,000-run search
    python benchmarks/tracking.py --json results.json

Both sides use an embedded SQLite file store in a fresh temporary directory:

* MLflow ``==3.17.2`` in its own virtualenv, ``benchmarks/.cache/venv-mlflow`` (created on first
  use, reused while it holds that version), with ``sqlite:///<tmp>/mlflow.db`` and its artifacts
  under ``<tmp>/artifacts``;
* loopml from the current interpreter, with ``loopml.set_tracking_uri(<tmp>)``
  (``<tmp>/loopml.db`` in WAL mode plus ``<tmp>/artifacts``), ``LOOPML_RECORD_GIT=false``.

Each side runs in a subprocess of its own (``--worker mlflow|loopml``; this same file, which
imports only the standard library and ``_peers`` at module level), which prints its raw timings
as JSON on stdout. loopml runs twice: with its default ``synchronous=NORMAL`` and with
``LOOPML_SQLITE_SYNCHRONOUS=FULL``, to show how much of the difference is durability settings.

Fairness rules: imports, schema creation, the first experiment and a first run are set-up and are
not timed; every timed operation is warmed up first with the same operation (for the per-call ops
in a throw-away run); both sides get the same data from the same seeded generator and the same
counts; each timed operation is ONE function run on both sides (loopml's API has MLflow's
shape), given the side's fluent module, client and Metric class; only import, set-up, metadata and
population, whose calls differ, come in ``<op>__mlflow`` / ``<op>__loopml`` pairs. The search
returns the same runs in the same order on both sides, which is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _peers import (
    ensure_venv,
    fmt,
    load_average,
    markdown_table,
    print_table,
    progress,
    run_worker_process,
    source_state,
)

MLFLOW_VERSION = "3.17.2"
HERE = Path(__file__).resolve().parent
VENV = HERE / ".cache" / "venv-mlflow"

# -- the workload (identical on both sides) ------------------------------------------------------

N_LOG_METRIC = 1_000  # 1. log_metric calls in one active run
WARMUP_LOG_METRIC = 50
N_BATCHES = 10  # 2. log_batch: batches of BATCH_KEYS x BATCH_STEPS metrics
BATCH_KEYS = 10
BATCH_STEPS = 100
WARMUP_BATCHES = 2
HISTORY_POINTS = 10_000  # 3. points of one key, logged untimed in batches of 1,000
HISTORY_REPS = 5
N_RUNS = 100  # 4. fluent run lifecycles
WARMUP_RUNS = 5
SEARCH_SIZES = (300, 10_000)  # 5. runs in the searched experiment
SEARCH_REPS = 5
SEARCH_MAX_RESULTS = 1_000
SEARCH_FILTER = "metrics.auc > 0.8 and params.model = 'gbm' and tags.team = 'x'"
SEARCH_ORDER = ("metrics.auc DESC",)
SEED = 20261123


def metric_value(i: int) -> float:
    return 1.0 / (i + 1)


def batch_points(batch: int, base_ts: int) -> list[tuple[str, float, int, int]]:
    """(key, value, timestamp, step) of batch ``batch``: BATCH_KEYS keys x BATCH_STEPS steps."""
    points = []
    for s in range(BATCH_STEPS):
        step = batch * BATCH_STEPS + s
        for k in range(BATCH_KEYS):
            points.append((f"m{k}", metric_value(step) + k, base_ts + step, step))
    return points


def history_points(base_ts: int) -> list[list[tuple[str, float, int, int]]]:
    """HISTORY_POINTS points of the key 'loss', in chunks of 1,000."""
    points = [("loss", metric_value(i), base_ts + i, i) for i in range(HISTORY_POINTS)]
    return [points[i : i + 1_000] for i in range(0, len(points), 1_000)]


@dataclass(frozen=True)
class SearchRow:
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, float]


def search_population(n: int) -> list[SearchRow]:
    """``n`` runs: model cycles gbm/lr/rf, team cycles x/y, auc ~ U[0.5, 1] from a seeded RNG."""
    rng = random.Random(SEED + n)
    rows = []
    for i in range(n):
        rows.append(
            SearchRow(
                params={
                    "model": ("gbm", "lr", "rf")[i % 3],
                    "max_depth": str(rng.randint(2, 12)),
                    "learning_rate": f"{rng.uniform(0.01, 0.3):.4f}",
                },
                tags={"team": ("x", "y")[i % 2]},
                metrics={
                    "auc": rng.uniform(0.5, 1.0),
                    "logloss": rng.uniform(0.1, 0.7),
                    "accuracy": rng.uniform(0.6, 0.95),
                },
            )
        )
    return rows


def expected_matches(rows: Sequence[SearchRow]) -> list[float]:
    """The auc values the search must return, in order (the cross-check of both sides)."""
    aucs = [
        r.metrics["auc"]
        for r in rows
        if r.metrics["auc"] > 0.8 and r.params["model"] == "gbm" and r.tags["team"] == "x"
    ]
    return sorted(aucs, reverse=True)[:SEARCH_MAX_RESULTS]


# -- the two sides, op by op ---------------------------------------------------------------------
#
# ``api`` is the ``mlflow`` or ``loopml`` module, ``client`` an ``MlflowClient`` or a
# ``loopml.Client`` on the same store. Each pair of functions does the same calls.


@dataclass
class Ctx:
    tmp: Path
    api: Any  # the fluent module: mlflow or loopml
    client: Any  # MlflowClient or loopml.Client
    experiment_id: str
    metric: Any  # the side's Metric(key, value, timestamp, step) class


def import__mlflow() -> Any:
    import mlflow
    from mlflow import MlflowClient  # noqa: F401  (imported now so its import is not timed later)
    from mlflow.entities import Metric, Param, RunTag  # noqa: F401

    return mlflow


def import__loopml() -> Any:
    import loopml

    return loopml


def setup__mlflow(tmp: Path, mlflow: Any) -> Ctx:
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    client = MlflowClient()
    experiment_id = client.create_experiment(
        "bench", artifact_location=(tmp / "artifacts").as_uri()
    )
    mlflow.set_experiment(experiment_id=experiment_id)
    with mlflow.start_run():  # first run: context providers (git, source), lazy imports
        mlflow.log_param("setup", 1)
        mlflow.log_metric("setup", 0.0)
    from mlflow.entities import Metric

    return Ctx(tmp, mlflow, client, experiment_id, Metric)


def setup__loopml(tmp: Path, loopml: Any) -> Ctx:
    loopml.set_tracking_uri(str(tmp))
    client = loopml.Client(tracking_uri=str(tmp))
    experiment_id = client.create_experiment("bench")
    loopml.set_experiment(experiment_id=experiment_id)
    with loopml.start_run():
        loopml.log_param("setup", 1)
        loopml.log_metric("setup", 0.0)
    return Ctx(tmp, loopml, client, experiment_id, loopml.Metric)


def meta__mlflow(ctx: Ctx) -> dict[str, Any]:
    import sqlalchemy
    from mlflow.tracking._tracking_service.utils import _get_store

    engine = _get_store().engine
    with engine.connect() as conn:
        journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        synchronous = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    runs = ctx.client.search_runs([ctx.experiment_id], max_results=1)
    tags = runs[0].data.tags
    try:
        import git  # noqa: F401

        gitpython = True
    except ImportError:
        gitpython = False
    return {
        "package": f"mlflow {ctx.api.__version__}",
        "sqlalchemy": sqlalchemy.__version__,
        "journal_mode": journal,
        "synchronous": synchronous,
        "gitpython_installed": gitpython,
        "git_commit_recorded": "mlflow.source.git.commit" in tags,
        "tags_on_a_fluent_run": sorted(tags),
        "telemetry_disabled": os.environ.get("MLFLOW_DISABLE_TELEMETRY", ""),
    }


def meta__loopml(ctx: Ctx) -> dict[str, Any]:
    import sqlalchemy

    engine = ctx.client.stores.database.engine
    with engine.connect() as conn:
        journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        synchronous = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    runs = ctx.client.search_runs([ctx.experiment_id], max_results=1)
    tags = runs[0].data.tags
    return {
        "package": f"loopml {ctx.api.__version__}",
        "sqlalchemy": sqlalchemy.__version__,
        "journal_mode": journal,
        "synchronous": synchronous,
        "git_commit_recorded": "loopml.source.git.commit" in tags,
        "tags_on_a_fluent_run": sorted(tags),
        "LOOPML_RECORD_GIT": os.environ.get("LOOPML_RECORD_GIT", ""),
        "LOOPML_SQLITE_SYNCHRONOUS": os.environ.get("LOOPML_SQLITE_SYNCHRONOUS", ""),
    }


# 1. log_metric: per-call times of N calls log_metric("loss", v, step=i) in an active run.


def log_metric(ctx: Ctx, n: int, warmup: int) -> list[float]:
    def one_run(count: int) -> list[float]:
        times = []
        with ctx.api.start_run():
            for i in range(count):
                value = metric_value(i)
                t0 = time.perf_counter()
                ctx.api.log_metric("loss", value, step=i)
                times.append(time.perf_counter() - t0)
        return times

    one_run(warmup)
    return one_run(n)


# 2. log_batch: per-batch times of N_BATCHES client.log_batch calls of 1,000 metrics each.


def log_batch(ctx: Ctx, batches: int, warmup: int) -> list[float]:
    def one_run(count: int) -> list[float]:
        run_id = ctx.client.create_run(ctx.experiment_id).info.run_id
        base_ts = int(time.time() * 1000)
        payloads = [[ctx.metric(*p) for p in batch_points(b, base_ts)] for b in range(count)]
        times = []
        for metrics in payloads:
            t0 = time.perf_counter()
            ctx.client.log_batch(run_id, metrics=metrics)
            times.append(time.perf_counter() - t0)
        return times

    one_run(warmup)
    return one_run(batches)


# 3. get_metric_history of one key with HISTORY_POINTS points (logged untimed), REPS timings
#    after one untimed call.


def metric_history(ctx: Ctx, reps: int) -> list[float]:
    run_id = ctx.client.create_run(ctx.experiment_id).info.run_id
    for chunk in history_points(int(time.time() * 1000)):
        ctx.client.log_batch(run_id, metrics=[ctx.metric(*p) for p in chunk])
    ctx.client.get_metric_history(run_id, "loss")
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        history = ctx.client.get_metric_history(run_id, "loss")
        times.append(time.perf_counter() - t0)
        assert len(history) == HISTORY_POINTS, len(history)
    return times


# 4. Run lifecycle with the fluent API: start_run, log_param, log_metric, end_run.


def run_lifecycle(ctx: Ctx, n: int, warmup: int) -> list[float]:
    api = ctx.api

    def lifecycle(i: int) -> None:
        api.start_run()
        api.log_param("p", i)
        api.log_metric("m", i)
        api.end_run()

    for i in range(warmup):
        lifecycle(i)
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        lifecycle(i)
        times.append(time.perf_counter() - t0)
    return times


# 5. search_runs: populate an experiment (create_run + one log_batch per run, timed only as
#    information), then REPS timed searches after one untimed one.


def populate__mlflow(ctx: Ctx, name: str, rows: Sequence[SearchRow]) -> tuple[str, float]:
    from mlflow.entities import Metric, Param, RunTag

    client = ctx.client
    experiment_id = client.create_experiment(name, artifact_location=(ctx.tmp / name).as_uri())
    now = int(time.time() * 1000)
    t0 = time.perf_counter()
    for i, row in enumerate(rows):
        run_id = client.create_run(experiment_id).info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, now, 0) for k, v in row.metrics.items()],
            params=[Param(k, v) for k, v in row.params.items()],
            tags=[RunTag(k, v) for k, v in row.tags.items()],
        )
        report_populate(i + 1, len(rows), t0)
    return experiment_id, time.perf_counter() - t0


def populate__loopml(ctx: Ctx, name: str, rows: Sequence[SearchRow]) -> tuple[str, float]:
    client = ctx.client
    experiment_id = client.create_experiment(name)
    now = int(time.time() * 1000)
    t0 = time.perf_counter()
    for i, row in enumerate(rows):
        run_id = client.create_run(experiment_id).info.run_id
        client.log_batch(
            run_id,
            metrics=[ctx.metric(k, v, now, 0) for k, v in row.metrics.items()],
            params=row.params,
            tags=row.tags,
        )
        report_populate(i + 1, len(rows), t0)
    return experiment_id, time.perf_counter() - t0


def search(ctx: Ctx, experiment_id: str, reps: int) -> tuple[list[float], list[float]]:
    def one_search() -> Any:
        return ctx.client.search_runs(
            [experiment_id],
            filter_string=SEARCH_FILTER,
            order_by=list(SEARCH_ORDER),
            max_results=SEARCH_MAX_RESULTS,
        )

    one_search()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        runs = one_search()
        times.append(time.perf_counter() - t0)
    return times, [r.data.metrics["auc"] for r in runs]


def report_populate(done: int, total: int, t0: float) -> None:
    if done % 1_000 == 0 or done == total:
        elapsed = time.perf_counter() - t0
        progress(f"  populated {done:,}/{total:,} runs ({elapsed:.1f} s)")


SIDES: dict[str, dict[str, Callable[..., Any]]] = {
    "mlflow": {
        "import": import__mlflow,
        "setup": setup__mlflow,
        "meta": meta__mlflow,
        "log_metric": log_metric,
        "log_batch": log_batch,
        "metric_history": metric_history,
        "run_lifecycle": run_lifecycle,
        "populate": populate__mlflow,
        "search": search,
    },
    "loopml": {
        "import": import__loopml,
        "setup": setup__loopml,
        "meta": meta__loopml,
        "log_metric": log_metric,
        "log_batch": log_batch,
        "metric_history": metric_history,
        "run_lifecycle": run_lifecycle,
        "populate": populate__loopml,
        "search": search,
    },
}


# -- the worker: one side, in a subprocess --------------------------------------------------------


def run_worker(side: str, search_sizes: Sequence[int], keep: bool) -> dict[str, Any]:
    ops = SIDES[side]
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-tracking-{side}-"))
    os.chdir(tmp)  # anything written relative to the working directory lands in tmp too
    result: dict[str, Any] = {"side": side, "tmp": str(tmp), "loadavg_start": load_average()}
    try:
        t0 = time.perf_counter()
        api = ops["import"]()
        result["import_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        ctx: Ctx = ops["setup"](tmp, api)
        result["setup_s"] = time.perf_counter() - t0
        result["meta"] = {
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            **ops["meta"](ctx),
        }
        progress(f"{side}: set up in {result['setup_s']:.2f} s; log_metric x{N_LOG_METRIC}")
        result["log_metric"] = ops["log_metric"](ctx, N_LOG_METRIC, WARMUP_LOG_METRIC)
        progress(f"{side}: log_batch {N_BATCHES} x {BATCH_KEYS * BATCH_STEPS}")
        result["log_batch"] = ops["log_batch"](ctx, N_BATCHES, WARMUP_BATCHES)
        progress(f"{side}: get_metric_history of {HISTORY_POINTS:,} points")
        result["metric_history"] = ops["metric_history"](ctx, HISTORY_REPS)
        progress(f"{side}: run lifecycle x{N_RUNS}")
        result["run_lifecycle"] = ops["run_lifecycle"](ctx, N_RUNS, WARMUP_RUNS)
        result["search"] = {}
        for size in search_sizes:
            progress(f"{side}: populating {size:,} runs for search_runs")
            rows = search_population(size)
            experiment_id, populate_s = ops["populate"](ctx, f"search-{size}", rows)
            times, aucs = ops["search"](ctx, experiment_id, SEARCH_REPS)
            result["search"][str(size)] = {"populate_s": populate_s, "times": times, "aucs": aucs}
            progress(f"{side}: search over {size:,} runs returned {len(aucs)} runs")
        result["loadavg_end"] = load_average()
    finally:
        if not keep:
            os.chdir(HERE)
            shutil.rmtree(tmp, ignore_errors=True)
    return result


# -- the driver ----------------------------------------------------------------------------------


def worker_env(side: str, synchronous: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOPML_", "MLFLOW_"))}
    if side == "mlflow":
        # No usage telemetry (it is not tracking work, and there is no network here anyway).
        env["MLFLOW_DISABLE_TELEMETRY"] = "true"
        env["DO_NOT_TRACK"] = "true"
    else:
        env["LOOPML_RECORD_GIT"] = "false"
        env["LOOPML_SQLITE_SYNCHRONOUS"] = synchronous or "NORMAL"
    return env


def run_side(
    label: str,
    python: Path,
    side: str,
    sizes: Sequence[int],
    synchronous: str | None,
    keep: bool,
) -> dict[str, Any]:
    """Run one worker; progress lines go to the terminal, other stderr to a log file."""
    log_path = HERE / ".cache" / f"tracking-{label}.stderr.log"
    cmd = [str(python), str(Path(__file__).resolve()), "--worker", side]
    cmd += ["--sizes", ",".join(str(s) for s in sizes)]
    if keep:
        cmd.append("--keep")
    return run_worker_process(label, cmd, worker_env(side, synchronous), HERE, log_path)


def ms(seconds: float) -> float:
    return seconds * 1e3


def us(seconds: float) -> float:
    return seconds * 1e6


@dataclass
class Row:
    operation: str
    unit: str
    values: dict[str, float | None]  # label -> value in `unit`
    target: str = ""
    ratio_target: float | None = None  # minimum MLflow/loopml ratio
    absolute_target: float | None = None  # loopml maximum, in `unit`


def build_rows(results: dict[str, dict[str, Any]], labels: Sequence[str]) -> list[Row]:
    def each(fn: Callable[[dict[str, Any]], float | None]) -> dict[str, float | None]:
        return {label: fn(results[label]) for label in labels}

    def search_median(size: int) -> Callable[[dict[str, Any]], float | None]:
        def get(r: dict[str, Any]) -> float | None:
            entry = r["search"].get(str(size))
            return ms(statistics.median(entry["times"])) if entry else None

        return get

    def populate_per_run(size: int) -> Callable[[dict[str, Any]], float | None]:
        def get(r: dict[str, Any]) -> float | None:
            entry = r["search"].get(str(size))
            return ms(entry["populate_s"]) / size if entry else None

        return get

    total_batch = N_BATCHES * BATCH_KEYS * BATCH_STEPS
    rows = [
        Row(
            f"log_metric ({N_LOG_METRIC:,} calls), mean",
            "µs/call",
            each(lambda r: us(statistics.fmean(r["log_metric"]))),
            "≥ 20x",
            ratio_target=20,
        ),
        Row(
            "log_metric, median of per-call times",
            "µs/call",
            each(lambda r: us(statistics.median(r["log_metric"]))),
        ),
        Row(
            f"log_batch ({N_BATCHES} x {BATCH_KEYS * BATCH_STEPS:,} metrics)",
            "µs/metric",
            each(lambda r: us(sum(r["log_batch"])) / total_batch),
            "≥ 10x",
            ratio_target=10,
        ),
        Row(
            f"get_metric_history ({HISTORY_POINTS:,} pts), median of {HISTORY_REPS}",
            "ms",
            each(lambda r: ms(statistics.median(r["metric_history"]))),
            "≥ 10x",
            ratio_target=10,
        ),
        Row(
            "get_metric_history, best",
            "ms",
            each(lambda r: ms(min(r["metric_history"]))),
        ),
        Row(
            f"run lifecycle ({N_RUNS} x start/param/metric/end)",
            "ms/run",
            each(lambda r: ms(statistics.fmean(r["run_lifecycle"]))),
            "≥ 10x",
            ratio_target=10,
        ),
    ]
    for size in SEARCH_SIZES:
        rows.append(
            Row(
                f"search_runs over {size:,} runs, median of {SEARCH_REPS}",
                "ms",
                each(search_median(size)),
                "< 50 ms (loopml)" if size == 10_000 else "",
                absolute_target=50.0 if size == 10_000 else None,
            )
        )
    for size in SEARCH_SIZES:
        rows.append(
            Row(
                f"populate {size:,} runs: create_run + log_batch (info)",
                "ms/run",
                each(populate_per_run(size)),
            )
        )
    rows.append(Row("import (info, excluded)", "s", each(lambda r: r["import_s"])))
    rows.append(
        Row(
            "set-up: store, schema, 1st run (info, excluded)",
            "s",
            each(lambda r: r["setup_s"]),
        )
    )
    return rows


def verdict(row: Row, mlflow: float | None, loopml: float | None) -> str:
    if row.absolute_target is not None:
        return "—" if loopml is None else ("yes" if loopml < row.absolute_target else "NO")
    if row.ratio_target is not None:
        if mlflow is None or loopml is None:
            return "—"
        return "yes" if mlflow / loopml >= row.ratio_target else "NO"
    return ""


def ratio(mlflow: float | None, loopml: float | None) -> str:
    if mlflow is None or loopml is None or loopml == 0:
        return "—"
    return f"{mlflow / loopml:.1f}x"


def table_lines(rows: Sequence[Row]) -> tuple[list[str], list[list[str]]]:
    header = [
        "operation",
        "unit",
        "MLflow",
        "loopml",
        "ratio",
        "target",
        "met?",
        "loopml FULL",
        "ratio FULL",
        "met? FULL",
    ]
    body = []
    for row in rows:
        m, lo, lf = row.values["mlflow"], row.values["loopml"], row.values["loopml-full"]
        body.append(
            [
                row.operation,
                row.unit,
                fmt(m, small_decimals=2),
                fmt(lo, small_decimals=2),
                ratio(m, lo),
                row.target,
                verdict(row, m, lo),
                fmt(lf, small_decimals=2),
                ratio(m, lf),
                verdict(row, m, lf),
            ]
        )
    return header, body


def cross_check(results: dict[str, dict[str, Any]]) -> list[str]:
    """Every side that searched a size returned the expected runs in the expected order."""
    notes = []
    for size in SEARCH_SIZES:
        expected = expected_matches(search_population(size))
        counts = {}
        for label, result in results.items():
            entry = result["search"].get(str(size))
            if entry is None:
                continue
            got = entry["aucs"]
            assert len(got) == len(expected), (label, size, len(got), len(expected))
            assert all(abs(a - b) < 1e-9 for a, b in zip(got, expected, strict=True)), (
                label,
                size,
            )
            counts[label] = len(got)
        notes.append(
            f"search over {size:,} runs: "
            + ", ".join(f"{k} returned {v}" for k, v in counts.items())
            + f" runs (expected {len(expected)}; same auc order on every side)"
        )
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="skip MLflow's 10,000-run search")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary stores")
    parser.add_argument("--worker", choices=sorted(SIDES), help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        sizes = [int(s) for s in args.sizes.split(",") if s]
        json.dump(run_worker(args.worker, sizes, args.keep), sys.stdout)
        return 0

    started = time.perf_counter()
    source = source_state(HERE.parent, list_paths=True)
    mlflow_python = ensure_venv(VENV, {"mlflow": MLFLOW_VERSION})
    mlflow_sizes = [s for s in SEARCH_SIZES if not (args.quick and s > 1_000)]
    results = {
        "loopml": run_side(
            "loopml", Path(sys.executable), "loopml", SEARCH_SIZES, "NORMAL", args.keep
        ),
        "mlflow": run_side("mlflow", mlflow_python, "mlflow", mlflow_sizes, None, args.keep),
        "loopml-full": run_side(
            "loopml-full", Path(sys.executable), "loopml", SEARCH_SIZES, "FULL", args.keep
        ),
    }
    notes = cross_check(results)
    header, body = table_lines(build_rows(results, list(results)))
    elapsed = time.perf_counter() - started

    print()
    print(f"machine: {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"loopml source: {source}")
    for label, result in results.items():
        meta = ", ".join(f"{k}={v}" for k, v in result["meta"].items())
        print(f"{label}: {meta}")
        print(
            f"{label}: load average (1/5/15 min) {result['loadavg_start']} at start, "
            f"{result['loadavg_end']} at end"
        )
    print(
        f"counts: log_metric {N_LOG_METRIC} calls (warm-up {WARMUP_LOG_METRIC}); log_batch "
        f"{N_BATCHES} batches x {BATCH_KEYS} keys x {BATCH_STEPS} steps (warm-up "
        f"{WARMUP_BATCHES}); history {HISTORY_POINTS} points x {HISTORY_REPS} reps (warm-up 1); "
        f"run lifecycle {N_RUNS} (warm-up {WARMUP_RUNS}); search R="
        f"{', '.join(map(str, SEARCH_SIZES))} x {SEARCH_REPS} reps (warm-up 1), "
        f"max_results={SEARCH_MAX_RESULTS}"
    )
    print(f"search: filter {SEARCH_FILTER!r}, order_by {list(SEARCH_ORDER)}")
    for note in notes:
        print(note)
    print()
    print_table("Tracking: MLflow time / loopml time (higher ratio = loopml faster)", header, body)
    print(f"\nwall time: {elapsed:.0f} s")
    if args.json:
        raw = {
            "results": results,
            "table": {"header": header, "rows": body},
            "markdown": markdown_table(header, body),
            "notes": notes,
            "wall_s": elapsed,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "loopml_source": source,
        }
        args.json.write_text(json.dumps(raw, indent=1))
        print(f"raw results: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
