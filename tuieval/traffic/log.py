"""Read a production traffic log (JSONL) one line at a time, in the shapes teams log.

`iter_log(path, mapping)` is a generator: it holds one line in memory at a time, so a log of
millions of lines is read in bounded memory. Each non-blank line yields either a
`TrafficRecord` or a `LogProblem` naming the line number and what is wrong with it; a bad line
never stops the read (callers count and report the problems).

Shapes recognised without a mapping (checked in this order):

  1. the Chat Completions request/response pair:
     `{"request": {"model", "messages", "metadata"?}, "response": {"model", "created", "choices": [...]}}`;
  2. messages with their response: `{"messages": [...], "response": STR | completion | message}`;
  3. flat: `{"prompt", "response", "model", "latency_ms", "timestamp", "metadata"}`.

Anything else is read through a field mapping, `{field: "dotted.path"}` (from `--field
prompt=input.text` flags, see `parse_field_mapping`): integer path segments index lists (`-1` is
the last item), and `metadata.NAME=PATH` adds one metadata field. Mapped fields win; fields not
mapped are still found by the shape rules, so a mapping need only name what differs.

What a record's `prompt` is: the text of the flat `prompt`, or of the last user message when
the line carries messages (content given as a string or as a list of text parts). The full
conversation stays in `messages`, which is what a replay sends.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

FIELDS = ("prompt", "messages", "response", "model", "latency_ms", "timestamp", "metadata")

# Epoch numbers above this are milliseconds, not seconds (1e11 s is the year 5138).
_EPOCH_MS_THRESHOLD = 1e11


@dataclass(frozen=True, slots=True)
class TrafficRecord:
    """One logged request: what was asked and, when logged, what was answered and how fast.

    `timestamp` is an ISO 8601 string in UTC when the log gave a parseable time, else None.
    """

    line: int
    prompt: str
    messages: list | None = None
    response: str | None = None
    model: str | None = None
    latency_ms: float | None = None
    timestamp: str | None = None
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class LogProblem:
    """A line that could not be read as a record: its 1-based number and why."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class TrafficLogError(ValueError):
    """The log as a whole cannot be read (missing, unreadable) or a mapping is malformed."""


class _Bad(Exception):
    """A problem with one line (becomes a LogProblem)."""


# ---------------------------------------------------------------------------------------------
# Field mapping
# ---------------------------------------------------------------------------------------------

def _split_path(path: str, where: str) -> tuple:
    if not path or any(not part for part in path.split(".")):
        raise TrafficLogError(f"{where}: path {path!r} has an empty segment")
    out: list = []
    for part in path.split("."):
        try:
            out.append(int(part))
        except ValueError:
            out.append(part)
    return tuple(out)


def parse_field_mapping(spec: Mapping[str, str] | Sequence[str] | None, *, flag: str = "--field") -> dict[str, tuple]:
    """A mapping {field: path segments} from `["prompt=a.b", ...]` flags or a {field: "a.b"} dict.

    Fields are those of a record (`prompt`, `messages`, `response`, `model`, `latency_ms`,
    `timestamp`, `metadata`) or `metadata.NAME`. Raises TrafficLogError naming the flag.
    """
    if not spec:
        return {}
    items: list[tuple[str, str]] = []
    if isinstance(spec, Mapping):
        items = [(str(k), v) for k, v in spec.items()]
    else:
        for s in spec:
            if "=" not in s:
                raise TrafficLogError(f"{flag}: {s!r} is not FIELD=PATH (e.g. prompt=input.text)")
            k, v = s.split("=", 1)
            items.append((k.strip(), v.strip()))
    out: dict[str, tuple] = {}
    for key, path in items:
        if not isinstance(path, str):
            raise TrafficLogError(f"{flag}: the path for {key!r} must be a string")
        if key not in FIELDS and not (key.startswith("metadata.") and len(key) > len("metadata.")):
            raise TrafficLogError(f"{flag}: unknown field {key!r} (one of {', '.join(FIELDS)}, or metadata.NAME)")
        out[key] = _split_path(path, f"{flag} {key}")
    return out


_MISSING = object()


def _get(obj: Any, path: tuple) -> Any:
    for seg in path:
        if isinstance(seg, int) and isinstance(obj, list):
            if -len(obj) <= seg < len(obj):
                obj = obj[seg]
                continue
            return _MISSING
        if isinstance(obj, dict):
            key = str(seg)
            if key not in obj:
                return _MISSING
            obj = obj[key]
            continue
        return _MISSING
    return obj


# ---------------------------------------------------------------------------------------------
# Field readers (each raises _Bad with a message naming the field)
# ---------------------------------------------------------------------------------------------

