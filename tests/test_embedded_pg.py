"""The embedded PostgreSQL: a second command attaching to a running server leaves it running."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from safework_cli.embedded_pg import EmbeddedPostgres


async def test_a_command_attaching_to_a_running_server_does_not_stop_it(tmp_path: Path) -> None:
    """`safework authority create` while `safework up` runs must not stop the database under it."""
    first = EmbeddedPostgres(tmp_path / "pg", delete_on_stop=True)
    first.start()
    try:
        assert first.started_here
        second = EmbeddedPostgres(tmp_path / "pg")
        second.start()
        assert not second.started_here
        url = second.ensure_database("safework")
        second.stop()
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT 1") == 1
        finally:
            await conn.close()
    finally:
        first.stop()
