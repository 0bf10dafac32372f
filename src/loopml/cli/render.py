"""Rich renderings of tracking entities for the terminal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from rich.table import Table

from loopml.core.entities import Experiment, Run, RunStatus

__all__ = ["compare_table", "experiments_table", "format_ms", "format_value", "runs_table"]

_STATUS_STYLE = {
    RunStatus.FINISHED: "green",
    RunStatus.RUNNING: "yellow",
    RunStatus.FAILED: "red",
    RunStatus.KILLED: "red",
    RunStatus.SCHEDULED: "blue",
}


def format_ms(ms: int | None) -> str:
    """A millisecond timestamp as local time, seconds resolution."""
    if ms is None:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def _duration(run: Run) -> str:
    if run.info.end_time is None:
        return "-"
    seconds = (run.info.end_time - run.info.start_time) / 1000
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f}m"


def format_value(value: float | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return value


def _status(run: Run) -> str:
    style = _STATUS_STYLE.get(run.info.status, "")
    return f"[{style}]{run.info.status.value}[/]"


def experiments_table(experiments: Sequence[Experiment], run_counts: dict[str, int]) -> Table:
    table = Table(title="Experiments", title_justify="left")
    for column in ("id", "name", "runs", "stage", "created"):
        table.add_column(column, justify="right" if column in ("id", "runs") else "left")
    for e in experiments:
        table.add_row(
            e.experiment_id,
            e.name,
            str(run_counts.get(e.experiment_id, 0)),
            e.lifecycle_stage.value,
            format_ms(e.creation_time),
        )
    return table


def runs_table(
    runs: Sequence[Run],
    metrics: Sequence[str] = (),
    metric_columns: int = 3,
    title: str = "Runs",
) -> Table:
    """One row per run; ``metrics`` (default: the most common metric keys) become columns."""
    counts: dict[str, int] = {}
    for run in runs:
        for key in run.data.metrics:
            counts[key] = counts.get(key, 0) + 1
    keys = list(metrics) or sorted(counts, key=lambda k: (-counts[k], k))[:metric_columns]
    table = Table(title=title, title_justify="left")
    table.add_column("run", no_wrap=True)
    table.add_column("name", no_wrap=True, max_width=24)
    table.add_column("status")
    table.add_column("started", no_wrap=True)
    table.add_column("duration", justify="right")
    for key in keys:
        table.add_column(key, justify="right")
    for run in runs:
        table.add_row(
            run.info.run_id[:8],
            run.info.run_name,
            _status(run),
            format_ms(run.info.start_time)[5:16],
            _duration(run),
            *(format_value(run.data.metrics.get(k)) for k in keys),
        )
    return table


def compare_table(runs: Sequence[Run]) -> Table:
    """Params and metrics side by side; rows whose values differ are highlighted."""
    table = Table(title="Run comparison", title_justify="left")
    table.add_column("", style="bold")
    for run in runs:
        table.add_column(f"{run.info.run_name}\n[dim]{run.info.run_id[:8]}[/]", justify="right")
    table.add_row("status", *(_status(r) for r in runs))
    table.add_row("duration", *(_duration(r) for r in runs))
    param_keys = sorted({k for r in runs for k in r.data.params})
    metric_keys = sorted({k for r in runs for k in r.data.metrics})
    if param_keys:
        table.add_section()
    for key in param_keys:
        values = [r.data.params.get(key) for r in runs]
        style = "yellow" if len(set(values)) > 1 else "dim"
        table.add_row(f"params.{key}", *(format_value(v) for v in values), style=style)
    if metric_keys:
        table.add_section()
    for key in metric_keys:
        metric_values = [r.data.metrics.get(key) for r in runs]
        present = [v for v in metric_values if v is not None]
        best = max(present) if present else None
        cells = [
            f"[bold]{format_value(v)}[/]"
            if v is not None and v == best and len(present) > 1
            else format_value(v)
            for v in metric_values
        ]
        table.add_row(f"metrics.{key}", *cells)
    return table