def _content_text(content: Any, where: str) -> str | None:
    """The text of a message's content: a string, or the text parts of a list of parts."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
            # image and audio parts carry no text; they are kept in `messages` untouched
        return "\n".join(texts)
    raise _Bad(f"{where}: content is {type(content).__name__}, not a string or a list of parts")


def _messages(value: Any, where: str) -> list:
    if not isinstance(value, list) or not value:
        raise _Bad(f"{where}: expected a non-empty list of messages")
    for i, m in enumerate(value):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise _Bad(f"{where}[{i}]: expected an object with a string 'role'")
        _content_text(m.get("content"), f"{where}[{i}]")
    return value


def _last_user_text(messages: list, where: str) -> str:
    for m in reversed(messages):
        if m.get("role") == "user":
            text = _content_text(m.get("content"), where)
            if text:
                return text
    raise _Bad(f"{where}: no user message with text")


def _response_text(value: Any, where: str) -> str | None:
    """A logged answer: a string, a Chat Completions response, a message, or Anthropic content."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "choices" in value:
            choices = value["choices"]
            if not isinstance(choices, list):
                raise _Bad(f"{where}.choices: expected a list")
            if not choices:
                return None
            first = choices[0]
            if not isinstance(first, dict):
                raise _Bad(f"{where}.choices[0]: expected an object")
            if isinstance(first.get("message"), dict):
                return _content_text(first["message"].get("content"), f"{where}.choices[0].message")
            if isinstance(first.get("text"), str):    # legacy completions
                return first["text"]
            raise _Bad(f"{where}.choices[0]: no message content")
        if "content" in value:   # an assistant message, or an Anthropic Messages response
            return _content_text(value["content"], where)
        if isinstance(value.get("text"), str):
            return value["text"]
        raise _Bad(f"{where}: an object with no 'choices', 'content' or 'text'")
    raise _Bad(f"{where}: expected a string or an object, got {type(value).__name__}")


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Bad(f"{where}: expected a number of milliseconds, got {json.dumps(value)[:40]}")
    v = float(value)
    if not math.isfinite(v) or v < 0:
        raise _Bad(f"{where}: expected a non-negative number, got {value}")
    return v


