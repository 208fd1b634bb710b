"""How far traffic has moved from a suite: the streamed counts behind `tuieval drift`.

One pass over the log (records from `tuieval.traffic.log.iter_log`) turns each prompt into
its feature levels (the derived slices of tuieval.analysis.slices, plus the metadata keys
the suite has) and counts each distinct combination of levels per *bucket*; memory is
bounded by buckets × combinations, never by the number of lines.  A plain log is read a block
at a time, each line decoded in place by the JSON scanner (`scan_lines`), and counted in batches
(`_Pass`: the derived features of a batch in one numpy pass, tuieval.traffic.features); a large
one is cut into byte ranges at line starts and read by several processes whose counts are added
(`scan_file`, `merge_scans`).  Buckets are:

- `--window N` (lines): the last N lines are the current window, the N before it the
  previous one (the log's lines are counted first, a byte scan);
- `--window 7d` (a duration): whole buckets of one hour (one minute for `m`, one second
  for `s` windows) counted back from the bucket of the newest timestamp; buckets older
  than two windows behind the newest timestamp seen so far are dropped as the pass goes;
- no window: the second half of the lines against the first, and the suite against all.

The statistics (PSI, χ², coverage) are tuieval.analysis.drift's; `sample_cases` is a second
pass that draws prompts of the under-covered slices, deterministically by prompt hash.
"""

from __future__ import annotations

import gzip
import hashlib
import heapq
import json
import math
import multiprocessing
import os
import re
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from tuieval.analysis.drift import OTHER, compare_counts, chi2_homogeneity, under_covered
from tuieval.analysis.shadow import is_refusal
from tuieval.analysis.slices import NUMERIC_BINS, _is_number, hashable
from tuieval.analysis.stats import newcombe_diff_ci, wilson
from tuieval.analysis.variance.canonical import canonical_answer
from tuieval.traffic.features import LEVELS, derived_codes
from tuieval.traffic.log import LogProblem, TrafficRecord, iter_log, lean_flat, parse_line, utc_iso

