"""The n-gram probe: which cases share a 13-gram with a reference corpus file.

A case is contaminated when any 13-gram of its text (tokens as in tuieval.contamination.text)
occurs anywhere in the corpus — lm-evaluation-harness' decontamination rule. The corpus is
read in fixed-size pieces and never held whole: memory is the cases' own n-grams, one piece
and the last n − 1 tokens (a 13-gram may cross a line or a piece boundary; it may not cross
two files, since there is only one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator, Mapping, Sequence

from tuieval.contamination.text import chunk_token_lists, ngrams, tokens

CORPUS_N = 13
CHUNK_CHARS = 1 << 20


class CorpusError(Exception):
    """The corpus file cannot be read (missing, not UTF-8)."""


@dataclass
class CorpusScan:
    """What the scan found: per case the first corpus n-gram it shares, and the counts."""

    n: int
    hits: dict[str, str] = field(default_factory=dict)    # case id → the shared n-gram, space-joined
    n_corpus_tokens: int = 0
    n_case_ngrams: int = 0
    too_short: list[str] = field(default_factory=list)     # cases with fewer than n tokens


def _case_index(texts: Mapping[str, str], n: int) -> tuple[dict[tuple[str, ...], list[str]], list[str]]:
    index: dict[tuple[str, ...], list[str]] = {}
    short = []
    for case_id, text in texts.items():
        toks = tokens(text)
        if len(toks) < n:
            short.append(case_id)
        for gram in set(ngrams(toks, n)):
            index.setdefault(gram, []).append(case_id)
    return index, short


def scan_tokens(texts: Mapping[str, str], batches: Iterable[Sequence[str]], n: int = CORPUS_N) -> CorpusScan:
    """The scan over the corpus tokens, given in batches (the file reader below gives one per
    piece). The last n − 1 tokens of a batch are carried into the next, so an n-gram across a
    boundary is seen exactly once; a window is looked up only when its first and last tokens can
    start and end a case n-gram (most windows cannot: the lookup is the costly part)."""
    index, short = _case_index(texts, n)
    out = CorpusScan(n=n, n_case_ngrams=len(index), too_short=short)
    firsts = {g[0] for g in index}
    lasts = {g[-1] for g in index}
    tail: list[str] = []
    for batch in batches:
        out.n_corpus_tokens += len(batch)
        toks = tail + list(batch)
        if index:
            for i in range(len(toks) - n + 1):
                if toks[i] in firsts and toks[i + n - 1] in lasts:
                    gram = tuple(toks[i:i + n])
                    for case_id in index.get(gram, ()):
                        out.hits.setdefault(case_id, " ".join(gram))
        tail = toks[-(n - 1):] if n > 1 else []
    return out


def read_chunks(path: str, size: int = CHUNK_CHARS) -> Iterator[str]:
    """The file's text in pieces of `size` characters. Raises CorpusError naming the file."""
    try:
        with open(path, encoding="utf-8") as fh:
            while True:
                piece = fh.read(size)
                if not piece:
                    return
                yield piece
    except FileNotFoundError:
        raise CorpusError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CorpusError(f"{path}: is a directory, not a corpus file") from None
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path}: not UTF-8 text (byte {exc.start} of a piece)") from None
    except OSError as exc:
        raise CorpusError(f"{path}: {exc.strerror or exc}") from None


def scan_corpus(texts: Mapping[str, str], path: str, n: int = CORPUS_N, *, chunk_chars: int = CHUNK_CHARS) -> CorpusScan:
    """Every case (id → text) against the corpus file at `path`."""
    return scan_tokens(texts, chunk_token_lists(read_chunks(path, chunk_chars)), n)
