"""Model cards: a markdown page per version, generated from what loopml knows, editable.

The generated card is a starting point in the spirit of Mitchell et al., "Model Cards for Model
Reporting" (2019): what the model is, where it came from, how it was evaluated, what it expects
as input, and what it needs to run. The sections a machine cannot know (intended use,
limitations, ethical considerations) are left as prompts for the owner to fill in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from loopml.core.entities import Run
from loopml.core.registry import ModelVersion
from loopml.models.manifest import Manifest

__all__ = ["generate_card"]


def _when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _metrics_table(metrics: Mapping[str, float]) -> list[str]:
    if not metrics:
        return ["_No metrics were recorded._"]
    lines = ["| metric | value |", "|---|---|"]
    lines += [f"| {_cell(k)} | {v:.6g} |" for k, v in sorted(metrics.items())]
    return lines


def generate_card(version: ModelVersion, manifest: Manifest, run: Run | None) -> str:
    """The generated markdown card of ``version``."""
    lines = [f"# {version.name} — version {version.version}", ""]
    if version.description:
        lines += [version.description, ""]
    lines += [
        "## Summary",
        "",
        "| | |",
        "|---|---|",
        f"| flavor | {manifest.flavor}{'' if manifest.safe else ' (unsafe: needs trust)'} |",
        f"| registered | {_when(version.creation_time)} by {_cell(version.user_id or '-')} |",
        f"| aliases | {', '.join(version.aliases) or '-'} |",
        f"| source | `{_cell(version.source)}` |",
        f'| load with | `loopml.load_model("{version.uri}")` |',
        "",
        "## Lineage",
        "",
    ]
    lineage = version.lineage
    if run is not None:
        lines.append(
            f"- Training run: `{run.info.run_id}` ({_cell(run.info.run_name)}, experiment "
            f"{run.info.experiment_id}, {run.info.status.value})"
        )
    elif lineage.run_id:
        lines.append(f"- Training run: `{lineage.run_id}` (no longer in the store)")
    else:
        lines.append("- Training run: none recorded (registered from a package directory)")
    lines.append(
        f"- Code commit: `{lineage.git_commit}`"
        if lineage.git_commit
        else "- Code commit: not recorded"
    )
    if run is not None and run.inputs:
        for d in run.inputs:
            rows = "" if d.num_rows is None else f", {d.num_rows} rows"
            lines.append(
                f"- Data ({d.context or 'input'}): {_cell(d.name)} `{d.digest[:12]}`{rows}"
            )
    elif lineage.dataset_ids:
        lines += [f"- Data: `{d}`" for d in lineage.dataset_ids]
    else:
        lines.append("- Data: not recorded (log it with `loopml.log_input`)")
    if lineage.replaces_version is not None:
        lines.append(f"- Trained to replace: version {lineage.replaces_version}")
    lines += ["", "## Evaluation", ""]
    metrics = dict(manifest.metrics)
    if run is not None:
        metrics.update(run.data.metrics)
    lines += _metrics_table(metrics)
    lines += ["", "## Inputs", ""]
    signature = manifest.signature
    if signature is None:
        lines.append("_No signature: inputs are not validated._")
    else:
        lines += ["| column | type | nullable | domain |", "|---|---|---|---|"]
        for col in signature.inputs:
            domain = "-"
            if col.categories is not None:
                shown = ", ".join(str(c) for c in col.categories[:10])
                more = len(col.categories) - 10
                domain = shown + (f" (+{more} more)" if more > 0 else "")
            nullable = "yes" if col.nullable else "no"
            lines.append(f"| {_cell(col.name)} | {col.type.value} | {nullable} | {_cell(domain)} |")
        if signature.outputs:
            lines += [
                "",
                "Outputs: " + ", ".join(f"`{o.name}` ({o.type.value})" for o in signature.outputs),
            ]
    lines += [
        "",
        "## Environment",
        "",
        f"- Python {manifest.python_version}, loopml {manifest.loopml_version}",
    ]
    lines += [f"- {_cell(lib)} {ver}" for lib, ver in sorted(manifest.libraries.items())]
    lines += [
        "",
        "## Intended use and limitations",
        "",
        "_To be written by the model's owner: who should use it for what, where it must not be "
        "used, known failure modes and the slices where it is weak._",
        "",
    ]
    return "\n".join(lines)
