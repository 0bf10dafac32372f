"""The command line as a user runs it: output, exit codes, no tracebacks on user errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import loopml
from conftest import run_cli
from loopml import Client
from loopml.store.sql.schema import SCHEMA_REVISION


@pytest.fixture
def populated(isolated_home: Path) -> dict[str, str]:
    loopml.set_experiment("cli-exp")
    ids = {}
    for name, auc, model in (("one", 0.7, "lr"), ("two", 0.9, "gbm")):
        with loopml.start_run(run_name=name) as run:
            loopml.log_params({"model": model})
            loopml.log_metric("auc", auc)
            loopml.log_text("hi", "notes.txt")
        ids[name] = run.run_id
    return ids


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0
    assert out.strip() == f"loopml {loopml.__version__}"


def test_experiments_and_runs_list(
    capsys: pytest.CaptureFixture[str], populated: dict[str, str]
) -> None:
    code, out, _ = run_cli(capsys, "experiments", "list")
    assert code == 0
    assert "cli-exp" in out
    code, out, _ = run_cli(
        capsys, "runs", "list", "-e", "cli-exp", "--order-by", "metrics.auc DESC"
    )
    assert code == 0
    assert out.index(populated["two"][:8]) < out.index(populated["one"][:8])
    code, out, _ = run_cli(capsys, "runs", "list", "-f", "params.model = 'gbm'", "--json")
    assert code == 0
    assert [r["info"]["run_id"] for r in json.loads(out)] == [populated["two"]]


def test_runs_show_and_compare(
    capsys: pytest.CaptureFixture[str], populated: dict[str, str]
) -> None:
    code, out, _ = run_cli(capsys, "runs", "show", populated["one"][:10])
    assert code == 0
    assert populated["one"] in out
    assert "notes.txt" in out
    assert "model" in out
    code, out, _ = run_cli(capsys, "runs", "compare", populated["one"], populated["two"])
    assert code == 0
    assert "params.model" in out
    assert "metrics.auc" in out
    assert "gbm" in out


def test_runs_delete_restore(capsys: pytest.CaptureFixture[str], populated: dict[str, str]) -> None:
    assert run_cli(capsys, "runs", "delete", populated["one"])[0] == 0
    assert len(Client().search_runs("cli-exp")) == 1
    assert run_cli(capsys, "runs", "restore", populated["one"])[0] == 0
    assert len(Client().search_runs("cli-exp")) == 2


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (("runs", "show", "0" * 32), 3, "does not exist"),
        (("runs", "show", "nope"), 2, "32 lowercase hexadecimal"),
        (("runs", "list", "-f", "metrics.auc >> 1"), 2, "unknown operator"),
        (("--tracking-uri", "foo://x", "runs", "list"), 2, "tracking URI scheme"),
        (("runs", "list", "-e", "no-such-experiment"), 3, "experiment 'no-such-experiment'"),
    ],
)
def test_user_errors_are_one_line_without_traceback(
    capsys: pytest.CaptureFixture[str],
    populated: dict[str, str],
    argv: tuple[str, ...],
    code: int,
    message: str,
) -> None:
    got, out, err = run_cli(capsys, *argv)
    assert got == code
    assert message in " ".join(err.split())
    assert "Traceback" not in err + out


def test_debug_shows_traceback(
    capsys: pytest.CaptureFixture[str], populated: dict[str, str]
) -> None:
    code, _, err = run_cli(capsys, "--debug", "runs", "show", "0" * 32)
    assert code == 3
    assert "Traceback" in err


def test_gc_dry_run_then_delete(
    capsys: pytest.CaptureFixture[str], populated: dict[str, str]
) -> None:
    orphan = Client().stores.blobs.put_bytes(b"unreferenced")
    code, out, _ = run_cli(capsys, "gc", "--delete")
    assert code == 0
    assert "Kept 1 unreferenced" in out  # younger than the grace period
    assert Client().stores.blobs.exists(orphan.digest)
    code, out, _ = run_cli(capsys, "gc", "--min-age-minutes", "0")
    assert code == 0
    assert "Dry run" in out
    assert "1 unreferenced" in out
    assert Client().stores.blobs.exists(orphan.digest)
    code, out, _ = run_cli(capsys, "gc", "--delete", "--min-age-minutes", "0")
    assert code == 0
    assert "Deleted 1" in out
    assert not Client().stores.blobs.exists(orphan.digest)


def test_db_upgrade_and_current(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'fresh.db'}"
    code, out, _ = run_cli(capsys, "--tracking-uri", uri, "db", "upgrade")
    assert code == 0
    assert f"from revision none to {SCHEMA_REVISION}" in " ".join(out.split())
    code, out, _ = run_cli(capsys, "--tracking-uri", uri, "db", "upgrade")
    assert code == 0
    assert "up to date" in out
    code, out, _ = run_cli(capsys, "--tracking-uri", uri, "db", "current")
    assert code == 0
    assert f"revision {SCHEMA_REVISION}" in out


def test_console_script_entry_point(tmp_path: Path) -> None:
    """The installed `loopml` command: a user error exits non-zero with no traceback."""
    env = {"LOOPML_HOME": str(tmp_path), "PATH": str(Path(sys.executable).parent)}
    done = subprocess.run(
        [sys.executable, "-m", "loopml", "runs", "show", "f" * 32],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    assert "does not exist" in done.stderr
    assert "Traceback" not in done.stderr


def test_usage_errors_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "runs", "no-such-command")
    assert code == 2
    assert "no-such-command" in err
    assert "Traceback" not in out + err
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    for command in ("demo", "experiments", "runs", "db", "gc"):
        assert command in out


def test_bad_environment_variable_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOPML_RECORD_GIT", "maybe")
    code, out, err = run_cli(capsys, "experiments", "list")
    assert code == 2
    assert "LOOPML_RECORD_GIT must be a boolean; got 'maybe'" in " ".join(err.split())
    assert "Traceback" not in out + err
