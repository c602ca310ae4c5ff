"""JSON logs, one object a line, each carrying the request ID of the request being served.

No line carries a national ID, whatever a client sends: every string in a line (the message,
the path, any header value logged, a traceback) has its digit runs that look like one masked
(see :func:`mask_national_ids`)."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "color_message"}

# Digits, possibly in groups joined by separators ("024 026 367 231", "024.026.367-231").
_DIGIT_CHAIN = re.compile(r"\d+(?:[ \t.,/_\-]{1,3}\d+)*")
_SEPARATOR = re.compile(r"([ \t.,/_\-]{1,3})")
# Vietnam's national IDs: 9 digits (CMND) or 12 (CCCD).
_ID_LENGTHS = (9, 12)


def _mask_chain(match: re.Match[str]) -> str:
    text = match.group(0)
    if len(text) < min(_ID_LENGTHS):
        return text
    parts = _SEPARATOR.split(text)  # digits, separator, digits, ...
    groups = parts[0::2]
    hide = [len(g) >= min(_ID_LENGTHS) for g in groups]  # any run of 9 digits or more
    for i in range(len(groups)):  # and neighbouring groups that together make 9 or 12 digits
        total = 0
        for j in range(i, len(groups)):
            total += len(groups[j])
            if total > max(_ID_LENGTHS):
                break
            if total in _ID_LENGTHS:
                hide[i : j + 1] = [True] * (j + 1 - i)
    if not any(hide):
        return text
    parts[0::2] = ["*" * len(g) if h else g for g, h in zip(groups, hide, strict=True)]
    return "".join(parts)


def mask_national_ids(text: str) -> str:
    """``text`` with every digit run that could be a national ID replaced by ``*``: a run of 9
    digits or more, and neighbouring groups of digits, joined by up to three spaces, dots,
    commas, slashes, underscores or dashes, that add up to 9 or 12 digits (an ID as printed on
    the card, or typed with dots). Dates, times, versions and counts keep their digits; the rare
    UUID with all-digit groups making 12 digits, or two dates side by side, do not."""
    return _DIGIT_CHAIN.sub(_mask_chain, text)


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_national_ids(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_masked(v) for v in value]
    return mask_national_ids(str(value))


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id_var.get()
        if rid:
            out["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(_masked(out), default=str, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route the root logger and uvicorn's loggers to one JSON handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    # Our middleware writes the access line, with the request ID; uvicorn's would duplicate it.
    logging.getLogger("uvicorn.access").disabled = True
    # httpx writes a line per request at INFO: the gateway's upstream calls (the upstream logs
    # its own access line) and its fact reads every few seconds. Its warnings still show.
    logging.getLogger("httpx").setLevel(logging.WARNING)
