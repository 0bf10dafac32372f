"""What the side-by-side benchmarks share: the peer's virtualenv, one subprocess per side, the
machine's state and the result table.

Standard library only: the benchmark files import it at module level, and they also run as
workers inside the peer's virtualenv (e.g. MLflow's), where loopml is not installed.
"""

from __future__ import annotations

import gc
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "PROGRESS",
    "bench_parser",
    "ensure_venv",
    "fmt",
    "load_average",
    "loopml_fingerprint",
    "markdown_table",
    "met",
    "print_table",
    "progress",
    "ratio_text",
    "require_snapshot",
    "run_worker_process",
    "snapshot_loopml",
    "source_state",
    "timed_rounds",
    "venv_python",
    "versions_of",
    "worker_finish",
    "worker_start",
]

PROGRESS = "[bench] "


def progress(message: str) -> None:
    """A progress line on stderr; the driver passes the workers' ones through to the terminal."""
    print(PROGRESS + message, file=sys.stderr, flush=True)


def load_average() -> list[float] | None:
    """The 1/5/15-minute load averages (on a 2-core machine, above 2 means others compete)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _installed(python: Path, distributions: Sequence[str]) -> dict[str, str | None]:
    script = (
        "import importlib.metadata as m, json, sys\n"
        "def v(d):\n"
        "    try:\n"
        "        return m.version(d)\n"
        "    except m.PackageNotFoundError:\n"
        "        return None\n"
        "print(json.dumps({d: v(d) for d in sys.argv[1:]}))\n"
    )
    probe = subprocess.run(
        [str(python), "-c", script, *distributions], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        return dict.fromkeys(distributions)
    found: dict[str, str | None] = json.loads(probe.stdout)
    return found


def ensure_venv(venv: Path, pins: Mapping[str, str]) -> Path:
    """The python of ``venv``, holding exactly the ``distribution -> version`` pins.

    Created on first use; when it exists but a pin differs, the pins are installed into it (one
    ``pip install`` of all of them, so the resolver keeps them consistent).
    """
    python = venv_python(venv)
    if python.exists():
        wrong = {d: v for d, v in _installed(python, list(pins)).items() if v != pins[d]}
        if not wrong:
            return python
        progress(f"{venv}: installing {pins} (found {wrong})")
    else:
        progress(f"creating {venv} with {pins} (one-time, a few minutes)")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    requirements = [f"{d}=={v}" for d, v in pins.items()]
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *requirements], check=True)
    wrong = {d: v for d, v in _installed(python, list(pins)).items() if v != pins[d]}
    if wrong:
        raise SystemExit(f"{venv}: wanted {pins}, pip left {wrong}")
    return python


def run_worker_process(
    label: str, cmd: Sequence[str], env: Mapping[str, str], cwd: Path, log_path: Path
) -> dict[str, Any]:
    """Run one worker, which prints its result as JSON on stdout.

    Its progress lines go to the terminal; all of its stderr also goes to ``log_path``.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    progress(f"--- {label}: {' '.join(cmd[1:])}")
    proc = subprocess.Popen(
        list(cmd),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env),
        cwd=cwd,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    stderr_stream = proc.stderr

    def pump(log: Any) -> None:
        for line in stderr_stream:
            if line.startswith(PROGRESS):
                print(line, end="", file=sys.stderr, flush=True)
            log.write(line)

    with open(log_path, "w") as log:
        pumper = threading.Thread(target=pump, args=(log,), daemon=True)
        pumper.start()
        out = proc.stdout.read()
        code = proc.wait()
        pumper.join()
    if code != 0:
        tail = log_path.read_text().splitlines()[-30:]
        raise SystemExit(f"{label} worker failed ({code}); stderr tail:\n" + "\n".join(tail))
    result: dict[str, Any] = json.loads(out)
    return result


def source_state(root: Path, *, list_paths: bool = False) -> str:
    """The commit of the checkout at ``root`` and the uncommitted changes under src/, if any.

    The changes are counted, or with ``list_paths`` named one by one.
    """

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
        )
        # Not stripped: a porcelain line starts with a status column that may be a space.
        return done.stdout if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD").strip() or "unknown commit"
    changed = [line[3:] for line in git("status", "--porcelain", "--", "src").splitlines()]
    if not changed:
        return f"git {commit}, src/ clean"
    if list_paths:
        return f"git {commit} + uncommitted changes in {', '.join(changed)}"
    return f"git {commit} + uncommitted changes in {len(changed)} paths under src/"


def fmt(value: float | None, *, small_decimals: int = 3) -> str:
    """A table cell: 1,234 / 12.3 / 1.23, below 0.1 with ``small_decimals`` decimals; None: —."""
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 0.1:
        return f"{value:.2f}"
    return f"{value:.{small_decimals}f}"


