"""Red-team rows: the run record, the attacker's rewrites and each target's answers (every SQL
statement of tuieval.redteam).

Each row is committed on its own the moment its request finishes, so a kill -9 loses only what
was in flight: `attack_keys` / `answer_keys` tell a resumed red-team run what never to ask again.
"""

from __future__ import annotations

import json
import os
from typing import Any

from tuieval.store import db
from tuieval.store.db import Store, _pid_alive

ATTACK_COLUMNS = ("redteam_id", "case_id", "strategy", "try_index", "prompt", "reply", "turns", "latency_ms",
                  "input_tokens", "output_tokens", "attempts", "error", "error_kind", "created_at", "cached_tokens")
ANSWER_COLUMNS = ("redteam_id", "run_id", "case_id", "strategy", "try_index", "messages", "response",
                  "target_requests", "latency_ms", "attempts", "error", "error_kind", "correct", "extracted",
                  "judgements", "judge_requests", "created_at", "decided_at", "input_tokens", "output_tokens",
                  "cached_tokens")
_JSON = {"prompt", "turns", "messages", "judgements"}

#: (case id, strategy, try index)
AttackKey = tuple[str, str, int]


class RedTeamNotFound(LookupError):
    """No red-team run with that id (or prefix), or a prefix matching several."""


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for key in _JSON & set(row):
        if row[key] is not None:
            row[key] = json.loads(row[key])
    return row


def _encode(value: Any, key: str) -> Any:
    return json.dumps(value, ensure_ascii=False) if key in _JSON and value is not None else value


