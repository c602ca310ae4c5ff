"""`safework policy load`: put the repository's policy versions into the database.

Versions are immutable: loading a version whose document differs from the stored one is
refused, so history stays what it was. A new version is a new file with a later date. The one
exception is a corrected reading of the same sources: the file says so with a higher
``revision``, and replaces the stored document (its old digest is kept in the log line)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import typer

from safework_common.settings import plain_pg_url
from safework_scheduler.policy.files import VERSIONS_DIR, canonical, read_versions

policy_app = typer.Typer(help="Versioned policy (testing, vaccine and single-app rules).", no_args_is_help=True)


class PolicyConflict(Exception):
    pass


async def load_policies(url: str, directory: Path = VERSIONS_DIR) -> list[str]:
    """Insert versions not yet loaded; return their names. Raise on a changed version."""
    import json

    loaded: list[str] = []
    conn = await asyncpg.connect(plain_pg_url(url))
    try:
        async with conn.transaction():
            for doc in read_versions(directory):
                data, digest = canonical(doc)
                row = await conn.fetchrow(
                    "SELECT sha256, coalesce((document->>'revision')::int, 1) AS revision"
                    " FROM scheduler_policy WHERE version = $1",
                    doc.version,
                )
                if row is not None:
                    if bytes(row["sha256"]) == digest:
                        continue
                    if doc.revision <= row["revision"]:
                        raise PolicyConflict(
                            f"policy {doc.version} differs from the loaded one; add a new version"
                            " (or, for a corrected reading of the same sources, a higher revision)"
                        )
                    await conn.execute(
                        "UPDATE scheduler_policy SET effective_from = $2, document = $3::jsonb, sha256 = $4,"
                        " loaded_at = now() WHERE version = $1",
                        doc.version,
                        doc.effective_from,
                        json.dumps(data),
                        digest,
                    )
                    loaded.append(f"{doc.version} (revision {doc.revision})")
                    continue
                await conn.execute(
                    "INSERT INTO scheduler_policy (version, effective_from, document, sha256)"
                    " VALUES ($1, $2, $3::jsonb, $4)",
                    doc.version,
                    doc.effective_from,
                    json.dumps(data),
                    digest,
                )
                loaded.append(doc.version)
    finally:
        await conn.close()
    return loaded


def load_sync(url: str, directory: Path = VERSIONS_DIR) -> list[str]:
    return asyncio.run(load_policies(url, directory))


@policy_app.command("load")
def load_command(directory: Path = VERSIONS_DIR) -> None:
    """Load policy versions from DIRECTORY (default: the repository's) into the database."""
    from safework_cli.main import database, default_data_dir

    with database(default_data_dir()) as url:
        try:
            names = load_sync(url, directory)
        except PolicyConflict as exc:
            typer.echo(f"safework: {exc}", err=True)
            raise typer.Exit(1) from exc
    typer.echo("loaded: " + (", ".join(names) if names else "nothing new"))