def markdown_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell or " " for cell in line) + " |" for line in body]
    return "\n".join(lines)


def print_table(
    title: str, header: Sequence[str], body: Sequence[Sequence[str]], left: int = 2
) -> None:
    """With rich when it is installed, else as Markdown; the first ``left`` columns align left."""
    try:
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table
    except ImportError:
        print(markdown_table(header, body))
        return
    table = Table(title=title)
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i < left or name == "target" else "right")
    for line in body:
        table.add_row(*(escape(cell) for cell in line))
    Console(width=200).print(table)


def loopml_fingerprint(root: Path | None = None) -> str:
    """sha256 (12 hex digits) of a loopml package's .py files (default: the imported one)."""
    if root is None:
        import loopml

        root = Path(loopml.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def snapshot_loopml(checkout: Path, shared: Path) -> tuple[Path, str, Path]:
    """Copy ``checkout``'s ``src/loopml`` (the code ``source_state`` describes; the imported
    package when the checkout has none) into ``shared``. Loopml workers import that frozen copy
    (PYTHONPATH), so edits to src/ during a run cannot mix two versions. Returns (the directory to
    put on PYTHONPATH, the copy's fingerprint, where it was copied from)."""
    source = checkout / "src" / "loopml"
    if not (source / "__init__.py").exists():
        import loopml

        source = Path(loopml.__file__).parent
    target = shared / "snapshot"
    shutil.copytree(source, target / "loopml", ignore=shutil.ignore_patterns("__pycache__"))
    return target, loopml_fingerprint(target / "loopml"), source


def versions_of(distributions: Sequence[str]) -> dict[str, str]:
    """Installed version of each distribution (to pin the peer's venv to the same ones)."""
    return {d: importlib.metadata.version(d) for d in distributions}


def ratio_text(numerator: float | None, denominator: float | None) -> str:
    if numerator is None or denominator is None or denominator == 0:
        return "—"
    return f"{numerator / denominator:.2f}x"


def met(value: float | None, limit: float) -> str:
    return "—" if value is None else ("yes" if value <= limit else "NO")


def bench_parser(description: str | None, quick_help: str, workers: Sequence[str]) -> Any:
    """The arguments every side-by-side benchmark takes, plus the hidden worker ones."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary files")
    parser.add_argument("--worker", choices=list(workers), help=argparse.SUPPRESS)
    parser.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    return parser


def worker_start(kind: str) -> dict[str, Any]:
    """What every worker reports first: its kind, the load, and which loopml it imports."""
    result: dict[str, Any] = {"kind": kind, "loadavg_start": load_average()}
    if kind.startswith("loopml"):
        import loopml

        result["src"] = loopml_fingerprint()
        result["loopml_file"] = loopml.__file__
    return result


def worker_finish(result: dict[str, Any]) -> dict[str, Any]:
    """What every worker reports last: the interpreter and the load at the end."""
    result["python"] = platform.python_version()
    result["loadavg_end"] = load_average()
    return result


def timed_rounds(
    variants: Mapping[str, Callable[[], Any]],
    reps: int,
    check: Callable[[str, Any], str | None] | None = None,
) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Round 0 runs every variant once untimed (``check`` may fingerprint what it returned);
    then ``reps`` timed rounds, each in an order rotated by one, with a gc.collect() before each
    call. Returns the times per variant and the fingerprints."""
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    checks: dict[str, str] = {}
    for round_no in range(reps + 1):
        order = names[round_no % len(names) :] + names[: round_no % len(names)]
        for name in order:
            gc.collect()
            t0 = time.perf_counter()
            value = variants[name]()
            elapsed = time.perf_counter() - t0
            if round_no == 0:
                fingerprint = None if check is None else check(name, value)
                if fingerprint is not None:
                    checks[name] = fingerprint
            else:
                times[name].append(elapsed)
            del value
        if round_no:
            shown = ", ".join(f"{n} {times[n][-1]:.2f} s" for n in names)
            progress(f"  round {round_no}/{reps}: {shown}")
    return times, checks


def require_snapshot(
    results: Mapping[str, Mapping[str, Any]], snapshot: Path, fingerprint: str
) -> None:
    """Stop unless every loopml worker imported the frozen snapshot (and nothing else)."""
    seen = {k: r["src"] for k, r in results.items() if "src" in r}
    outside = {k: r["loopml_file"] for k, r in results.items() if "loopml_file" in r}
    outside = {k: f for k, f in outside.items() if not f.startswith(str(snapshot))}
    if set(seen.values()) != {fingerprint} or outside:
        raise SystemExit(f"loopml workers did not run the snapshot {fingerprint}: {seen} {outside}")
