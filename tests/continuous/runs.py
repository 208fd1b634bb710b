"""Stored runs with hand-chosen verdicts and latencies, so trend and tag figures can be computed by hand."""

from __future__ import annotations

from tuieval.store import Store

N_CASES = 20
CASES = [{"case_id": f"c{i:02d}", "position": i, "vars": {"q": f"question {i}"}, "targets": ["x"],
          "metadata": {"parity": "even" if i % 2 == 0 else "odd"}, "input_text": f"question {i}"}
         for i in range(N_CASES)]


def store_run(store: Store, run_id: str, day: int, wrong: set[int], latency_base: float, *,
              model: str = "demo/steady", suite: str = "s", status: str = "complete") -> str:
    """A finished one-sample-per-case run: case i is wrong when i is in `wrong`; latency base + i ms."""
    run = {"id": run_id, "suite": suite, "model": model, "simulated": 1, "samples_per_case": 1,
           "temperature": 0.0, "n_cases": N_CASES, "n_templates": 1, "n_expected": N_CASES, "config": {},
           "started_at": f"2026-01-{day:02d}T00:00:00+00:00", "status": status, "pid": None}
    store.create_run(run, CASES)
    for i in range(N_CASES):
        ok = i not in wrong
        store.add_sample({"run_id": run_id, "case_id": f"c{i:02d}", "template": "t", "sample_index": 0,
                          "dispatch_order": i, "prompt": [], "response": "x" if ok else "y", "correct": ok,
                          "score": float(ok), "latency_ms": latency_base + i})
    if status == "complete":
        store.conn.execute("UPDATE runs SET finished_at = started_at WHERE id = ?", (run_id,))
    return run_id
