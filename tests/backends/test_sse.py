"""SSEDecoder: every WHATWG framing rule, and split-invariance (hypothesis)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.fixtures import stream_files
from tests.support.model_server import SPLIT_MARKER
from tuieval.backends.sse import SSEDecoder, SSEEvent


def decode(*pieces: bytes) -> list[SSEEvent]:
    dec = SSEDecoder()
    events: list[SSEEvent] = []
    for piece in pieces:
        events += dec.feed(piece)
    events += dec.flush()
    return events


def pairs(events: list[SSEEvent]) -> list[tuple[str, str]]:
    return [(e.event, e.data) for e in events]


def test_lf_event_with_default_type() -> None:
    assert pairs(decode(b"data: hello\n\n")) == [("message", "hello")]


def test_crlf_and_cr_line_endings() -> None:
    assert pairs(decode(b"data: a\r\n\r\ndata: b\r\rdata: c\n\n")) == [
        ("message", "a"),
        ("message", "b"),
        ("message", "c"),
    ]


def test_cr_at_end_of_one_read_and_lf_at_start_of_next_is_one_line_break() -> None:
    # If the LF were taken for a second line ending, "data: b" would be dispatched
    # alone and the two data lines would become two events.
    events = decode(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n")
    assert pairs(events) == [("message", "a\nb")]


def test_cr_ending_a_read_dispatches_without_waiting_for_the_next_read() -> None:
    dec = SSEDecoder()
    assert dec.feed(b"data: x\r\n\r") == [SSEEvent("x")]
    assert dec.feed(b"\n") == []  # the LF pairs with the CR already seen


def test_comments_and_keepalives_are_ignored() -> None:
    raw = b": keep-alive\n\n: OPENROUTER PROCESSING\n\ndata: x\n: inside an event\n\n"
    assert pairs(decode(raw)) == [("message", "x")]


def test_event_field_and_single_leading_space_stripped() -> None:
    raw = b"event: content_block_delta\ndata:  two spaces\n\nevent:ping\ndata:{}\n\n"
    assert pairs(decode(raw)) == [("content_block_delta", " two spaces"), ("ping", "{}")]


def test_multiline_data_joined_with_newline() -> None:
    assert pairs(decode(b"data: one\ndata:\ndata: three\n\n")) == [("message", "one\n\nthree")]


def test_field_without_colon_and_empty_data() -> None:
    # "data" alone is a data line with an empty value: the event dispatches with data "".
    assert pairs(decode(b"data\n\n")) == [("message", "")]


def test_event_without_data_is_not_dispatched_and_type_resets() -> None:
    assert pairs(decode(b"event: ping\n\ndata: x\n\n")) == [("message", "x")]


def test_unknown_fields_ignored_and_colon_in_value_kept() -> None:
    assert pairs(decode(b"foo: bar\ndata: a:b: c\n\n")) == [("message", "a:b: c")]


def test_id_persists_and_retry_parsed() -> None:
    dec = SSEDecoder()
    events = dec.feed(b"id: 7\ndata: a\n\ndata: b\n\nretry: 1500\nretry: x1\nid: 8\0\ndata: c\n\n")
    assert [(e.data, e.id) for e in events] == [("a", "7"), ("b", "7"), ("c", "7")]
    assert dec.retry_ms == 1500


def test_unterminated_final_event_is_discarded() -> None:
    dec = SSEDecoder()
    assert dec.feed(b"data: done\n\ndata: partial\n") == [SSEEvent("done")]
    assert dec.pending
    assert dec.flush() == []
    assert not dec.pending


def test_line_split_across_reads() -> None:
    assert pairs(decode(b"da", b"ta: hel", b"lo wor", b"ld\n", b"\n")) == [("message", "hello world")]


def test_utf8_character_split_across_reads() -> None:
    raw = "data: Olá 😊\n\n".encode()
    cut = raw.index("😊".encode()) + 2  # inside the 4-byte emoji
    assert pairs(decode(raw[:cut], raw[cut:])) == [("message", "Olá 😊")]
    assert pairs(decode(*[raw[i : i + 1] for i in range(len(raw))])) == [("message", "Olá 😊")]


def test_bom_stripped_once_even_when_split() -> None:
    raw = "\ufeffdata: a\n\n".encode()
    assert pairs(decode(raw[:2], raw[2:])) == [("message", "a")]
    # A BOM later in the stream is content, not a marker.
    assert pairs(decode(b"data: a\n\n", "data: \ufeffb\n\n".encode())) == [("message", "a"), ("message", "\ufeffb")]


def test_invalid_utf8_replaced_not_fatal() -> None:
    assert pairs(decode(b"data: a\xffb\n\n")) == [("message", "a\ufffdb")]


def test_unicode_line_separators_are_not_sse_line_breaks() -> None:
    # str.splitlines() would split on these; SSE only knows CR and LF.
    assert pairs(decode("data: a\u2028b\x0bc\x1cd\x85e\n\n".encode())) == [("message", "a\u2028b\x0bc\x1cd\x85e")]


def test_long_line_in_many_reads_is_not_quadratic() -> None:
    payload = b"x" * 200_000
    pieces = [b"data: "] + [payload[i : i + 7] for i in range(0, len(payload), 7)] + [b"\n\n"]
    events = decode(*pieces)
    assert len(events) == 1 and len(events[0].data) == 200_000


# ---------------------------------------------------------------- hypothesis

_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=20
)
_event = st.tuples(
    st.sampled_from(["", "message", "content_block_delta", "error"]),
    st.lists(_text, min_size=1, max_size=3),
)


def _serialize(events: list[tuple[str, list[str]]], eol: str, comments: bool) -> bytes:
    out = []
    for name, lines in events:
        if comments:
            out.append(": keep-alive" + eol + eol)
        if name:
            out.append(f"event: {name}{eol}")
        out += [f"data: {line}{eol}" for line in lines]
        out.append(eol)
    return "".join(out).encode()


@settings(max_examples=150, deadline=None)
@given(
    events=st.lists(_event, max_size=6),
    eol=st.sampled_from(["\n", "\r\n", "\r"]),
    comments=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
)
def test_any_split_yields_the_same_events(events, eol, comments, cuts) -> None:
    raw = _serialize(events, eol, comments)
    expected = [(name or "message", "\n".join(lines)) for name, lines in events]
    assert pairs(decode(raw)) == expected
    bounds = sorted({0, len(raw), *(c % (len(raw) + 1) for c in cuts)})
    pieces = [raw[a:b] for a, b in zip(bounds, bounds[1:])]
    assert pairs(decode(*pieces)) == expected


FIXTURES = stream_files("*.sse")


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_fixture_decodes_the_same_whole_and_byte_by_byte(path) -> None:
    wire = path.read_bytes().replace(SPLIT_MARKER, b"")
    whole = decode(wire)
    assert whole, "every transcript holds at least one event"
    rng = random.Random(path.stem)
    cuts = sorted(rng.sample(range(1, len(wire)), k=min(40, len(wire) - 1)))
    bounds = [0, *cuts, len(wire)]
    assert decode(*[wire[a:b] for a, b in zip(bounds, bounds[1:])]) == whole
    if len(wire) < 20_000:
        assert decode(*[wire[i : i + 1] for i in range(len(wire))]) == whole


# -- the one-pass read of whole `data: ` events, held to the general rules ---------------------


class _GeneralOnly(SSEDecoder):
    """The decoder with its one-pass read turned off: every read goes through the line rules."""

    def _whole_data_events(self, text: str):
        return None


def _both(pieces: list[bytes]) -> tuple[list, list, int | None, int | None]:
    fast, general = SSEDecoder(), _GeneralOnly()
    got, want = [], []
    for piece in pieces:
        got += [(e.event, e.data, e.id) for e in fast.feed(piece)]
        want += [(e.event, e.data, e.id) for e in general.feed(piece)]
    return got, want, fast.retry_ms, general.retry_ms


def _cut(raw: bytes, cuts: list[int]) -> list[bytes]:
    bounds = sorted({0, len(raw), *(c % (len(raw) + 1) for c in cuts)})
    return [raw[a:b] for a, b in zip(bounds, bounds[1:])]


def test_whole_data_events_are_read_in_one_pass_with_the_last_id() -> None:
    dec = SSEDecoder()
    assert dec.feed(b"id: 7\ndata: x\n\n") == [SSEEvent("x", "message", "7")]  # general (an id line)
    assert dec._whole_data_events("data: a\n\ndata:  b\n\ndata: \n\n") == [
        SSEEvent("a", "message", "7"), SSEEvent(" b", "message", "7"), SSEEvent("", "message", "7")]
    # any other shape is left to the line rules
    for text in ("data: a\ndata: b\n\n", "data: a\n\n\n", "data: a\n\nevent: e\ndata: b\n\n",
                 "data: a\n\n: ping\n\n", "data:a\n\n"):
        assert dec._whole_data_events(text) is None, text


_line = st.one_of(
    st.builds(lambda t: f"data: {t}", _text), st.builds(lambda t: f"data:{t}", _text), st.just("data"),
    st.builds(lambda t: f"event: {t}", st.sampled_from(["message", "error", "ping"])),
    st.builds(lambda t: f"id: {t}", st.sampled_from(["1", "2", "x"])), st.just("retry: 250"),
    st.just(": keep-alive"), st.just(""), st.just("data: [DONE]"), st.just("\ufeffdata: bom"),
)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(_line, max_size=14),
    eol=st.sampled_from(["\n", "\n", "\r\n", "\r"]),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=8),
)
def test_the_one_pass_read_equals_the_line_rules_on_any_stream_and_any_split(lines, eol, cuts) -> None:
    raw = "".join(line + eol for line in lines).encode()
    for pieces in ([raw], _cut(raw, cuts)):
        got, want, fast_retry, general_retry = _both(pieces)
        assert got == want and fast_retry == general_retry


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_the_one_pass_read_equals_the_line_rules_on_every_captured_stream(path) -> None:
    wire = path.read_bytes()
    # as the server sends them (its split marks), whole, and cut at seeded offsets
    marked = wire.split(SPLIT_MARKER)
    plain = wire.replace(SPLIT_MARKER, b"")
    rng = random.Random(f"fast:{path.stem}")
    cuts = rng.sample(range(1, len(plain)), k=min(25, len(plain) - 1))
    # event by event too: the one-pass read's own case (each read one or more whole events)
    events = [part + b"\n\n" for part in plain.split(b"\n\n") if part]
    for pieces in (marked, [plain], _cut(plain, cuts), events):
        got, want, *_ = _both(pieces)
        assert got == want
        assert got, "every transcript holds at least one event"


# -- feed_data: the common read on the bytes, as the backends' stream loop uses it ---------------


def _as_the_stream_loop_reads(pieces: list[bytes]) -> list[tuple[str, str, str | None]]:
    """feed_data first, feed when it declines (tuieval.backends.http's loop), as (type, data, id)."""
    dec = SSEDecoder()
    got: list[tuple[str, str, str | None]] = []
    for piece in pieces:
        payloads = dec.feed_data(piece)
        if payloads is None:
            got += [(e.event, e.data, e.id) for e in dec.feed(piece)]
        else:
            got += [("message", data, dec.last_id) for data in payloads]
    dec.flush()
    return got


def _by_the_line_rules(pieces: list[bytes]) -> list[tuple[str, str, str | None]]:
    dec = _GeneralOnly()
    return [(e.event, e.data, e.id) for piece in pieces for e in dec.feed(piece)]


def test_feed_data_takes_whole_data_events_and_declines_everything_else() -> None:
    dec = SSEDecoder()
    assert dec.feed_data(b'data: {"a":1}\n\ndata: [DONE]\n\n') == ['{"a":1}', "[DONE]"]
    assert dec.feed_data(b"data: caf\xc3\xa9 \xff\n\n") == ["caf\u00e9 \ufffd"]  # invalid byte as feed does
    for other in (b"data: a\r\n\r\n", b"event: e\ndata: a\n\n", b"data: a\ndata: b\n\n", b"data:a\n\n",
                  b"data: a\n", b"data: a\n\n\n", b": ping\n\ndata: a\n\n", b"\xef\xbb\xbfdata: a\n\n"):
        assert SSEDecoder().feed_data(other) is None, other
    # something pending: a started line, a CR that may pair with the next LF, half a character
    for first in (b"data: x", b"data: x\r", b"data: \xc3"):
        dec = SSEDecoder()
        dec.feed(first)
        assert dec.feed_data(b"data: y\n\n") is None, first
    # and once the pending event has been dispatched, the next whole read is taken again
    dec = SSEDecoder()
    assert dec.feed(b"id: 9\ndata: x") == [] and dec.feed(b"\n\n") == [SSEEvent("x", "message", "9")]
    assert dec.feed_data(b"data: y\n\n") == ["y"] and dec.last_id == "9"


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(_line, max_size=14),
    eol=st.sampled_from(["\n", "\n", "\r\n", "\r"]),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=8),
    whole_events=st.booleans(),
)
def test_the_stream_loops_read_equals_the_line_rules_on_any_stream_and_any_split(lines, eol, cuts,
                                                                                 whole_events) -> None:
    raw = "".join(line + eol for line in lines).encode()
    splits = [[raw], _cut(raw, cuts)]
    if whole_events and eol == "\n":  # event by event, feed_data's own case
        splits.append([part + b"\n\n" for part in raw.split(b"\n\n") if part])
    for pieces in splits:
        assert _as_the_stream_loop_reads(pieces) == _by_the_line_rules(pieces)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_the_stream_loops_read_equals_the_line_rules_on_every_captured_stream(path) -> None:
    wire = path.read_bytes()
    plain = wire.replace(SPLIT_MARKER, b"")
    rng = random.Random(f"data:{path.stem}")
    cuts = rng.sample(range(1, len(plain)), k=min(25, len(plain) - 1))
    events = [part + b"\n\n" for part in plain.split(b"\n\n") if part]
    for pieces in (wire.split(SPLIT_MARKER), [plain], _cut(plain, cuts), events):
        got = _as_the_stream_loop_reads(pieces)
        assert got == _by_the_line_rules(pieces) and got
