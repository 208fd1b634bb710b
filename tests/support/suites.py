"""Write small suites for tests whose answers the loopback model server knows.

The server answers "Answer: X" where X is the text between << and >> in the prompt, so a case
whose prompt carries <<tokN>> has target tokN under a regex scorer.
"""

from __future__ import annotations

from pathlib import Path

import yaml


def write_echo_suite(directory: Path, n_cases: int = 20, *, samples: int = 1, name: str = "echo",
                     extra: dict | None = None) -> Path:
    suite = {
        "name": name,
        "template": "Repeat the token <<{{ token }}>> please.",
        "cases": [
            {"id": f"c{i:03d}", "token": f"tok{i}", "target": f"tok{i}",
             "metadata": {"parity": "even" if i % 2 == 0 else "odd"}}
            for i in range(n_cases)
        ],
        "scorers": [{"type": "regex", "pattern": r"Answer: (\w+)", "then": "exact"}],
        "sampling": {"samples": samples, "temperature": 0.0, "seed": 1},
    }
    suite.update(extra or {})
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
    return path
