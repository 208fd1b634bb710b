"""Anytime-valid early warnings for accuracy gates while a run is still going.

For each `accuracy` gate with a `min`, a LiveScoreboard (tuieval.analysis.live) runs the
betting e-process of docs/statistics.md §7.1 on the gate's slice, fed in dispatch order. When the slice is
*decisively* below the gate's threshold — a decision that stays valid however often we look —
the headless face prints one warning. It never stops the run: the final gate decision is
made on the complete data.
"""

from __future__ import annotations

from typing import Any

from tuieval.analysis.live import LiveScoreboard


class GateWatch:
    def __init__(self, gates: list[dict[str, Any]], cases: list[dict[str, Any]], samples_per_case: int,
                 *, alpha: float = 0.05) -> None:
        self.watched: list[tuple[dict[str, Any], LiveScoreboard]] = []
        self.fired: set[int] = set()
        for gate in gates:
            theta = gate.get("min")
            if gate.get("metric") != "accuracy" or theta is None or not 0 < theta < 1:
                continue
            board = LiveScoreboard.from_cases(cases, samples_per_case=samples_per_case, theta=float(theta),
                                              alpha=alpha)
            self.watched.append((gate, board))

    def __bool__(self) -> bool:
        return bool(self.watched)

    def add(self, sample: dict[str, Any]) -> list[str]:
        """Feed one finished sample; return the warnings that became true with it."""
        for _, board in self.watched:
            board.add(sample)
        return self._check()

    def _check(self) -> list[str]:
        warnings = []
        for i, (gate, board) in enumerate(self.watched):
            if i in self.fired:
                continue
            key = ("overall", None)
            if gate.get("slice"):
                k, _, v = gate["slice"].partition("=")
                key = next((s for s in board.slices if s[0] == k and str(s[1]) == v), None)
                if key is None:
                    continue
            state = board.slices.get(key)
            if state is None or state.below is None or state.below.crossed_at is None:
                continue
            self.fired.add(i)
            where = gate.get("slice") or "overall"
            mean = state.sum_x / state.t if state.t else float("nan")
            warnings.append(f"early warning: accuracy on {where} is decisively below {gate['min']} "
                            f"(running mean {mean:.1%} after {state.t} cases; anytime-valid at α={board.alpha})")
        return warnings

