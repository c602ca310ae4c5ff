"""Group commit of issued passes: the passes waiting at one moment are written by one statement.

A pass is acknowledged (201) only once its row is committed: each request awaits its own row's
commit. Requests do not wait for company: the first pass to arrive is written at once, and the
passes that arrive while a statement is running are written together by the next one, so a
lone pass costs one round trip and a busy gateway writes many passes per round trip (one
statement, one commit, one WAL flush), which is what issuing costs beside a status read.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

from safework_gateway.passes.repository import IssuedPass

Write = Callable[[Sequence[IssuedPass]], Awaitable[None]]


class PassRecorder:
    """Writes issued passes in batches (``write``: one statement for a batch, committed when it
    returns, idempotent); at most ``max_batch`` a statement, one statement at a time."""

    def __init__(self, write: Write, *, max_batch: int = 500) -> None:
        self._write = write
        self._max_batch = max_batch
        self._waiting: list[tuple[IssuedPass, asyncio.Future[None]]] = []
        self._writing: asyncio.Task[None] | None = None
        self.statements = 0  # batches written, and the passes in them (bench/bench_pass.py prints both)
        self.recorded = 0

    async def record(self, issued: IssuedPass) -> None:
        """Returns once the pass is committed; raises what the write raised (an outage: 503)."""
        committed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((issued, committed))
        if self._writing is None:
            self._writing = asyncio.create_task(self._write_waiting(), name="gateway-pass-recorder")
        # A request cancelled here (its caller gone) leaves its row to the batch: written, unused.
        await committed

    async def _write_waiting(self) -> None:
        batch: list[tuple[IssuedPass, asyncio.Future[None]]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
                try:
                    await self._write([issued for issued, _ in batch])
                except Exception as exc:
                    for _, committed in batch:
                        if not committed.done():
                            committed.set_exception(exc)
                else:
                    self.statements += 1
                    self.recorded += len(batch)
                    for _, committed in batch:
                        if not committed.done():
                            committed.set_result(None)
        finally:
            self._writing = None
            # Cancelled (the gateway stopping): whoever still waits is told, never left hanging.
            for _, committed in (*batch, *self._waiting):
                committed.cancel()  # a no-op on a future already done
            self._waiting = []

    async def stop(self) -> None:
        """Wait for the statement under way (its passes are acknowledged or refused)."""
        if self._writing is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._writing)
