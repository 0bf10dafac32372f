"""``loopml train``, ``loopml evaluate`` and ``loopml pipeline run|status``.

``loopml train`` exits 0 when a candidate passed its gates (and was registered), and 5 when
none did, so a CI job can stop a release on it; a failed step exits 1 with the step named.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from loopml.cli.state import STATE, console
from loopml.core.errors import InvalidInput, user_message, verbatim

__all__ = ["evaluate", "pipeline_app", "train"]

#: Exit code of ``loopml train`` when no candidate passed its gates.
EXIT_GATES_FAILED = 5

pipeline_app = typer.Typer(help="Run pipelines and show their last run.", no_args_is_help=True)

_PROJECT_HELP = "The project file (or its directory)."
_EXECUTOR_HELP = "Where steps and tuning trials run: local or dask (default: loopml.yaml's)."
_ADDRESS_HELP = "A Dask scheduler (tcp://host:8786); none with --executor dask: a local cluster."


def _project(path: Path) -> Any:
    from loopml.project import load_project

    return load_project(path)


def _tracking() -> None:
    from loopml.tracking import fluent

    if STATE.tracking_uri:
        fluent.set_tracking_uri(STATE.tracking_uri)


def _progress(event: Any) -> None:
    """One line per step that ran, failed or was skipped (the cached ones are summed up at
    the end)."""
    if event.kind == "finished":
        console.print(f"  [green]✓[/] {event.step} [dim]{event.seconds:.1f}s[/]", highlight=False)
    elif event.kind == "failed":
        console.print(f"  [red]✗[/] {event.step}: {event.error}", highlight=False)
    elif event.kind == "skipped":
        console.print(f"  [yellow]-[/] {event.step} [dim]skipped[/]", highlight=False)


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _interval(estimate: Any) -> str:
    return f"{estimate.value:.4f} [{estimate.low:.4f}, {estimate.high:.4f}]"


def _gain(gain: Any) -> str:
    return "-" if gain is None else f"{gain.delta:+.4f} [{gain.low:+.4f}, {gain.high:+.4f}]"


def models_table(result: Any) -> Table:
    """Every model: validation score, test metric with its CI, gain over the baseline."""
    metric = result.primary_metric
    table = Table(title=f"Models (test part, {metric} with 95% CI)", title_justify="left")
    for column in ("model", "role", "kind", f"valid {metric}", f"test {metric}", "gain vs base"):
        table.add_column(column, justify="left" if column in ("model", "role", "kind") else "right")
    for name, model in result.models.items():
        evaluation = result.evaluations[name]
        estimate = evaluation.metrics[metric]
        style = "bold green" if name == result.chosen else ""
        table.add_row(
            f"[{style}]{name}[/]" if style else name,
            str(model["role"]),
            str(model["kind"]),
            _fmt(float(model["valid_score"])),
            _interval(estimate),
            _gain(evaluation.gains.get(metric)),
        )
    return table


def gates_table(title: str, report: Mapping[str, Any]) -> Table:
    """Each gate with what was measured, its threshold and the verdict."""
    table = Table(title=title, title_justify="left")
    for column in ("gate", "measured", "threshold", "verdict", "why"):
        table.add_column(column, justify="right" if column in ("measured", "threshold") else "left")
    style = {"pass": "[green]pass[/]", "fail": "[bold red]FAIL[/]", "skip": "[yellow]skip[/]"}
    for verdict in report["verdicts"]:
        table.add_row(
            str(verdict["description"]),
            _fmt(verdict["measured"]),
            _fmt(verdict["threshold"]),
            style[str(verdict["verdict"])],
            str(verdict["reason"]),
        )
    return table


def train(
    project: Path = typer.Option(Path("loopml.yaml"), "--project", "-p", help=_PROJECT_HELP),
    executor: str = typer.Option(None, "--executor", help=_EXECUTOR_HELP),
    address: str = typer.Option(None, "--address", help=_ADDRESS_HELP),
    force: list[str] = typer.Option(
        [], "--force", help="Re-run this step and what depends on it (repeatable); 'all': all."
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Re-run every step."),
    json_out: Path = typer.Option(None, "--json", help="Also write the outcome here as JSON."),
) -> None:
    """Train the project: baselines, candidates (tuned), evaluation, gates, registration."""
    from loopml.training.train import train_project

    _tracking()
    config = _project(project)
    if executor is not None and executor not in ("local", "dask"):
        raise InvalidInput(
            user_message("--executor", "must be local or dask", executor, "e.g. --executor dask")
        )
    console.print(f"Training [bold]{config.name}[/] ({config.task}, target {config.target!r}):")
    forced: bool | list[str] = True if force == ["all"] else list(force)
    result = train_project(
        config,
        executor=executor,
        address=address,
        force=forced,
        cache=False if no_cache else None,
        on_event=_progress,
    )
    _report(result)
    if json_out is not None:
        json_out.write_text(json.dumps(_outcome(result), indent=2, default=str))
        console.print(f"Wrote {json_out}", highlight=False)
    if not result.decision["passed"]:
        raise typer.Exit(EXIT_GATES_FAILED)


def _report(result: Any) -> None:
    pipeline = result.pipeline
    cached = [s for s in pipeline.steps.values() if s.status == "cached"]
    ran = [s for s in pipeline.steps.values() if s.status == "ran"]
    console.print(
        f"{len(ran)} steps ran, {len(cached)} came from the cache"
        + (f" ({', '.join(s.name for s in cached)})" if cached else "")
        + f"; {pipeline.seconds:.1f}s.",
        highlight=False,
    )
    console.print(models_table(result))
    console.print(f"Baseline for the gains: {result.baseline} (the strongest by validation).")
    decision = result.decision
    shown = decision["chosen"] or decision["best"]
    if shown is not None:
        console.print(gates_table(f"Gates of {shown}", decision["gates"][shown]))
    for name in decision["ranking"]:
        if name != shown and not decision["gates"][name]["passed"]:
            failed = [v["description"] for v in decision["gates"][name]["verdicts"]
                      if v["verdict"] == "fail"]  # fmt: skip
            console.print(f"  {name} failed: {', '.join(failed)}", highlight=False)
    registration = result.registration
    step = pipeline.steps.get("register")
    if registration["registered"] and step is not None and step.status == "cached":
        console.print(
            f"Nothing new to register: {registration['model']} is {result.project} version "
            f"{registration['version']}, registered by an earlier run of the same inputs.",
            highlight=False,
        )
    elif registration["registered"]:
        alias = f" and set alias '{registration['alias']}'" if registration["alias"] else ""
        tag = "" if decision["passed"] else " with tag gate=failed"
        console.print(
            f"Registered {registration['model']} as {result.project}"
            f" version {registration['version']}{tag}{alias}.",
            highlight=False,
        )
    elif not decision["passed"]:
        console.print(
            "[bold red]No candidate passed its gates:[/] nothing registered "
            "(register: on_gate_failure: tag registers the best one tagged gate=failed).",
            highlight=False,
        )
    evaluated = pipeline.steps.get(f"evaluate_{_key(shown)}") if shown else None
    if evaluated is not None:
        run_id = evaluated.cached_from or evaluated.run_id
        console.print(
            f"Report: loopml runs show {run_id}  (artifact evaluation/report.html)",
            highlight=False,
        )


def _key(name: str) -> str:
    from loopml.training.train import model_key

    return model_key(name)


def _outcome(result: Any) -> dict[str, Any]:
    return {
        "project": result.project,
        "pipeline_run_id": result.pipeline.run_id,
        "steps": {n: s.status for n, s in result.pipeline.steps.items()},
        "chosen": result.chosen,
        "decision": result.decision,
        "registration": result.registration,
        "evaluations": {n: e.to_dict() for n, e in result.evaluations.items()},
    }


def evaluate(
    model: str = typer.Argument(
        ...,
        help="A model URI: models:/NAME@ALIAS, models:/NAME/3, "
        "runs:/RUN/model, or a package directory.",
    ),
    project: Path = typer.Option(Path("loopml.yaml"), "--project", "-p", help=_PROJECT_HELP),
    data: Path = typer.Option(
        None, "--data", help="Evaluate on this file instead of the project's test part."
    ),
    part: str = typer.Option("test", "--part", help="The project's part: train, valid or test."),
    html: Path = typer.Option(None, "--html", help="Write the HTML report here."),
    json_out: Path = typer.Option(None, "--json", help="Write the result as JSON here."),
) -> None:
    """Evaluate a model on the project's test part (or --data) and check the project's gates."""
    from loopml.evaluate.report import to_html
    from loopml.training.train import evaluate_in_project

    _tracking()
    config = _project(project)
    if part not in ("train", "valid", "test"):
        raise InvalidInput(user_message("--part", "must be train, valid or test", part))
    with console.status(f"Evaluating {model} ..."):
        outcome = evaluate_in_project(config, model, data=data, part=part)
    result = outcome.result
    report = outcome.gates
    console.print(_metrics_table(result, outcome.label))
    _print_details(result)
    if report.verdicts:
        console.print(gates_table(f"Gates of {config.name}", report.to_dict()))
    if html is not None:
        html.write_text(to_html(result, gates=report, title=f"{model} on {outcome.label}"))
        console.print(f"Wrote {html}", highlight=False)
    if json_out is not None:
        json_out.write_text(json.dumps({**result.to_dict(), "gates": report.to_dict()}, indent=2))
        console.print(f"Wrote {json_out}", highlight=False)
    console.print(f"Tracked as run {outcome.run_id} in experiment {config.name!r}.")


def _metrics_table(result: Any, label: str) -> Table:
    table = Table(
        title=f"{label}: {result.n_rows:,} rows, {result.confidence:.0%} bootstrap CIs "
        f"({result.n_resamples} resamples)",
        title_justify="left",
    )
    for column in ("metric", "value", "low", "high", "gain vs champion"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for name, estimate in result.metrics.items():
        table.add_row(
            name,
            _fmt(estimate.value),
            _fmt(estimate.low),
            _fmt(estimate.high),
            _gain(result.gains.get(name)),
        )
    return table


def _print_details(result: Any) -> None:
    if result.worst_slices:
        console.print("Worst slices (per-row loss inside vs outside, Welch t-test, BH):")
        for found in result.worst_slices[:5]:
            value = "-" if found.value is None else f"{found.value:.4f}"
            q = "-" if found.q_value is None else f"{found.q_value:.2g}"
            console.print(
                f"  {found.description}: {found.metric} {value}, {found.support:,} rows, q {q}",
                highlight=False,
            )
    for test in result.behaviour:
        verdict = "[green]pass[/]" if test.passed else "[bold red]FAIL[/]"
        console.print(
            f"Behaviour {test.name}: {verdict} (measured {test.measured:.4g}, "
            f"limit {test.threshold:.4g}) {test.detail}",
            highlight=False,
        )
    if result.calibration is not None:
        console.print(
            f"Calibration: ECE {result.calibration.ece:.4f}, MCE {result.calibration.mce:.4f}."
        )
    if result.importance is not None:
        top = sorted(zip(result.importance.features, result.importance.mean, strict=True),
                     key=lambda x: -x[1])[:5]  # fmt: skip
        shown = ", ".join(f"{f} {v:.4f}" for f, v in top)
        console.print(f"Importance ({result.importance.method}): {shown}", highlight=False)
    if result.latency is not None:
        latency = result.latency
        console.print(
            f"Single-row latency: p50 {latency.p50_ms:.2f} ms, p99 {latency.p99_ms:.2f} ms."
        )


@pipeline_app.command("run")
def pipeline_run(
    target: str = typer.Argument(
        None,
        help="A pipeline object: FILE.py:NAME or MODULE:NAME (default: the project's training "
        "pipeline, as loopml train runs it).",
    ),
    project: Path = typer.Option(Path("loopml.yaml"), "--project", "-p", help=_PROJECT_HELP),
    inputs: list[str] = typer.Option(
        [], "--input", "-i", help="An external input NAME=VALUE (VALUE as JSON, else text)."
    ),
    executor: str = typer.Option(None, "--executor", help=_EXECUTOR_HELP),
    address: str = typer.Option(None, "--address", help=_ADDRESS_HELP),
    force: list[str] = typer.Option([], "--force", help="Re-run this step (repeatable)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Re-run every step."),
) -> None:
    """Run a pipeline: each step cached by its inputs, code and params, each a tracked run."""
    if target is None:
        train(project, executor, address, force, no_cache, None)
        return
    _tracking()
    pipeline = _load_pipeline(target)
    values = dict(_parse_input(text) for text in inputs)
    console.print(f"Running pipeline [bold]{pipeline.name}[/]:")
    result = pipeline.run(
        values,
        executor=executor or "local",
        address=address,
        cache=not no_cache,
        force=list(force),
        on_event=_progress,
    )
    console.print(_steps_table(pipeline.name, result.steps.values(), result.seconds))


def _parse_input(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition("=")
    if not sep or not name.isidentifier():
        raise InvalidInput(
            user_message("--input", "must be NAME=VALUE", text, "e.g. --input source=data.csv")
        )
    try:
        return name, json.loads(raw)
    except json.JSONDecodeError:
        return name, raw


def _load_pipeline(target: str) -> Any:
    from loopml.pipeline import Pipeline

    where, sep, attr = target.rpartition(":")
    if not sep or not where or not attr.isidentifier():
        raise InvalidInput(
            user_message(
                "pipeline", "must be FILE.py:NAME or MODULE:NAME", target, "e.g. flows.py:training"
            )
        )
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_file():
            raise InvalidInput(user_message("pipeline file", "does not exist", where))
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            raise InvalidInput(user_message("pipeline file", "cannot be imported", where))
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        sys.path.insert(0, str(path.parent.absolute()))
        spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise InvalidInput(
                user_message("pipeline module", "cannot be imported", where, str(exc))
            ) from exc
    found = getattr(module, attr, None)
    if not isinstance(found, Pipeline):
        raise InvalidInput(
            user_message(
                f"{target}",
                "must name a loopml.pipeline.Pipeline",
                verbatim(type(found).__name__ if found is not None else "nothing"),
            )
        )
    return found


def _steps_table(name: str, steps: Sequence[Any] | Any, seconds: float | None) -> Table:
    total = "" if seconds is None else f", {seconds:.1f}s"
    table = Table(title=f"Pipeline {name}{total}", title_justify="left")
    for column in ("step", "status", "seconds", "run", "from run"):
        table.add_column(column, justify="right" if column == "seconds" else "left")
    style = {"ran": "green", "finished": "green", "cached": "cyan", "failed": "red",
             "skipped": "yellow", "running": "yellow"}  # fmt: skip
    for s in steps:
        status = str(s.status)
        table.add_row(
            s.name,
            f"[{style.get(status, '')}]{status}[/]" if status in style else status,
            "-" if s.seconds is None else f"{s.seconds:.2f}",
            s.run_id or "-",
            s.cached_from or "",
        )
    return table


@pipeline_app.command("status")
def pipeline_status(
    name: str = typer.Argument(None, help="The pipeline (default: the project's)."),
    project: Path = typer.Option(Path("loopml.yaml"), "--project", "-p", help=_PROJECT_HELP),
) -> None:
    """The last run of a pipeline: each step, ran or cached, its time and run."""
    from loopml.pipeline import pipeline_status as status_of

    _tracking()
    chosen = name or _project(project).name
    status = status_of(chosen)
    console.print(
        f"Last run of [bold]{chosen}[/]: {status.status} (run {status.run_id}).", highlight=False
    )
    console.print(_steps_table(chosen, status.steps, None))
