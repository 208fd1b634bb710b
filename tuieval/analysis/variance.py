"""Answer variance: canonical forms, semantic clustering tiers and per-group statistics (STATS §1–§2).

The unit is one group of N samples (one case × one template).  Answers are grouped
into clusters that "mean the same thing", in tiers of increasing cost:

1. canonical  — normalised exact match (`canonical_answer`); right for numbers,
                letters, short factual answers; what self-consistency uses (§1.2).
2. lexical    — character-3-gram + token cosine in numpy, with number and negation
                guards, leader clustering against each cluster's first member.
3. embeddings — agglomerative clustering of the cosine similarity S = E·Eᵀ of
                L2-normalised embeddings (`cluster_by_similarity`), complete or
                average linkage (single linkage chains, §1.4).
4. entailment — greedy bidirectional-entailment clustering with a judge (§1.1–1.2).
   hybrid     — similarity bands (embeddings when given, else lexical): below τ_low
                different, the rest goes to the judge.

The analysis never talks to a model itself: the caller passes callables, an `Embed`
(list of texts → float matrix, one row per text, in order) and a `Judge`
((question, premise, hypothesis) → raw reply).

Every tier first collapses canonical duplicates, keeps sample order fixed (cluster
ids are numbered by first appearance), and excludes errors (None answers, id -1).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Callable, NamedTuple, Sequence

import numpy as np

# ---------------------------------------------------------------------------------------------
# Canonical answers
# ---------------------------------------------------------------------------------------------

ARTICLES = frozenset({"a", "an", "the"})

# A number: optional sign (only when not glued to a preceding letter/digit, so that
# "covid-19" keeps 19 positive), thousands groups "1,000,000" or plain digits, optional
# decimals; or a bare ".5".  "1,2,3" stays three numbers because groups need 3 digits.
_TOKEN = re.compile(
    r"(?:(?<![^\W_])-)?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![^\W_])"
    r"|(?:(?<![^\W_])-)?\.\d+(?![^\W_])"
    r"|[^\W_]+"
)
_WORDS = re.compile(r"[^\W_]+")
_ASCII_NON_WORD = {c: " " for c in range(128) if not chr(c).isalnum()}
_DIGIT = re.compile(r"\d")
_APOSTROPHES = re.compile(r"(?<=[^\W_])['’`](?=[^\W_])")
_FENCE = re.compile(r"^```[\w-]*\s*\n?(.*?)\n?```\s*$", re.S)


def _canonical_number(tok: str) -> str:
    try:
        d = Decimal(tok.replace(",", ""))
    except InvalidOperation:
        return tok  # a word that starts with a digit ("19th")
    if not d.is_finite():
        return tok
    if d == 0:
        return "0"  # "-0", "0.00" and "0" agree
    text = format(d.normalize(), "f")  # 1000.0 → 1E+3 → "1000"; 0.50 → "0.5"
    return text


def _normalise_json(obj):
    # 1 and 1.0 are the same JSON number to every consumer; make them compare equal.
    if isinstance(obj, dict):
        return {k: _normalise_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_normalise_json(v) for v in obj]
    if isinstance(obj, float) and obj.is_integer() and abs(obj) < 2 ** 53:
        return int(obj)
    return obj


def canonical_answer(text: str | None) -> str | None:
    """Normalised form of an answer: equal forms count as the same answer.

    - None stays None (an error or missing answer is not an answer).
    - A JSON object or array (optionally inside a ``` fence) becomes compact JSON
      with sorted keys, and integral floats become ints: {"b": 1.0, "a": 2} ≡ {"a":2,"b":1}.
      String values inside JSON are left exactly as they are: they are data.
    - Otherwise: Unicode NFKC, case-folded; apostrophes inside words removed
      ("isn't" → "isnt", so negations stay one token); punctuation dropped;
      the articles a/an/the dropped; numbers canonicalised so "1,000", "1000" and
      "1000.0" agree (thousands commas, trailing zeros, leading zeros, -0); whitespace
      collapsed.  Empty strings (and pure punctuation) become "" and are an answer.
    Limits: "1.000" is read as one, not as a European thousand; "$5" and "5%" both
    become "5"; number words ("one thousand") are not converted.
    """
    if text is None:
        return None
    s = text.strip()
    fenced = _FENCE.match(s)
    if fenced:
        s = fenced.group(1).strip()
    if s[:1] in ("{", "["):
        try:
            obj = json.loads(s)
        except ValueError:
            obj = None
        if isinstance(obj, (dict, list)):
            return json.dumps(_normalise_json(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    ascii_only = s.isascii()
    # NFKC is the identity on ASCII, and casefold() equals lower() there
    s = s.lower() if ascii_only else unicodedata.normalize("NFKC", s).casefold().replace("\u2212", "-")
    if "'" in s or "\u2019" in s or "`" in s:
        s = _APOSTROPHES.sub("", s)
    if _DIGIT.search(s) is None:
        # no numbers: plain word tokens (the number-aware pattern is ~3x slower on prose);
        # for ASCII, mapping every non-word character to a space and splitting is the same
        # tokenisation as [^\W_]+ and twice as fast again
        toks = s.translate(_ASCII_NON_WORD).split() if ascii_only else _WORDS.findall(s)
        return " ".join([t for t in toks if t not in ARTICLES])
    # findall does the tokenising in C; only tokens that start like a number are touched
    out = [_canonical_number(t) if (t[0].isdigit() or t[0] in "-.") else t
           for t in _TOKEN.findall(s) if t not in ARTICLES]
    return " ".join(out)


# ---------------------------------------------------------------------------------------------
# Cluster results
# ---------------------------------------------------------------------------------------------

@dataclass(slots=True)
class ClusterResult:
    """The clustering of one group of answers.

    ids[i] is the cluster of answer i (clusters numbered 0, 1, … by first appearance),
    or -1 for an excluded answer (error / None).  representatives[k] is the position of
    cluster k's first member, sizes[k] its size.  `sample_indices`, when set, aligns ids
    with the samples' own sample_index values.  `stats` carries tier-specific counters
    (judge calls, unparsed judge replies, similarity band counts).
    """

    ids: list[int]
    method: str
    n_valid: int = 0
    n_clusters: int = 0
    representatives: list[int] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    sample_indices: list[int] | None = None
    stats: dict = field(default_factory=dict)

    @classmethod
    def from_ids(cls, ids: Sequence[int], method: str, **kw) -> "ClusterResult":
        ids = [int(i) for i in ids]
        k = max(ids) + 1 if ids else 0
        reps = [-1] * k
        sizes = [0] * k
        for pos, c in enumerate(ids):
            if c >= 0:
                sizes[c] += 1
                if reps[c] < 0:
                    reps[c] = pos
        return cls(ids=ids, method=method, n_valid=sum(sizes), n_clusters=sum(1 for s in sizes if s),
                   representatives=reps, sizes=sizes, **kw)

    def assignment(self) -> dict[int, int]:
        """sample_index (or position) → cluster id, for valid answers only."""
        keys = self.sample_indices if self.sample_indices is not None else range(len(self.ids))
        return {int(k): c for k, c in zip(keys, self.ids) if c >= 0}


def _renumber(ids: list[int]) -> list[int]:
    """Renumber cluster labels by first appearance, keeping -1 for excluded answers."""
    seen: dict[int, int] = {}
    return [-1 if c < 0 else seen.setdefault(c, len(seen)) for c in ids]


def _collapse(answers: Sequence[str | None]) -> tuple[list[str], list[int], list[int]]:
    """Canonical duplicates collapsed: (unique canonical forms in order, position of each
    unique's first answer, unique index per answer or -1)."""
    table: dict[str, int] = {}
    uniques: list[str] = []
    first: list[int] = []
    local: list[int] = []
    for pos, a in enumerate(answers):
        c = canonical_answer(a)
        if c is None:
            local.append(-1)
            continue
        u = table.get(c)
        if u is None:
            u = table[c] = len(uniques)
            uniques.append(c)
            first.append(pos)
        local.append(u)
    return uniques, first, local


def cluster_canonical(answers: Sequence[str | None]) -> list[int]:
    """Tier 1: answers with equal `canonical_answer` share a cluster; None → -1."""
    return _collapse(answers)[2]


def _leader(n: int, equivalent: Callable[[int, int], bool]) -> list[int]:
    """STATS §1.2 greedy loop: each item joins the first cluster (in creation order) whose
    FIRST member it is equivalent to, else founds a new cluster."""
    reps: list[int] = []
    assign = [0] * n
    for j in range(n):
        for ci, r in enumerate(reps):
            if equivalent(r, j):
                assign[j] = ci
                break
        else:
            assign[j] = len(reps)
            reps.append(j)
    return assign


# ---------------------------------------------------------------------------------------------
# Tier 2: lexical similarity
# ---------------------------------------------------------------------------------------------

CHAR_DIM = 512     # hashed 3-gram buckets: collisions barely matter for short answers
TOKEN_DIM = 256
FEATURE_CHUNK = 1024  # distinct answers featurised at once in batch clustering
CHAR_WEIGHT = 0.5
DEFAULT_LEXICAL_THRESHOLD = 0.6
CONTAINMENT_MAX_TOKENS = 4

_NUMBER_TOKEN = re.compile(r"(?<!\S)-?\.?\d\S*")  # a canonical token that starts like a number

NEGATIONS = frozenset({
    "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "cannot", "cant", "dont",
    "doesnt", "didnt", "isnt", "arent", "wasnt", "werent", "wont", "wouldnt", "shouldnt", "couldnt",
    "hasnt", "havent", "hadnt", "false", "incorrect", "nein", "non", "nicht", "нет", "не",
})


def _mix(h: np.ndarray) -> np.ndarray:
    # splitmix64-style finaliser: spreads similar code-point triples over all buckets
    h = h ^ (h >> np.uint64(31))
    h = h * np.uint64(0x7FB5D329728EA185)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x81DADEF4BC2DD44D)
    return h ^ (h >> np.uint64(33))


