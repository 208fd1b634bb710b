"""Built-in simulated models (`demo/...`): no key, no network, labelled "simulated" everywhere.

They exist so a newcomer sees every pane work. Each profile knows the case's target (through
ChatRequest.hint, which only this backend reads) and decides, from a seeded hash, whether to
answer it right:

- `demo/steady`  ~90% correct, failures spread evenly over cases;
- `demo/brittle` ~90% overall on the extraction suite, but its failures sit on long inputs and
  non-English names: the same mean as steady with a very different tail;
- `demo/flaky`   each case has its own difficulty; at temperature > 0 answers change between samples;
- `demo/sensitive` as able as steady, but its accuracy depends on the prompt template: about 95%
  under a template whose id contains "terse" or "strict", 80% under "plain", 60% otherwise;
- `demo/verbose` ~90% correct, but it writes numbers the way chatty models do ("The total comes
  to $1,234.00." after working through other figures), which a strict "Answer:" extractor or a
  naive last/first-number reader miss while a number-aware one does not;
- `demo/fragile` all three hidden variables at once: as template-sensitive as `sensitive`,
  chatty about numbers as `verbose` under templates that are not terse, and as weak on long
  (for instance distractor-padded) inputs as `brittle`;
- `demo/judge` a simulated grader for the `judge` scorer: it passes an answer when the case's
  target, normalised, occurs in the normalised answer (pairwise: the answer holding the target
  wins, a tie when both or neither do), and gives the best or the worst grade accordingly. At
  judge temperature > 0 about one vote in ten is flipped (seeded), so judge noise shows;
- `demo/attacker` a simulated red-team attacker for `tuieval redteam` (tuieval.backends.demo_attacker).
- `demo/memorised` has memorised part of the test set: every case whose metadata says
  `source: public` (or, in a suite without that field, a seeded third of the cases). Asked to
  continue the start of such a case's text it reproduces the rest word for word; it answers the
  case itself right, but a perturbed copy of it (a rewrite, shuffled options) only 30% of the
  time. Elsewhere it is an honest 70% model whose answer does not move when the wording does;
  asked to continue other text it strings together words of what it was given.

Tokens stream with realistic pacing and heavy-tailed latency. TUIEVAL_DEMO_SPEED scales time
(2 = twice as fast; 0 = no waiting at all, for tests).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import re
import time
import unicodedata
from typing import Any

from tuieval.backends.base import ChatRequest, ChatResult, ClientError, DeltaCallback

PROFILES = ("steady", "brittle", "flaky", "sensitive", "verbose", "fragile", "judge", "attacker", "memorised")
#: demo/memorised: accuracy on the cases it has not memorised, and on rewritten memorised ones
MEMORISED_P_UNSEEN = 0.7
MEMORISED_P_REWRITTEN = 0.3
#: share of demo/judge votes flipped at temperature > 0
JUDGE_NOISE = 0.1
LONG_INPUT_TOKENS = 160


def _unit(*parts: Any) -> float:
    """A deterministic number in [0, 1) from the parts (stable across processes, unlike hash())."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _estimate_tokens(text: str) -> int:
    return max(1, round(len(text) / 4))


def _ascii_fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


NAME = re.compile(r"\b([A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)+)")


def _wrong_answer(target: Any, input_text: str, u: float) -> str:
    """A plausible wrong answer of the target's kind, the way real models get things wrong."""
    if isinstance(target, bool):
        return json.dumps(not target)
    if isinstance(target, (int, float)):
        return str(target + (1 if u < 0.5 else -1) * max(1, round(abs(target) * 0.1)))
    if isinstance(target, (dict, list)):
        if isinstance(target, dict) and target and u < 0.6:
            broken = dict(target)
            key = sorted(broken)[int(u * 10) % len(broken)]
            value = broken[key]
            broken[key] = _ascii_fold(value) if isinstance(value, str) and _ascii_fold(value) != value else None
            return json.dumps(broken, ensure_ascii=False)
        return json.dumps(target, ensure_ascii=False)[:-1]  # truncated: invalid JSON
    text = str(target)
    folded = _ascii_fold(text)
    if folded != text and u < 0.7:
        return folded  # the classic failure on non-English names: accents lost
    others = [m for m in NAME.findall(input_text) if m.strip() != text.strip()]
    if others:
        return others[int(u * len(others)) % len(others)]
    if re.fullmatch(r"-?\d+(\.\d+)?", text.strip()):
        return str(int(float(text)) + 1)
    words = text.split()
    return " ".join(words[:-1]) if len(words) > 1 else "I am not sure."


