"""Runs record where they came from: entry point, git commit and dirty flag (a real git repo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import json, loopml
with loopml.start_run() as run:
    pass
print(json.dumps(dict(loopml.Client().get_run(run.run_id).data.tags)))
"""


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _run_script(repo: Path, home: Path) -> dict[str, str]:
    env = {**os.environ, "LOOPML_HOME": str(home), "LOOPML_RECORD_GIT": "true"}
    done = subprocess.run(
        [sys.executable, str(repo / "train.py")],
        capture_output=True, text=True, env=env, check=True, timeout=120,
    )  # fmt: skip
    tags: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return tags


@pytest.mark.slow
def test_git_commit_and_dirty_flag_are_recorded(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.invalid")
    _git(repo, "config", "user.name", "t")
    (repo / "train.py").write_text(SCRIPT)
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-qm", "first")
    clean = _run_script(repo, tmp_path / "home")
    assert clean["loopml.source.name"] == str((repo / "train.py").resolve())
    assert clean["loopml.source.type"] == "LOCAL"
    assert clean["loopml.source.git.commit"] == _git(repo, "rev-parse", "HEAD")
    assert clean["loopml.source.git.dirty"] == "false"
    (repo / "train.py").write_text(SCRIPT + "\n# edited\n")
    dirty = _run_script(repo, tmp_path / "home")
    assert dirty["loopml.source.git.dirty"] == "true"


def test_outside_a_repository_no_git_tags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loopml.tracking.source import source_tags

    script = tmp_path / "job.py"
    script.write_text("")
    monkeypatch.setattr(sys, "argv", [str(script)])
    monkeypatch.chdir(tmp_path)
    tags = source_tags(record_git=True)
    assert tags == {"loopml.source.name": str(script.resolve()), "loopml.source.type": "LOCAL"}
    assert source_tags(record_git=False) == tags
