"""The report's `redteam` section: a target run's red-team figures, read fresh from the store.

Added after the report cache (tuieval.report.build), because attacks are stored after the seed
run itself is finished. The figures are tuieval.redteam.analysis; this module gathers the
rows, the budget's accounting and the successful attacks beside their seeds.
"""

from __future__ import annotations

import json
from typing import Any

from tuieval.store import Store
from tuieval.store.redteam import RedTeamStore


def seed_rows(store: Store, run_id: str) -> list[dict[str, Any]]:
    """Each seed case of a target run: id, metadata, whether the target got it right, its answer."""
    verdicts = {s["case_id"]: s["correct"] for s in store.analysis_samples(run_id)}
    responses = {s["case_id"]: s for s in store.get_samples(run_id, columns=("case_id", "response", "prompt"))}
    out = []
    for c in store.get_cases(run_id):
        s = responses.get(c["case_id"]) or {}
        users = [m.get("content") for m in json.loads(s.get("prompt") or "[]") if m.get("role") == "user"]
        out.append({"case_id": c["case_id"], "metadata": c["metadata"], "correct": bool(verdicts.get(c["case_id"])),
                    "answer": s.get("response"), "prompt": users[-1] if users else None})
    return out


def seed_requests(store: Store, run_ids: list[str]) -> int:
    """Requests the seed answers and their judgements cost so far."""
    return sum(store.count_samples(r) + store.count_judgements(r) for r in run_ids)


def redteam_section(store: Store, run: dict[str, Any], *, record: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The `redteam` section of `run` (None when no red-team run targets it)."""
    rts = RedTeamStore(store)
    record = record or rts.for_run(run["id"])
    if record is None:
        return None
    # imported only when a red-team run targets this one: the runner is slow to import, and
    # every report (the HTML page's 2 s included) asks
    from tuieval.redteam.analysis import paired, target_figures
    from tuieval.redteam.runner import RedTeam

    run_ids = record["run_ids"]
    models = {r: store.get_run(r)["model"] for r in run_ids}
    seeds = seed_rows(store, run["id"])
    answers = rts.answers(record["id"])
    attacks = {(a["case_id"], a["strategy"], a["try_index"]): a for a in rts.attacks(record["id"])}
    units, cut, _ = RedTeam(store).plan(record)
    figures = target_figures(run["id"], seeds, answers, record["strategies"], record["tries"])
    by_case = {s["case_id"]: s for s in seeds}
    successful = []
    for a in answers:
        if a["run_id"] != run["id"] or a.get("error") is not None or a.get("correct") is None or a["correct"]:
            continue
        attack = attacks.get((a["case_id"], a["strategy"], a["try_index"])) or {}
        seed = by_case.get(a["case_id"]) or {}
        successful.append({"case_id": a["case_id"], "strategy": a["strategy"], "try_index": a["try_index"],
                           "seed_answer": seed.get("answer"), "attack_turns": attack.get("turns") or [],
                           "answer": a["response"], "extracted": a.get("extracted"),
                           "seed_prompt": seed.get("prompt")})
    section: dict[str, Any] = {
        "id": record["id"], "status": record["status"], "suite": record["suite"], "attacker": record["attacker"],
        "decider": record["decider"], "strategies": record["strategies"], "tries": record["tries"],
        "budget": record["budget"], "seed": record["seed"],
        "requests_used": seed_requests(store, run_ids) + rts.requests_used(record["id"]),
        "targets": [{"run_id": r, "model": models[r]} for r in run_ids],
        "target": {"run_id": run["id"], "model": run["model"]},
        "attacks": {"planned": len(units), "not_attempted_budget": cut, "stored": len(attacks),
                    "attacker_failed": sum(1 for a in attacks.values() if a.get("error_kind") not in (None, "unusable")),
                    "unusable": sum(1 for a in attacks.values() if a.get("error_kind") == "unusable")},
        **figures,
        "successful": successful,
    }
    if len(run_ids) == 2:
        section["comparison"] = {"a": {"run_id": run_ids[0], "model": models[run_ids[0]]},
                                 "b": {"run_id": run_ids[1], "model": models[run_ids[1]]},
                                 "strategies": paired(answers, run_ids[0], run_ids[1], record["strategies"])}
    return section



COMPARE_SCHEMA = "tuieval.redteam_compare/1"


def redteam_comparison(store: Store, id_a: str, id_b: str) -> dict[str, Any]:
    """Exact McNemar per strategy between the first targets of two red-team runs, on the attacks
    both sent with identical text (tuieval.redteam.analysis.paired_runs)."""
    from tuieval.redteam.analysis import paired_runs

    rts = RedTeamStore(store)
    sides = []
    for rid in (id_a, id_b):
        record = rts.get(rts.resolve(rid))
        run_id = record["run_ids"][0]
        attacks = {(a["case_id"], a["strategy"], a["try_index"]): a.get("turns") for a in rts.attacks(record["id"])}
        sides.append((record, run_id, rts.answers(record["id"], run_id), attacks))
    (ra, run_a, ans_a, att_a), (rb, run_b, ans_b, att_b) = sides
    strategies = [s for s in ra["strategies"] if s in rb["strategies"]]
    rows, n_different = paired_runs(ans_a, att_a, run_a, ans_b, att_b, run_b, strategies)
    return {"schema": COMPARE_SCHEMA,
            "a": {"redteam_id": ra["id"], "run_id": run_a, "model": store.get_run(run_a)["model"]},
            "b": {"redteam_id": rb["id"], "run_id": run_b, "model": store.get_run(run_b)["model"]},
            "n_not_paired_different_text": n_different, "strategies": rows}
