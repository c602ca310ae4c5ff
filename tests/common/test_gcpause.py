"""The one garbage-collector pause (issue 19): reference counted, so overlapping batches keep
it until the last ends; a collector someone else turned off is left off."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from safework_common import gcpause
from safework_common.gcpause import gc_paused


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    assert gcpause.holders() == 0
    if was:
        gc.enable()
    else:
        gc.disable()


def test_overlapping_batches_keep_the_pause_until_the_last_ends() -> None:
    first, second = gc_paused(), gc_paused()
    first.__enter__()
    second.__enter__()
    assert not gc.isenabled() and gcpause.holders() == 2
    first.__exit__(None, None, None)  # the first batch ends while the second runs
    assert not gc.isenabled(), "the second batch lost its pause"
    second.__exit__(None, None, None)
    assert gc.isenabled()


async def test_overlapping_requests_on_the_event_loop() -> None:
    both_in = asyncio.Event()
    inside = 0

    async def batch(hold: asyncio.Event) -> bool:
        nonlocal inside
        with gc_paused():
            inside += 1
            if inside == 2:
                both_in.set()
            await hold.wait()
            return gc.isenabled()

    short, long = asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(batch(short)), asyncio.create_task(batch(long))]
    await both_in.wait()
    short.set()
    assert await tasks[0] is False
    await asyncio.sleep(0)
    assert not gc.isenabled(), "the long batch lost its pause when the short one ended"
    long.set()
    assert await tasks[1] is False
    assert gc.isenabled()


def test_a_collector_turned_off_elsewhere_stays_off() -> None:
    gc.disable()
    with gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_the_pause_ends_when_the_batch_fails() -> None:
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("the batch failed")
    assert gc.isenabled()


def test_switched_off_for_measurements(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gcpause, "ENABLED", False)
    with gc_paused():
        assert gc.isenabled()