class RedTeamStore:
    """The red-team tables of one Store (same connection, same file)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.conn = store.conn

    # -- the red-team run ---------------------------------------------------------

    def create(self, row: dict[str, Any]) -> str:
        row = dict(row)
        row.setdefault("id", "rt-" + db.new_run_id())
        row.setdefault("started_at", db.now_iso())
        row.setdefault("status", "running")
        row.setdefault("pid", os.getpid())
        for key in ("run_ids", "strategies", "config"):
            row[key] = json.dumps(row.get(key) or ([] if key != "config" else {}), ensure_ascii=False)
        cols = list(row)
        self.conn.execute(f"INSERT INTO redteams ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                          [row[c] for c in cols])
        return row["id"]

    def get(self, redteam_id: str) -> dict[str, Any]:
        row = self.conn.execute("SELECT * FROM redteams WHERE id = ?", (redteam_id,)).fetchone()
        if row is None:
            raise RedTeamNotFound(f"no red-team run {redteam_id!r}")
        out = dict(row)
        for key in ("run_ids", "strategies", "config"):
            out[key] = json.loads(out[key])
        return out

    def resolve(self, redteam_id: str) -> str:
        """A full id from an id, a unique prefix or `latest`."""
        if redteam_id == "latest":
            row = self.conn.execute("SELECT id FROM redteams ORDER BY started_at DESC, id DESC LIMIT 1").fetchone()
            if row is None:
                raise RedTeamNotFound("no red-team runs")
            return row[0]
        rows = self.conn.execute("SELECT id FROM redteams WHERE id LIKE ? || '%' ORDER BY id LIMIT 6",
                                 (redteam_id,)).fetchall()
        if len(rows) == 1 or (rows and rows[0][0] == redteam_id):
            return rows[0][0]
        if not rows:
            raise RedTeamNotFound(f"no red-team run {redteam_id!r}")
        raise RedTeamNotFound(f"{redteam_id!r} matches several red-team runs ({', '.join(r[0] for r in rows[:5])})")

    def list(self) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT id FROM redteams ORDER BY started_at DESC, id DESC").fetchall()
        return [self.get(r[0]) for r in rows]

    def for_run(self, run_id: str) -> dict[str, Any] | None:
        """The newest red-team run whose targets include `run_id` (None when none does)."""
        rows = self.conn.execute(
            "SELECT id FROM redteams WHERE EXISTS (SELECT 1 FROM json_each(redteams.run_ids) WHERE value = ?) "
            "ORDER BY started_at DESC, id DESC LIMIT 1", (run_id,)).fetchone()
        return self.get(rows[0]) if rows else None

    def being_written(self, record: dict[str, Any]) -> bool:
        """True while a live process writes the red-team run (a killed writer's pid is dead)."""
        return record["status"] == "running" and _pid_alive(record.get("pid"))

    def set_status(self, redteam_id: str, status: str) -> None:
        self.conn.execute("UPDATE redteams SET status = ?, finished_at = ?, pid = ? WHERE id = ?",
                          (status, None if status == "running" else db.now_iso(),
                           os.getpid() if status == "running" else None, redteam_id))

    # -- attacks and answers --------------------------------------------------------

    def add_attack(self, row: dict[str, Any]) -> bool:
        """Store one attacker reply; False when it was stored already (never overwritten)."""
        row = {"created_at": db.now_iso(), **row}
        cols = [c for c in ATTACK_COLUMNS if c in row]
        cur = self.conn.execute(
            f"INSERT OR IGNORE INTO redteam_attacks ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [_encode(row[c], c) for c in cols])
        return cur.rowcount == 1

    def add_answer(self, row: dict[str, Any]) -> bool:
        """Store one target's answer to an attack (its verdict may follow in `decide`)."""
        row = {"created_at": db.now_iso(), **row}
        if row.get("correct") is not None:
            row.setdefault("decided_at", row["created_at"])
            row["correct"] = int(bool(row["correct"]))
        cols = [c for c in ANSWER_COLUMNS if c in row]
        cur = self.conn.execute(
            f"INSERT OR IGNORE INTO redteam_answers ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [_encode(row[c], c) for c in cols])
        return cur.rowcount == 1

    def decide(self, redteam_id: str, run_id: str, key: AttackKey, correct: bool, extracted: str | None,
               judgements: list[dict[str, Any]] | None, judge_requests: int) -> None:
        """Write the verdict of a stored answer (once its judgements are in)."""
        self.conn.execute(
            "UPDATE redteam_answers SET correct = ?, extracted = ?, judgements = ?, judge_requests = ?, "
            "decided_at = ? WHERE redteam_id = ? AND run_id = ? AND case_id = ? AND strategy = ? AND try_index = ?",
            (int(bool(correct)), extracted, _encode(judgements, "judgements"), judge_requests, db.now_iso(),
             redteam_id, run_id, *key))

    def attacks(self, redteam_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT * FROM redteam_attacks WHERE redteam_id = ? "
                                 "ORDER BY case_id, strategy, try_index", (redteam_id,)).fetchall()
        return [_decode(dict(r)) for r in rows]

    def answers(self, redteam_id: str, run_id: str | None = None) -> list[dict[str, Any]]:
        query, args = "SELECT * FROM redteam_answers WHERE redteam_id = ?", [redteam_id]
        if run_id is not None:
            query += " AND run_id = ?"
            args.append(run_id)
        rows = self.conn.execute(query + " ORDER BY run_id, case_id, strategy, try_index", args).fetchall()
        return [_decode(dict(r)) for r in rows]

    def attack_keys(self, redteam_id: str) -> set[AttackKey]:
        rows = self.conn.execute("SELECT case_id, strategy, try_index FROM redteam_attacks WHERE redteam_id = ?",
                                 (redteam_id,))
        return {(r[0], r[1], r[2]) for r in rows}

    def requests_used(self, redteam_id: str) -> int:
        """Requests the stored attacks and answers cost (the seed answers are counted by the caller)."""
        a = self.conn.execute("SELECT COUNT(*) FROM redteam_attacks WHERE redteam_id = ?", (redteam_id,)).fetchone()[0]
        b = self.conn.execute("SELECT COALESCE(SUM(target_requests + judge_requests), 0) FROM redteam_answers "
                              "WHERE redteam_id = ?", (redteam_id,)).fetchone()[0]
        return int(a) + int(b)



#: Datasette descriptions of the red-team tables (merged into tuieval.store.datasette.TABLES)
DATASETTE_TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "redteams": ("One row per `tuieval redteam` run: attacker, decider, target runs, strategies, budget.", {
        "id": "Red-team run id (rt-…), what `tuieval redteam --resume` takes",
        "suite": "Suite name", "suite_path": "Suite file the run started from",
        "attacker": "Attacker model spec", "decider": "judge:SPEC or scorer:NAME: what decides an answer is right",
        "run_ids": "JSON list of the target runs (their seed answers are samples there), in --target order",
        "strategies": "JSON list of attack strategies", "tries": "Attacks per case and strategy",
        "budget": "Most requests (seed answers, attacker, target turns, judge); NULL: no bound",
        "seed": "Base seed", "status": "running | complete | partial | failed",
        "config": "JSON: the settings a resume uses", "pid": "Writer process while running",
        "started_at": "UTC start time", "finished_at": "UTC end time",
    }),
    "redteam_attacks": ("One row per attacker request: the rewrite of a seed case by one strategy, one try.", {
        "redteam_id": "The red-team run", "case_id": "The seed case", "strategy": "Attack strategy",
        "try_index": "Try, 0-based", "prompt": "JSON chat messages sent to the attacker",
        "reply": "The attacker's raw reply", "turns": "JSON list of the user turns the attack sends (NULL: unusable)",
        "latency_ms": "Attacker latency", "input_tokens": "Attacker input tokens",
        "output_tokens": "Attacker output tokens", "attempts": "Attempts including retries",
        "error": "Why the request failed, or why the reply is unusable", "error_kind": "Failure kind (unusable: empty)",
        "created_at": "UTC time stored", "cached_tokens": "Of the input tokens, those read from the provider's prompt cache",
    }),
    "redteam_answers": ("One row per target answer to an attack, with its verdict (broken = correct 0).", {
        "redteam_id": "The red-team run", "run_id": "The target's run", "case_id": "The seed case",
        "strategy": "Attack strategy", "try_index": "Try, 0-based",
        "messages": "JSON conversation sent (a multi-turn attack holds the target's earlier replies)",
        "response": "The target's final answer", "target_requests": "Requests sent to the target (one per turn)",
        "latency_ms": "Sum of the turns' latencies", "attempts": "Attempts including retries",
        "error": "Why a target request failed", "error_kind": "Failure kind",
        "correct": "1: still right, 0: broken, NULL: not decided yet", "extracted": "What the decider read",
        "judgements": "JSON list of the judge's replies and grades (judge decider)",
        "judge_requests": "Judge requests this verdict cost", "created_at": "UTC time stored",
        "decided_at": "UTC time of the verdict",
        "input_tokens": "Target input tokens, summed over the turns (NULL: a turn had no count)",
        "output_tokens": "Target output tokens, summed over the turns (NULL: a turn had no count)",
        "cached_tokens": "Of the input tokens, those read from the provider's prompt cache",
    }),
}