def _char_ngram_block(strings: Sequence[str], dim: int = CHAR_DIM) -> np.ndarray:
    """Hashed character-3-gram counts of " s " for a batch of strings, one numpy pass.

    All strings are joined with NUL separators and turned into code points; a trigram is
    kept only when its three positions belong to the same string.  Hashing is
    arithmetic on code points, so it is deterministic (unlike Python's salted hash()).
    """
    U = len(strings)
    out = np.zeros((U, dim), dtype=np.float32)
    if U == 0:
        return out
    padded = [f" {s} " for s in strings]
    lens = np.fromiter((len(p) for p in padded), dtype=np.int64, count=U)
    cp = np.frombuffer("\0".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    sid = np.repeat(np.arange(U, dtype=np.int64), lens + 1)[: cp.size]
    if cp.size < 3:
        return out
    sep = np.cumsum(lens + 1)[:-1] - 1  # positions of the NUL separators
    sid[sep] = -1
    ok = (sid[:-2] >= 0) & (sid[:-2] == sid[2:])
    h = _mix((cp[:-2] << np.uint64(42)) ^ (cp[1:-1] << np.uint64(21)) ^ cp[2:])
    b = (h % np.uint64(dim)).astype(np.int64)
    flat = np.bincount(sid[:-2][ok] * dim + b[ok], minlength=U * dim)
    out[:] = flat.reshape(U, dim)
    return out


_TOKEN_WEIGHTS = _mix(np.arange(1, 65, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)) | np.uint64(1)


def _token_block(strings: Sequence[str], dim: int = TOKEN_DIM) -> np.ndarray:
    """Hashed token counts of space-separated canonical strings, one numpy pass.

    A token's hash is Σ code_point[k]·W[k mod 64] over its characters (uint64, wrapping),
    mixed and reduced modulo `dim`: deterministic, and no Python work per token.
    """
    U = len(strings)
    out = np.zeros((U, dim), dtype=np.float32)
    if U == 0:
        return out
    lens = np.fromiter((len(x) for x in strings), dtype=np.int64, count=U)
    joined = "\0".join(strings)
    if not joined:
        return out
    cp = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    sid = np.repeat(np.arange(U, dtype=np.int64), lens + 1)[: cp.size]
    boundary = (cp == 32) | (cp == 0)
    chars = np.flatnonzero(~boundary)
    if chars.size == 0:
        return out
    starts_mask = np.r_[True, chars[1:] != chars[:-1] + 1]  # a token starts after a gap
    seg = np.flatnonzero(starts_mask)
    tok_of = np.cumsum(starts_mask) - 1
    offset = np.arange(chars.size) - seg[tok_of]
    h = np.add.reduceat(cp[chars] * _TOKEN_WEIGHTS[offset % 64], seg)
    bucket = (_mix(h) % np.uint64(dim)).astype(np.int64)
    flat = np.bincount(sid[chars[seg]] * dim + bucket, minlength=U * dim)
    out[:] = flat.reshape(U, dim)
    return out


def _l2(block: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(block, axis=1, keepdims=True)
    return np.divide(block, norms, out=np.zeros_like(block), where=norms > 0)


class LexicalFeatures:
    """Feature rows and guard data for a list of canonical strings.

    The similarity of rows i, j is  w·cos(char-3-grams) + (1−w)·cos(tokens), computed as
    one dot product of the concatenated, separately normalised and weighted blocks.
    Guards veto a merge whatever the similarity, because lexical (and embedding)
    similarity is blind to exactly these changes (§1.4 failure modes):
      - either answer is JSON (structured data is equal only when canonically equal);
      - both answers contain numbers and the number sets differ ("1912" vs "1921");
      - one answer carries a negation word and the other does not ("is" vs "isn't").
    A containment rule merges a short answer (≤ 4 tokens) with a longer one that
    contains it as a whole-token phrase ("paris" in "capital of france is paris"):
    the extra-words case, where cosine of a one-word answer with a sentence is low.
    """

    def __init__(self, canon: Sequence[str], *, char_weight: float = CHAR_WEIGHT) -> None:
        self.canon = list(canon)
        char = _l2(_char_ngram_block(self.canon)) * np.float32(math.sqrt(char_weight))
        tok = _l2(_token_block(self.canon)) * np.float32(math.sqrt(1.0 - char_weight))
        self.matrix = np.concatenate([char, tok], axis=1)
        # canonical strings are single-space separated, so counting spaces counts tokens
        self.n_tokens = [(c.count(" ") + 1) if c else 0 for c in self.canon]
        self.numbers = [frozenset(_NUMBER_TOKEN.findall(c)) if _DIGIT.search(c) else frozenset()
                        for c in self.canon]
        self.negated = [not NEGATIONS.isdisjoint(c.split()) for c in self.canon]
        # JSON answers are data: only canonical equality (already collapsed) makes them equal
        self.structured = [c[:1] in ("{", "[") for c in self.canon]
        self.padded = [f" {c} " for c in self.canon]

    def similarity(self, rows: Sequence[int] | None = None) -> np.ndarray:
        m = self.matrix if rows is None else self.matrix[np.asarray(rows, dtype=np.int64)]
        return np.clip(m @ m.T, 0.0, 1.0)

    def guard_ok(self, i: int, j: int) -> bool:
        if self.structured[i] or self.structured[j]:
            return False
        ni, nj = self.numbers[i], self.numbers[j]
        if ni and nj and ni != nj:
            return False
        return self.negated[i] == self.negated[j]

    def contains(self, i: int, j: int) -> bool:
        a, b = (i, j) if self.n_tokens[i] <= self.n_tokens[j] else (j, i)
        na = self.n_tokens[a]
        return 0 < na <= CONTAINMENT_MAX_TOKENS and self.padded[a] in self.padded[b]


def _lexical_equivalence(feats: LexicalFeatures, rows: Sequence[int], threshold: float,
                         containment: bool) -> Callable[[int, int], bool]:
    S = feats.similarity(rows).tolist()

    def eq(a: int, b: int) -> bool:
        ra, rb = rows[a], rows[b]
        if not feats.guard_ok(ra, rb):
            return False
        if S[a][b] >= threshold:
            return True
        return containment and feats.contains(ra, rb)

    return eq


def lexical_similarity(answers: Sequence[str]) -> np.ndarray:
    """The tier-2 similarity matrix (without guards) of raw answers, N × N in [0, 1]."""
    canon = [canonical_answer(a) or "" for a in answers]
    return LexicalFeatures(canon).similarity()


def cluster_lexical(answers: Sequence[str | None], threshold: float = DEFAULT_LEXICAL_THRESHOLD,
                    containment: bool = True) -> list[int]:
    """Tier 2: leader clustering (§1.2) on lexical similarity after collapsing canonical duplicates.

    Equivalent to a cluster's first member when the guards pass and either the
    similarity is ≥ `threshold` or (with `containment`) the shorter answer is a whole
    phrase of the longer.  None answers get -1.
    """
    uniques, _, local = _collapse(answers)
    if len(uniques) <= 1:
        return local
    feats = LexicalFeatures(uniques)
    rows = list(range(len(uniques)))
    assign = _leader(len(uniques), _lexical_equivalence(feats, rows, threshold, containment))
    return _renumber([-1 if u < 0 else assign[u] for u in local])


# ---------------------------------------------------------------------------------------------
# Tier 3: agglomerative clustering of a similarity matrix
# ---------------------------------------------------------------------------------------------

def cluster_by_similarity(S: np.ndarray, threshold: float, linkage: str = "complete") -> list[int]:
    """Agglomerative clustering of an N × N similarity matrix (e.g. normalised embeddings E·Eᵀ).

    Repeatedly merges the most similar pair of clusters while their linkage similarity
    is ≥ `threshold` (distance ≤ 1 − τ).  "complete" uses the least similar cross pair,
    "average" the size-weighted mean (Lance–Williams updates).  Single linkage is refused:
    it chains distinct answers through intermediate ones (§1.4).  Ties go to the first
    pair in row-major order, so the result is deterministic; labels are numbered by
    first appearance.  O(N³) — meant for the tens of samples of one group.
    """
    if linkage not in ("complete", "average"):
        raise ValueError("linkage must be 'complete' or 'average' (single linkage chains answers)")
    M = np.array(S, dtype=float, copy=True)
    n = M.shape[0]
    if M.shape != (n, n):
        raise ValueError("S must be square")
    if n == 0:
        return []
    M = (M + M.T) / 2.0  # tolerate float asymmetry from E·Eᵀ
    np.fill_diagonal(M, -np.inf)
    label = list(range(n))
    sizes = np.ones(n)
    while True:
        flat = int(np.argmax(M))
        a, b = divmod(flat, n)
        if not M[a, b] >= threshold:
            break
        if a > b:
            a, b = b, a
        if linkage == "complete":
            row = np.minimum(M[a], M[b])
        else:
            row = (sizes[a] * M[a] + sizes[b] * M[b]) / (sizes[a] + sizes[b])
        sizes[a] += sizes[b]
        M[a, :] = row
        M[:, a] = row
        M[a, a] = -np.inf
        M[b, :] = -np.inf
        M[:, b] = -np.inf
        label = [a if x == b else x for x in label]
    return _renumber(label)


Embed = Callable[[list[str]], np.ndarray]
"""embed(texts) → an array of shape (len(texts), d), row i the embedding of texts[i]."""

DEFAULT_EMBEDDING_THRESHOLD = 0.88
DEFAULT_LINKAGE = "average"
LINKAGES = ("average", "complete")


def _embed_rows(embed: Embed, texts: list[str]) -> np.ndarray:
    """Call `embed` and check its answer: (len(texts), d), finite; rows L2-normalised
    (a zero row stays zero and so is similar to nothing)."""
    E = np.asarray(embed(list(texts)), dtype=np.float32)
    if E.ndim != 2 or E.shape[0] != len(texts):
        raise ValueError(f"embed returned shape {E.shape} for {len(texts)} texts")
    if not np.isfinite(E).all():
        raise ValueError("embed returned non-finite values")
    return _l2(E)


def cosine_similarity_matrix(E: np.ndarray) -> np.ndarray:
    """S = Ê·Êᵀ of the L2-normalised rows of E (§1.4), as float64 in [-1, 1]."""
    En = _l2(np.asarray(E, dtype=np.float32))
    return np.clip(En.astype(np.float64) @ En.T.astype(np.float64), -1.0, 1.0)


def cluster_embeddings(answers: Sequence[str | None], embed: Embed,
                       threshold: float = DEFAULT_EMBEDDING_THRESHOLD,
                       linkage: str = DEFAULT_LINKAGE) -> ClusterResult:
    """Tier 3 for one group: collapse canonical duplicates, embed each distinct answer's
    first occurrence (original text), cluster S = E·Eᵀ agglomeratively (§1.4).

    Stats: embedded_texts (strings passed to `embed`), threshold, linkage.
    """
    uniques, first, local = _collapse(answers)
    stats = {"threshold": threshold, "linkage": linkage, "embedded_texts": 0}
    if len(uniques) <= 1:
        return ClusterResult.from_ids(local, "embeddings", stats=stats)
    texts = [str(answers[p]) for p in first]
    E = _embed_rows(embed, texts)
    stats["embedded_texts"] = len(texts)
    assign = cluster_by_similarity(E.astype(np.float64) @ E.T.astype(np.float64), threshold, linkage)
    ids = _renumber([-1 if u < 0 else assign[u] for u in local])
    return ClusterResult.from_ids(ids, "embeddings", stats=stats)


# ---------------------------------------------------------------------------------------------
# Tier 4: bidirectional entailment with a judge, and the hybrid
# ---------------------------------------------------------------------------------------------

Judge = Callable[[str, str, str], str]
"""judge(question, premise, hypothesis) → the judge's raw reply (entailment / neutral / contradiction)."""

_JUDGE_LABEL = re.compile(r"entail|contradict|neutral")
RULES = ("strict", "lenient", "no-contradiction")


def parse_judge_reply(reply: str | None) -> tuple[str, bool]:
    """Read a judge reply like the reference parser: only the first 30 characters count.

    Returns (label, recognised).  The earliest of "entail…", "contradict…", "neutral" wins;
    anything else maps to "neutral" with recognised=False so the caller can count it.
    """
    head = (reply or "")[:30].lower()
    m = _JUDGE_LABEL.search(head)
    if m is None:
        return "neutral", False
    return {"entail": "entailment", "contradict": "contradiction", "neutral": "neutral"}[m.group(0)], True


def _decide(rule: str, fwd: str, bwd: str) -> bool:
    if rule == "strict":
        return fwd == "entailment" and bwd == "entailment"
    if rule == "lenient":
        return "contradiction" not in (fwd, bwd) and not (fwd == "neutral" and bwd == "neutral")
    if rule == "no-contradiction":
        return "contradiction" not in (fwd, bwd)
    raise ValueError(f"unknown rule {rule!r}; expected one of {RULES}")


class EntailmentOracle:
    """Calls the judge in both directions, caching per direction and per unordered pair.

    Counters: judge_calls, unparsed (replies that fell back to neutral), pair_cache_hits.
    One oracle can be shared across groups of the same question.
    """

    def __init__(self, judge: Judge, question: str = "", rule: str = "strict") -> None:
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}; expected one of {RULES}")
        self.judge, self.question, self.rule = judge, question, rule
        self.directions: dict[tuple[str, str], str] = {}
        self.pairs: dict[tuple[str, str], bool] = {}
        self.judge_calls = 0
        self.unparsed = 0
        self.pair_cache_hits = 0

    def _label(self, a: str, b: str) -> str:
        key = (a, b)
        lab = self.directions.get(key)
        if lab is None:
            self.judge_calls += 1
            lab, ok = parse_judge_reply(self.judge(self.question, a, b))
            if not ok:
                self.unparsed += 1
            self.directions[key] = lab
        return lab

    def equivalent(self, a: str, b: str) -> bool:
        key = (a, b) if a <= b else (b, a)
        hit = self.pairs.get(key)
        if hit is not None:
            self.pair_cache_hits += 1
            return hit
        res = _decide(self.rule, self._label(a, b), self._label(b, a))
        self.pairs[key] = res
        return res

    def counters(self) -> dict:
        return {"judge_calls": self.judge_calls, "unparsed_replies": self.unparsed,
                "pair_cache_hits": self.pair_cache_hits}


def cluster_entailment(question: str, answers: Sequence[str | None], judge: Judge, rule: str = "strict",
                       oracle: EntailmentOracle | None = None) -> ClusterResult:
    """Tier 4: greedy bidirectional-entailment clustering (§1.2) after collapsing canonical duplicates.

    The judge sees the original text of each unique answer's first occurrence.  All
    identical answers never reach the judge.  Stats: judge calls, unparsed replies
    (counted fallbacks to neutral), pair-cache hits.
    """
    oracle = oracle or EntailmentOracle(judge, question, rule)
    uniques, first, local = _collapse(answers)
    texts = [str(answers[p]) for p in first]
    assign = _leader(len(uniques), lambda r, j: oracle.equivalent(texts[r], texts[j]))
    ids = _renumber([-1 if u < 0 else assign[u] for u in local])
    return ClusterResult.from_ids(ids, "entailment", stats={"rule": oracle.rule, **oracle.counters()})


def cluster_hybrid(answers: Sequence[str | None], S: np.ndarray, tau_low: float, tau_high: float,
                   judge: Judge, question: str = "", rule: str = "strict", trust_high: bool = False,
                   oracle: EntailmentOracle | None = None) -> ClusterResult:
    """§1.4 hybrid: similarity decides the easy pairs, the judge only the band in between.

    S is N × N over `answers` (sample order).  After collapsing canonical duplicates
    (the "exact" count), each comparison of a cluster's first member r with answer i:
      S < τ_low                      → different, no judge call ("below_low");
      τ_low ≤ S < τ_high             → judge ("band");
      S ≥ τ_high                     → judge as well ("above_high"), because high
                                       similarity without a normalised match is exactly
                                       the 1912-vs-1921 failure; with trust_high=True
                                       these merge without a call.
    Band counts and judge counters are returned in stats.
    """
    S = np.asarray(S, dtype=float)
    if S.shape != (len(answers), len(answers)):
        raise ValueError("S must be N × N over the answers")
    oracle = oracle or EntailmentOracle(judge, question, rule)
    uniques, first, local = _collapse(answers)
    texts = [str(answers[p]) for p in first]
    n_valid = sum(1 for u in local if u >= 0)
    counts = {"exact": n_valid - len(uniques), "below_low": 0, "band": 0, "above_high": 0}

    def eq(r: int, j: int) -> bool:
        s = S[first[r], first[j]]
        if s < tau_low:
            counts["below_low"] += 1
            return False
        if s >= tau_high:
            counts["above_high"] += 1
            if trust_high:
                return True
        else:
            counts["band"] += 1
        return oracle.equivalent(texts[r], texts[j])

    assign = _leader(len(uniques), eq)
    ids = _renumber([-1 if u < 0 else assign[u] for u in local])
    return ClusterResult.from_ids(ids, "hybrid", stats={"bands": counts, "tau_low": tau_low,
                                                         "tau_high": tau_high, "rule": oracle.rule,
                                                         **oracle.counters()})


# ---------------------------------------------------------------------------------------------
# Batch clustering of many groups (the report's and the store's path)
# ---------------------------------------------------------------------------------------------

METHODS = ("canonical", "lexical", "embeddings", "entailment", "hybrid")
DEFAULT_TAU_LOW = 0.3
DEFAULT_TAU_HIGH = 0.9


def cluster_groups(texts: Sequence[str | None], groups: np.ndarray, method: str = "canonical", *,
                   threshold: float | None = None, judge: Judge | None = None,
                   questions: Sequence[str] | None = None, rule: str = "strict",
                   tau_low: float = DEFAULT_TAU_LOW, tau_high: float = DEFAULT_TAU_HIGH,
                   embed: Embed | None = None, linkage: str = DEFAULT_LINKAGE) -> tuple[np.ndarray, dict]:
    """Cluster many groups at once; returns (cluster id per answer, -1 for None; stats).

    `groups` is the group index of each answer; answers of one group must be contiguous
    and in sample order (the caller sorts).  The canonical tier is fully vectorised;
    the other tiers only visit groups with more than one canonical form, and featurise
    (or embed) their distinct forms in batches of ≤ FEATURE_CHUNK.  `questions[g]` is
    group g's question (judge tiers); one decision cache is shared by the groups of one
    question.

    `embeddings` needs `embed` (texts → matrix): each group's distinct answers (the
    original text of each canonical form's first occurrence) are embedded, one `embed`
    call per chunk of distinct strings, and clustered agglomeratively on S = E·Eᵀ with
    `linkage` (average | complete) at `threshold` (default 0.88).  `hybrid` takes its S
    from `embed` when given, else from the lexical tier.

    Stats: method, groups_clustered; threshold/linkage (lexical, embeddings);
    embed_calls, embedded_texts (embedding similarity); judge_calls, unparsed_replies
    (fallbacks to neutral), pair_cache_hits (judge tiers); bands and similarity
    ("embeddings" | "lexical") for hybrid.
    """
    if method not in METHODS:
        raise ValueError(f"unknown clustering method {method!r}; expected one of {METHODS}")
    if method in ("entailment", "hybrid") and judge is None:
        raise ValueError(f"method {method!r} needs a judge")
    if method == "embeddings" and embed is None:
        raise ValueError("method 'embeddings' needs an embed function")
    if method == "embeddings" and linkage not in LINKAGES:
        raise ValueError(f"linkage must be one of {LINKAGES} (single linkage chains answers)")
    if method in ("entailment", "hybrid") and rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; expected one of {RULES}")
    use_embed = method == "embeddings" or (method == "hybrid" and embed is not None)
    groups = np.asarray(groups, dtype=np.int64)
    n = len(texts)
    stats: dict = {"method": method}
    if method == "lexical":
        stats.update(threshold=DEFAULT_LEXICAL_THRESHOLD if threshold is None else threshold)
    elif method == "embeddings":
        stats.update(threshold=DEFAULT_EMBEDDING_THRESHOLD if threshold is None else threshold, linkage=linkage)
    elif method == "hybrid":
        stats.update(tau_low=tau_low, tau_high=tau_high, similarity="embeddings" if use_embed else "lexical")
    if method in ("entailment", "hybrid"):
        stats.update(rule=rule, judge_calls=0, unparsed_replies=0, pair_cache_hits=0)
    if use_embed:
        stats.update(embed_calls=0, embedded_texts=0)
    # canonical forms, computed once per distinct raw string (answers repeat a lot)
    raw_cache: dict[str, str] = {}
    canon_id: dict[str, int] = {}
    canon_list: list[str] = []
    cid = np.empty(n, dtype=np.int64)
    for i, t in enumerate(texts):
        if t is None:
            cid[i] = -1
            continue
        c = raw_cache.get(t)
        if c is None:
            c = raw_cache[t] = canonical_answer(t)
        k = canon_id.get(c)
        if k is None:
            k = canon_id[c] = len(canon_list)
            canon_list.append(c)
        cid[i] = k
    ids = np.full(n, -1, dtype=np.int64)
    valid = np.flatnonzero(cid >= 0)
    if valid.size == 0:
        if method == "hybrid":
            stats["bands"] = {"exact": 0, "below_low": 0, "band": 0, "above_high": 0}
        return ids, stats
    U = len(canon_list)
    # first appearance of each (group, canonical form): np.unique gives the first index
    key = groups[valid] * U + cid[valid]
    ukey, first_idx, inv = np.unique(key, return_index=True, return_inverse=True)
    inv = inv.reshape(-1)
    order = np.argsort(valid[first_idx], kind="stable")  # pairs in sample order
    pair_group = (ukey // U)[order]
    pair_cid = (ukey % U)[order]
    rank_of = np.empty(order.size, dtype=np.int64)
    rank_of[order] = np.arange(order.size)
    # local rank of each pair inside its group = position minus the group's first position
    starts = np.r_[0, np.flatnonzero(np.diff(pair_group)) + 1]
    counts = np.diff(np.r_[starts, pair_group.size])
    local_rank = np.arange(pair_group.size) - np.repeat(starts, counts)
    pair_cluster = local_rank.copy()  # canonical tier: one cluster per canonical form
    multi = np.flatnonzero(counts > 1)
    stats["groups_clustered"] = int(multi.size)
    bands = {"below_low": 0, "band": 0, "above_high": 0}
    if method != "canonical" and multi.size:
        thr = threshold
        if thr is None:
            thr = DEFAULT_EMBEDDING_THRESHOLD if method == "embeddings" else DEFAULT_LEXICAL_THRESHOLD
        oracles: dict[str, EntailmentOracle] = {}
        # Featurise in chunks of groups holding ≤ FEATURE_CHUNK distinct forms, so memory
        # stays bounded (a few MB) however many distinct answers the run has.
        row_of = np.full(U, -1, dtype=np.int64)
        pos = 0
        while pos < multi.size:
            total = 0
            end = pos
            while end < multi.size and (end == pos or total + counts[multi[end]] <= FEATURE_CHUNK):
                total += int(counts[multi[end]])
                end += 1
            chunk = multi[pos:end]
            pos = end
            feats = None
            if method in ("lexical", "hybrid") and not use_embed:
                need = np.unique(np.concatenate([pair_cid[starts[g]: starts[g] + counts[g]] for g in chunk]))
                row_of[need] = np.arange(need.size)
                feats = LexicalFeatures([canon_list[c] for c in need])
            # the judge and the embedding model read an original answer, not the normalised form
            chunk_texts: dict[int, list[str]] = {}
            if method != "lexical":
                for g in chunk:
                    s, m = int(starts[g]), int(counts[g])
                    chunk_texts[int(g)] = [str(texts[i]) for i in valid[first_idx[order[s: s + m]]]]
            emb_row: dict[str, int] = {}
            E = None
            if use_embed:
                for lst in chunk_texts.values():
                    for t in lst:
                        emb_row.setdefault(t, len(emb_row))
                E = _embed_rows(embed, list(emb_row))
                stats["embed_calls"] += 1
                stats["embedded_texts"] += len(emb_row)
            for g in chunk:
                s, m = int(starts[g]), int(counts[g])
                if method == "lexical":
                    rows = row_of[pair_cid[s: s + m]].tolist()
                    pair_cluster[s: s + m] = _leader(m, _lexical_equivalence(feats, rows, thr, True))
                    continue
                texts_u = chunk_texts[int(g)]
                if use_embed:
                    Eg = E[[emb_row[t] for t in texts_u]].astype(np.float64)
                    S = np.clip(Eg @ Eg.T, -1.0, 1.0)
                if method == "embeddings":
                    pair_cluster[s: s + m] = cluster_by_similarity(S, thr, linkage)
                    continue
                q = questions[int(pair_group[s])] if questions is not None else ""
                oracle = oracles.get(q)
                if oracle is None:
                    oracle = oracles[q] = EntailmentOracle(judge, q, rule)
                if method == "entailment":
                    eq = (lambda tu, o: (lambda r, j: o.equivalent(tu[r], tu[j])))(texts_u, oracle)
                else:
                    if not use_embed:
                        S = feats.similarity(row_of[pair_cid[s: s + m]].tolist())
                    eq = _hybrid_eq(S, texts_u, oracle, tau_low, tau_high, bands)
                pair_cluster[s: s + m] = _leader(m, eq)
        if method in ("entailment", "hybrid"):
            stats.update(judge_calls=sum(o.judge_calls for o in oracles.values()),
                         unparsed_replies=sum(o.unparsed for o in oracles.values()),
                         pair_cache_hits=sum(o.pair_cache_hits for o in oracles.values()))
    if method == "hybrid":
        # "exact": answers merged by canonical equality before any comparison
        stats["bands"] = {"exact": int(valid.size - order.size), **bands}
    ids[valid] = pair_cluster[rank_of[inv]]
    return ids, stats


def _hybrid_eq(S: np.ndarray, texts_u: list[str], oracle: EntailmentOracle, tau_low: float, tau_high: float,
               bands: dict) -> Callable[[int, int], bool]:
    def eq(r: int, j: int) -> bool:
        s = S[r, j]
        if s < tau_low:
            bands["below_low"] += 1
            return False
        bands["above_high" if s >= tau_high else "band"] += 1
        return oracle.equivalent(texts_u[r], texts_u[j])

    return eq


# ---------------------------------------------------------------------------------------------
# Per-group statistics
# ---------------------------------------------------------------------------------------------

class EntropyStats(NamedTuple):
    se: float | None            # discrete semantic entropy SE_d (nats); 0 for N = 1, None for N = 0
    h_norm: float | None        # SE_d / ln N; None when N < 2 (undefined)
    miller_madow: float | None  # SE_d + (K_obs − 1)/(2N), a separate small-N bias-corrected value
    n_valid: int
    n_clusters: int


def _valid_ids(ids: Sequence[int | None]) -> list[int]:
    return [int(i) for i in ids if i is not None and i >= 0]


def semantic_entropy(ids: Sequence[int | None]) -> EntropyStats:
    """Discrete semantic entropy of cluster assignments (§1.3); -1/None (errors) are excluded."""
    v = _valid_ids(ids)
    n = len(v)
    if n == 0:
        return EntropyStats(None, None, None, 0, 0)
    counts = np.bincount(np.asarray(v) - min(v))
    counts = counts[counts > 0]
    p = counts / n
    se = float(-(p * np.log(p)).sum()) + 0.0  # + 0.0 turns -0.0 into 0.0
    k = int(counts.size)
    return EntropyStats(se, (se / math.log(n)) if n >= 2 else None, se + (k - 1) / (2.0 * n), n, k)


def likelihood_semantic_entropy(ids: Sequence[int], mean_logprobs: Sequence[float]) -> float:
    """Likelihood-weighted SE (§1.3, 2024 estimator) from per-sample mean token log-probs.

    Normalises over the N samples, sums mass per cluster in log space; duplicate
    strings each contribute their own mass, as in the reference code.
    """
    ids_a = np.asarray(ids)
    lp = np.asarray(mean_logprobs, dtype=float)
    keep = ids_a >= 0
    ids_a, lp = ids_a[keep], lp[keep]
    if lp.size == 0:
        raise ValueError("no valid samples")
    mx = lp.max()
    logp = lp - (mx + math.log(np.exp(lp - mx).sum()))
    se = 0.0
    for k in np.unique(ids_a):
        x = logp[ids_a == k]
        m = x.max()
        logP = m + math.log(np.exp(x - m).sum())
        se -= math.exp(logP) * logP
    return se


def consistency(ids: Sequence[int | None]) -> float | None:
    """Share of valid samples in the modal cluster, n_mode / N (§2); None with no valid sample."""
    v = _valid_ids(ids)
    if not v:
        return None
    return max(np.bincount(np.asarray(v) - min(v))) / len(v)


class Mode(NamedTuple):
    mode: int | None      # modal cluster (ties → the cluster that appears first)
    is_tied: bool
    tied: list[int]       # every cluster sharing the top count, in order of first appearance
    count: int


def modal_cluster(ids: Sequence[int | None]) -> Mode:
    """Modal cluster with lm-eval's tie rule: the first cluster to appear wins (§2)."""
    counts: dict[int, int] = {}
    for i in ids:  # dict keeps first-appearance order
        if i is not None and i >= 0:
            counts[int(i)] = counts.get(int(i), 0) + 1
    if not counts:
        return Mode(None, False, [], 0)
    top = max(counts.values())
    tied = [c for c, k in counts.items() if k == top]
    return Mode(tied[0], len(tied) > 1, tied, top)


def majority_correct(ids: Sequence[int | None], correct: Sequence[bool]) -> bool:
    """Correctness of the modal cluster's representative (its first member) (§2).

    No valid sample → False: a case whose every request failed counts as incorrect.
    """
    mode = modal_cluster(ids).mode
    if mode is None:
        return False
    for i, c in zip(ids, correct):
        if i == mode:
            return bool(c)
    return False


def flip(mu: set, mv: set) -> float:
    """Probability that random tie-breaks of two variants' mode sets disagree (§2)."""
    if not mu or not mv:
        return math.nan
    return 1.0 - len(mu & mv) / (len(mu) * len(mv))


def flip_rates(mode_sets: Sequence[set]) -> dict:
    """Anchored (against variant 0) and pairwise flip rate of one item's variants (§2)."""
    R = len(mode_sets)
    if R < 2:
        return {"anchored": None, "pairwise": None}
    anchored = [flip(mode_sets[0], mode_sets[r]) for r in range(1, R)]
    pair = [flip(mode_sets[a], mode_sets[b]) for a in range(R) for b in range(a + 1, R)]
    anchored = [x for x in anchored if not math.isnan(x)]
    pair = [x for x in pair if not math.isnan(x)]
    return {"anchored": (sum(anchored) / len(anchored)) if anchored else None,
            "pairwise": (sum(pair) / len(pair)) if pair else None}


def group_stats(groups: np.ndarray, ids: np.ndarray, correct: np.ndarray, n_groups: int) -> dict[str, np.ndarray]:
    """Vectorised per-group statistics for many groups at once.

    Inputs are aligned per answer: group index, cluster id (-1 = excluded) and
    correctness; answers must be in sample order within each group (cluster ids
    numbered by first appearance, so "lowest id" = "appears first" for ties).
    Returns arrays of length n_groups: n_valid, n_clusters, se, h_norm (NaN if N < 2),
    miller_madow, consistency (NaN if N = 0), mode, n_tied, is_tied, majority_correct,
    and per (group, cluster) `counts`, `rep` (answer index of the first member, -1 if none).
    """
    groups = np.asarray(groups, dtype=np.int64)
    ids = np.asarray(ids, dtype=np.int64)
    correct = np.asarray(correct, dtype=bool)
    G = int(n_groups)
    valid = np.flatnonzero(ids >= 0)
    C = int(ids[valid].max()) + 1 if valid.size else 1
    key = groups[valid] * C + ids[valid]
    counts = np.bincount(key, minlength=G * C).reshape(G, C)
    rep = np.full(G * C, -1, dtype=np.int64)
    uk, first = np.unique(key, return_index=True)
    rep[uk] = valid[first]
    rep = rep.reshape(G, C)
    n_valid = counts.sum(axis=1)
    n_clusters = (counts > 0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = counts / n_valid[:, None]
        plogp = np.where(counts > 0, p * np.log(np.where(counts > 0, p, 1.0)), 0.0)
        se = np.where(n_valid > 0, -plogp.sum(axis=1) + 0.0, np.nan)
        h_norm = np.where(n_valid >= 2, se / np.log(np.maximum(n_valid, 2)), np.nan)
        mm = se + (n_clusters - 1) / (2.0 * n_valid)
        top = counts.max(axis=1)
        cons = np.where(n_valid > 0, top / n_valid, np.nan)
    mode = counts.argmax(axis=1)  # first maximum = lowest id = first to appear
    n_tied = np.where(n_valid > 0, (counts == top[:, None]).sum(axis=1), 0)
    mode_rep = rep[np.arange(G), mode]
    maj = np.where(n_valid > 0, correct[np.maximum(mode_rep, 0)] if correct.size else False, False)
    return {"n_valid": n_valid, "n_clusters": n_clusters, "se": se, "h_norm": h_norm, "miller_madow": mm,
            "consistency": cons, "mode": np.where(n_valid > 0, mode, -1), "n_tied": n_tied,
            "is_tied": n_tied > 1, "majority_correct": maj.astype(bool), "counts": counts, "rep": rep}


# ---------------------------------------------------------------------------------------------
# Agreement between two partitions (for evaluating clustering tiers)
# ---------------------------------------------------------------------------------------------

def adjusted_rand_index(labels_true: Sequence[int], labels_pred: Sequence[int]) -> float:
    """Hubert–Arabie adjusted Rand index between two partitions of the same items.

    1 = identical partitions, ≈ 0 = chance agreement.  When both partitions are trivial
    in the same way (the expected index equals the maximum) the result is 1.0, as in
    scikit-learn.
    """
    a = np.asarray(labels_true)
    b = np.asarray(labels_pred)
    if a.shape != b.shape:
        raise ValueError("label arrays differ in length")
    n = a.size
    if n < 2:
        return 1.0
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    table = np.zeros((ai.max() + 1, bi.max() + 1), dtype=np.int64)
    np.add.at(table, (ai.reshape(-1), bi.reshape(-1)), 1)

    def comb2(x):
        x = np.asarray(x, dtype=float)
        return (x * (x - 1.0) / 2.0).sum()

    index = comb2(table)
    sa, sb = comb2(table.sum(axis=1)), comb2(table.sum(axis=0))
    expected = sa * sb / (n * (n - 1) / 2.0)
    maximum = (sa + sb) / 2.0
    if maximum == expected:
        return 1.0
    return float((index - expected) / (maximum - expected))
