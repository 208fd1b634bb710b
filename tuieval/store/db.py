"""The SQLite store: one file holds every run, case and sample.

WAL mode lets the app read a run while a headless `tuieval run` writes it; each finished
sample is committed before the engine reports it done (alone, or with the others that finished
within a few milliseconds of it: tuieval.engine.writer), so a crash (even kill -9) loses at
most the samples that were in flight or waiting for that commit.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from tuieval import json_text
from tuieval.sample_rules import ANSWER_SQL, is_correct
from tuieval.store.schema import migrate

if TYPE_CHECKING:  # numpy behind it: imported when a report reads columns, not when a run stores samples
    from tuieval.sample_columns import SampleColumns

DEFAULT_DB = "tuieval.db"
#: run ids listed when a prefix matches several
AMBIGUOUS_SHOWN = 5

SAMPLE_COLUMNS = (
    "run_id", "case_id", "template", "sample_index", "dispatch_order", "prompt", "response", "reasoning",
    "extracted", "correct", "score", "scores", "latency_ms", "ttft_ms", "output_tokens", "input_tokens",
    "finish_reason", "error", "error_kind", "attempts", "created_at", "cached", "cached_tokens", "cache_write_tokens",
    "cache_write_1h_tokens",
)


JUDGEMENT_COLUMNS = (
    "run_id", "case_id", "template", "sample_index", "scorer", "judge", "judge_sample", "orientation", "prompt",
    "reply", "reasoning", "grade", "score", "parsed", "problem", "latency_ms", "input_tokens", "output_tokens",
    "attempts", "error", "error_kind", "created_at", "cached", "cached_tokens", "cache_write_tokens",
    "cache_write_1h_tokens", "batched",
)

_INSERT_SAMPLE = (f"INSERT INTO samples ({', '.join(SAMPLE_COLUMNS)}) VALUES ({', '.join('?' * len(SAMPLE_COLUMNS))}) "
                  "ON CONFLICT (run_id, case_id, template, sample_index) DO NOTHING")
_JSON_AT = tuple(SAMPLE_COLUMNS.index(c) for c in ("prompt", "scores"))
_FLAG_AT = tuple(SAMPLE_COLUMNS.index(c) for c in ("correct", "cached"))
_CREATED_AT, _ATTEMPTS_AT = SAMPLE_COLUMNS.index("created_at"), SAMPLE_COLUMNS.index("attempts")
INSERT_SAMPLE = _INSERT_SAMPLE  # the same statement for the store's other modules (tuieval.store.bulk)
#: the trigger that indexes each sample as it is inserted (tuieval.store.schema)
INDEX_TRIGGER = "samples_ai"
#: From this many samples in one transaction, their full-text rows are written by one statement
#: (`indexed_in_one_statement`); a sample committed alone keeps the trigger (the same work, and
#: two statements fewer).
BULK_INDEX_FROM = 2

#: the sample columns `analysis_samples` returns; `answer` is tuieval.sample_rules.answer_text
ANALYSIS_COLUMNS = ("case_id", "template", "sample_index", "dispatch_order", "answer", "correct", "error",
                    "error_kind", "latency_ms", "ttft_ms", "output_tokens", "cluster")
#: A cached sample's latency is the cached request's, not this run's: the analysis does not see it.
_LEAN_EXPR = {"answer": ANSWER_SQL, "latency_ms": "CASE WHEN cached = 1 THEN NULL ELSE latency_ms END",
              "ttft_ms": "CASE WHEN cached = 1 THEN NULL ELSE ttft_ms END"}
_LEAN_SELECT = tuple(_LEAN_EXPR.get(c, c) for c in ANALYSIS_COLUMNS)
LEAN_SELECT = _LEAN_SELECT  # the same expressions for the store's other modules (tuieval.store.shadow)
#: what `analysis_sample_columns` reads per sample: the lean columns but case id and template
#: (they come from the sorted groups, see there)
_PER_SAMPLE = tuple(c for c in ANALYSIS_COLUMNS if c not in ("case_id", "template"))
_PER_SAMPLE_SELECT = tuple(_LEAN_EXPR.get(c, c) for c in _PER_SAMPLE)


#: a cluster id packed with its sample's row id into one JSON integer (write_cluster_ids): a
#: cluster id is below the samples of one (case, template), far below 2²⁰; row ids below 2⁴³
_CLUSTER_BITS = 20
_CLUSTER_SPAN = 1 << _CLUSTER_BITS
_MAX_PACKED_ID = 1 << (63 - _CLUSTER_BITS)


def _packed_update_works() -> bool:
    """UPDATE … FROM needs SQLite 3.33, json_each its JSON functions (built in since 3.38)."""
    if sqlite3.sqlite_version_info < (3, 33, 0):
        return False
    try:
        with sqlite3.connect(":memory:") as probe:
            return probe.execute("SELECT COUNT(*) FROM json_each('[1, 2]')").fetchone()[0] == 2
    except sqlite3.Error:
        return False


_PACKED_UPDATE = _packed_update_works()

#: rows per fetch when reading a run's samples as columns: bounds the tuples alive at once, and
#: keeps a chunk's tuples in the processor's cache while they are transposed (4,096 rows read a
#: million samples a tenth of a second faster than 65,536)
_COLUMN_CHUNK = 4_096


def _cluster_rows(run_id: str, method: str, clusters: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The cluster rows' values in _CLUSTER_HEAD's order."""
    return [(run_id, c["case_id"], c["template"], c["cluster"], method, c["size"], int(bool(c["correct"])),
             c.get("representative")) for c in clusters]


#: the cluster rows go in bound, as multi-row INSERTs (insert_rows): measured against one packed
#: INSERT … SELECT over json_each (225,677 rows: 0.84 against 1.06 CPU s, json_extract parsing
#: every element again)
_CLUSTER_HEAD = "INSERT INTO clusters (run_id, case_id, template, cluster, method, size, correct, representative)"

#: bound parameters per statement at most: SQLite's default limit since 3.32 (insert_rows takes the
#: connection's own limit when it is lower)
_MAX_PARAMS = 32_766


def insert_rows(conn: sqlite3.Connection, head: str, width: int, rows: Iterable[Sequence[Any]]) -> None:
    """`conn.executemany(head + " VALUES (?, …)", rows)` as multi-row INSERTs of a few thousand
    rows each: the same rows, in the same order (so the same rowids), the same errors raised.

    Why: executemany steps once per row, and the sqlite3 module lets go of the GIL around each
    step. In a thread beside a busy Python thread every retake of the GIL waits for the
    interpreter's switch interval (5 ms), so a writing thread inserting 100,000 rows one step
    at a time barely moves until the other thread stops (the stored report's case rows waited
    out the whole encoding). One statement per few thousand rows takes the GIL a few dozen times,
    and SQLite does the inserting with the GIL released."""
    from itertools import chain, islice

    per = max(1, min(_MAX_PARAMS, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)) // width)
    one = "(" + ", ".join("?" * width) + ")"
    full = f"{head} VALUES {', '.join([one] * per)}"
    it = iter(rows)
    while True:
        chunk = list(islice(it, per))
        if not chunk:
            return
        if set(map(len, chunk)) != {width}:
            raise sqlite3.ProgrammingError(f"{head}: a row without {width} values")
        sql = full if len(chunk) == per else f"{head} VALUES {', '.join([one] * len(chunk))}"
        conn.execute(sql, list(chain.from_iterable(chunk)))


class Beside:
    """Work on a connection of its own, in a thread, or already done (`path` None): `wait()` joins
    it, raises what the work raised and returns what it returned. SQLite releases the GIL inside
    each statement, so on a second core the work goes on while the caller's thread does."""

    _NAME = "tuieval-beside"

    def __init__(self, path: str | None, work, *, milestone=None) -> None:
        """`milestone`: a threading.Event the work sets when what others wait for is done (the
        rest of it goes on); it is set here too when the work fails, after its error is kept."""
        self._error: BaseException | None = None
        self._result: Any = None
        self._thread = None
        self._milestone = milestone
        if path is None:
            return
        import threading

        def run() -> None:
            try:
                conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
                try:
                    conn.execute("PRAGMA busy_timeout = 30000")
                    conn.execute("PRAGMA foreign_keys = ON")
                    conn.execute("PRAGMA synchronous = NORMAL")
                    self._result = work(conn)
                finally:
                    conn.close()
            except BaseException as exc:  # handed to the waiting thread
                self._error = exc
            finally:
                if milestone is not None:
                    milestone.set()

        self._thread = threading.Thread(target=run, name=self._NAME, daemon=False)
        self._thread.start()

    def wait(self) -> Any:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self._result

    def wait_committed(self) -> None:
        """Until the work's milestone (a write: its commit), raising its error if it failed
        before; the whole work when it has none. `wait()` still joins the rest."""
        if self._thread is None or self._milestone is None:
            self.wait()
            return
        self._milestone.wait()
        if self._error is not None:
            self.wait()


