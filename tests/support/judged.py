"""A judged run for tests: the real engine and judge scorer against the loopback server, with a rule
so every judge figure can be worked out by hand.

Echo suite of 20 cases (case i answers "Answer: tok{i}"), one sample each; a panel of
openai-compatible/judge-a (PASS on everything) and openai-compatible/judge-b (FAIL on cases 0, 5,
10, 15); every reply is "<judge> read the answer to case <i>." then the grade line. Human labels:
fail on cases 0, 1, 2, 5, 10, 15, pass on the rest. Judge latencies are pinned (100 + row id ms).
"""

from __future__ import annotations

import asyncio
import re

import yaml

from tests.support.suites import write_echo_suite
from tuieval.backends.base import Timeouts
from tuieval.backends.registry import create_backend
from tuieval.engine import Engine, RunOptions
from tuieval.report import build_report
from tuieval.store import Store
from tuieval.suite import load_suite

HUMAN_FAIL = {0, 1, 2, 5, 10, 15}


def _case(parts) -> int:
    return int(re.search(r"tok(\d+)", parts["answer"]).group(1))


def _rule(parts) -> str:
    i = _case(parts)
    fail = parts["model"] == "judge-b" and i % 5 == 0
    return f"{parts['model']} read the answer to case {i}.\nGRADE: {'FAIL' if fail else 'PASS'}"


def judged_run(tmp_path, server) -> tuple[str, str]:
    spec = {"type": "judge", "base_url": server.openai_base_url,
            "models": ["openai-compatible/judge-a", "openai-compatible/judge-b"]}
    path = write_echo_suite(tmp_path, 20, extra={"scorers": [spec]})
    data = yaml.safe_load(path.read_text())
    for i, case in enumerate(data["cases"]):
        case["human_label"] = "fail" if i in HUMAN_FAIL else "pass"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    server.grade_rule = _rule
    timeouts = Timeouts(connect=2, read=5, total=10)
    backend = create_backend("openai-compatible/echo", base_url=server.openai_base_url, timeouts=timeouts)
    db = tmp_path / "judged.db"
    store = Store(db)
    options = RunOptions(model="openai-compatible/echo", base_url=server.openai_base_url, timeouts=timeouts,
                         concurrency=4)
    engine = Engine(store, backend)
    run_id = engine.create_run(load_suite(path), options)

    async def go():
        try:
            await engine.run(run_id, options)
        finally:
            await backend.aclose()

    asyncio.run(go())
    # judge latencies are measured on the wall clock: pinned so the snapshot is the same every time
    store.conn.execute("UPDATE judgements SET latency_ms = 100 + id")
    build_report(store, run_id, persist_clusters=True)
    store.close()
    return str(db), run_id
