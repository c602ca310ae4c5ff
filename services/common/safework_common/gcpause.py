"""Pausing Python's cyclic garbage collector around batch work that makes many short-lived,
acyclic objects (reference counting frees them; the collector would only traverse them again
and again). Used only where ``bench/`` measured that it pays; each use names its measurement.

One pause shared by every caller of the process: reference counted, so batches that overlap
(two requests at once, on the event loop or on threads) keep it until the last one ends, and
only then is the collector resumed. If the collector was already off when the first batch began
(someone else manages it), it is left off.

``SAFEWORK_GC_PAUSE=0`` in the environment turns the pause into a no-op, for the benchmarks
that measure what it buys.

:func:`frozen_after_startup` is the other use: a service's start-up objects (modules, classes,
routes, pydantic's validators: hundreds of thousands, all alive for the process's life) moved
out of the collector's reach once the app has started, so that a full (generation-2) collection
stops walking them on every request that happens to trigger one (BENCHMARKS.md, "Gate passes,
fifth pass"). ``SAFEWORK_GC_FREEZE=0`` turns it off."""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

ENABLED = os.environ.get("SAFEWORK_GC_PAUSE", "1") != "0"

_lock = threading.Lock()
_holders = 0
_resume = False
_started = 0  # apps of this process inside frozen_after_startup
_collected = False  # whether frozen_after_startup made its one full collection


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


def freezing() -> bool:
    """Whether :func:`frozen_after_startup` freezes (``SAFEWORK_GC_FREEZE``, read at each start)."""
    return os.environ.get("SAFEWORK_GC_FREEZE", "1") != "0"


@asynccontextmanager
async def frozen_after_startup() -> AsyncIterator[bool]:
    """Entered once an app has started (its lifespan's start-up done): the garbage collected,
    then every object still alive frozen (``gc.freeze``: left out of every later collection).
    Each app of the process freezes again as it starts (an app built after another started, as
    ``bench_pass`` and the tests build them, is frozen too); when the last one stops, the
    frozen objects return to the collector (``gc.unfreeze``), so a process that starts apps
    one after another (the tests) does not keep each one's leftovers for ever.

    The full collection before freezing runs once per process, at its first start (a service's
    one start); later starts collect the young generations only: a full collection of a test
    process's heap at every test's start cost the suite ~0.15 s of CPU a test (measured), and
    what a later start freezes unswept is returned to the collector when the apps stop. Yields
    whether it froze."""
    global _started, _collected
    if not freezing():
        yield False
        return
    with _lock:
        gc.collect(2 if not _collected else 1)
        _collected = True
        gc.freeze()
        _started += 1
    try:
        yield True
    finally:
        with _lock:
            _started -= 1
            if _started == 0:
                gc.unfreeze()
