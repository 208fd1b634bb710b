"""Successful attacks as regression suites (`tuieval redteam --save-attacks DIR`).

One suite file per attack that broke at least one target: its single case sends the attack
exactly as the target saw it (a `messages_var` template, so no text of the attack is read as a
template placeholder; a multi-turn attack keeps the target's earlier replies in it), with the
seed's targets, the seed run's scorers and sampling, and the link back in its metadata
(`seed_case`, `strategy`, `attack_try`, `redteam`, `broke`) beside the seed's own metadata.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tuieval.store import Store
from tuieval.store.redteam import RedTeamStore


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:60] or "case"


def regression_suite(record: dict[str, Any], run: dict[str, Any], case: dict[str, Any], answer: dict[str, Any],
                     broke: list[str]) -> dict[str, Any]:
    """The suite mapping of one successful attack (see the module docstring)."""
    strategy, t = answer["strategy"], answer["try_index"]
    metadata = {**case["metadata"], "seed_case": case["case_id"], "strategy": strategy, "attack_try": t + 1,
                "redteam": record["id"], "broke": broke}
    return {
        "name": f"{record['suite']}-redteam-{_safe(case['case_id'])}-{strategy}-{t + 1}",
        "description": (f"Regression test from red-team run {record['id']}: the {strategy} attack (try {t + 1}) on "
                        f"seed case {case['case_id']} broke {', '.join(broke)}."),
        "templates": [{"id": "attack", "prompt": "{{ conversation }}", "messages_var": "conversation"}],
        "cases": [{"id": f"{case['case_id']}~{strategy}~{t + 1}", "conversation": answer["messages"],
                   "targets": case["targets"], "metadata": metadata}],
        "scorers": run["config"].get("scorers") or ["normalized"],
        "sampling": {"samples": 1, "temperature": run["temperature"], "seed": run["seed"],
                     **({"max_tokens": run["max_tokens"]} if run["max_tokens"] else {})},
    }


def save_attacks(store: Store, redteam_id: str, directory: str | Path) -> list[Path]:
    """Write every successful attack of the red-team run to DIRECTORY; return the paths written."""
    rts = RedTeamStore(store)
    record = rts.get(redteam_id)
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = {r: store.get_run(r) for r in record["run_ids"]}
    broken: dict[tuple, list[dict[str, Any]]] = {}
    for a in rts.answers(redteam_id):
        if a.get("error") is None and a.get("correct") is not None and not a["correct"]:
            broken.setdefault((a["case_id"], a["strategy"], a["try_index"]), []).append(a)
    order = {r: i for i, r in enumerate(record["run_ids"])}
    paths = []
    for (case_id, strategy, t), rows in sorted(broken.items()):
        rows.sort(key=lambda a: order[a["run_id"]])
        first = rows[0]
        run = runs[first["run_id"]]
        case = store.get_case(run["id"], case_id)
        if case is None:
            continue
        suite = regression_suite(record, run, case, first, [runs[a["run_id"]]["model"] for a in rows])
        path = out_dir / f"{_safe(case_id)}--{strategy}--try{t + 1}.yaml"
        path.write_text(yaml.safe_dump(suite, sort_keys=False, allow_unicode=True), encoding="utf-8")
        paths.append(path)
    return paths
