"""The one garbage-collector pause (issue 19): reference counted, so overlapping batches keep
it until the last ends; a collector someone else turned off is left off. And the start-up
objects frozen once an app has started (issue 17), until the process's last app stops."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from types import SimpleNamespace
from typing import cast

import pytest
from fastapi import FastAPI

from safework_common import gcpause
from safework_common.app import with_metrics
from safework_common.gcpause import gc_paused
from safework_common.settings import ServiceSettings


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


async def test_the_start_up_objects_stay_frozen_until_the_last_app_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEWORK_GC_FREEZE", "1")
    assert gc.get_freeze_count() == 0
    async with gcpause.frozen_after_startup() as froze:
        assert froze and gc.get_freeze_count() > 0
        first = gc.get_freeze_count()
        async with gcpause.frozen_after_startup():  # an app built after the first one started
            assert gc.get_freeze_count() >= first
        assert gc.get_freeze_count() >= first, "the first app's objects were unfrozen while it runs"
    assert gc.get_freeze_count() == 0


async def test_safework_gc_freeze_0_leaves_the_collector_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEWORK_GC_FREEZE", "0")
    async with gcpause.frozen_after_startup() as froze:
        assert not froze and gc.get_freeze_count() == 0


async def test_an_app_with_metrics_is_frozen_while_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEWORK_GC_FREEZE", "1")
    app = FastAPI()
    with_metrics(app, cast(ServiceSettings, SimpleNamespace(metrics_host="127.0.0.1", metrics_port=None)))
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
