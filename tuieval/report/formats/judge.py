"""The report's `judge` section as Markdown: accuracy once vs by majority, unparsed replies,
per-judge consistency, agreement between judges and with human labels, order-dependent pairs."""

from __future__ import annotations

from typing import Any

from tuieval.report.formats.cells import cell, ci, ms, pct


def _rate(r: dict[str, Any] | None) -> str:
    if not r or r.get("value") is None:
        return "n/a"
    return f"{pct(r['value'])} {ci(r.get('ci'))} ({r['k']}/{r['n']})"


def _num(x: Any) -> str:
    return f"{x:.3f}" if isinstance(x, (int, float)) else "n/a"


def judge_markdown(section: dict[str, Any] | None) -> list[str]:
    """Markdown lines (empty without a judge scorer)."""
    if not section:
        return []
    out: list[str] = []
    for s in section.get("scorers") or []:
        req = s["requests"]
        out += ["", f"## Judge `{cell(s['name'])}` ({s['mode']}; {', '.join(cell(m) for m in s['models'])}; "
                    f"{s['samples_per_response']} sample(s) per response)", "",
                "| metric | value |", "|---|---|",
                f"| accuracy judged once (95% CI) | {_rate(s['accuracy']['once'])} |",
                f"| accuracy by majority of all votes (95% CI) | {_rate(s['accuracy']['majority'])} |",
                f"| judge requests / unparsed / failed | {req['n']} / {req['n_unparsed']} / {req['n_errors']} |",
                f"| judge tokens in / out | {req['input_tokens']} / {req['output_tokens']} |",
                f"| judge latency p50 / p99 (ms) | {ms(req['latency_ms'].get('p50'))} / "
                f"{ms(req['latency_ms'].get('p99'))} |",
                f"| responses not yet judged | {s['n_pending']} |",
                f"| responses where judges disagree | {s['n_disagreeing']} |"]
        agreement = s.get("agreement")
        if agreement:
            out.append(f"| agreement: Fleiss' κ / Krippendorff's α | {_num(agreement['fleiss_kappa'])} / "
                       f"{_num(agreement['krippendorff_alpha'])} (n={agreement['n_items']}) |")
        human = s.get("human")
        if human:
            out.append(f"| vs human labels: Cohen's κ / agreement | {_num(human['cohen_kappa'])} / "
                       f"{pct(human['agreement_rate'])} (n={human['n']}) |")
        pw = s.get("pairwise")
        if pw:
            out.append(f"| pairwise win / tie / loss / unparsed | {pw['win']} / {pw['tie']} / {pw['loss']} / "
                       f"{pw['unparsed']} |")
            out.append(f"| order-dependent verdicts (counted as ties) | {pw['n_order_dependent']} |")
        out += ["", "| judge | accuracy once | accuracy by majority of its samples | consistency | "
                    "semantic entropy | unstable | unparsed |", "|---|---|---|---|---|---|---|"]
        for j in s["per_judge"]:
            out.append(f"| {cell(j['judge'])} | {_rate(j['accuracy_once'])} | {_rate(j['accuracy_majority'])} | "
                       f"{pct(j['consistency'])} | {_num(j['semantic_entropy'])} | {j['n_unstable']} | "
                       f"{j['n_unparsed']} |")
        if human and human.get("n"):
            m = human["confusion"]["matrix"]
            out += ["", "Human label (rows) × judge verdict (columns):", "", "| | correct | incorrect |",
                    "|---|---|---|", f"| correct | {m[0][0]} | {m[0][1]} |", f"| incorrect | {m[1][0]} | {m[1][1]} |"]
        if s.get("unparsed"):
            out += ["", "Unparsed judge replies (never counted correct):", ""]
            for u in s["unparsed"][:10]:
                out.append(f"- `{cell(u['case_id'])}` #{u['sample_index']} by {cell(u['judge'])}: "
                           f"{cell(u.get('problem') or '')} — {cell(u.get('reply') or '', limit=80)}")
        if s.get("disagreements"):
            out += ["", "Disagreements (flagged):", ""]
            for d in s["disagreements"][:10]:
                verdicts = ", ".join(f"{cell(k)}: {v}" for k, v in d["verdicts"].items())
                out.append(f"- `{cell(d['case_id'])}` #{d['sample_index']} ({d['reason']}): {verdicts}")
    return out
