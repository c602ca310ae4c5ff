"""`safework pass verify`: a gate pass checked offline, the way a gate device does it.

It needs the gateway's JWKS and a revocation list fetched earlier (each a file, or a URL to fetch
now); the pass itself is the QR's text or a photo/scan of the QR (PNG). The outcome is printed;
the exit code is 0 only for a valid pass (1 refused, 2 when the inputs cannot be read)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from safework_common.passes.verifier import PassVerifier, RevocationListError
from safework_common.timezone import LOCAL_TZ

pass_app = typer.Typer(help="Gate passes: verify one offline.", no_args_is_help=True)

EXIT_REFUSED = 1
EXIT_UNREADABLE = 2


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_UNREADABLE)


def _read(source: str, what: str, token: str | None) -> str:
    """A file's text, or a URL's body (with the bearer token, if any)."""
    if source.startswith(("http://", "https://")):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            r = httpx.get(source, headers=headers, timeout=10.0)
        except httpx.HTTPError as exc:
            raise _fail(f"cannot fetch the {what} from {source}: {type(exc).__name__}") from exc
        if r.status_code != 200:
            raise _fail(f"cannot fetch the {what} from {source}: HTTP {r.status_code}")
        return r.text
    try:
        return Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"cannot read the {what} file {source}: {type(exc).__name__}") from exc


def _jwks(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _fail("the JWKS is not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise _fail("the JWKS has no keys")
    return data


def _revocation_token(text: str) -> str:
    """The list as the route answers it (JSON with ``token``) or the bare compact JWS."""
    text = text.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise _fail("the revocation list is not JSON") from exc
        if not isinstance(data, dict) or not isinstance(data.get("token"), str):
            raise _fail("the revocation list has no token")
        return str(data["token"])
    return text


def _decode_png(path: Path) -> str:
    """The text of the QR in an image (zxing-cpp; ``pip install 'safework[gate]'``)."""
    try:
        import zxingcpp
        from PIL import Image
    except ImportError as exc:
        raise _fail("reading a QR image needs zxing-cpp and pillow: pip install 'safework[gate]'") from exc
    try:
        with Image.open(path) as image:
            found = zxingcpp.read_barcodes(image.convert("L"))
    except OSError as exc:
        raise _fail(f"cannot read the image {path}: {type(exc).__name__}") from exc
    texts = [b.text for b in found if b.format == zxingcpp.BarcodeFormat.QRCode and b.text]
    if not texts:
        raise typer.Exit(_refused("pass_invalid", "no QR code found in the image"))
    return texts[0]


def _refused(code: str, why: str) -> int:
    typer.echo(f"REFUSED  {code}: {why}")
    return EXIT_REFUSED


WHY = {
    "pass_invalid": "not a Safework pass, or tampered with or truncated",
    "pass_unknown_key": "not signed by a published pass key",
    "pass_expired": "expired",
    "pass_not_yet_valid": "not valid yet",
    "pass_revoked": "revoked (a positive result, a contact, a suspension or leaving the enterprise)",
    "revocation_list_stale": "the revocation list is too old: refresh it",
}


@pass_app.command("verify")
def verify(
    qr_text: Annotated[str | None, typer.Argument(help="The QR's text (the pass itself); or use --png.")] = None,
    png: Annotated[Path | None, typer.Option(help="A PNG image of the QR instead of its text.")] = None,
    jwks: Annotated[str, typer.Option(help="The gateway's JWKS: a file, or a URL (…/.well-known/jwks.json).")] = "",
    revocations: Annotated[
        str, typer.Option(help="The revocation list fetched earlier: a file, or the URL …/api/v1/passes/revocations.")
    ] = "",
    token: Annotated[
        str | None,
        typer.Option(envvar="SAFEWORK_TOKEN", help="Bearer token to fetch the revocation list by URL."),
    ] = None,
    max_list_age_hours: Annotated[
        float, typer.Option(min=0.0, help="A revocation list older than this refuses every pass.")
    ] = 24.0,
) -> None:
    """Verify a gate pass offline: signature, pass key, validity window, revocation list."""
    if (qr_text is None) == (png is None):
        raise typer.BadParameter("give the QR's text or --png, one of them", param_hint="QR_TEXT / --png")
    if not jwks:
        raise typer.BadParameter("required", param_hint="--jwks")
    if not revocations:
        raise typer.BadParameter("required", param_hint="--revocations")
    text = qr_text if qr_text is not None else _decode_png(png) if png is not None else ""
    verifier = PassVerifier(_jwks(_read(jwks, "JWKS", None)), max_list_age_seconds=int(max_list_age_hours * 3600))
    try:
        verifier.load_revocations(_revocation_token(_read(revocations, "revocation list", token)))
    except RevocationListError as exc:
        raise _fail(str(exc)) from exc
    check = verifier.verify(text.strip())
    if not check.valid:
        raise typer.Exit(_refused(check.code, WHY.get(check.code, check.code)))
    typer.echo(f"VALID    pass {check.pass_id}")
    typer.echo(f"  enterprise: {check.enterprise_id}")
    typer.echo(f"  holder:     {check.name} ({check.subject})")
    typer.echo(f"  expires:    {_instant(check.expires_at)}")


def _instant(epoch: int | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).astimezone(LOCAL_TZ).isoformat(timespec="minutes")
