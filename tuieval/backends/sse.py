"""Incremental Server-Sent-Events decoder (WHATWG EventSource parsing rules).

Model servers stream answers as SSE; this module turns the raw bytes of a
response body, in whatever pieces the network delivers them, into events.

Rules followed (https://html.spec.whatwg.org/multipage/server-sent-events.html):

* the body is UTF-8; a leading BOM is dropped, invalid bytes become U+FFFD;
* lines end with CRLF, LF or CR, and a CRLF may be split across two reads;
* a line starting with ``:`` is a comment (keep-alive) and is ignored;
* ``field:value`` with one leading space of the value stripped; a line with
  no colon is a field with an empty value; unknown fields are ignored;
* ``data`` lines accumulate, joined with ``\\n``; ``event`` sets the type;
  ``id`` sets the last event id (which persists across events); ``retry``
  with only ASCII digits sets :attr:`SSEDecoder.retry_ms`;
* a blank line dispatches the event, unless no ``data`` field was seen;
* an unterminated final event is discarded at end of stream (:meth:`flush`).

This is on the hot path of every streamed token, so :meth:`feed` only looks
at the new bytes: the unfinished last line is kept as a list of fragments
and joined once its terminator arrives. :meth:`feed_data` is the common read
(whole ``data: `` events, nothing pending) on the bytes, giving only the data
strings; anything else it leaves to :meth:`feed`.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

__all__ = ["SSEEvent", "SSEDecoder"]


def _new_utf8_decoder() -> codecs.IncrementalDecoder:
    return codecs.getincrementaldecoder("utf-8")(errors="replace")


@dataclass(slots=True)
class SSEEvent:
    """One dispatched event. ``id`` is the last event id in force, if any."""

    data: str
    event: str = "message"
    id: str | None = None


class SSEDecoder:
    """Feed it bytes as they arrive; it returns the events those bytes completed."""

    def __init__(self) -> None:
        # errors="replace": a stray invalid byte must not kill a whole answer. Made by the first
        # read feed_data declines: a stream of whole data-only reads never needs it.
        self._decoder: codecs.IncrementalDecoder | None = None
        self._started = False  # BOM check pending until the first character
        self._skip_lf = False  # previous piece ended in CR: a leading LF is its pair
        self._partial: list[str] = []  # fragments of the current unterminated line
        self._data: list[str] = []
        self._event = ""
        self._last_id: str | None = None
        #: Nothing is pending (no line, event, CR or partial UTF-8 character): a read that is
        #: whole ``data: `` events may skip the line rules (:meth:`feed_data`).
        self._clean = True
        #: Reconnection time the server asked for, in milliseconds (informational).
        self.retry_ms: int | None = None

    @property
    def last_id(self) -> str | None:
        """The last event id in force (what an event dispatched now would carry)."""
        return self._last_id

    @property
    def pending(self) -> bool:
        """True while an event or line has started but not been terminated."""
        return bool(self._partial or self._data or self._event)

    def feed_data(self, data: bytes) -> list[str] | None:
        """The common read, on the bytes: when nothing is pending and ``data`` is whole events of
        one ``data: `` line each (LF only), their data strings, in order — each event's type is
        ``message`` and its id :attr:`last_id`. None for any other read, which is then
        :meth:`feed`'s, untouched (nothing was consumed). The same events as :meth:`feed`
        (tests/backends/test_sse.py holds the two equal on random and captured streams)."""
        # A leading b"data: " rules out a BOM; ending in b"\n\n" with nothing pending means no
        # partial line or UTF-8 character before or after, so a one-shot decode is the
        # incremental decoder's output (invalid bytes become U+FFFD the same way).
        if not self._clean or data[-2:] != b"\n\n" or data[:6] != b"data: " or b"\r" in data:
            return None
        payloads = self._whole_data_payloads(data.decode("utf-8", "replace"))
        if payloads is not None:
            self._started = True
        return payloads

    def feed(self, data: bytes) -> list[SSEEvent]:
        """Decode one network read; return the events it completed, in order."""
        events = self._feed(data)
        # getstate()[0]: bytes of a UTF-8 character the read left unfinished
        self._clean = not (self._partial or self._data or self._event or self._skip_lf
                           or self._decoder.getstate()[0])  # type: ignore[union-attr]  (made by _feed)
        return events

    def _feed(self, data: bytes) -> list[SSEEvent]:
        if self._decoder is None:
            self._decoder = _new_utf8_decoder()
        text = self._decoder.decode(data)
        if not text:
            return []
        if not self._started:
            self._started = True
            if text[0] == "\ufeff":
                text = text[1:]
                if not text:
                    return []
        if self._skip_lf:
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
                if not text:
                    return []
        if not (self._partial or self._data or self._event) and text.endswith("\n\n") \
                and text.startswith("data: ") and "\r" not in text:
            events = self._whole_data_events(text)
            if events is not None:
                return events
        if "\r" in text:
            # A CR at the very end already terminates its line; remember that a
            # LF opening the next read belongs to it rather than being a blank line.
            self._skip_lf = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if "\n" not in text:
            self._partial.append(text)
            return []
        lines = text.split("\n")
        if self._partial:
            self._partial.append(lines[0])
            lines[0] = "".join(self._partial)
            self._partial.clear()
        last = lines.pop()
        if last:
            self._partial.append(last)
        return self._process(lines)

    def _whole_data_events(self, text: str) -> list[SSEEvent] | None:
        """The common read, in one pass: nothing pending, and ``text`` is whole events of one
        ``data: `` line each (``data: {...}\\n\\n`` ×k, LF only), as model servers send. None
        when any block is another shape (a second line, another field, a blank line more), and
        the general rules read it instead; tests/backends/test_sse.py holds the two equal."""
        payloads = self._whole_data_payloads(text)
        if payloads is None:
            return None
        last_id = self._last_id
        return [SSEEvent(payload, "message", last_id) for payload in payloads]

    @staticmethod
    def _whole_data_payloads(text: str) -> list[str] | None:
        """The data of ``text`` (ending in a blank line) when it is whole one-line ``data: ``
        events, else None: the one rule for both one-pass reads."""
        body = text[6:-2]
        if "\n" not in body:  # one event: the usual read, one per token
            return [body] if text[:6] == "data: " else None
        blocks = text[:-2].split("\n\n")
        for block in blocks:
            if block[:6] != "data: " or "\n" in block:
                return None
        return [block[6:] for block in blocks]

    def flush(self) -> list[SSEEvent]:
        """End of stream: discard any unterminated event and reset. Always returns []."""
        if self._decoder is not None:
            self._decoder.decode(b"", final=True)
            self._decoder.reset()
        self._partial.clear()
        self._data.clear()
        self._event = ""
        self._skip_lf = False
        self._started = False
        self._clean = True
        return []

    def _process(self, lines: list[str]) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    events.append(SSEEvent("\n".join(data), self._event or "message", self._last_id))
                    data.clear()
                self._event = ""
                continue
            # Fast path for the line that carries nearly every byte.
            if line.startswith("data:"):
                value = line[5:]
                data.append(value[1:] if value[:1] == " " else value)
                continue
            if line[0] == ":":
                continue
            name, _, value = line.partition(":")
            if value[:1] == " ":
                value = value[1:]
            if name == "data":  # "data" with no colon: an empty data line
                data.append(value)
            elif name == "event":
                self._event = value
            elif name == "id":
                if "\0" not in value:
                    self._last_id = value
            elif name == "retry":
                if value.isascii() and value.isdigit():
                    self.retry_ms = int(value)
        return events
