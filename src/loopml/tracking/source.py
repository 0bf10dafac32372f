"""Where a run came from: entry point, source type, git commit and dirty flag.

Git is asked once per process and repository (two ``git`` subprocesses cost ~10 ms, more than the
rest of a run's life); the dirty flag therefore describes the working tree when the process first
started a run.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

__all__ = ["SOURCE_TAGS", "source_tags"]

#: Tag keys loopml writes on every run.
SOURCE_TAGS = (
    "loopml.source.name",
    "loopml.source.type",
    "loopml.source.git.commit",
    "loopml.source.git.dirty",
)


def _entry_point() -> tuple[str, str]:
    main = sys.modules.get("__main__")
    if main is not None and "ipykernel" in sys.modules and not hasattr(main, "__file__"):
        return "<notebook>", "NOTEBOOK"
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else ""
    if not argv0 or argv0 == "-c":
        return "<interactive>", "LOCAL"
    return str(Path(argv0).resolve()), "LOCAL"


@functools.lru_cache(maxsize=16)
def _git_state(directory: str) -> tuple[str, bool] | None:
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", directory, *args],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return None
    status = git("status", "--porcelain", "--untracked-files=no")
    return commit, bool(status)


def source_tags(record_git: bool = True) -> dict[str, str]:
    """The source tags of a run started now in this process."""
    name, kind = _entry_point()
    tags = {"loopml.source.name": name, "loopml.source.type": kind}
    if record_git:
        directory = (
            str(Path(name).parent) if kind == "LOCAL" and name.startswith("/") else os.getcwd()
        )
        state = _git_state(directory)
        if state is not None:
            tags["loopml.source.git.commit"] = state[0]
            tags["loopml.source.git.dirty"] = "true" if state[1] else "false"
    return tags