class PendingWrite(Beside):
    """A write beside the caller (`Store.write_cluster_columns(background=True)`), or one already done."""

    _NAME = "tuieval-cluster-write"


class PendingRead(Beside):
    """A read beside the caller (`Store.token_usage_beside`); `wait()` returns its rows."""

    _NAME = "tuieval-read"

    @classmethod
    def done(cls, result: Any) -> "PendingRead":
        """A read already made on the caller's connection."""
        read = cls(None, None)
        read._result = result
        return read


#: samples from which `analysis_sample_columns` reads the later half of a run in a thread; off
#: (None): on two idle cores the split read of a million samples took 6.5 s of wall against 3.2 s
#: in one piece (benchmarks/README.md, "After the fifth round of merges") — both threads make
#: Python tuples under the GIL, so the halves do not overlap. Kept, tested, for a machine where
#: they do.
_SPLIT_READ_AT: int | None = None


def _split_case(groups: Sequence[tuple[str, str, int]]) -> str | None:
    """The first case id of the later half of the rows (a case boundary near the middle), or None
    when the rows are too few to split or one case holds them."""
    total = sum(n for _, _, n in groups)
    if _SPLIT_READ_AT is None or total < _SPLIT_READ_AT:
        return None
    seen = 0
    for k, (case_id, _, n) in enumerate(groups):
        seen += n
        if seen * 2 >= total:
            for later, _, _ in groups[k + 1:]:
                if later != case_id:
                    return later
            return None
    return None


#: the (case, template) groups of `analysis_sample_columns` read as one aggregate row on a second
#: connection, in a thread beside the per-sample rows (see `_joined_groups`); False: on the
#: caller's connection, a row per group, first
_GROUPS_BESIDE = True
_SEP = "\x1f"  # (joins the names; a name holding it is read the plain way)


def _groups_sql(where: str) -> str:
    return (f"SELECT case_id, template, COUNT(*) FROM samples WHERE {where} "
            "GROUP BY case_id, template ORDER BY case_id, template")


def _joined_groups(conn: sqlite3.Connection, where: str, args: Sequence[Any]) -> list[tuple[str, str, int]] | None:
    """The groups `_groups_sql` reads (case id, template, samples), from one aggregate row: one
    SQLite step, which releases the GIL for the whole scan, where 100,000 rows would take it back
    100,000 times from a thread that is fetching rows of its own. None when they cannot be read
    so: a name that is not text or holds the separator, counts out of step, an order that is
    not the groups' (group_concat's order is SQLite's to choose), or an error of SQLite's (a
    joined text past its length limit) — the caller then reads them the plain way."""
    try:
        count, odd, cases, templates, counts = conn.execute(
            f"SELECT COUNT(*), SUM(typeof(case_id) != 'text' OR typeof(template) != 'text' "
            f"OR instr(case_id, '{_SEP}') > 0 OR instr(template, '{_SEP}') > 0), "
            f"group_concat(case_id, '{_SEP}'), group_concat(template, '{_SEP}'), group_concat(n) "
            f"FROM ({_groups_sql(where).replace('COUNT(*)', 'COUNT(*) AS n', 1)})", list(args)).fetchone()
    except sqlite3.Error:
        return None
    if count == 0:
        return []
    if odd:
        return None
    cases, templates, counts = cases.split(_SEP), templates.split(_SEP), counts.split(",")
    if not len(cases) == len(templates) == len(counts) == count:
        return None
    pairs = list(zip(cases, templates))
    # strictly ascending as SQLite orders them (UTF-8 byte order is the code point order of str):
    # then this is the ORDER BY's order, whatever order group_concat took them in
    if not all(map(tuple.__lt__, pairs, pairs[1:])):
        return None
    return list(zip(cases, templates, map(int, counts)))


def _read_per_sample(cur, where: str, args: Sequence[Any]) -> list[list[Any]]:
    """The per-sample columns of `analysis_sample_columns` (id first), for the rows `where` picks,
    in the analysis's order: fetched in chunks (plain tuples) and transposed."""
    cur.execute(f"SELECT id, {', '.join(_PER_SAMPLE_SELECT)} FROM samples WHERE {where} "
                "ORDER BY case_id, template, sample_index", list(args))
    lists: list[list[Any]] = [[] for _ in range(1 + len(_PER_SAMPLE))]
    while True:
        chunk = cur.fetchmany(_COLUMN_CHUNK)
        if not chunk:
            break
        for col, values in zip(lists, zip(*chunk)):
            col.extend(values)
    return lists


_CASES_SQL = "SELECT case_id, position, metadata, input_text FROM cases WHERE run_id = ? ORDER BY position"


def _case_dicts(ids: Sequence[str], positions: Sequence[int], metadata: Sequence[str],
                texts: Sequence[str]) -> list[dict[str, Any]]:
    """`analysis_cases`' dictionaries from its four columns."""
    # one JSON array decoded in one call: a call per case costs the decoder's set-up 100,000 times
    decoded = json.loads("[" + ",".join(metadata) + "]")
    if len(decoded) != len(ids):  # a text holding two values (not ours): decode one by one
        decoded = [json.loads(m) for m in metadata]
    return [{"case_id": c, "position": p, "metadata": m, "input_text": t}
            for c, p, m, t in zip(ids, positions, decoded, texts)]


def _joined_cases(conn: sqlite3.Connection, run_id: str) -> list[dict[str, Any]] | None:
    """`analysis_cases` from one aggregate row (one SQLite step: the GIL released for the whole
    scan and sort); None when it cannot be read so — a column of another type, a name or text
    holding the separator, positions not strictly ascending (then group_concat's order, which is
    SQLite's to choose, might not be the ORDER BY's), or an error of SQLite's (a joined text past
    its length limit)."""
    try:
        count, odd, ids, positions, metadata, texts = conn.execute(
            "SELECT COUNT(*), SUM(typeof(case_id) != 'text' OR typeof(position) != 'integer' "
            f"OR typeof(metadata) != 'text' OR typeof(input_text) != 'text' OR instr(case_id, '{_SEP}') > 0 "
            f"OR instr(metadata, '{_SEP}') > 0 OR instr(input_text, '{_SEP}') > 0), "
            f"group_concat(case_id, '{_SEP}'), group_concat(position), group_concat(metadata, '{_SEP}'), "
            f"group_concat(input_text, '{_SEP}') FROM ({_CASES_SQL})", (run_id,)).fetchone()
    except sqlite3.Error:
        return None
    if count == 0:
        return []
    if odd:
        return None
    ids, metadata, texts = ids.split(_SEP), metadata.split(_SEP), texts.split(_SEP)
    order = list(map(int, positions.split(",")))
    if not len(ids) == len(order) == len(metadata) == len(texts) == count or \
            not all(map(int.__lt__, order, order[1:])):
        return None
    try:
        return _case_dicts(ids, order, metadata, texts)
    except ValueError:  # (a text that is not JSON: the plain read raises it)
        return None


class PendingCases:
    """`Store.analysis_cases_beside`'s handle: `wait()` joins the thread and returns the cases."""

    def __init__(self, store: "Store", run_id: str, read: "PendingRead | None") -> None:
        self._store, self._run_id, self._read = store, run_id, read
        self._cases: list[dict[str, Any]] | None = None

    def wait(self) -> list[dict[str, Any]]:
        """The cases (read once: a second call returns the same list)."""
        if self._cases is None:
            read, self._read = self._read, None
            got = None
            if read is not None:
                try:
                    got = read.wait()
                except sqlite3.Error:  # (a second connection refused)
                    got = None
            self._cases = got if got is not None else self._store.analysis_cases(self._run_id)
        return self._cases


