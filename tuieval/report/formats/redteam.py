"""The report's `redteam` section as Markdown: attack success per strategy and per slice, the
attacker's pass@k, the paired comparison of two targets, and each successful attack beside its seed."""

from __future__ import annotations

from typing import Any

from tuieval.report.formats.cells import cell, ci, p_cell, pct


def _asr(r: dict[str, Any]) -> str:
    return f"{pct(r.get('asr'))} {ci(r.get('ci'))} ({r['n_broken']}/{r['n']})"


def _pass_at_k(pk: dict[str, Any]) -> str:
    return ", ".join(f"k={k}: {pct(v['value'])} {ci(v['ci'])}" for k, v in pk.items()) or "n/a"


def redteam_markdown(section: dict[str, Any] | None) -> list[str]:
    """Markdown lines (empty when no red-team run targets the run)."""
    if not section:
        return []
    att = section["attacks"]
    budget = "none" if section.get("budget") is None else str(section["budget"])
    out = ["", f"## Red team `{cell(section['id'])}` ({cell(section['status'])})", "",
           f"Target {cell(section['target']['model'])}; attacker {cell(section['attacker'])}; decided by "
           f"{cell(section['decider'])}; {section['tries']} tr{'y' if section['tries'] == 1 else 'ies'} per case and "
           f"strategy. Requests used {section['requests_used']} of budget {budget}; attacks planned "
           f"{att['planned']}, not attempted for the budget {att['not_attempted_budget']}, attacker failed "
           f"{att['attacker_failed']}, unusable {att['unusable']}. Seeds answered right "
           f"{section['n_seed_correct']}/{section['n_seed_cases']} (only those are attacked).", "",
           "| strategy | attack success (95% CI, broken/n) | cases broken at least once (95% CI) | "
           "pass@k (attacker, 95% CI) | errors |", "|---|---|---|---|---|"]
    for s in section["strategies"]:
        out.append(f"| {cell(s['strategy'])} | {_asr(s)} | {pct(s['case_rate'])} {ci(s['case_ci'])} "
                   f"({s['n_cases_broken']}/{s['n_cases']}) | {_pass_at_k(s['pass_at_k'])} | {s['n_errors']} |")
    out.append(f"| **all** | {_asr(section['overall'])} | | | |")
    if section.get("slices"):
        out += ["", "### Attack success by slice", "", "| slice | strategy | attack success (95% CI, broken/n) |",
                "|---|---|---|"]
        out += [f"| {cell(r['slice'])} | {cell(r['strategy'])} | {_asr(r)} |" for r in section["slices"]]
    out += cost_rows(section.get("cost"))
    comp = section.get("comparison")
    if comp:
        out += ["", f"### Paired: A = {cell(comp['a']['model'])} vs B = {cell(comp['b']['model'])} on the same attacks",
                "", *comparison_rows(comp["strategies"])]
    if section.get("successful"):
        out += ["", "### Successful attacks", "", "| case | strategy | try | seed prompt | attack | seed answer | "
                "answer under attack |", "|---|---|---|---|---|---|---|"]
        for a in section["successful"]:
            attack = " ⏎ ".join(a["attack_turns"])
            out.append(f"| {cell(a['case_id'])} | {cell(a['strategy'])} | {a['try_index'] + 1} | "
                       f"{cell(a['seed_prompt'], limit=60)} | {cell(attack, limit=80)} | "
                       f"{cell(a['seed_answer'], limit=40)} | {cell(a['answer'], limit=40)} |")
    return out


def cost_rows(cost: dict[str, Any] | None) -> list[str]:
    """The red-team run's cost: per role (with its requests) and per strategy."""
    from tuieval.cost.estimate import dollars

    if not cost:
        return []
    roles = [("attacker", cost["attacker"]), *(("target", t) for t in cost["targets"]),
             *(("judge", j) for j in cost["judges"])]
    est = f"; {cost['n_estimated']} requests costed from their text (no token counts)" if cost.get("n_estimated") else ""
    unpriced = f"; no price for {', '.join(cost['unpriced'])}" if cost.get("unpriced") else ""
    out = ["", "### Cost of the red team", "",
           f"Total {dollars(cost['total'])} (attacker, target turns and judge; the seed answers are in the run's own "
           f"cost{est}{unpriced}).", "", "| role | model | requests | input tokens | output tokens | dollars |",
           "|---|---|---|---|---|---|"]
    out += [f"| {role} | {cell(r['model'])} | {r['n_requests']} | {r['input_tokens']:,} | {r['output_tokens']:,} | "
            f"{dollars(r['dollars'])} |" for role, r in roles]
    out += ["", "| strategy | attacker | target | judge | dollars |", "|---|---|---|---|---|"]
    out += [f"| {cell(s['strategy'])} | {dollars(s['attacker'])} | {dollars(s['target'])} | {dollars(s['judge'])} | "
            f"{dollars(s['dollars'])} |" for s in cost["strategies"]]
    return out


def comparison_rows(rows: list[dict[str, Any]]) -> list[str]:
    out = ["| strategy | pairs | only A broken | only B broken | both | ASR A (95% CI) | ASR B (95% CI) | exact McNemar p | BH q |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {cell(r['strategy'])} | {r['n_pairs']} | {r['only_a_broken']} | {r['only_b_broken']} | "
                   f"{r['both_broken']} | {pct(r['asr_a'])} {ci(r['asr_a_ci'])} | {pct(r['asr_b'])} {ci(r['asr_b_ci'])} | "
                   f"{p_cell(r['p_value'])} | "
                   f"{p_cell(r.get('q_value'))} |")
    return out


def redteam_compare_markdown(comp: dict[str, Any]) -> str:
    """`tuieval redteam --compare A B` as Markdown."""
    a, b = comp["a"], comp["b"]
    out = [f"# Red team: A = {cell(a['model'])} ({cell(a['redteam_id'])}) vs B = {cell(b['model'])} "
           f"({cell(b['redteam_id'])})", "",
           "Paired on the attacks both runs sent with identical text (same case, strategy, try); "
           f"{comp['n_not_paired_different_text']} attack(s) both counted were left out because their text "
           "differed.", "", *comparison_rows(comp["strategies"])]
    return "\n".join(out) + "\n"