SCHEMA = "tuieval.drift/1"
#: the derived features compared, as the suite's scoreboard names them
DERIVED = ("input_tokens", "script", "has_digits", "non_ascii_name")
#: distinct values tracked per metadata key in traffic; later new values count as OTHER
MAX_LEVELS = 200
#: answers longer than this are not canonicalised: a long answer is almost never repeated
#: word for word, and canonicalising a million of them would cost most of the pass
SHORT_ANSWER = 200
LONG_ANSWER = "(long answer)"
#: distinct short answers tracked per bucket (later new ones count as OTHER)
MAX_ANSWERS = 1000
#: answers listed by name in the cluster mix; the rest are OTHER
TOP_ANSWERS = 10
#: malformed lines kept with their message (all are counted)
MAX_PROBLEMS = 50
_BATCH = 4096

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_LINES = re.compile(r"^\s*(\d+)\s*(?:l|lines?)?\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class BadWindow(ValueError):
    """--window is neither a duration (7d, 12h, 30m) nor a number of lines."""


@dataclass(frozen=True)
class Window:
    """How traffic is cut into the current and previous window."""

    kind: str              # "lines", "time" or "halves"
    size: int = 0          # lines, or seconds
    bucket_s: int = 0      # time: the width of one bucket
    spec: str | None = None

    @property
    def buckets(self) -> int:
        """Time windows: buckets per window."""
        return self.size // self.bucket_s if self.kind == "time" else 1


def parse_window(spec: str | None) -> Window:
    """`7d`, `12h`, `30m`, `45s`, `2w` (a duration) or `5000`, `5000 lines` (lines); None: halves."""
    if spec is None:
        return Window("halves")
    m = _DURATION.match(spec)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        if n <= 0:
            raise BadWindow(f"--window: {spec!r} must be longer than zero")
        width = {"s": 1, "m": 60}.get(unit, 3600)
        return Window("time", n * _UNIT_S[unit], width, spec)
    m = _LINES.match(spec)
    if m:
        n = int(m.group(1))
        if n <= 0:
            raise BadWindow(f"--window: {spec!r} must be at least one line")
        return Window("lines", n, 0, spec)
    raise BadWindow(f"--window: {spec!r} is neither a duration (7d, 12h, 30m) nor a number of lines (5000)")


def count_lines(path: str) -> int:
    """Lines in a file (a last line without a newline counts), by a byte scan."""
    n, last = 0, b"\n"
    with (gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb")) as fh:
        while True:
            chunk = fh.read(1 << 20)
            if not chunk:
                break
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (0 if last == b"\n" else 1)


def parse_timestamp(value: Any) -> float | None:
    """Seconds since the epoch from a number (seconds, or milliseconds when > 1e11) or ISO 8601 text."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        v = float(value)
        if not math.isfinite(v):
            return None
        return v / 1000.0 if abs(v) > 1e11 else v
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)  # no zone: read as UTC, as logs usually are
        return dt.timestamp()
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return dt.timestamp()
    return None


def record_text(record: TrafficRecord) -> str:
    """The input of one logged request whose features are compared: its prompt (the last user message)."""
    return record.prompt or ""


# ---------------------------------------------------------------------------------------------
# Features: derived slices plus the metadata keys the suite has
# ---------------------------------------------------------------------------------------------

@dataclass
class FeatureSpec:
    """The features compared and how a metadata value becomes a level."""

    metadata_keys: list[str]
    #: numeric metadata keys cut at the suite's deciles: key → sorted upper edges
    edges: dict[str, list[float]] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        """Feature names in report order: metadata first (as the scoreboard lists them), then derived."""
        return list(self.metadata_keys) + [k if k not in self.metadata_keys else f"derived.{k}" for k in DERIVED]

    def meta_level(self, key: str, value: Any) -> Any:
        if value is None:
            return None
        edges = self.edges.get(key)
        if edges is not None:
            if not _is_number(value):
                return OTHER
            v = float(value)
            i = int(np.searchsorted(edges, v, side="left"))
            lo = "-inf" if i == 0 else _fmt(edges[i - 1])
            hi = "inf" if i == len(edges) else _fmt(edges[i])
            return f"({lo}, {hi}]"
        return hashable(value)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def feature_spec(cases: Sequence[Any]) -> FeatureSpec:
    """Metadata keys of the suite's cases (first-seen order), numeric ones with many values binned."""
    keys: dict[str, None] = {}
    for c in cases:
        for k in c.metadata or {}:
            keys.setdefault(k, None)
    edges: dict[str, list[float]] = {}
    for k in keys:
        vals = [c.metadata.get(k) for c in cases if (c.metadata or {}).get(k) is not None]
        if vals and all(_is_number(v) for v in vals) and len(set(vals)) > NUMERIC_BINS:
            srt = np.sort(np.asarray(vals, dtype=float))
            qs = np.arange(1, NUMERIC_BINS) / NUMERIC_BINS
            edges[k] = sorted({float(srt[max(0, math.ceil(q * srt.size) - 1)]) for q in qs})
    return FeatureSpec(list(keys), edges)


#: metadata values that are their own level (no binning, no JSON): what meta_level returns as is
_PLAIN = (str, bool, type(None))


def signatures(spec: FeatureSpec, texts: Sequence[str], metas: Sequence[Mapping[str, Any] | None],
               levels_seen: dict[str, set] | None = None) -> list[tuple]:
    """One tuple of levels per item, in `spec.keys` order (with `levels_seen`, a key's values
    beyond MAX_LEVELS count as OTHER, as in traffic)."""
    levels = MetaLevels(spec, levels_seen)
    ids = levels.ids(levels.values([m if m.__class__ is dict else (m if isinstance(m, Mapping) else {}) for m in metas]))
    return [(*levels.levels[i], *LEVELS[c]) for i, c in zip(ids, derived_codes(texts).tolist())]


class MetaLevels:
    """A row's metadata values (the suite's keys) → their levels (`FeatureSpec.meta_level`; when
    capped, a key's new values beyond MAX_LEVELS as OTHER, the first seen first), as small ids:
    `levels[id]` is the tuple of levels.  Levels are remembered by the values when those are all
    text or missing (values of other types may compare equal across types: 1 == 1.0 == True)."""

    def __init__(self, spec: FeatureSpec, levels_seen: dict[str, set] | None = None) -> None:
        self.spec, self.keys = spec, list(spec.metadata_keys)
        self.seen = levels_seen
        self.memo: dict[tuple, int] = {}
        self.level_ids: dict[tuple, int] = {}
        self.levels: list[tuple] = []

    def values(self, metas: Sequence[Mapping[str, Any]]) -> list[tuple]:
        """The suite's metadata values of each row (None where missing)."""
        keys = self.keys
        return [tuple(map(m.get, keys)) for m in metas] if keys else [()] * len(metas)

    def ids(self, vals: list[tuple]) -> list[int]:
        """The id of each row's levels, in row order (the first sight of a value decides its level)."""
        get = self.memo.get
        try:
            ids = [get(v, -1) for v in vals]
        except TypeError:   # an unhashable value somewhere in the batch
            return [self.id(v) for v in vals]
        if -1 in ids:
            ids = [i if i >= 0 else self.id(v) for i, v in zip(ids, vals)]
        return ids

    def id(self, vals: tuple) -> int:
        """The id of one row's levels."""
        try:
            got = self.memo.get(vals)
        except TypeError:
            got = None
        if got is not None:
            return got
        spec, row = self.spec, []
        for k, v in zip(self.keys, vals):
            if v.__class__ not in _PLAIN or k in spec.edges:
                v = spec.meta_level(k, v)
            if self.seen is not None:
                seen = self.seen.setdefault(k, set())
                if v not in seen:
                    if len(seen) >= MAX_LEVELS:
                        v = OTHER
                    else:
                        seen.add(v)
            row.append(v)
        levels = tuple(row)
        mid = self.level_ids.get(levels)
        if mid is None:
            mid = self.level_ids[levels] = len(self.levels)
            self.levels.append(levels)
        if all(v is None or v.__class__ is str for v in vals):
            self.memo[vals] = mid
        return mid


def level_counts(spec: FeatureSpec, sigs: Mapping[tuple, int]) -> dict[str, Counter]:
    """Per feature, the count of each level, from counts of signatures."""
    out = {k: Counter() for k in spec.keys}
    for sig, n in sigs.items():
        for k, v in zip(spec.keys, sig):
            out[k][v] += n
    return out


# ---------------------------------------------------------------------------------------------
# The streamed pass
# ---------------------------------------------------------------------------------------------

@dataclass
class Bucket:
    """Counts of one slice of the log."""

    sigs: Counter = field(default_factory=Counter)
    n: int = 0
    responses: int = 0
    refusals: int = 0
    answers: Counter = field(default_factory=Counter)
    #: the first answer seen of each canonical form, shown in place of the form itself
    examples: dict = field(default_factory=dict)
    first: Any = None  # first line or timestamp, for the report
    last: Any = None


@dataclass
class Scan:
    """What one pass over a log found."""

    buckets: dict[int, Bucket]
    lines: int
    records: int
    problems: list[tuple[int, str]]
    n_problems: int
    no_timestamp: int
    traffic_only_keys: list[str]
    newest_bucket: int | None
    dropped_old: int
    #: per suite metadata key, the traffic records that carry it (not None)
    metadata_present: Counter = field(default_factory=Counter)


def _is_record(item: Any) -> bool:
    return isinstance(item, TrafficRecord)


#: what the pass reads of one line: (line, prompt, response, seconds or None, timestamp mark, metadata);
#: the mark is the logged timestamp value, turned into ISO text only for the report (utc_iso)
Row = tuple


def record_row(rec: TrafficRecord) -> Row:
    """A record as the pass reads it."""
    return (rec.line, record_text(rec), rec.response, parse_timestamp(rec.timestamp), rec.timestamp, rec.metadata)


def lean_rows(lines: Iterable[bytes], first_line: int, mapping: Mapping[str, tuple]) -> Iterator[Row | LogProblem]:
    """Rows (and problems) of raw log lines numbered from `first_line`, as `iter_log` would read
    them: flat lines through `lean_flat` (no record built), every other line through `parse_line`."""
    decode = json.JSONDecoder().decode   # json.loads without its per-call checks
    n = first_line - 1
    for raw in lines:
        n += 1
        if not mapping:
            try:
                got = lean_flat(decode(raw.decode("utf-8")))
            except (ValueError, RecursionError):   # not UTF-8 or not JSON: parse_line says which
                got = None
            if got is not None:
                yield (n, got[0], got[1], got[3], got[2], got[4])
                continue
        item = parse_line(raw, n, mapping)
        if item is None:
            continue
        yield record_row(item) if item.__class__ is TrafficRecord else item


#: bytes read at a time by `scan_lines`
BLOCK_BYTES = 1 << 20


def _split_lines(block: bytes) -> list[bytes]:
    """The lines of a block that ends with a newline, as a file yields them (split at b"\\n" only:
    bytes.splitlines would also split at a lone \\r, and number the lines differently)."""
    return [ln + b"\n" for ln in block.split(b"\n")[:-1]]


def scan(records: Iterable[Any], spec: FeatureSpec, window: Window, total_lines: int) -> Scan:
    """Count signatures, responses, refusals and short answers per bucket over `records`
    (TrafficRecords, rows from `lean_rows`, and LogProblems).

    Lines mode: bucket 0 = the last `window.size` lines, 1 = the ones before, 2 = older.
    Halves: 0 = the second half of the lines, 1 = the first.  Time: bucket = ⌊t / width⌋.
    """
    p = _Pass(spec, window, total_lines)
    for item in records:
        cls = item.__class__
        if cls is tuple:
            p.add(item)
        elif cls is TrafficRecord:
            p.add(record_row(item))
        else:
            p.problem(item)
    return p.result()


def scan_lines(fh, start: int, end: int | None, first_line: int, mapping: Mapping[str, tuple], spec: FeatureSpec,
               window: Window, total_lines: int | None) -> Scan:
    """`scan` of the lines of `fh` from byte `start` (a line start) to `end` (a line start, or
    None: the end of the file), numbered from `first_line` — read a block at a time, not a line.

    A block is decoded from UTF-8 once, and each line in it by the JSON scanner in place
    (`scan_once` at the line's start: no line copied out, no `json.loads` wrapper); its fields go
    straight into the pass's columns.  A line is taken so only when the scanner's value ends
    exactly at the line's newline (or its `\r\n`) and `lean_flat` reads it; any other line —
    white space around the value, a value that runs on to the next line, not JSON, another
    shape — is handed to `lean_rows` as its own bytes, so it is read (or reported) exactly as
    line by line.  A block that is not valid UTF-8, and every line under a field mapping, take
    `lean_rows` too.  `total_lines` None (a time window only, which buckets by time, not by line):
    the Scan's `lines` are the lines read."""
    assert total_lines is not None or window.kind == "time"
    p = _Pass(spec, window, total_lines or 0)
    scan_once = json.JSONDecoder().scan_once
    L, G = p.lines.append, p.fields.append
    add, problem, batch = p.add, p.problem, p.lines

    def slow(lines: list[bytes], first: int) -> None:
        for item in lean_rows(lines, first, mapping):
            if item.__class__ is tuple:
                add(item)
            else:
                problem(item)

    fh.seek(start)
    pos_file, line, rest = start, first_line, b""
    while end is None or pos_file < end:
        chunk = fh.read(BLOCK_BYTES if end is None else min(BLOCK_BYTES, end - pos_file))
        if not chunk:
            break
        pos_file += len(chunk)
        data = rest + chunk if rest else chunk
        cut = data.rfind(b"\n") + 1
        if cut == 0:   # no whole line yet
            rest = data
            continue
        block, rest = data[:cut], data[cut:]
        try:
            text = None if mapping else block.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is None:
            lines = _split_lines(block)
            slow(lines, line)
            line += len(lines)
            continue
        pos, size = 0, len(text)
        find = text.find
        while pos < size:
            nl = find("\n", pos)   # never -1: the block ends with a newline
            got = None
            try:
                obj, stop = scan_once(text, pos)
            except (StopIteration, ValueError, RecursionError):
                stop = -1
            if stop == nl or (stop == nl - 1 and text[stop] == "\r"):
                got = lean_flat(obj)
            if got is not None:
                L(line)
                G(got)
                if len(batch) >= _BATCH:
                    p.flush()
            else:
                slow([text[pos:nl + 1].encode("utf-8")], line)
            line += 1
            pos = nl + 1
    if rest:   # a last line without a newline
        slow([rest], line)
        line += 1
    if total_lines is None:   # a time window needs no line count ahead: the lines read are it
        p.total = line - first_line
    return p.result()


#: distinct short answers remembered by the pass (the memo is emptied when full)
_MEMO_MAX = 50_000
#: derived-level codes per metadata combination in a counted key (features.LEVELS)
_NL = len(LEVELS)


class _Pass:
    """The state of one streamed pass: the columns of the rows read since the last flush, and the
    counts so far.  Rows are counted a batch at a time (`flush`): the derived features of a batch
    in one call, each distinct metadata combination turned into levels once, each distinct answer
    canonicalised once.  What is counted does not depend on where batches are cut (time windows
    included: a row dropped with its batch is a row a row-by-row pass would count into a bucket
    it later drops)."""

    def __init__(self, spec: FeatureSpec, window: Window, total_lines: int) -> None:
        self.spec, self.window, self.total = spec, window, total_lines
        #: the rows read since the last flush: their line numbers, and (prompt, response,
        #: timestamp mark, seconds or None, metadata) of each — what `lean_flat` returns
        self.lines: list[int] = []
        self.fields: list[tuple] = []
        self.columns: tuple = ()   # during a flush: lines, prompts, responses, seconds, marks, metadata
        self.buckets: dict[int, Bucket] = {}
        self.problems: list[tuple[int, str]] = []
        self.n_problems = self.no_ts = self.records = 0
        self.newest: int | None = None
        self.dropped = 0
        self.keys = list(spec.metadata_keys)
        self.key_set = set(self.keys)
        self.traffic_only: dict[str, None] = {}
        self.present: Counter = Counter()
        self.meta = MetaLevels(spec, {})
        self.key_tuples: set[tuple] = set()
        self.known_keys: set = set(self.key_set)   # the suite's keys and those noted in traffic_only
        # a short answer's refusal verdict and canonical form, by its text: answers repeat (most
        # traffic is answered from a small set), and canonicalising is most of a row's cost
        self.memo: dict[str, tuple[bool, str]] = {}

    def add(self, row: Row) -> None:
        meta = row[5]
        if meta.__class__ is not dict:
            meta = meta if isinstance(meta, Mapping) else {}
        self.lines.append(row[0])
        self.fields.append((row[1], row[2], row[4], row[3], meta))
        if len(self.lines) >= _BATCH:
            self.flush()

    def problem(self, item: LogProblem) -> None:
        self.n_problems += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append((item.line, item.message))

    def result(self) -> Scan:
        self.flush()
        for bk in self.buckets.values():   # the counted keys as the signatures they stand for
            bk.sigs = Counter({(*self.meta.levels[k // _NL], *LEVELS[k % _NL]): c for k, c in bk.sigs.items()})
        return Scan(self.buckets, self.total, self.records, self.problems, self.n_problems, self.no_ts,
                    list(self.traffic_only), self.newest, self.dropped, self.present)

    # -- one batch ---------------------------------------------------------------------------

    def flush(self) -> None:
        lines = self.lines
        n = len(lines)
        if not n:
            return
        prompts, resps, marks, secs, metas = zip(*self.fields)
        self.columns = (lines, prompts, resps, secs, marks, metas)
        self.records += n
        vals = self._metadata(metas)
        window = self.window
        kind, size = window.kind, window.size
        if kind == "time":
            if None in secs:
                idx = [i for i, t in enumerate(secs) if t is not None]
                self.no_ts += n - len(idx)
            else:
                idx = range(n)
            width = window.bucket_s
            bids = [int(secs[i] // width) for i in idx]
        else:
            idx = range(n)
            if kind == "lines":
                total = self.total
                bids = [0 if total - ln < size else (1 if total - ln < 2 * size else 2) for ln in lines]
            else:
                half = (self.total + 1) // 2
                bids = [0 if ln > half else 1 for ln in lines]
        if bids:
            if idx.__class__ is not range:
                prompts = [prompts[i] for i in idx]
                vals = [vals[i] for i in idx]
            codes = derived_codes(prompts)
            keys = (np.asarray(self.meta.ids(vals), dtype=np.int64) * _NL + codes).tolist()
            self._count(list(idx), bids, keys)
        self.lines.clear()   # (in place: the reader holds their append methods)
        self.fields.clear()
        self.columns = ()

    def _metadata(self, metas: list) -> list[tuple]:
        """The suite's metadata values of each row (a tuple, None where missing); counts which
        rows carry each key, and notes the keys only traffic has (first seen first)."""
        keys = self.keys
        vals = self.meta.values(metas)
        if keys:
            try:
                seen = Counter(vals)
            except TypeError:   # a list or an object as a value: count row by row
                seen = None
            present = self.present
            if seen is not None:
                for v, c in seen.items():
                    for k, x in zip(keys, v):
                        if x is not None:
                            present[k] += c
            else:
                for v in vals:
                    for k, x in zip(keys, v):
                        if x is not None:
                            present[k] += 1
        only = self.traffic_only
        # (a batch whose keys are all known — the usual case — is passed over by one set union)
        if len(only) < 50 and not set().union(*metas) <= self.known_keys:
            done = self.key_tuples
            for kt in dict.fromkeys(map(tuple, metas)):   # each distinct key order once, in order
                if kt in done:
                    continue
                done.add(kt)
                for k in kt:
                    if k not in self.key_set and len(only) < 50:
                        only.setdefault(str(k), None)
            self.known_keys = self.key_set | set(only)
        return vals

    def _count(self, idx: list[int], bids: list[int], keys: list[int]) -> None:
        """Add the batch's bucketed rows (positions `idx` in the columns) to their buckets."""
        window = self.window
        timed = window.kind == "time"
        groups: dict[int, list[int]] = {}
        if timed:
            newest, dropped = self.newest, self.dropped
            top = max(bids)
            if newest is None or top > newest:
                newest = top
                for old in [b for b in self.buckets if b <= newest - 2 * window.buckets]:
                    dropped += self.buckets.pop(old).n
            lo = newest - 2 * window.buckets
            for j, bid in enumerate(bids):
                if bid <= lo:
                    dropped += 1
                else:
                    groups.setdefault(bid, []).append(j)
            self.newest, self.dropped = newest, dropped
        elif len(set(bids)) == 1:
            groups[bids[0]] = list(range(len(bids)))
        else:
            for j, bid in enumerate(bids):
                groups.setdefault(bid, []).append(j)
        lines, _, resps, secs, marks, _ = self.columns
        for bid, js in groups.items():
            rows = [idx[j] for j in js]
            if timed:
                ts = [secs[i] for i in rows]
                # the first of equal times is kept, as a row-by-row pass keeps it
                a, b = ts.index(min(ts)), ts.index(max(ts))
                first, last = (ts[a], marks[rows[a]]), (ts[b], marks[rows[b]])
            else:
                first, last = lines[rows[0]], lines[rows[-1]]   # line numbers grow within a batch
            bk = self.buckets.get(bid)
            if bk is None:
                bk = self.buckets[bid] = Bucket(first=first, last=last)
            elif timed:   # by the seconds alone: two values of one instant are one time
                if first[0] < bk.first[0]:
                    bk.first = first
                if last[0] > bk.last[0]:
                    bk.last = last
            else:
                if first < bk.first:
                    bk.first = first
                if last > bk.last:
                    bk.last = last
            bk.sigs.update([keys[j] for j in js])
            bk.n += len(rows)
            self._answers(bk, Counter([resps[i] for i in rows]))

    def _answers(self, bk: Bucket, counts: Counter) -> None:
        """Count responses, refusals and canonical answers, each distinct answer text once
        (in the order first seen, so the first MAX_ANSWERS forms are those a row-by-row pass keeps)."""
        answers, examples, memo = bk.answers, bk.examples, self.memo
        for resp, c in counts.items():
            if resp is None:
                continue
            bk.responses += c
            if len(resp) > SHORT_ANSWER:
                if is_refusal(resp):
                    bk.refusals += c
                form = LONG_ANSWER
            else:
                known = memo.get(resp)
                if known is None:
                    if len(memo) >= _MEMO_MAX:
                        memo.clear()
                    known = memo[resp] = (is_refusal(resp), canonical_answer(resp))
                refused, form = known
                if refused:
                    bk.refusals += c
                if form not in answers:
                    if len(answers) >= MAX_ANSWERS:
                        form = OTHER
                    else:
                        examples[form] = resp
            answers[form] += c


# ---------------------------------------------------------------------------------------------
# The same pass split over processes (byte ranges of one plain file)
# ---------------------------------------------------------------------------------------------

#: below this size one process reads the log (starting workers costs more than it saves)
PARALLEL_MIN_BYTES = 8 << 20
MAX_WORKERS = 4


def _cuts(path: str, parts: int) -> list[tuple[int, int, int]]:
    """[(start byte, end byte, 1)]: the log cut at line starts into up to `parts` ranges."""
    size = os.path.getsize(path)
    cuts = [0]
    with open(path, "rb") as fh:
        for i in range(1, parts):
            fh.seek(max(cuts[-1], size * i // parts))
            fh.readline()  # to the start of the next line
            pos = fh.tell()
            if cuts[-1] < pos < size:
                cuts.append(pos)
    cuts.append(size)
    return [(a, b, 1) for a, b in zip(cuts, cuts[1:])]


def _ranges(path: str, parts: int) -> tuple[list[tuple[int, int, int]], int]:
    """[(start byte, end byte, line number of the first line)] cut at line starts, and the line count."""
    out, line, last = [], 1, b"\n"
    with open(path, "rb") as fh:
        for a, b, _ in _cuts(path, parts):
            out.append((a, b, line))
            fh.seek(a)
            left = b - a
            while left > 0:
                chunk = fh.read(min(left, 1 << 20))
                if not chunk:
                    break
                line += chunk.count(b"\n")
                last = chunk[-1:]
                left -= len(chunk)
    return out, line - 1 + (0 if last == b"\n" else 1)


def _scan_range(args) -> Scan:
    path, start, end, first_line, mapping, spec, window, total = args
    with open(path, "rb") as fh:
        return scan_lines(fh, start, end, first_line, mapping, spec, window, total)


def merge_scans(parts: Sequence[Scan], window: Window) -> Scan:
    """One Scan from the Scans of consecutive pieces of a log, as if read in one pass."""
    buckets: dict[int, Bucket] = {}
    for p in parts:
        for bid, bk in p.buckets.items():
            buckets[bid] = _merge([buckets[bid], bk]) if bid in buckets else bk
    newest = max((p.newest_bucket for p in parts if p.newest_bucket is not None), default=None)
    dropped = sum(p.dropped_old for p in parts)
    if window.kind == "time" and newest is not None:
        for old in [b for b in buckets if b <= newest - 2 * window.buckets]:
            dropped += buckets.pop(old).n
    problems = [pr for p in parts for pr in p.problems][:MAX_PROBLEMS]
    only: dict[str, None] = {}
    for p in parts:
        for k in p.traffic_only_keys:
            if len(only) < 50:
                only.setdefault(k, None)
    present: Counter = Counter()
    for p in parts:
        present.update(p.metadata_present)
    return Scan(buckets, parts[0].lines if parts else 0, sum(p.records for p in parts), problems,
                sum(p.n_problems for p in parts), sum(p.no_timestamp for p in parts), list(only), newest, dropped,
                present)


def scan_file(path: str, mapping: Mapping[str, tuple], spec: FeatureSpec, window: Window,
              workers: int | None = None) -> Scan:
    """`scan` over the log at `path`: in one process for small or gzipped logs, else split in
    byte ranges over up to MAX_WORKERS processes (the counts add up; see `merge_scans`)."""
    if workers is None:
        big = not str(path).endswith(".gz") and os.path.getsize(path) >= PARALLEL_MIN_BYTES
        workers = min(MAX_WORKERS, os.cpu_count() or 1) if big else 1
    if str(path).endswith(".gz"):
        return scan(iter_log(path, mapping), spec, window, count_lines(path))
    if workers <= 1:
        total = None if window.kind == "time" else count_lines(path)
        try:
            fh = open(path, "rb")
        except OSError:
            return scan(iter_log(path, mapping), spec, window, total)   # iter_log says what is wrong
        with fh:
            return scan_lines(fh, 0, None, 1, mapping, spec, window, total)
    if window.kind == "time":
        # buckets by time: no line count ahead (a read of the whole log before the pass); each
        # range numbers its lines from 1 and its problems are renumbered once the counts are back
        ranges, total = _cuts(path, workers), None
    else:
        ranges, total = _ranges(path, workers)
    jobs = [(path, a, b, line, dict(mapping), spec, window, total) for a, b, line in ranges]
    if len(jobs) == 1:
        return _scan_range(jobs[0])
    derived_codes(["É a Zoë", "x" * 600 + " É"])   # its tables built once, before the fork, not in each worker
    ctx = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
    with ProcessPoolExecutor(len(jobs), mp_context=ctx) as pool:
        parts = list(pool.map(_scan_range, jobs))
    if total is None:
        before = 0
        for p in parts:
            p.problems = [(ln + before, msg) for ln, msg in p.problems]
            before += p.lines
        for p in parts:
            p.lines = before
    return merge_scans(parts, window)


# ---------------------------------------------------------------------------------------------
# From counts to the report
# ---------------------------------------------------------------------------------------------

def _merge(buckets: Iterable[Bucket]) -> Bucket:
    out = Bucket()
    for b in buckets:
        out.sigs.update(b.sigs)
        out.n += b.n
        out.responses += b.responses
        out.refusals += b.refusals
        out.answers.update(b.answers)
        for form, text in b.examples.items():
            out.examples.setdefault(form, text)
        out.first = b.first if out.first is None else _min(out.first, b.first)
        out.last = b.last if out.last is None else _max(out.last, b.last)
    return out


def _min(a, b):
    try:
        return min(a, b)
    except TypeError:
        return a


def _max(a, b):
    try:
        return max(a, b)
    except TypeError:
        return b


def windows(result: Scan, window: Window) -> tuple[Bucket, Bucket, Bucket]:
    """(the traffic the suite is compared with, the current window, the previous window)."""
    b = result.buckets
    if window.kind == "time":
        if result.newest_bucket is None:
            return Bucket(), Bucket(), Bucket()
        k = window.buckets
        top = result.newest_bucket
        cur = _merge(v for i, v in b.items() if top - k < i <= top)
        prev = _merge(v for i, v in b.items() if top - 2 * k < i <= top - k)
        return cur, cur, prev
    cur = b.get(0, Bucket())
    prev = b.get(1, Bucket())
    if window.kind == "halves":
        return _merge([cur, prev]), cur, prev
    return cur, cur, prev


def _mark(mark: Any) -> Any:
    """A bucket's first or last mark as the report shows it: a line number, or ISO UTC text."""
    return utc_iso(mark[1]) if isinstance(mark, tuple) else mark


def _span(bk: Bucket, window: Window) -> dict[str, Any]:
    key = "timestamps" if window.kind == "time" else "lines"
    return {"n": bk.n, key: [_mark(bk.first), _mark(bk.last)] if bk.n else None}


def _answer_mix(cur: Bucket, prev: Bucket) -> dict[str, Any]:
    pooled = cur.answers + prev.answers
    top = [a for a, _ in sorted(pooled.items(), key=lambda kv: (-kv[1], str(kv[0])))
           if a not in (OTHER, LONG_ANSWER)][:TOP_ANSWERS]
    keep = set(top)

    def fold(c: Counter) -> Counter:
        out = Counter()
        for a, n in c.items():
            out[a if a in keep or a == LONG_ANSWER else OTHER] += n
        return out

    mix = compare_counts(fold(prev.answers), fold(cur.answers), share=0.0)
    for lv in mix["levels"]:
        lv["example"] = prev.examples.get(lv["value"], cur.examples.get(lv["value"]))
    return mix


def _refusal(cur: Bucket, prev: Bucket) -> dict[str, Any]:
    def rate(b: Bucket) -> dict[str, Any]:
        return {"n": b.responses, "refusals": b.refusals,
                "rate": b.refusals / b.responses if b.responses else None,
                "ci": list(wilson(b.refusals, b.responses)) if b.responses else None}

    out = {"current": rate(cur), "previous": rate(prev), "delta": None, "delta_ci": None, "p_value": None}
    if cur.responses and prev.responses:
        out["delta"] = cur.refusals / cur.responses - prev.refusals / prev.responses
        out["delta_ci"] = list(newcombe_diff_ci(cur.refusals, cur.responses, prev.refusals, prev.responses))
        test = chi2_homogeneity([prev.refusals, prev.responses - prev.refusals],
                                [cur.refusals, cur.responses - cur.refusals])
        out["p_value"] = test["p_value"]
    return out


def union_share(spec: FeatureSpec, sigs: Mapping[tuple, int], suite_levels: Mapping[str, Counter],
                min_cases: int, compared: Sequence[str]) -> int:
    """Traffic items with at least one level (of the `compared` features) the suite holds fewer
    than `min_cases` of; a missing value counts for nothing (as in `under_covered`)."""
    pos = [(i, k) for i, k in enumerate(spec.keys) if k in set(compared)]
    n = 0
    for sig, c in sigs.items():
        if any(sig[i] is not None and suite_levels[k].get(sig[i], 0) < min_cases for i, k in pos):
            n += c
    return n


def build_report(suite: Any, suite_path: str, log_path: str, result: Scan, spec: FeatureSpec, window: Window,
                 min_cases: int) -> dict[str, Any]:
    """The tuieval.drift/1 dictionary."""
    cases = suite.cases
    suite_sigs = Counter(signatures(spec, [c.input_text() for c in cases], [c.metadata for c in cases]))
    suite_levels = level_counts(spec, suite_sigs)
    base, cur, prev = windows(result, window)
    traffic_levels = level_counts(spec, base.sigs)
    cur_levels = level_counts(spec, cur.sigs)
    prev_levels = level_counts(spec, prev.sigs)
    # metadata is compared only where both sides have it: a key the traffic never carries
    # would read as "100% missing", which is a logging difference, not drift
    compared = [k for k in spec.keys if k not in spec.metadata_keys or result.metadata_present[k] > 0]
    suite_only = [k for k in spec.metadata_keys if result.metadata_present[k] == 0]
    features = []
    for k in compared:
        features.append({
            "key": k, "source": "metadata" if k in spec.metadata_keys else "derived",
            "suite_vs_traffic": compare_counts(suite_levels[k], traffic_levels[k]),
            "between_windows": compare_counts(prev_levels[k], cur_levels[k]),
        })
    flat_suite = {(k, v): n for k in compared for v, n in suite_levels[k].items()}
    flat_traffic = {(k, v): n for k in compared for v, n in traffic_levels[k].items()}
    low = under_covered(flat_suite, flat_traffic, base.n, min_cases)
    n_low = union_share(spec, base.sigs, suite_levels, min_cases, compared)
    coverage = {"min_cases": min_cases, "n": base.n, "under_covered": low, "traffic_in_under_covered": n_low,
                "share": n_low / base.n if base.n else None,
                "share_ci": list(wilson(n_low, base.n)) if base.n else None}
    responses = {"current": cur.responses, "previous": prev.responses,
                 "refusal": _refusal(cur, prev) if cur.responses or prev.responses else None,
                 "answer_mix": _answer_mix(cur, prev) if cur.responses and prev.responses else None}
    return {
        "schema": SCHEMA,
        "suite": {"path": suite_path, "name": suite.name, "n_cases": len(cases)},
        "log": {"path": log_path, "lines": result.lines, "records": result.records,
                "malformed": result.n_problems,
                "problems": [{"line": ln, "message": msg} for ln, msg in result.problems],
                "no_timestamp": result.no_timestamp,
                "dropped_older": result.dropped_old + (result.buckets[2].n if window.kind == "lines" and 2 in result.buckets else 0),
                "traffic_only_metadata": result.traffic_only_keys, "suite_only_metadata": suite_only},
        "window": {"spec": window.spec, "kind": window.kind,
                   "suite_compared_with": _span(base, window),
                   "current": _span(cur, window), "previous": _span(prev, window)},
        "features": features,
        "coverage": coverage,
        "responses": responses,
        "recommendations": recommendations(features, coverage),
    }


def recommendations(features: Sequence[Mapping[str, Any]], coverage: Mapping[str, Any]) -> list[str]:
    """What to do, most useful first: the under-covered slices to grow, then the features that moved."""
    out = []
    n = coverage["min_cases"]
    for r in coverage["under_covered"][:5]:
        value = "(missing)" if r["value"] is None else r["value"]
        out.append(f"grow {r['key']}={value}: {r['traffic_share']:.1%} of traffic, "
                   f"{r['suite_cases']} suite case(s) (fewer than {n})")
    for f in features:
        s = f["suite_vs_traffic"]
        if s["psi_band"] == "shifted":
            out.append(f"{f['key']}: traffic has moved from the suite (PSI {s['psi']:.2f}); "
                       "weight the suite toward the traffic's levels")
    for f in features:
        w = f["between_windows"]
        if w["psi_band"] == "shifted":
            out.append(f"{f['key']}: traffic moved between the windows (PSI {w['psi']:.2f})")
    if coverage["under_covered"]:
        out.append("draw traffic prompts from these slices to label: tuieval drift SUITE LOG --sample-cases N > new_cases.jsonl")
    return out


# ---------------------------------------------------------------------------------------------
# Sampling new cases from the under-covered slices (a second pass)
# ---------------------------------------------------------------------------------------------

def prompt_hash(text: str) -> str:
    """Stable across runs and machines: the key of the deterministic draw."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def sample_cases(records: Iterable[Any], spec: FeatureSpec, window: Window, total_lines: int,
                 report: Mapping[str, Any], n: int, newest_bucket: int | None) -> list[dict[str, Any]]:
    """Up to `n` case dicts drawn from the traffic the suite was compared with, in the under-covered slices.

    Per under-covered slice the prompts with the smallest hashes are kept (at most `n`);
    the slices then take turns, the largest traffic share first, so every slice is drawn
    from; a prompt already drawn (the same text) is skipped.
    """
    slices = [(r["key"], r["value"]) for r in report["coverage"]["under_covered"]]
    if n <= 0 or not slices:
        return []
    index = {s: i for i, s in enumerate(slices)}
    keys = spec.keys
    heaps: list[list[tuple[str, int, dict]]] = [[] for _ in slices]  # per slice: the n smallest hashes
    half = (total_lines + 1) // 2
    k_buckets = window.buckets
    batch: list[Any] = []

    def in_window(rec: Any) -> bool:
        line = rec.line
        if window.kind == "lines":
            return total_lines - line < window.size
        if window.kind == "halves":
            return True
        ts = parse_timestamp(rec.timestamp)
        return ts is not None and newest_bucket is not None and newest_bucket - k_buckets < int(ts // window.bucket_s) <= newest_bucket

    def flush() -> None:
        sigs = signatures(spec, [record_text(r) for r in batch], [r.metadata for r in batch])
        for rec, sig in zip(batch, sigs):
            text = record_text(rec)
            h = prompt_hash(text)
            for k, v in zip(keys, sig):
                i = index.get((k, v))
                if i is None:
                    continue
                entry = (_neg(h), rec.line, {"rec": rec, "hash": h, "slice": f"{k}={v}"})
                heap = heaps[i]
                if len(heap) < n:
                    heapq.heappush(heap, entry)
                elif entry[0] > heap[0][0]:
                    heapq.heapreplace(heap, entry)
        batch.clear()

    for item in records:
        if _is_record(item) and in_window(item):
            batch.append(item)
            if len(batch) >= _BATCH:
                flush()
    if batch:
        flush()
    ordered = [[e[2] for e in sorted(h, key=lambda e: (e[2]["hash"], e[1]))] for h in heaps]
    out: list[dict[str, Any]] = []
    taken: set[str] = set()
    pos = [0] * len(ordered)
    while len(out) < n and any(pos[i] < len(ordered[i]) for i in range(len(ordered))):
        for i, cands in enumerate(ordered):
            while pos[i] < len(cands) and cands[pos[i]]["hash"] in taken:
                pos[i] += 1
            if pos[i] < len(cands) and len(out) < n:
                c = cands[pos[i]]
                pos[i] += 1
                taken.add(c["hash"])
                out.append(_case(c["rec"], c["hash"], c["slice"]))
    return out


def _neg(h: str) -> str:
    # heapq is a min-heap; to keep the n *smallest* hashes we evict the largest, so order by
    # the complement of each hex digit (a larger hash gives a smaller key)
    return h.translate(_COMPLEMENT)


_COMPLEMENT = str.maketrans("0123456789abcdef", "fedcba9876543210")


def _case(rec: Any, h: str, slice_name: str) -> dict[str, Any]:
    # a conversation is kept whole up to its last user turn (what the model answered), so the
    # case asks what the logged request asked; a single prompt stays a string
    if rec.messages and len(rec.messages) > 1:
        last_user = max(i for i, m in enumerate(rec.messages) if m.get("role") == "user")
        inp: Any = [dict(m) for m in rec.messages[: last_user + 1]]
    else:
        inp = rec.prompt
    meta = dict(rec.metadata or {})
    meta["drift_slice"] = slice_name
    line = rec.line
    return {"id": f"traffic-L{line}-{h[:8]}", "input": inp, "target": None, "metadata": meta}