class RunNotFound(LookupError):
    """No run with that id (or no runs at all, for `latest`), or a prefix that matches several."""


class StoreError(Exception):
    """The file given as the database cannot be used: one line naming the path and why.

    Raised before anything is written, so a file that is not ours (another program's SQLite
    database, a truncated copy, a directory) is left exactly as it was.
    """


SQLITE_MAGIC = b"SQLite format 3\x00"
#: the tables every tuieval database has from schema version 1 on
OUR_TABLES = {"runs", "cases", "samples"}


def check_db_file(path: str, *, readonly: bool = False) -> None:
    """Refuse, with a StoreError, a path that cannot be (or become) a tuieval database.

    Checked from the file itself before SQLite opens it: SQLite would create a missing
    directory's file lazily, treat an empty file as a new database and a truncated one as
    readable until the first query reaches a missing page.
    """
    p = Path(path)
    if p.is_dir():
        raise StoreError(f"{path}: is a directory, not a database file")
    if not p.exists():
        parent = p.resolve().parent
        if readonly:
            raise StoreError(f"{path}: no such database")
        if not parent.is_dir():
            raise StoreError(f"{path}: directory {parent} does not exist")
        if not os.access(parent, os.W_OK):
            raise StoreError(f"{path}: cannot create the database: directory {parent} is read-only")
        return
    try:
        with open(p, "rb") as f:
            header = f.read(100)
    except OSError as exc:
        raise StoreError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not header:
        raise StoreError(f"{path}: is an empty file, not a tuieval database")
    if not header.startswith(SQLITE_MAGIC):
        raise StoreError(f"{path}: is not a database (not an SQLite file)")
    if len(header) < 100:
        raise StoreError(f"{path}: is truncated ({len(header)} bytes, shorter than an SQLite header)")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    change_counter, n_pages, valid_for = (int.from_bytes(header[o:o + 4], "big") for o in (24, 28, 92))
    # The header's page count is trustworthy only when written by the same change (SQLite ≥ 3.7),
    # and only with no write-ahead log beside the file: a checkpoint in progress writes page 1
    # before it extends the file, and the app opens connections while a headless run writes.
    size = p.stat().st_size
    wal = Path(str(p) + "-wal")
    settled = not wal.exists() or wal.stat().st_size == 0
    if settled and n_pages and valid_for == change_counter and size < n_pages * page_size:
        raise StoreError(f"{path}: is truncated ({size} bytes of {n_pages * page_size})")
    if not readonly and not os.access(p, os.W_OK):
        raise StoreError(f"{path}: is read-only (tuieval writes runs and reports to its database)")


