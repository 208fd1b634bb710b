"""The report sections the HTML page shows through their Markdown builders: perturbations,
extraction sensitivity, judges, contamination, shadow and red team.

Each section has one builder of its rows (tuieval.report.formats.robustness, judge,
contamination, shadow, redteam); writing a second, HTML-only builder per section would be two
implementations of what a section shows. Instead the Markdown builders run with
`cells.data_marked()` on, so every text that came from a model or a dataset arrives wrapped in
private-use marks instead of pipe-escaped, and this module turns the small Markdown subset
those builders write (`##`/`###` headings, paragraphs, `- ` lists, pipe tables, `**bold**`,
`` `code` ``) into HTML. Markup is read only outside the marked spans: a model answer holding
`**`, a backtick, a pipe or `<script>` is shown as those characters, never interpreted.
"""

from __future__ import annotations

import html
import re
from typing import Any, Iterator

from tuieval.report.formats import cells

_DATA = re.compile(f"{cells.DATA_OPEN}(.*?){cells.DATA_CLOSE}", re.DOTALL)
_SLOT = re.compile("\ue002(\\d+)\ue003")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]*)`")
_RULE = re.compile(r"^\|(\s*:?-{3,}:?\s*\|)+$")


def _split_row(line: str) -> list[str]:
    """A table row's cells; pipes inside marked data and `\\|` are part of a cell."""
    out, cur, in_data, i = [], [], False, 0
    body = line.strip()[1:-1] if line.strip().endswith("|") else line.strip()[1:]
    while i < len(body):
        ch = body[i]
        if ch == cells.DATA_OPEN:
            in_data = True
        elif ch == cells.DATA_CLOSE:
            in_data = False
        elif ch == "\\" and body[i + 1:i + 2] == "|" and not in_data:
            cur.append("|")
            i += 2
            continue
        elif ch == "|" and not in_data:
            out.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    out.append("".join(cur))
    return [c.strip() for c in out]


def inline(text: str) -> str:
    """One line's HTML: data spans escaped and inert, the builders' bold and code marks applied."""
    data: list[str] = []

    def park(m: re.Match[str]) -> str:
        data.append(m.group(1))
        return f"\ue002{len(data) - 1}\ue003"

    skeleton = html.escape(_DATA.sub(park, text), quote=True)
    skeleton = _CODE.sub(lambda m: f"<code>{m.group(1)}</code>", skeleton)
    skeleton = _BOLD.sub(lambda m: f"<strong>{m.group(1)}</strong>", skeleton)
    return _SLOT.sub(lambda m: html.escape(data[int(m.group(1))], quote=True), skeleton)


def _table(rows: list[str]) -> str:
    header, body = _split_row(rows[0]), [r for r in rows[1:] if not _RULE.match(r.strip())]
    rule = next((r for r in rows[1:2] if _RULE.match(r.strip())), "")
    numeric = {i for i, c in enumerate(_split_row(rule)) if c.endswith(":")} if rule else set()

    def td(tag: str, i: int, c: str) -> str:
        return f"<{tag}{' class=n' if i in numeric else ''}>{inline(c)}</{tag}>"

    out = ["<table><thead><tr>", *(td("th", i, c) for i, c in enumerate(header)), "</tr></thead><tbody>"]
    for r in body:
        out += ["<tr>", *(td("td", i, c) for i, c in enumerate(_split_row(r))), "</tr>"]
    out.append("</tbody></table>")
    return "".join(out)


def _blocks(lines: list[str]) -> Iterator[str]:
    para: list[str] = []
    table: list[str] = []
    items: list[str] = []

    def flush() -> Iterator[str]:
        if para:
            yield f"<p>{' '.join(inline(p) for p in para)}</p>"
            para.clear()
        if table:
            yield _table(table)
            table.clear()
        if items:
            yield "<ul>" + "".join(f"<li>{inline(i)}</li>" for i in items) + "</ul>"
            items.clear()

    for raw in lines:
        line = raw.rstrip()
        if not line.strip():
            yield from flush()
        elif line.startswith("|"):
            if not table:
                yield from flush()
            table.append(line)
        elif line.startswith("- "):
            if not items:
                yield from flush()
            items.append(line[2:])
        elif m := re.match(r"^(#{1,4}) (.*)$", line):
            yield from flush()
            level = min(len(m.group(1)), 3) if len(m.group(1)) > 1 else 2
            yield f"<h{level}>{inline(m.group(2))}</h{level}>"
        else:
            if table or items:
                yield from flush()
            para.append(line)
    yield from flush()


def markdown_to_html(lines: list[str]) -> list[str]:
    """HTML blocks for Markdown lines written by a section builder under `cells.data_marked()`."""
    return list(_blocks(lines))


def sections_html(report: dict[str, Any]) -> list[str]:
    """The HTML of every section the page shows through its Markdown builder (none when absent)."""
    from tuieval.report.formats.contamination import contamination_markdown
    from tuieval.report.formats.judge import judge_markdown
    from tuieval.report.formats.redteam import redteam_markdown
    from tuieval.report.formats.robustness import extraction_lines, perturbations_markdown
    from tuieval.report.formats.shadow import shadow_markdown

    robustness = report.get("robustness") or {}
    out: list[str] = []
    with cells.data_marked():
        out += markdown_to_html(perturbations_markdown(robustness.get("perturbations")))
        extraction = extraction_lines(robustness.get("extractors"))
        if extraction:
            out += markdown_to_html(["## Extraction sensitivity (the suite's scorers on the same responses)", "",
                                     *extraction])
        out += markdown_to_html(judge_markdown(report.get("judge")))
        out += markdown_to_html(contamination_markdown(report.get("contamination")))
        if report.get("shadow"):
            out += markdown_to_html(shadow_markdown(report["shadow"]).rstrip("\n").split("\n"))
        out += markdown_to_html(redteam_markdown(report.get("redteam")))
    return out
