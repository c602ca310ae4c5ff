"""Pausing Python's cyclic garbage collector around batch work that makes many short-lived,
acyclic objects (reference counting frees them; the collector would only traverse them again
and again). Used only where ``bench/`` measured that it pays; each use names its measurement.

One pause shared by every caller of the process: reference counted, so batches that overlap
(two requests at once, on the event loop or on threads) keep it until the last one ends, and
only then is the collector resumed. If the collector was already off when the first batch began
(someone else manages it), it is left off.

``SAFEWORK_GC_PAUSE=0`` in the environment turns the pause into a no-op, for the benchmarks
that measure what it buys."""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

ENABLED = os.environ.get("SAFEWORK_GC_PAUSE", "1") != "0"

_lock = threading.Lock()
_holders = 0
_resume = False


def holders() -> int:
    """How many batches hold the pause now."""
    return _holders


def _enter() -> None:
    global _holders, _resume
    with _lock:
        if _holders == 0:
            _resume = gc.isenabled()
            gc.disable()
        _holders += 1


def _exit() -> None:
    global _holders
    with _lock:
        _holders -= 1
        if _holders == 0 and _resume:
            gc.enable()


@contextmanager
def gc_paused() -> Iterator[None]:
    """The collector paused for the ``with`` block (see the module's docstring)."""
    if not ENABLED:
        yield
        return
    _enter()
    try:
        yield
    finally:
        _exit()


async def gc_paused_dependency() -> AsyncIterator[None]:
    """:func:`gc_paused` as a FastAPI dependency, for the whole of a request's handling:
    ``Annotated[None, Depends(gc_paused_dependency, scope="function")]``."""
    with gc_paused():
        yield
