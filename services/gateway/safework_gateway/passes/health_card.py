"""The worker's doses as a SMART Health Card (https://spec.smarthealth.cards): a minimised FHIR R4
``Patient`` + ``Immunization`` bundle in a verifiable credential, raw-DEFLATE compressed, signed
ES256 (P-256) as a compact JWS with ``zip: DEF``, and rendered as an ``shc:/`` numeric QR."""

from __future__ import annotations

import base64
import json
import zlib
from datetime import date, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from segno import consts

from safework_common.fhir import CVX, CVX_CODES, FHIR_VERSION, UNKNOWN_COVID_VACCINE, split_name

SHC_TYPES = [
    "https://smarthealth.cards#health-card",
    "https://smarthealth.cards#immunization",
    "https://smarthealth.cards#covid19",
]
# Above this many JWS characters the spec splits the card across QR codes; one dose history is far below.
MAX_SINGLE_QR_JWS = 1195


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def fhir_bundle(full_name: str, birth_date: date | str, doses: list[dict[str, Any]]) -> dict[str, Any]:
    """Minimal per the SMART Health Cards FHIR profile: ``resource:N`` references, no ids, no
    narrative, no display texts. Doses: ``product_code``, ``administered_at``, ``lot``, ``site``."""
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": "resource:0",
            "resource": {
                "resourceType": "Patient",
                "name": [split_name(full_name)],
                "birthDate": birth_date if isinstance(birth_date, str) else birth_date.isoformat(),
            },
        }
    ]
    for i, dose in enumerate(sorted(doses, key=lambda d: str(d["administered_at"])), start=1):
        at = dose["administered_at"]
        day = (datetime.fromisoformat(at) if isinstance(at, str) else at).date().isoformat()
        immunization: dict[str, Any] = {
            "resourceType": "Immunization",
            "status": "completed",
            "vaccineCode": {
                "coding": [
                    {"system": CVX, "code": CVX_CODES.get(str(dose["product_code"]).upper(), UNKNOWN_COVID_VACCINE)}
                ]
            },
            "patient": {"reference": "resource:0"},
            "occurrenceDateTime": day,
        }
        if dose.get("site"):
            immunization["performer"] = [{"actor": {"display": str(dose["site"])}}]
        if dose.get("lot"):
            immunization["lotNumber"] = str(dose["lot"])
        entries.append({"fullUrl": f"resource:{i}", "resource": immunization})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def credential(issuer: str, nbf: int, bundle: dict[str, Any]) -> dict[str, Any]:
    return {
        "iss": issuer,
        "nbf": nbf,
        "vc": {"type": SHC_TYPES, "credentialSubject": {"fhirVersion": FHIR_VERSION, "fhirBundle": bundle}},
    }


def sign(payload: dict[str, Any], kid: str, key: ec.EllipticCurvePrivateKey) -> str:
    """Compact JWS: header ``{"alg":"ES256","zip":"DEF","kid"}``, the minified payload raw-DEFLATEd
    (RFC 1951, wbits -15), an ES256 signature as r||s (RFC 7518 §3.4)."""
    header = _b64url(json.dumps({"alg": "ES256", "zip": "DEF", "kid": kid}, separators=(",", ":")).encode())
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    body = _b64url(compressor.compress(raw) + compressor.flush())
    der = key.sign(f"{header}.{body}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{header}.{body}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def numeric(jws: str) -> str:
    """The ``shc:/`` QR text: each character as two digits, its code minus 45."""
    return "shc:/" + "".join(f"{ord(c) - 45:02d}" for c in jws)


def from_numeric(text: str) -> str:
    digits = text.removeprefix("shc:/")
    return "".join(chr(int(digits[i : i + 2]) + 45) for i in range(0, len(digits), 2))


def qr_segments(jws: str) -> list[tuple[str, int]]:
    """Two segments, as the spec requires: ``shc:/`` in byte mode, the digits in numeric mode."""
    return [("shc:/", consts.MODE_BYTE), (numeric(jws)[5:], consts.MODE_NUMERIC)]