def _chatty(target: Any, input_text: str, u: float) -> str:
    """A right answer written as a chatty model writes it: the figures of the working first, then
    the number with a currency sign, thousands separators or trailing zeros, rarely "Answer: X"."""
    if isinstance(target, bool) or not isinstance(target, (int, float)):
        return f"The answer is {target}."
    working = " × ".join(re.findall(r"\d+(?:\.\d+)?", input_text)[:2]) or "the figures"
    styles = (f"Working it through: {working}. The total comes to ${target:,.2f}.",
              f"{working} gives {target:,} in total.",
              f"So the result is {target:,.2f}.",
              f"Let me compute {working}.\nAnswer: {target}")
    return styles[min(int(u * len(styles)), len(styles) - 1)]


class DemoBackend:
    """A simulated model. `simulated` is True so every face labels it."""

    simulated = True

    def __init__(self, spec: str, profile: str, *, speed: float | None = None) -> None:
        if profile not in PROFILES:
            raise ClientError(f"unknown demo model {profile!r} (try {', '.join('demo/' + p for p in PROFILES)})")
        self.spec = spec
        self.profile = profile
        if speed is None:
            speed = float(os.environ.get("TUIEVAL_DEMO_SPEED", "1") or 1)
        self.speed = speed

    async def aclose(self) -> None:
        return None

    def _p_correct(self, hint: dict[str, Any]) -> float:
        target = (hint.get("targets") or [""])[0]
        input_tokens = _estimate_tokens(hint.get("input_text", ""))
        if self.profile in ("steady", "verbose"):
            return 0.9
        if self.profile in ("sensitive", "fragile"):
            template = str(hint.get("template") or "")
            if "terse" in template or "strict" in template:
                p = 0.95
            else:
                p = 0.80 if "plain" in template else 0.60
            if self.profile == "fragile" and input_tokens >= LONG_INPUT_TOKENS:
                p *= 0.6
            return p
        if self.profile == "brittle":
            long_input = input_tokens >= LONG_INPUT_TOKENS
            foreign = isinstance(target, str) and _ascii_fold(target) != target
            if isinstance(target, dict):
                foreign = any(isinstance(v, str) and _ascii_fold(v) != v for v in target.values())
            return 0.70 if (long_input or foreign) else 0.995
        # flaky: each case has its own difficulty
        return 0.35 + 0.65 * _unit("difficulty", hint.get("case_id"))

    def _judge(self, request: ChatRequest) -> str:
        """demo/judge's reply (see the module docstring); the engine puts what it needs in the hint."""
        from tuieval.scoring.base import target_text
        from tuieval.scoring.normalize import normalize_text

        job = request.hint.get("judge")
        if not isinstance(job, dict):
            return "demo/judge grades answers for the judge scorer; it does not answer questions."
        targets = [normalize_text(t) for t in (target_text(x) for x in job.get("targets") or []) if t]

        def holds(text: str) -> bool:
            have = normalize_text(str(text or ""))
            return any(t and t in have for t in targets)

        grades = job.get("grades") or ["PASS", "FAIL"]
        flip = request.temperature > 0 and _unit("judge", job.get("key"), request.seed) < JUDGE_NOISE
        if job.get("mode") == "pairwise":
            a, b = holds(job.get("answer_a")), holds(job.get("answer_b"))
            grade = "TIE" if a == b else ("A" if a else "B")
            if flip:
                grade = {"A": "B", "B": "A", "TIE": "A"}[grade]
            return f"Answer {'A' if a else 'B'} {'holds' if a or b else 'lacks'} the expected answer.\nGRADE: {grade}"
        ok = holds(job.get("answer")) != flip
        why = "The answer agrees with the reference." if ok else "The answer does not give the reference answer."
        return f"{why}\nGRADE: {grades[0] if ok else grades[-1]}"

    def _memorised(self, request: ChatRequest) -> str:
        """demo/memorised's reply (see the module docstring)."""
        hint = request.hint
        meta = hint.get("metadata") or {}
        case_id = str(hint.get("case_id"))
        original = str(meta.get("probe_of") or meta.get("original_case") or case_id)
        if "source" in meta:
            memorised = meta.get("source") == "public"
        else:
            memorised = _unit("memorised", original) < 1 / 3
        target = (hint.get("targets") or [""])[0]
        if meta.get("probe") in ("verbatim", "control"):
            if memorised and meta.get("probe") == "verbatim":
                return str(target)
            return _guess_continuation(request, case_id)
        copy = original != case_id
        if memorised:
            right = not copy or _unit("memorised-copy", case_id) < MEMORISED_P_REWRITTEN
        else:  # the same verdict on every form of the question: it knows the task, not the text
            right = _unit("memorised-able", original) < MEMORISED_P_UNSEEN
        if right:
            return json.dumps(target, ensure_ascii=False) if isinstance(target, (dict, list)) else str(target)
        text = str(target).strip()
        if re.fullmatch(r"\(?[A-D][).]?", text):  # a multiple-choice letter: the next one
            letter = text.strip("().")
            return "ABCD"[("ABCD".index(letter) + 1) % 4]
        return _wrong_answer(target, hint.get("input_text", ""), _unit("memorised-wrong", case_id))

    def decide(self, request: ChatRequest) -> str:
        """The answer text for a request (deterministic given seed, case, template, sample)."""
        if self.profile == "judge":
            return self._judge(request)
        if self.profile == "attacker":
            from tuieval.backends.demo_attacker import attack_reply

            return attack_reply(request.hint)
        if self.profile == "memorised":
            return self._memorised(request)
        hint = request.hint
        if (hint.get("metadata") or {}).get("probe") in ("verbatim", "control"):
            # a contamination probe's continuation (tuieval.contamination): these models have not
            # seen the test set, so they cannot know how its text goes on
            return _guess_continuation(request, str(hint.get("case_id")))
        targets = hint.get("targets") or [""]
        target = targets[0]
        # At temperature 0 every sample of a case gets the same answer, as a greedy decoder would.
        sample = hint.get("sample_index", 0) if request.temperature > 0 else 0
        base = (self.profile, hint.get("seed"), hint.get("case_id"), hint.get("template"))
        u = _unit(*base, sample, "correct")
        if u < self._p_correct(hint):
            if isinstance(target, (dict, list)):
                return json.dumps(target, ensure_ascii=False)
            answer = str(target)
            if self.profile == "flaky" and _unit(*base, sample, "style") < 0.3:
                answer = f"{answer}."  # surface variation that means the same thing
            chatty = self.profile == "verbose" or (self.profile == "fragile" and "terse" not in str(hint.get("template")))
            if chatty:
                return _chatty(target, hint.get("input_text", ""), _unit(*base, sample, "style"))
            return answer
        wrong_u = _unit(*base, sample, "which")
        if self.profile == "flaky":
            wrong_u = math.floor(wrong_u * 3) / 3  # a few distinct wrong answers, not endless noise
        return _wrong_answer(target, hint.get("input_text", ""), wrong_u)

    async def complete(self, request: ChatRequest, on_delta: DeltaCallback | None = None) -> ChatResult:
        started = time.perf_counter()
        text = self.decide(request)
        hint = request.hint
        input_tokens = _estimate_tokens(hint.get("input_text", "") or " ".join(m["content"] for m in request.messages))
        timing_u = _unit(self.profile, hint.get("case_id"), hint.get("template"), hint.get("sample_index"), "time")
        # Log-normal body with a Pareto-like tail: most answers are quick, a few are very slow.
        ttft_s = 0.08 * math.exp(0.45 * _normal(timing_u)) + input_tokens * 0.0004
        if timing_u > 0.97:
            ttft_s *= 4 + 20 * (timing_u - 0.97) / 0.03
        pieces = re.findall(r"\S+\s*|\s+", text) or [text]
        per_token_s = 1 / 70
        speed = self.speed
        ttft_ms = None
        if speed > 0:
            await asyncio.sleep(ttft_s / speed)
        for i, piece in enumerate(pieces):
            if i and speed > 0:
                await asyncio.sleep(per_token_s / speed)
            if ttft_ms is None:
                ttft_ms = (time.perf_counter() - started) * 1000.0
            if on_delta:
                on_delta(piece)
        latency_ms = (time.perf_counter() - started) * 1000.0
        if speed == 0:
            # No waiting, but keep the simulated timings so latency panes still show a shape.
            ttft_ms = ttft_s * 1000.0
            latency_ms = ttft_ms + per_token_s * 1000.0 * (len(pieces) - 1)
        return ChatResult(
            text=text, finish_reason="stop", output_tokens=len(pieces), input_tokens=input_tokens,
            ttft_ms=ttft_ms, latency_ms=latency_ms,
        )


def _guess_continuation(request: ChatRequest, case_id: str) -> str:
    """What a model that has not seen a text writes when asked to go on with it: some of the
    words it was given, strung together (deterministic per case)."""
    words = (request.messages[-1]["content"] if request.messages else "").split()
    picked = [w for i, w in enumerate(words) if _unit("continue", case_id, i) < 0.3][:10]
    return " ".join(picked) or "I do not know how this text goes on."


def _normal(u: float) -> float:
    """Standard normal quantile of u (clamped), to shape latencies from a uniform hash."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(min(max(u, 1e-6), 1 - 1e-6))