def _timestamp(value: Any, where: str) -> str | None:
    """ISO 8601 UTC from an ISO string (naive = UTC) or an epoch number (seconds, or ms)."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, (int, float)):
            secs = value / 1000.0 if value > _EPOCH_MS_THRESHOLD else float(value)
            dt = datetime.fromtimestamp(secs, tz=timezone.utc)
        elif isinstance(value, str):
            dt = datetime.fromisoformat(value.strip())
            dt = dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)
        else:
            raise ValueError
    except (ValueError, OverflowError, OSError):
        raise _Bad(f"{where}: {json.dumps(value)[:40]} is not an ISO 8601 time or an epoch number") from None
    return dt.isoformat()


def _metadata(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Bad(f"{where}: expected an object, got {type(value).__name__}")
    return dict(value)


def _model(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Bad(f"{where}: expected a string")
    return value


# ---------------------------------------------------------------------------------------------
# One line
# ---------------------------------------------------------------------------------------------

def _first(*pairs: tuple[Any, str]) -> tuple[Any, str]:
    """The first (value, where) whose value is present (not _MISSING and not None)."""
    for value, where in pairs:
        if value is not _MISSING and value is not None:
            return value, where
    return None, pairs[-1][1] if pairs else ""


def _parse_object(obj: dict, line: int, mapping: Mapping[str, tuple]) -> TrafficRecord:
    def mapped(name: str) -> tuple[Any, str]:
        path = mapping[name]
        value = _get(obj, path)
        if value is _MISSING:
            raise _Bad(f"{'.'.join(map(str, path))} (mapped to {name}): not in this line")
        return value, ".".join(map(str, path))

    req = obj.get("request") if isinstance(obj.get("request"), dict) else None
    resp = obj.get("response")

    # messages
    if "messages" in mapping:
        messages = _messages(*mapped("messages"))
    elif req is not None and "messages" in req:
        messages = _messages(req["messages"], "request.messages")
    elif "messages" in obj:
        messages = _messages(obj["messages"], "messages")
    elif isinstance(obj.get("prompt"), list):    # some loggers store the messages under "prompt"
        messages = _messages(obj["prompt"], "prompt")
    else:
        messages = None

    # prompt
    if "prompt" in mapping:
        value, where = mapped("prompt")
        if isinstance(value, list):
            prompt = _last_user_text(_messages(value, where), where)
        elif isinstance(value, str):
            prompt = value
        else:
            raise _Bad(f"{where} (mapped to prompt): expected a string or messages")
    elif messages is not None:
        prompt = _last_user_text(messages, "messages")
    elif isinstance(obj.get("prompt"), str):
        prompt = obj["prompt"]
    elif "prompt" in obj:
        raise _Bad(f"prompt: expected a string or a list of messages, got {type(obj['prompt']).__name__}")
    else:
        raise _Bad("no prompt: expected 'prompt', 'messages' or 'request.messages' "
                   "(or map one with --field prompt=PATH)")
    if not prompt.strip():
        raise _Bad("prompt: empty")

    # response
    if "response" in mapping:
        response = _response_text(*mapped("response"))
    else:
        value, where = _first((resp, "response"), (obj.get("completion"), "completion"))
        response = _response_text(value, where)

    resp_obj = resp if isinstance(resp, dict) else {}
    if "model" in mapping:
        model = _model(*mapped("model"))
    else:
        model = _model(*_first((obj.get("model", _MISSING), "model"), (resp_obj.get("model", _MISSING), "response.model"),
                               ((req or {}).get("model", _MISSING), "request.model")))
    if "latency_ms" in mapping:
        latency = _number(*mapped("latency_ms"))
    else:
        latency = _number(*_first((obj.get("latency_ms", _MISSING), "latency_ms"),
                                  (obj.get("duration_ms", _MISSING), "duration_ms")))
    if "timestamp" in mapping:
        timestamp = _timestamp(*mapped("timestamp"))
    else:
        timestamp = _timestamp(*_first((obj.get("timestamp", _MISSING), "timestamp"), (obj.get("created_at", _MISSING), "created_at"),
                                       (resp_obj.get("created", _MISSING), "response.created")))
    if "metadata" in mapping:
        metadata = _metadata(*mapped("metadata"))
    else:
        metadata = _metadata((req or {}).get("metadata"), "request.metadata")
        metadata.update(_metadata(obj.get("metadata"), "metadata"))
    for name, path in mapping.items():
        if name.startswith("metadata."):
            value = _get(obj, path)
            if value is not _MISSING:
                metadata[name[len("metadata."):]] = value
    return TrafficRecord(line=line, prompt=prompt, messages=messages, response=response, model=model,
                         latency_ms=latency, timestamp=timestamp, metadata=metadata)


_NUMBER = (int, float)
_DECODER = json.JSONDecoder()
_FLAT_RESPONSE = (str, type(None))


def _parse_flat(obj: dict, line: int) -> TrafficRecord:
    """The flat shape with no mapping: the common case of a large log, read with the fewest steps
    (the same rules as `_parse_object`, which it must agree with)."""
    prompt = obj["prompt"]
    if not prompt.strip():
        raise _Bad("prompt: empty")
    response = obj.get("response")   # a string or None here (see parse_line)
    if response is None and "completion" in obj:
        response = _response_text(obj["completion"], "completion")
    model = obj.get("model")
    if model is not None and model.__class__ is not str:
        raise _Bad("model: expected a string")
    latency = obj.get("latency_ms")
    if latency is None:
        latency = _number(obj.get("duration_ms"), "duration_ms")
    elif latency.__class__ in _NUMBER and 0 <= latency < math.inf:
        latency = float(latency)
    else:
        latency = _number(latency, "latency_ms")
    ts = obj.get("timestamp")
    timestamp = _timestamp(ts if ts is not None else obj.get("created_at"),
                           "timestamp" if ts is not None else "created_at")
    meta = obj.get("metadata")
    if meta is None:
        metadata: dict = {}
    elif meta.__class__ is dict:
        metadata = dict(meta)
    else:
        raise _Bad(f"metadata: expected an object, got {type(meta).__name__}")
    return TrafficRecord(line, prompt, None, response, model, latency, timestamp, metadata)


_EMPTY: dict = {}
#: epoch numbers the lean path reads itself (up to ~year 5138 in ms); others take the full rules
_LEAN_MAX_EPOCH = 1e14


def lean_flat(obj: Any) -> tuple[str, str | None, Any, float | None, dict] | None:
    """(prompt, response, timestamp value, seconds since the epoch or None, metadata) of a decoded
    flat line whose every field is plainly valid, or None when the line needs the full rules
    (`parse_line`: another shape, a field to report as bad, an unusual timestamp).

    For the readers that need only those fields (`tuieval drift` over millions of lines): no record
    is built and the timestamp is not written out as ISO text. What it returns for a line is what
    `parse_line` reads from it (the timestamp value unnormalised: `utc_iso` turns it into the
    record's text; the seconds are those of that text); the metadata dict is the line's own, not
    a copy (read it, do not change it).
    """
    if obj.__class__ is not dict:
        return None
    prompt = obj.get("prompt")
    if prompt.__class__ is not str or "messages" in obj or "request" in obj:
        return None
    resp = obj.get("response")
    if resp is None:
        if "completion" in obj:
            return None
    elif resp.__class__ is not str:
        return None
    model = obj.get("model")
    if model is not None and model.__class__ is not str:
        return None
    latency = obj.get("latency_ms")
    if latency is None:
        if obj.get("duration_ms") is not None:
            return None
    elif not (latency.__class__ in _NUMBER and 0 <= latency < math.inf):
        return None
    meta = obj.get("metadata")
    if meta is None:
        meta = _EMPTY
    elif meta.__class__ is not dict:
        return None
    ts = obj.get("timestamp")
    if ts is None:
        ts = obj.get("created_at")
    if ts is None or ts == "":
        secs = None
    elif ts.__class__ is int and 0 <= ts < _LEAN_MAX_EPOCH:
        # as _timestamp reads it; whole seconds or milliseconds survive the ISO round trip exactly
        secs = ts / 1000.0 if ts > _EPOCH_MS_THRESHOLD else float(ts)
    elif ts.__class__ is float and 0 <= ts < _LEAN_MAX_EPOCH:
        # through the same datetime as the ISO text (it keeps microseconds, rounding as it does)
        dt = datetime.fromtimestamp(ts / 1000.0 if ts > _EPOCH_MS_THRESHOLD else ts, tz=timezone.utc)
        secs = dt.timestamp()
    elif ts.__class__ is str:
        try:
            dt = datetime.fromisoformat(ts.strip())
            secs = (dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)).timestamp()
        except (ValueError, OverflowError, OSError):
            return None
    else:
        return None
    if not prompt.strip():
        return None
    return prompt, resp, ts, secs, meta


def utc_iso(value: Any) -> str | None:
    """A record's timestamp text (ISO 8601 UTC) from the value logged (what `lean_flat` returns)."""
    try:
        return _timestamp(value, "timestamp")
    except _Bad:
        return None


def parse_line(text: str | bytes, line: int, mapping: Mapping[str, tuple] | None = None) -> TrafficRecord | LogProblem | None:
    """One log line as a record, a problem, or None when the line is blank."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            return LogProblem(line, f"not UTF-8 (byte {exc.start + 1})")
    if not text.strip():
        return None
    try:
        obj = _DECODER.decode(text)   # json.loads without its per-call checks
    except json.JSONDecodeError as exc:
        return LogProblem(line, f"not JSON ({exc.msg} at column {exc.colno})")
    except RecursionError:
        return LogProblem(line, "not JSON (nested too deeply)")
    if obj.__class__ is not dict:
        return LogProblem(line, f"expected a JSON object, got {type(obj).__name__}")
    try:
        if not mapping and obj.get("prompt").__class__ is str and obj.get("response").__class__ in _FLAT_RESPONSE \
                and "messages" not in obj and "request" not in obj:
            return _parse_flat(obj, line)
        return _parse_object(obj, line, mapping or {})
    except _Bad as exc:
        return LogProblem(line, str(exc))


def _open(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return path.open("rb")


def iter_log(path: str | Path, mapping: Mapping[str, str] | Mapping[str, tuple] | Sequence[str] | None = None,
             ) -> Iterator[TrafficRecord | LogProblem]:
    """Every non-blank line of the JSONL log at `path` (`.gz` read compressed) as a record or a problem.

    `mapping` is a {field: "dotted.path"} dict, `["field=path", ...]` flags, or an already
    parsed mapping. Raises TrafficLogError (naming the path) when the file cannot be opened or
    the mapping is malformed — both before the first line is read.
    """
    if isinstance(mapping, Mapping) and all(isinstance(v, tuple) for v in mapping.values()):
        parsed = dict(mapping)   # already parsed (parse_field_mapping's output)
    else:
        parsed = parse_field_mapping(mapping)  # type: ignore[arg-type]
    p = Path(path)
    try:
        fh = _open(p)
    except OSError as exc:
        raise TrafficLogError(f"{p}: cannot read the log ({exc.strerror or exc})") from None
    return _lines(fh, p, parsed)


def _lines(fh, path: Path, mapping: Mapping[str, tuple]) -> Iterator[TrafficRecord | LogProblem]:
    with fh:
        try:
            for n, raw in enumerate(fh, start=1):
                item = parse_line(raw, n, mapping)
                if item is not None:
                    yield item
        except (OSError, EOFError) as exc:   # a truncated .gz, a disk error mid-read
            raise TrafficLogError(f"{path}: read failed ({exc})") from None