def _check_is_ours(conn: sqlite3.Connection, path: str) -> None:
    """A database that has tables but not ours belongs to another program: never migrate into it."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if tables and not OUR_TABLES <= tables:
        others = ", ".join(sorted(tables - OUR_TABLES)[:3])
        raise StoreError(f"{path}: is an SQLite database of another program (tables: {others}), "
                         "not a tuieval database")


def default_db_path() -> str:
    return os.environ.get("TUIEVAL_DB") or DEFAULT_DB


#: json.dumps(value, ensure_ascii=False) with its C encoder made once (tuieval.json_text: dumps
#: makes one per call): a run's cases and samples are encoded tens of thousands of times
_encode_json = json_text.encoder(ensure_ascii=False)


def sample_values(sample: dict[str, Any]) -> list[Any]:
    """A sample dict as the values of `INSERT_SAMPLE` (SAMPLE_COLUMNS order): prompt and scores as
    JSON, the flags as 0/1, created_at now and one attempt unless given."""
    values = list(map(sample.get, SAMPLE_COLUMNS))   # the caller's dict is left as it is
    for i in _JSON_AT:
        if not isinstance(values[i], (str, type(None))):
            values[i] = _encode_json(values[i])
    for i in _FLAG_AT:
        values[i] = int(bool(values[i]))
    if "created_at" not in sample:
        values[_CREATED_AT] = now_iso()
    if "attempts" not in sample:
        values[_ATTEMPTS_AT] = 1
    return values


@contextmanager
def indexed_in_one_statement(conn: sqlite3.Connection) -> Iterator[None]:
    """Inside a write transaction: the samples inserted in the block are indexed for full-text
    search by one INSERT … SELECT at its end instead of by the insert trigger, once per row.

    The trigger's program per row (and FTS5's work per statement) cost about as much again as the
    insert itself; one statement for the block's rows tokenises the same text once. While the block
    runs, the row in search_deferred makes the trigger skip (its WHEN clause); it is deleted before
    the block ends, inside the caller's transaction, so no other connection ever sees it, and a
    failure rolls it back with the rows. ids are assigned above the largest one, and the write lock
    keeps them ours, so the rows inserted in the block are exactly those above it (a key already
    stored inserts nothing). No schema change per block: dropping and creating the trigger instead
    cost more than the trigger itself below about ten rows (every statement re-prepared)."""
    if not conn.in_transaction:  # the deferral must never be committed
        raise RuntimeError("indexed_in_one_statement needs an open write transaction")
    last = conn.execute("SELECT COALESCE(MAX(id), 0) FROM samples").fetchone()[0]
    conn.execute("INSERT INTO search_deferred (id) VALUES (1)")
    yield
    conn.execute("DELETE FROM search_deferred")
    conn.execute("INSERT INTO samples_fts (rowid, prompt, response) "
                 "SELECT id, prompt, response FROM samples WHERE id > ?", (last,))


def now_iso() -> str:
    """The UTC time to the second, ISO 8601 (`2026-12-02T01:00:00+00:00`): the text of
    `datetime.now(timezone.utc).isoformat(timespec="seconds")`, made once per second (every stored
    sample asks for it, and making it took about as long as encoding the sample's scores)."""
    global _now_text
    second = int(time.time())
    made_for, text = _now_text  # one tuple, swapped whole: a thread never sees half of it
    if second != made_for:
        text = datetime.fromtimestamp(second, timezone.utc).isoformat(timespec="seconds")
        _now_text = (second, text)
    return text


_now_text: tuple[int, str] = (-1, "")


def new_run_id() -> str:
    """Sortable by time, unique without coordination: 20261128-194432-3f2a."""
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Store:
    """A connection to one tuieval database file."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, readonly: bool = False) -> None:
        self.path = str(path or default_db_path())
        check_db_file(self.path, readonly=readonly)
        uri = f"file:{Path(self.path).resolve()}?mode=ro" if readonly else None
        try:
            self.conn = sqlite3.connect(uri or self.path, uri=bool(uri), timeout=30.0, isolation_level=None,
                                        check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open: {exc}") from None
        try:
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA busy_timeout = 30000")
            self.conn.execute("PRAGMA foreign_keys = ON")
            _check_is_ours(self.conn, self.path)
            if not readonly:
                self.conn.execute("PRAGMA journal_mode = WAL")
                # NORMAL in WAL mode: a committed sample survives a process crash (kill -9);
                # only a power loss could roll back the last transactions.
                self.conn.execute("PRAGMA synchronous = NORMAL")
                migrate(self.conn)
        except sqlite3.Error as exc:
            self.conn.close()
            reason = "read-only" if "readonly" in str(exc) else str(exc)
            raise StoreError(f"{self.path}: cannot use this database: {reason}") from None
        except (StoreError, RuntimeError) as exc:
            self.conn.close()
            raise StoreError(str(exc) if isinstance(exc, StoreError) else f"{self.path}: {exc}") from None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------

    def create_run(self, run: dict[str, Any], cases: Iterable[dict[str, Any]]) -> str:
        """Insert a run and its cases in one transaction; return the run id."""
        run = dict(run)
        run.setdefault("id", new_run_id())
        run.setdefault("started_at", now_iso())
        run.setdefault("status", "running")
        run.setdefault("pid", os.getpid())
        run["config"] = json.dumps(run.get("config") or {}, ensure_ascii=False)
        cols = list(run)
        with self._transaction():
            self.conn.execute(
                f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                [run[c] for c in cols],
            )
            self.conn.executemany(
                "INSERT INTO cases (run_id, case_id, position, vars, targets, metadata, input_text) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (run["id"], c["case_id"], c["position"], _encode_json(c["vars"]), _encode_json(c["targets"]),
                     _encode_json(c["metadata"]), c["input_text"])
                    for c in cases
                ],
            )
        return run["id"]

    def add_sample(self, sample: dict[str, Any]) -> bool:
        """Commit one finished sample. Returns False if that (case, template, index) was already stored."""
        return self._insert_sample(sample)

    def add_samples(self, samples: list[dict[str, Any]]) -> list[bool]:
        """Commit finished samples in one transaction (tuieval.engine.writer batches them: one commit,
        and one full-text index segment, per batch instead of per sample). Returns, per sample,
        whether it was stored (False: that key was already there); nothing is stored if one fails."""
        if len(samples) == 1:
            return [self._insert_sample(samples[0])]
        with self._transaction():
            if len(samples) < BULK_INDEX_FROM:
                return [self._insert_sample(s) for s in samples]
            with indexed_in_one_statement(self.conn):
                return self._insert_samples(samples)

    def _insert_samples(self, samples: list[dict[str, Any]]) -> list[bool]:
        # One executemany; its row count says whether every key was new (a resumed run's plan
        # leaves out what is stored, so nearly always). If not, which ones were is read back:
        # a key is ours if its row's id is among those this statement inserted.
        values = [sample_values(s) for s in samples]
        last = self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM samples").fetchone()[0]
        added = self.conn.executemany(_INSERT_SAMPLE, values).rowcount
        if added == len(values):
            return [True] * added
        new = {tuple(r) for r in self.conn.execute(
            "SELECT run_id, case_id, template, sample_index FROM samples WHERE id > ?", (last,))}
        flags = []
        for s in samples:  # a key twice in one batch: the first is stored, the second is not
            key = (s["run_id"], s["case_id"], s["template"], s["sample_index"])
            flags.append(key in new)
            new.discard(key)
        return flags

    def _insert_sample(self, sample: dict[str, Any]) -> bool:
        # ON CONFLICT DO NOTHING, not OR IGNORE: only a duplicate key may be skipped; a
        # NOT NULL violation must raise rather than lose a finished sample silently.
        cur = self.conn.execute(_INSERT_SAMPLE, sample_values(sample))
        return cur.rowcount == 1

    def add_judgement(self, judgement: dict[str, Any]) -> bool:
        """Commit one judge request's outcome. False if that judgement was already stored."""
        row = dict(judgement)
        row.setdefault("created_at", now_iso())
        row.setdefault("attempts", 1)
        row.setdefault("orientation", "")
        if not isinstance(row.get("prompt"), str):
            row["prompt"] = json.dumps(row.get("prompt"), ensure_ascii=False)
        row["parsed"] = int(bool(row.get("parsed")))
        row["cached"] = int(bool(row.get("cached")))
        row["batched"] = int(bool(row.get("batched")))
        values = [row.get(c) for c in JUDGEMENT_COLUMNS]
        cur = self.conn.execute(
            f"INSERT INTO judgements ({', '.join(JUDGEMENT_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(JUDGEMENT_COLUMNS))}) "
            "ON CONFLICT (run_id, case_id, template, sample_index, scorer, judge, judge_sample, orientation) DO NOTHING",
            values,
        )
        return cur.rowcount == 1

    def set_sample_verdict(self, run_id: str, key: tuple[str, str, int], scores: dict[str, Any],
                           primary: dict[str, Any] | None) -> None:
        """Write a judged sample's per-scorer verdicts, and its own when the judge is the primary scorer.

        An error sample keeps correct = 0 (tuieval.sample_rules)."""
        args: list[Any] = [json.dumps(scores, ensure_ascii=False)]
        sql = "UPDATE samples SET scores = ?"
        if primary is not None:
            sql += ", correct = ? , score = ?"
            args += [int(bool(primary["correct"])), float(primary["score"])]
        self.conn.execute(sql + " WHERE run_id = ? AND case_id = ? AND template = ? AND sample_index = ? "
                                "AND error IS NULL", args + [run_id, *key])

    def set_contamination(self, run_id: str, settings: dict[str, Any], ngram: dict[str, Any] | None) -> None:
        """Mark a run as a contamination probe run (tuieval.contamination), with its settings and
        corpus scan."""
        self.conn.execute(
            "INSERT INTO contamination (run_id, settings, ngram, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (run_id) DO UPDATE SET settings = excluded.settings, ngram = excluded.ngram",
            (run_id, json.dumps(settings, ensure_ascii=False),
             None if ngram is None else json.dumps(ngram, ensure_ascii=False), now_iso()))

    def get_contamination(self, run_id: str) -> dict[str, Any] | None:
        """{"settings", "ngram"} of a contamination probe run; None for any other run."""
        try:
            row = self.conn.execute("SELECT settings, ngram FROM contamination WHERE run_id = ?", (run_id,)).fetchone()
        except sqlite3.OperationalError:  # an older file opened read-only: it has no probe runs
            return None
        if row is None:
            return None
        return {"settings": json.loads(row[0]), "ngram": json.loads(row[1]) if row[1] is not None else None}

    def set_status(self, run_id: str, status: str, *, finished: bool = True) -> None:
        self.conn.execute(
            "UPDATE runs SET status = ?, finished_at = ?, pid = ? WHERE id = ?",
            (status, now_iso() if finished else None, None if finished else os.getpid(), run_id),
        )

    def mark_resumed(self, run_id: str) -> None:
        self.conn.execute("UPDATE runs SET status = 'running', finished_at = NULL, pid = ? WHERE id = ?",
                          (os.getpid(), run_id))

    def write_clusters(self, run_id: str, method: str, sample_clusters: dict[tuple, int],
                       clusters: list[dict[str, Any]]) -> None:
        """Persist semantic clusters so the app and reports read them without recomputing."""
        with self._transaction():
            self.conn.execute("DELETE FROM clusters WHERE run_id = ?", (run_id,))
            self.conn.executemany(
                "UPDATE samples SET cluster = ? WHERE run_id = ? AND case_id = ? AND template = ? AND sample_index = ?",
                [(cl, run_id, k[0], k[1], k[2]) for k, cl in sample_clusters.items()],
            )
            self._insert_clusters(run_id, method, clusters)

    def write_cluster_ids(self, run_id: str, method: str, sample_clusters: Iterable[tuple[int, int]],
                          clusters: list[dict[str, Any]], *, background: bool = False) -> "PendingWrite":
        """`write_clusters` with each sample named by its row id (`analysis_sample_columns`' "id"):
        (cluster, id) pairs. The primary key finds each row, not the four-column unique index.

        With `background` (and a file SQLite can open twice, outside a transaction) the write
        runs in a thread on a connection of its own: SQLite rewriting a million sample rows is
        seconds in which the caller's thread goes on (the statements release the GIL). The
        caller must `wait()` on the returned handle before it writes or returns (it raises the
        write's error, if any); without `background` the write is done when this returns."""
        pairs = list(sample_clusters)
        return self.write_cluster_columns(run_id, method, [c for c, _ in pairs], [i for _, i in pairs], clusters,
                                          background=background)

    def write_cluster_columns(self, run_id: str, method: str, cluster_ids, sample_ids, clusters: list[dict[str, Any]],
                              *, background: bool = False) -> "PendingWrite":
        """`write_cluster_ids` given two integer arrays (numpy): each sample's cluster and row id,
        packed with numpy rather than a pair at a time (a million pairs are most of a second) —
        with `background`, packed in the writing thread too, as are the cluster rows' values:
        the caller's thread only hands the arrays over."""
        import numpy as np

        cl = np.asarray(cluster_ids, dtype=np.int64)
        ids = np.asarray(sample_ids, dtype=np.int64)

        def prepare() -> tuple[list[tuple[int, int]] | None, str | None]:
            fits = bool(((cl >= 0) & (cl < _CLUSTER_SPAN) & (ids >= 0) & (ids < _MAX_PACKED_ID)).all())
            if not (_PACKED_UPDATE and fits):
                return list(zip(cl.tolist(), ids.tolist())), None
            return None, "[" + ",".join(map(str, ((ids << _CLUSTER_BITS) | cl).tolist())) + "]"

        return self._write_clusters_by_id(run_id, method, prepare, clusters, background)

    def _write_clusters_by_id(self, run_id: str, method: str, prepare, clusters: list[dict[str, Any]],
                              background: bool) -> "PendingWrite":
        """The write of `write_cluster_ids`: `prepare()` gives the packed JSON array of
        id·2²⁰ + cluster when SQLite can take it (else the (cluster, id) pairs, one statement each)."""

        import threading

        committed = threading.Event()

        def write(conn: sqlite3.Connection, beside: bool = True) -> None:
            pairs, packed = prepare()
            rows = _cluster_rows(run_id, method, clusters)
            if beside:
                # the commit copies nothing back into the file: the checkpoint of the rewritten
                # sample pages (150 MB at a million samples) follows it below, while the report's
                # writer, waiting only for the commit, goes on
                conn.execute("PRAGMA wal_autocheckpoint = 0")
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM clusters WHERE run_id = ?", (run_id,))
                if packed is not None:
                    # one statement over the packed array (json_each, UPDATE … FROM): SQLite walks
                    # the array itself instead of one bound statement per sample
                    conn.execute(f"UPDATE samples SET cluster = j.value & {_CLUSTER_SPAN - 1} FROM json_each(?) AS j "
                                 f"WHERE samples.id = j.value >> {_CLUSTER_BITS}", (packed,))
                else:
                    conn.executemany("UPDATE samples SET cluster = ? WHERE id = ?", pairs)
                insert_rows(conn, _CLUSTER_HEAD, 8, rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            if beside:
                committed.set()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:  # (nothing is lost: the next commit past the limit checkpoints)
                    pass

        if background and self._can_write_beside():
            return PendingWrite(self.path, write, milestone=committed)
        write(self.conn, beside=False)
        return PendingWrite(None, None)

    def write_beside(self, work) -> PendingWrite:
        """`work(store)` with a Store over a second connection, in a thread (a PendingWrite: the
        caller must `wait()` on it), when the file can be opened twice outside a transaction;
        else `work(self)` at once (the handle is then done). The thread's store runs no checks
        or migrations: this one did them."""
        if not self._can_write_beside():
            work(self)
            return PendingWrite(None, None)
        path = self.path

        def run(conn: sqlite3.Connection) -> None:
            other = Store.__new__(Store)
            other.path, other.conn = path, conn
            conn.row_factory = sqlite3.Row
            work(other)

        return PendingWrite(path, run)

    def _can_write_beside(self) -> bool:
        """Whether a second connection can write this file while this one goes on reading."""
        return (self.path not in ("", ":memory:") and not self.path.startswith("file:")
                and not self.conn.in_transaction and os.path.exists(self.path))

    def _insert_clusters(self, run_id: str, method: str, clusters: list[dict[str, Any]]) -> None:
        insert_rows(self.conn, _CLUSTER_HEAD, 8, _cluster_rows(run_id, method, clusters))

    def transaction(self):
        """One write transaction (BEGIN IMMEDIATE … COMMIT, ROLLBACK on an exception)."""
        return self._transaction()

    def _transaction(self):
        store = self

        class _Tx:
            def __enter__(self_inner):
                store.conn.execute("BEGIN IMMEDIATE")

            def __exit__(self_inner, exc_type, *_):
                store.conn.execute("ROLLBACK" if exc_type else "COMMIT")

        return _Tx()

    # -- reading -----------------------------------------------------------------

    def resolve_run_id(self, run_id: str) -> str:
        if run_id == "latest":
            row = self.conn.execute("SELECT id FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1").fetchone()
            if row is None:
                raise RunNotFound("no runs in the database yet")
            return row["id"]
        row = self.conn.execute("SELECT id FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            # a tag (tuieval.store.tags) names one run; tag names start with a letter, ids with a digit
            from tuieval.store.tags import tagged_run

            tagged = tagged_run(self, run_id)
            if tagged is not None:
                return tagged
            # a unique prefix is enough, as with git hashes; LIKE would treat _ and % as wildcards
            rows = self.conn.execute(
                "SELECT id FROM runs WHERE substr(id, 1, length(?)) = ? ORDER BY started_at, rowid LIMIT ?",
                (run_id, run_id, AMBIGUOUS_SHOWN + 1)).fetchall()
            if len(rows) == 1:
                return rows[0]["id"]
            if rows:
                ids = [r["id"] for r in rows[:AMBIGUOUS_SHOWN]]
                more = ", …" if len(rows) > AMBIGUOUS_SHOWN else ""
                raise RunNotFound(f"ambiguous: {run_id!r} matches {', '.join(ids)}{more}")
            from tuieval.store.tags import TAG_PATTERN

            raise RunNotFound(f"no run or tag {run_id!r}" if TAG_PATTERN.fullmatch(run_id) else f"no run {run_id!r}")
        return row["id"]

    def get_run(self, run_id: str) -> dict[str, Any]:
        row = self.conn.execute(
            "SELECT r.*, (SELECT COUNT(*) FROM samples s WHERE s.run_id = r.id) AS n_samples, "
            "(SELECT COUNT(*) FROM samples s WHERE s.run_id = r.id AND s.error IS NOT NULL) AS n_errors "
            "FROM runs r WHERE r.id = ?",
            (self.resolve_run_id(run_id),),
        ).fetchone()
        return self._run_dict(row)

    def list_runs(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT r.*, COUNT(s.id) AS n_samples, SUM(s.correct) AS n_correct, "
            "SUM(s.error IS NOT NULL) AS n_errors FROM runs r LEFT JOIN samples s ON s.run_id = r.id "
            "GROUP BY r.id ORDER BY r.started_at DESC, r.rowid DESC"
        ).fetchall()
        return [self._run_dict(r) for r in rows]

    def _run_dict(self, row: sqlite3.Row) -> dict[str, Any]:
        run = dict(row)
        run["config"] = json.loads(run.get("config") or "{}")
        run["simulated"] = bool(run.get("simulated"))
        # A run whose writer died (crash, kill -9) is partial, not running forever.
        if run["status"] == "running" and not _pid_alive(run.get("pid")):
            run["status"] = "partial"
        return run

    def get_cases(self, run_id: str, case_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """A run's cases in position order; with `case_ids`, only those (one batch of a run that
        grows, read without decoding the rest)."""
        sql = "SELECT case_id, position, vars, targets, metadata, input_text FROM cases WHERE run_id = ?"
        args: tuple[Any, ...] = (run_id,)
        if case_ids is not None:
            sql += " AND case_id IN (SELECT value FROM json_each(?))"
            args = (run_id, json.dumps(list(case_ids)))
        rows = self.conn.execute(sql + " ORDER BY position", args).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            for key in ("vars", "targets", "metadata"):
                d[key] = json.loads(d[key])
            out.append(d)
        return out

    def iter_samples(self, run_id: str) -> Iterator[dict[str, Any]]:
        """A run's samples one at a time, in the order of `get_samples`, without holding them all
        (`tuieval export` of a million-sample run)."""
        cur = self.conn.execute("SELECT * FROM samples WHERE run_id = ? ORDER BY case_id, template, sample_index",
                                (run_id,))
        for row in cur:
            yield dict(row)

    def has_clusters(self, run_id: str) -> bool:
        """Whether the analysis has written the run's clusters (samples.cluster)."""
        return self.conn.execute("SELECT 1 FROM samples WHERE run_id = ? AND cluster IS NOT NULL LIMIT 1",
                                 (run_id,)).fetchone() is not None

    def get_samples(self, run_id: str, *, case_id: str | None = None,
                    columns: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        """A run's samples (or one case's), ordered by case, template and sample index.

        `columns` limits what is read: prompts are most of a row's bytes and most readers
        never look at them.
        """
        cols = ", ".join(c for c in columns if c.isidentifier()) if columns else "*"
        query = f"SELECT {cols} FROM samples WHERE run_id = ?"
        args: list[Any] = [run_id]
        if case_id is not None:
            query += " AND case_id = ?"
            args.append(case_id)
        rows = self.conn.execute(query + " ORDER BY case_id, template, sample_index", args).fetchall()
        return [dict(r) for r in rows]

    # -- what the analysis, the report and the app read ------------------------------

    def has_runs(self) -> bool:
        return self.conn.execute("SELECT 1 FROM runs LIMIT 1").fetchone() is not None

    def analysis_cases(self, run_id: str) -> list[dict[str, Any]]:
        """What the analysis reads of each case, in suite order: no vars or targets to decode."""
        rows = self.conn.execute(_CASES_SQL, (run_id,)).fetchall()
        if not rows:
            return []
        ids, positions, metadata, texts = zip(*rows)
        return _case_dicts(ids, positions, metadata, texts)

    def analysis_cases_beside(self, run_id: str) -> "PendingCases":
        """`analysis_cases`, read in a thread on a second connection while the caller reads the
        sample columns (when the file can be opened twice): as one aggregate row
        (`_joined_cases`), so SQLite's scan and sort of the case rows goes on without the GIL
        beside the caller's fetches. `wait()` returns the same list; where the joined read
        cannot be used, it is `analysis_cases` on this connection."""
        if not self._can_write_beside():
            return PendingCases(self, run_id, None)
        return PendingCases(self, run_id, PendingRead(self.path, lambda conn: _joined_cases(conn, run_id)))

    def analysis_samples(self, run_id: str) -> list[dict[str, Any]]:
        """The sample columns the analysis reads, with the sample rules applied once
        (tuieval.sample_rules): `correct` is False for an error sample, and `answer` is the
        text compared and clustered. Not the prompt, reasoning or per-scorer detail, which
        are most of a row's bytes."""
        rows = self.conn.execute(
            f"SELECT {', '.join(_LEAN_SELECT)} FROM samples WHERE run_id = ? ORDER BY case_id, template, sample_index",
            (run_id,)).fetchall()
        out = [dict(zip(ANALYSIS_COLUMNS, r)) for r in rows]
        for s in out:
            s["correct"] = is_correct(s)
        return out

    def analysis_sample_columns(self, run_id: str, case_ids: Iterable[str] | None = None, *,
                                split: bool = True) -> "SampleColumns":
        """`analysis_samples` as columns (tuieval.sample_columns): the same rows in the same order,
        read in chunks and transposed, with no dictionary per sample. Also holds each sample's
        row `id` (column "id", not part of the rows), for writing its cluster back by id.
        `case_ids` limits it to those cases' samples (a few: the HTML page's worst cases).

        Case id and template are not read per sample: the rows come sorted by them, so one
        `GROUP BY` over the unique index (which holds both) gives each (case, template) and how
        many samples it has, and the two columns are those names repeated (one string object per
        group, not per sample). Both queries read one snapshot (a read transaction), so the
        counts are those of the rows. When the file can be opened twice, the groups are read
        beside the rows instead, as one aggregate row on a second connection in a thread
        (`_joined_groups`: SQLite's scan of the index without the GIL), kept only when no other
        connection committed meanwhile (`PRAGMA data_version` unchanged), else the read is made
        again in one piece.

        A large run (`split`, from _SPLIT_READ_AT samples when that is set, and the file can be opened twice) is
        read in two halves at a case boundary, the later one in a thread on a second connection:
        most of the read is SQLite stepping through rows, which releases the GIL, so on two cores
        the halves go on at once. The second connection reads its own snapshot, so the read is
        kept only if no other connection committed meanwhile (`PRAGMA data_version` unchanged),
        else it is made again in one piece."""
        where, args = "run_id = ?", [run_id]
        if case_ids is not None:
            ids = list(case_ids)
            where += f" AND case_id IN ({', '.join('?' * len(ids))})"
            args += ids
        own = not self.conn.in_transaction
        beside = split and case_ids is None and self._can_write_beside()
        version = self._data_version() if beside else None
        # the groups beside the rows (the split read, when on, needs them first)
        joined = (PendingRead(self.path, lambda conn: _joined_groups(conn, where, args))
                  if beside and _GROUPS_BESIDE and _SPLIT_READ_AT is None else None)
        if own:
            self.conn.execute("BEGIN")
        later = None
        pivot = None
        try:
            cur = self.conn.cursor()
            cur.row_factory = None  # plain tuples: a sqlite3.Row per sample costs a third of a second a million
            if joined is not None:
                lists = _read_per_sample(cur, where, args)
                try:
                    groups = joined.wait()
                except sqlite3.Error:  # (a second connection refused)
                    groups = None
                joined = None
                if groups is None:  # read the plain way, in this read's own snapshot
                    groups = cur.execute(_groups_sql(where), args).fetchall()
            else:
                groups = cur.execute(_groups_sql(where), args).fetchall()
                pivot = _split_case(groups) if beside else None
                if pivot is not None:
                    later = PendingRead(self.path, lambda conn: _read_per_sample(
                        conn.cursor(), where + " AND case_id >= ?", [*args, pivot]))
                    lists = _read_per_sample(cur, where + " AND case_id < ?", [*args, pivot])
                    for col, rest in zip(lists, later.wait()):
                        col.extend(rest)
                else:
                    lists = _read_per_sample(cur, where, args)
            cur.close()
        finally:
            for work in (later, joined):  # (joined whatever happened)
                if work is not None:
                    try:
                        work.wait()
                    except Exception:
                        pass  # (the read's own error is the one raised)
            if own:
                self.conn.execute("COMMIT")  # (a read: nothing to keep or undo)
        # the groups or the later half came from a second connection's snapshot: kept only when no
        # other connection committed meanwhile, else the read is made again in one piece
        if beside and (pivot is not None or _GROUPS_BESIDE and _SPLIT_READ_AT is None) \
                and self._data_version() != version:
            return self.analysis_sample_columns(run_id, split=False)
        from tuieval.sample_columns import SampleColumns

        return SampleColumns(ANALYSIS_COLUMNS, dict(zip(("id",) + _PER_SAMPLE, lists)), groups=groups)

    def _data_version(self) -> int:
        """Changes whenever another connection commits to the file (SQLite's PRAGMA data_version)."""
        return self.conn.execute("PRAGMA data_version").fetchone()[0]

    def latency_and_correct(self, run_id: str) -> tuple[list[float | None], list[bool]]:
        """Every sample's latency as the analysis sees it (None when cached or unmeasured) and
        whether it is correct by the sample rules, in no particular order: what a latency
        histogram and a deadline curve need, two columns instead of a run's rows."""
        rows = self.conn.execute(f"SELECT {_LEAN_EXPR['latency_ms']}, correct AND error IS NULL FROM samples "
                                 "WHERE run_id = ?", (run_id,)).fetchall()
        if not rows:
            return [], []
        latency, correct = zip(*rows)
        return list(latency), [bool(c) for c in correct]

    def get_case(self, run_id: str, case_id: str) -> dict[str, Any] | None:
        """One case, its vars, targets and metadata decoded; None when the run has no such case."""
        row = self.conn.execute(
            "SELECT case_id, position, vars, targets, metadata, input_text FROM cases WHERE run_id = ? AND case_id = ?",
            (run_id, case_id)).fetchone()
        if row is None:
            return None
        case = dict(row)
        for key in ("vars", "targets", "metadata"):
            case[key] = json.loads(case[key])
        return case

    def stored_verdicts(self, run_id: str) -> dict[str, tuple[list[bool], list[Any]]]:
        """Each scorer's stored verdict on every sample, read by SQLite's JSON functions rather than
        by decoding every row's `scores` in Python: {scorer name: (correct, extracted)}, one entry
        per sample in `get_samples` order, names in order of first appearance (the first sample
        that has them, then their order in its object). What `tuieval rescore` compares the
        built-in extractors with."""
        order = "ORDER BY case_id, template, sample_index"
        names = self._scorer_names(run_id, order)
        out: dict[str, tuple[list[bool], list[Any]]] = {}
        for name in names:
            if '"' in name or "\\" in name:
                # a key the JSON path syntax cannot quote: decode the rows for this one
                rows = self.conn.execute(f"SELECT scores FROM samples WHERE run_id = ? {order}", (run_id,))
                got = [(json.loads(r[0] or "{}") or {}).get(name) or {} for r in rows]
                out[name] = ([bool(g.get("correct")) for g in got], [g.get("extracted") for g in got])
                continue
            base = f'$."{name}"'
            rows = self.conn.execute(
                f"SELECT json_extract(scores, ?), json_extract(scores, ?), json_type(scores, ?) FROM samples "
                f"WHERE run_id = ? {order}",
                (base + ".correct", base + ".extracted", base + ".extracted", run_id)).fetchall()
            # an object or array extracted comes back as JSON text: decoded as the stored value
            out[name] = ([bool(r[0]) for r in rows],
                         [json.loads(r[1]) if r[2] in ("object", "array") else r[1] for r in rows])
        return out

    def _scorer_names(self, run_id: str, order: str) -> list[str]:
        """The scorer names of a run's `scores` objects in order of first appearance (see
        `stored_verdicts`). Usually every sample has the same scorers: then the order is the
        keys of the first object in sample order, read from that one row, and one pass over the
        rows (no ordering) only checks that no other name occurs; otherwise each name's first
        row is found by numbering the rows in order (three times the cost)."""
        first = self.conn.execute(
            f"SELECT j.key FROM (SELECT scores FROM samples WHERE run_id = ? AND json_type(scores) = 'object' "
            f"{order} LIMIT 1) AS s, json_each(s.scores) AS j ORDER BY j.id", (run_id,)).fetchall()
        names = [r[0] for r in first]
        everywhere = self.conn.execute(
            "SELECT DISTINCT j.key FROM samples, json_each(samples.scores) AS j "
            "WHERE run_id = ? AND json_type(scores) = 'object'", (run_id,)).fetchall()
        if len(everywhere) == len(names) and {r[0] for r in everywhere} == set(names):
            return names
        rows = self.conn.execute(
            f"WITH s AS (SELECT scores, ROW_NUMBER() OVER ({order}) AS ord FROM samples "
            "WHERE run_id = ? AND json_type(scores) = 'object') "
            "SELECT j.key, MIN(s.ord), j.id FROM s, json_each(s.scores) AS j GROUP BY j.key", (run_id,)).fetchall()
        return [r[0] for r in sorted(rows, key=lambda r: (r[1], r[2]))]

    def case_targets(self, run_id: str) -> dict[str, tuple[Any, str]]:
        """case_id → (targets, input text), for listing a slice's cases."""
        rows = self.conn.execute("SELECT case_id, targets, input_text FROM cases WHERE run_id = ?", (run_id,))
        return {r[0]: (json.loads(r[1]), r[2]) for r in rows}

    def get_clusters(self, run_id: str, case_id: str | None = None) -> list[dict[str, Any]]:
        """The stored clusters of a run (or of one case)."""
        query = ("SELECT case_id, template, cluster, method, size, correct, representative FROM clusters "
                 "WHERE run_id = ?")
        args: list[Any] = [run_id]
        if case_id is not None:
            query += " AND case_id = ?"
            args.append(case_id)
        return [dict(r) for r in self.conn.execute(query, args).fetchall()]

    def cluster_methods(self, run_id: str) -> list[str]:
        """The clustering methods the run's stored clusters were made with (one, when stored at all)."""
        rows = self.conn.execute("SELECT DISTINCT method FROM clusters WHERE run_id = ?", (run_id,)).fetchall()
        return [r[0] for r in rows]

    def count_cases(self, run_id: str) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM cases WHERE run_id = ?", (run_id,)).fetchone()[0]

    def count_original_cases(self, run_id: str) -> int:
        """The run's cases that are not perturbed copies of another (tuieval.perturb links a copy by
        `metadata.original_case`)."""
        return self.conn.execute(
            "SELECT COUNT(*) FROM cases WHERE run_id = ? AND json_extract(metadata, '$.original_case') IS NULL",
            (run_id,)).fetchone()[0]

    def count_errors(self, run_id: str) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM samples WHERE run_id = ? AND error IS NOT NULL",
                                 (run_id,)).fetchone()[0]

    def token_usage(self, run_id: str) -> list[dict[str, Any]]:
        """Per case: samples, tokens the server counted, and the answered samples it gave no
        counts for (their cost is estimated from the text, tuieval.cost.spend)."""
        from tuieval.store.usage_columns import GROUPED_SQL, USAGE_KEYS

        rows = self.conn.execute(GROUPED_SQL, (run_id,)).fetchall()
        return [dict(zip(USAGE_KEYS, r)) for r in rows]

    def token_usage_beside(self, run_id: str) -> PendingRead:
        """`token_usage` as a `UsageTable` (tuieval.store.usage_columns: its sums as integer
        columns), read in a thread on a connection of its own when the file can be opened twice:
        the `GROUP BY` scan of every sample row (a second or two at a million samples, nearly all
        inside SQLite, which releases the GIL) goes on beside the caller's analysis. `wait()` on
        the handle returns the table."""
        from tuieval.store.usage_columns import GROUPED_SQL, UsageTable, joined_rows

        def read(conn: sqlite3.Connection) -> UsageTable:
            return UsageTable(conn.execute(GROUPED_SQL, (run_id,)).fetchall())

        def read_joined(conn: sqlite3.Connection) -> UsageTable:
            # one aggregate row: 100,000 rows fetched in a thread would take the GIL back from
            # the analysis 100,000 times
            rows = joined_rows(conn, run_id)
            return read(conn) if rows is None else UsageTable(rows)

        if self._can_write_beside():
            return PendingRead(self.path, read_joined)
        cur = self.conn.cursor()
        cur.row_factory = None
        return PendingRead.done(read(cur))  # (a cursor executes as a connection does)

    def judge_token_usage(self, run_id: str) -> list[dict[str, Any]]:
        """Per (case, judge model, answered in a batch or not): judge requests and the tokens counted."""
        rows = self.conn.execute(
            """SELECT case_id, judge, SUM(cached = 0), COALESCE(SUM(input_tokens * (cached = 0)), 0),
                      COALESCE(SUM(output_tokens * (cached = 0)), 0),
                      SUM(cached = 0 AND error IS NULL AND (input_tokens IS NULL OR output_tokens IS NULL)),
                      SUM(cached), COALESCE(SUM(cached_tokens * (cached = 0)), 0),
                      COALESCE(SUM(cache_write_tokens * (cached = 0)), 0),
                      COALESCE(SUM(cache_write_1h_tokens * (cached = 0)), 0), batched
               FROM judgements WHERE run_id = ? GROUP BY case_id, judge, batched""", (run_id,)).fetchall()
        keys = ("case_id", "judge", "n", "input_tokens", "output_tokens", "n_uncounted", "n_cached", "cached_tokens",
                "cache_write_tokens", "cache_write_1h_tokens", "batched")
        return [dict(zip(keys, r)) for r in rows]

    def add_embedding_usage(self, run_id: str, model: str, purpose: str, counters: dict[str, Any]) -> None:
        """Record the embedding requests one computation of a run's clustering made (its cost)."""
        self.conn.execute(
            "INSERT INTO embedding_usage (run_id, model, purpose, requests, cached_requests, texts, input_tokens, "
            "estimated_tokens, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, model, purpose, int(counters.get("requests") or 0), int(counters.get("cached_requests") or 0),
             int(counters.get("texts_sent") or 0), int(counters.get("tokens") or 0),
             int(counters.get("tokens_estimated") or 0), now_iso()))

    def embedding_usage(self, run_id: str) -> list[dict[str, Any]]:
        """Per embeddings model: requests, those answered from the response cache, tokens counted and estimated."""
        rows = self.conn.execute(
            "SELECT model, SUM(requests), SUM(cached_requests), SUM(texts), SUM(input_tokens), SUM(estimated_tokens) "
            "FROM embedding_usage WHERE run_id = ? GROUP BY model ORDER BY model", (run_id,)).fetchall()
        keys = ("model", "n_requests", "n_cached", "n_texts", "input_tokens", "estimated_tokens")
        return [dict(zip(keys, r)) for r in rows]

    def add_clustering_judge_usage(self, run_id: str, model: str, purpose: str, counters: dict[str, Any]) -> None:
        """Record the entailment judge requests one computation of a run's clustering made (its cost)."""
        keys = ("requests", "cached_requests", "input_tokens", "cached_input_tokens", "output_tokens",
                "estimated_input_tokens", "estimated_output_tokens")
        self.conn.execute(
            "INSERT INTO clustering_judge_usage (run_id, model, purpose, " + ", ".join(keys) + ", created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, model, purpose, *(int(counters.get(k) or 0) for k in keys), now_iso()))

    def clustering_judge_usage(self, run_id: str) -> list[dict[str, Any]]:
        """Per entailment judge model: requests, those from the response cache, tokens counted and estimated."""
        rows = self.conn.execute(
            "SELECT model, SUM(requests), SUM(cached_requests), SUM(input_tokens), SUM(cached_input_tokens), "
            "SUM(output_tokens), SUM(estimated_input_tokens), SUM(estimated_output_tokens) "
            "FROM clustering_judge_usage WHERE run_id = ? GROUP BY model ORDER BY model", (run_id,)).fetchall()
        keys = ("model", "n_requests", "n_cached", "input_tokens", "cached_input_tokens", "output_tokens",
                "estimated_input_tokens", "estimated_output_tokens")
        return [dict(zip(keys, r)) for r in rows]

    def done_keys(self, run_id: str, case_ids: Sequence[str] | None = None) -> set[tuple[str, str, int]]:
        """(case, template, sample index) of every stored sample of a run, or of the cases named."""
        if case_ids is None:
            rows = self.conn.execute("SELECT case_id, template, sample_index FROM samples WHERE run_id = ?", (run_id,))
        else:
            rows = self.conn.execute("SELECT case_id, template, sample_index FROM samples WHERE run_id = ? "
                                     "AND case_id IN (SELECT value FROM json_each(?))",
                                     (run_id, json.dumps(list(case_ids))))
        return {(r[0], r[1], r[2]) for r in rows}

    def judgement_keys(self, run_id: str) -> set[tuple[str, str, int, str, str, int, str]]:
        """(case, template, sample index, scorer, judge, judge sample, orientation) of every stored judgement."""
        rows = self.conn.execute("SELECT case_id, template, sample_index, scorer, judge, judge_sample, orientation "
                                 "FROM judgements WHERE run_id = ?", (run_id,))
        return {tuple(r) for r in rows}  # type: ignore[misc]

    def get_judgements(self, run_id: str, *, case_id: str | None = None, sample: tuple[str, str, int] | None = None,
                       with_prompt: bool = False) -> list[dict[str, Any]]:
        """A run's judgements (or one case's, or one sample's), in sample then judge order.

        Prompts are left out unless asked for: they are most of a row's bytes."""
        cols = [c for c in JUDGEMENT_COLUMNS if with_prompt or c != "prompt"]
        query = f"SELECT {', '.join(cols)} FROM judgements WHERE run_id = ?"
        args: list[Any] = [run_id]
        if sample is not None:
            query += " AND case_id = ? AND template = ? AND sample_index = ?"
            args += list(sample)
        elif case_id is not None:
            query += " AND case_id = ?"
            args.append(case_id)
        query += " ORDER BY case_id, template, sample_index, scorer, judge, judge_sample, orientation"
        out = [dict(r) for r in self.conn.execute(query, args).fetchall()]
        for j in out:
            j["parsed"] = bool(j["parsed"])
        return out

    def count_judgements(self, run_id: str) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM judgements WHERE run_id = ?", (run_id,)).fetchone()[0]

    def count_samples(self, run_id: str) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM samples WHERE run_id = ?", (run_id,)).fetchone()[0]

    def report_fingerprint(self, run: dict[str, Any]) -> str:
        """Changes whenever the run's report could: new samples, a new status, a new tuieval."""
        from tuieval import __version__

        # two queries: MAX(id) alone is one index lookup (samples_run_id), together they scan.
        # A dict from get_run/list_runs has counted the samples already (a pass over the run's
        # index entries: 0.05 s at a million), so only a dict without the count counts again
        count = run.get("n_samples")
        if count is None:
            count = self.conn.execute("SELECT COUNT(*) FROM samples WHERE run_id = ?", (run["id"],)).fetchone()[0]
        last = self.conn.execute("SELECT MAX(id) FROM samples WHERE run_id = ?", (run["id"],)).fetchone()[0]
        judged, last_judged = self.conn.execute("SELECT COUNT(*), MAX(id) FROM judgements WHERE run_id = ?",
                                                (run["id"],)).fetchone()
        # judgements change verdicts without adding samples
        judge_part = f":j{judged}:{last_judged}" if judged else ""
        return f"{__version__}:{count}:{last}:{run['status']}:{run.get('finished_at')}{judge_part}"

    def cached_report(self, run_id: str, fingerprint: str) -> str | None:
        """The stored report's JSON text under `fingerprint` (its `cases` null when they are kept
        one row each: tuieval.store.report_parts, which tuieval.report.stored reads whole)."""
        from tuieval.store.report_parts import read_head

        head = read_head(self, run_id, fingerprint)
        return head[0] if head else None

    def cache_report(self, run_id: str, fingerprint: str, body: str) -> None:
        """Keep a report as one JSON text (tuieval.report.stored keeps it in parts)."""
        from tuieval.store.report_parts import write_report

        write_report(self, run_id, fingerprint, body, None)

    def cached_comparison(self, baseline: str, candidate: str, fingerprint: str) -> str | None:
        row = self.conn.execute("SELECT body FROM comparisons WHERE baseline = ? AND candidate = ? "
                                "AND fingerprint = ?", (baseline, candidate, fingerprint)).fetchone()
        return row[0] if row else None

    def cache_comparison(self, baseline: str, candidate: str, fingerprint: str, body: str) -> None:
        self.conn.execute(
            "INSERT INTO comparisons (baseline, candidate, fingerprint, created_at, body) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (baseline, candidate) DO UPDATE SET fingerprint = excluded.fingerprint, "
            "created_at = excluded.created_at, body = excluded.body",
            (baseline, candidate, fingerprint, now_iso(), body),
        )

    def samples_since(self, run_id: str, after_id: int) -> list[dict[str, Any]]:
        """Samples written after row `after_id`: how the app follows a run another process writes."""
        rows = self.conn.execute("SELECT * FROM samples WHERE run_id = ? AND id > ? ORDER BY id", (run_id, after_id))
        return [dict(r) for r in rows]

    # -- search ------------------------------------------------------------------

    def ensure_search_index(self) -> bool:
        """Index the samples stored before full-text search existed (once); True when it built now."""
        row = self.conn.execute("SELECT built FROM search_index WHERE id = 1").fetchone()
        if row is not None and row[0]:
            return False
        with self._transaction():
            self.conn.execute("INSERT INTO samples_fts (samples_fts) VALUES ('rebuild')")
            self.conn.execute("INSERT INTO search_index (id, built) VALUES (1, 1) "
                              "ON CONFLICT (id) DO UPDATE SET built = 1")
        return True

    @staticmethod
    def phrase_query(text: str) -> str:
        """An FTS5 query matching `text` as one phrase ("I cannot"), as a person typing words means."""
        return '"' + text.replace('"', '""') + '"'

    def search_samples(self, match: str, *, run_id: str | None = None, model: str | None = None,
                       limit: int = 20, mark: tuple[str, str] = ("\ue000", "\ue001"),
                       ) -> list[dict[str, Any]]:
        """Samples whose prompt or response match an FTS5 query, newest first, with a snippet of the
        matching text between `mark`s. sqlite3.OperationalError on a malformed query.

        Newest first rather than by rank: FTS5 walks its index in rowid order and stops at `limit`,
        where ranking would score every match (a common word matches most of a million samples).
        A run's samples lie in one id range, which FTS5 also narrows to before joining."""
        where, args = ["samples_fts MATCH ?"], [match]
        if run_id is not None:
            where += ["samples_fts.rowid BETWEEN (SELECT MIN(id) FROM samples WHERE run_id = ?) "
                      "AND (SELECT MAX(id) FROM samples WHERE run_id = ?)", "s.run_id = ?"]
            args += [run_id, run_id, run_id]
        if model is not None:
            where.append("r.model = ?")
            args.append(model)
        rows = self.conn.execute(
            "SELECT s.id, s.run_id, r.model, s.case_id, s.template, s.sample_index, s.correct, s.error, "
            "snippet(samples_fts, -1, ?, ?, '…', 16) AS snippet "
            "FROM samples_fts JOIN samples s ON s.id = samples_fts.rowid JOIN runs r ON r.id = s.run_id "
            f"WHERE {' AND '.join(where)} ORDER BY samples_fts.rowid DESC LIMIT ?",
            [mark[0], mark[1], *args, limit]).fetchall()
        return [dict(r) for r in rows]

    def has_model(self, model: str) -> bool:
        """Whether any run used this model spec."""
        return self.conn.execute("SELECT 1 FROM runs WHERE model = ? LIMIT 1", (model,)).fetchone() is not None
