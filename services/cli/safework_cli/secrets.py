"""Secrets a fresh install generates for itself; none of them ever sits in the repository."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from typing import Annotated

import typer

from safework_common.internal_auth import ensure_keypair, generate_keypair
from safework_common.settings import INTERNAL_PRIVATE_KEY_FILE, INTERNAL_PUBLIC_KEY_FILE
from safework_common.timezone import now_local
from safework_registry.settings import NATIONAL_ID_KEY_FILE


def ensure_install_secrets(keys_dir: Path) -> None:
    keys_dir.mkdir(parents=True, exist_ok=True)
    keys_dir.chmod(0o700)
    ensure_keypair(keys_dir / INTERNAL_PRIVATE_KEY_FILE, keys_dir / INTERNAL_PUBLIC_KEY_FILE)
    nid = keys_dir / NATIONAL_ID_KEY_FILE
    if not nid.exists():
        nid.write_text(secrets.token_hex(32))
        nid.chmod(0o600)


# --- `safework secrets generate`: what a production deployment needs, as a .env file ----------

secrets_app = typer.Typer(help="Secrets for a production deployment.", no_args_is_help=True)


def _quoted(pem: bytes) -> str:
    """A PEM on one line, double-quoted with ``\\n`` escapes (Docker Compose and python-dotenv
    both turn them back into newlines)."""
    return '"' + pem.decode().strip().replace("\n", "\\n") + '"'


def production_env() -> str:
    """Fresh values for every secret docker-compose.yml asks for, as ``.env`` lines."""
    private, public = generate_keypair()
    now = now_local().isoformat(timespec="seconds")
    lines = [
        f"# Safework production secrets, generated {now} by `safework secrets generate`.",
        "# Keep this file out of version control, readable by the operator only (chmod 600), and",
        "# backed up: without GATEWAY_KEY_ENCRYPTION_KEY the stored signing keys cannot be opened,",
        "# without REGISTRY_NATIONAL_ID_KEY no national ID can be looked up again.",
        "",
        "# The database password (the postgres service and every service's DATABASE_URL).",
        f"POSTGRES_PASSWORD={secrets.token_urlsafe(32)}",
        "# The internal service token (Ed25519): the gateway signs, the registry and scheduler verify.",
        f"GATEWAY_INTERNAL_TOKEN_PRIVATE_KEY={_quoted(private)}",
        f"INTERNAL_TOKEN_PUBLIC_KEY={_quoted(public)}",
        "# Encrypts the gateway's JWT signing keys at rest (32 bytes, base64url).",
        f"GATEWAY_KEY_ENCRYPTION_KEY={base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip('=')}",
        "# Keys the national-ID hash (HMAC) and its encryption; never change it once people are registered.",
        f"REGISTRY_NATIONAL_ID_KEY={secrets.token_hex(32)}",
    ]
    return "\n".join(lines) + "\n"


@secrets_app.command("generate")
def generate_command(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (mode 0600) instead of printing.")
    ] = None,
) -> None:
    """Print a .env with fresh values for every production secret (docker compose reads it)."""
    text = production_env()
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        typer.echo(f"safework: {output} exists; secrets are never overwritten (move it away first)", err=True)
        raise typer.Exit(1) from None
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    typer.echo(f"safework: wrote {output} (mode 0600)", err=True)
