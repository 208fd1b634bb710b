"""Commands the app tells the user to type, spelled as they would type them in their shell."""

from __future__ import annotations

import os
import shlex
from typing import Any

from tuieval.store import default_db_path


def _shell_path(path: str) -> str:
    """Relative to the working directory when that is shorter (how the user named it), else absolute."""
    absolute = os.path.abspath(path)
    try:
        rel = os.path.relpath(absolute)
    except ValueError:  # another drive on Windows
        return absolute
    return rel if not rel.startswith(os.pardir + os.sep) and len(rel) < len(absolute) else absolute


def resume_command(run: dict[str, Any], db_path: str) -> str:
    """`tuieval run SUITE --model SPEC --resume RUN_ID [--db PATH]` for a stored run."""
    suite = run.get("suite_path") or run.get("suite") or "SUITE"
    parts = ["tuieval", "run", _shell_path(suite) if run.get("suite_path") else suite,
             "--model", str(run.get("model") or "MODEL"), "--resume", str(run.get("id"))]
    if os.path.abspath(db_path) != os.path.abspath(default_db_path()):
        parts += ["--db", _shell_path(db_path)]
    return shlex.join(parts)
