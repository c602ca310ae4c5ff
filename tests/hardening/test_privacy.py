"""Privacy in logs and responses (issue "Hardening", item 8a; docs/ARCHITECTURE.md "Privacy").

One full flow through the public gateway, in front of the real registry and scheduler: the
authority registers an enterprise and a lab and makes their clients; the enterprise upserts a
roster with national IDs (one written with spaces), adds a venue, issues an activation code; the
worker activates, declares symptoms, reports a trip and checks in; the lab posts a batch naming
people by national ID, single and pooled, positive and negative; the enterprise reads its due
list, its compliance and searches its roster by a national ID; the authority looks a person up
by national ID; a second lab reads back its own submissions.

* Logs: every logger at DEBUG, as the services configure them (JSON lines), plus SQLAlchemy's
  statement and row logging and the HTTP client's. No national ID in any form, no sample ID,
  result, symptom or note, no activation code, client secret or token may appear; not even
  when a client puts national IDs where they do not belong: in URL paths, query strings and
  header values, to the gateway and to the registry directly (issue 12, item 5).
* Responses: a national ID is in full only in the authority's answers; every other role's answers
  carry none in any form; one lab never sees another lab's results.
"""

from __future__ import annotations

import io
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from safework_common.logging import configure_logging
from tests.callers import PROVINCE
from tests.gateway.conftest import Stack, bearer
from tests.gateway.world import DISTRICT_A, app_info, national_id, new_device_id, ok, tax_code

SYMPTOMS = ["fever", "cough", "loss_of_taste_or_smell"]
NOTE = "sốt nhẹ từ tối qua, mất vị giác"
RESULT_VALUES = ("POSITIVE", "NEGATIVE")
# Every logger that could carry a request's data, turned up to DEBUG for the flow.
LOGGERS = ("", "safework", "uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy.engine", "sqlalchemy.pool",
           "httpx", "httpcore", "asyncio", "fastapi", "starlette")  # fmt: skip


@dataclass
class Flow:
    """What the flow sent (the secrets and personal data to look for) and every answer it got,
    by the role that got it."""

    national_ids: list[str] = field(default_factory=list)
    person_ids: list[str] = field(default_factory=list)
    sample_ids: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    answers: list[tuple[str, str, httpx.Response]] = field(default_factory=list)

    async def call(self, http: httpx.AsyncClient, role: str, method: str, url: str, **kw: Any) -> httpx.Response:
        response = await http.request(method, url, **kw)
        self.answers.append((role, f"{method} {url}", response))
        return response


def spaced(nid: str) -> str:
    """The way an ID card prints it: groups of three."""
    return " ".join(nid[i : i + 3] for i in range(0, len(nid), 3))


def any_form(nid: str) -> re.Pattern[str]:
    """The national ID in any form: bare digits, or with spaces, dots or dashes between them."""
    return re.compile(r"(?<!\d)" + r"[\s.\-]*".join(nid) + r"(?!\d)")


async def full_flow(stack: Stack) -> Flow:
    flow = Flow()
    http = stack.http

    async def grant(client_id: str, secret: str) -> str:
        body = await ok(await flow.call(http, "anyone", "POST", "/api/v1/auth/token", data={
            "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}))  # fmt: skip
        flow.secrets.append(body["access_token"])
        return str(body["access_token"])

    authority_id, authority_secret = await stack.new_client("authority")
    flow.secrets.append(authority_secret)
    authority = bearer(await grant(authority_id, authority_secret))

    # The authority: an enterprise, a lab, and their clients.
    company = {"tax_code": tax_code(), "name": "Công ty May Vân Trung", "district": DISTRICT_A, "zone_type": "KCN",
               "zone_name": "KCN Vân Trung", "headcount": 3}  # fmt: skip
    enterprise_id = (await ok(await flow.call(http, "authority", "POST", "/api/v1/enterprises", json=company,
                                              headers=authority), 201))["id"]  # fmt: skip
    labs = []
    for n in range(2):
        body = {"name": f"CDC lab {n}", "licence_code": f"BG-PRIV-{n}-{enterprise_id[:8]}"}
        labs.append((await ok(await flow.call(http, "authority", "POST", "/api/v1/labs", json=body,
                                              headers=authority), 201))["id"])  # fmt: skip
    clients = {}
    for name, scope in (("enterprise", {"enterprise_id": enterprise_id}), ("lab", {"lab_id": labs[0]}),
                        ("other lab", {"lab_id": labs[1]})):  # fmt: skip
        body = {"name": f"Privacy {name}", "role": name.removeprefix("other "), **scope}
        made = await ok(await flow.call(http, "authority", "POST", "/api/v1/clients", json=body, headers=authority),
                        201)  # fmt: skip
        flow.secrets.append(made["client_secret"])
        clients[name] = bearer(await grant(made["client_id"], made["client_secret"]))
    company_h, lab_h, other_lab_h = clients["enterprise"], clients["lab"], clients["other lab"]

    # The enterprise: its roster, by national ID (one as printed on the card), a venue, a code.
    flow.national_ids = [national_id() for _ in range(3)]
    items = [
        {"employee_code": f"NV-{n:04d}", "national_id": spaced(nid) if n == 1 else nid,
         "full_name": f"Nguyễn Thị Riêng Tư {n}", "date_of_birth": "1995-03-14", "sex": "female"}
        for n, nid in enumerate(flow.national_ids)
    ]  # fmt: skip
    roster = await ok(await flow.call(http, "enterprise", "PUT", f"/api/v1/enterprises/{enterprise_id}/roster",
                                      json={"items": items}, headers=company_h))  # fmt: skip
    flow.person_ids = [str(item["person_id"]) for item in roster["items"]]
    assert roster["counts"]["created"] == 3, roster
    venue = await ok(await flow.call(http, "enterprise", "POST", f"/api/v1/enterprises/{enterprise_id}/venues",
                                     json={"name": "Cổng 1", "kind": "gate"}, headers=company_h), 201)  # fmt: skip
    codes = await ok(await flow.call(http, "enterprise", "POST",
                                     f"/api/v1/enterprises/{enterprise_id}/activation-codes",
                                     json={"person_ids": flow.person_ids[:1]}, headers=company_h), 201)  # fmt: skip
    code = codes["items"][0]["code"]
    flow.secrets += [code, code.replace("-", "")]

    # The worker: activation, symptoms, a trip, a check-in, own status.
    device = {"code": code, "device_id": new_device_id(), **app_info()}
    tokens = await ok(await flow.call(http, "anyone", "POST", "/api/v1/app/activate", json=device))
    flow.secrets += [tokens["access_token"], tokens["refresh_token"]]
    worker = bearer(tokens["access_token"])
    declaration = {"declared_at": "2021-09-15T06:45:00+07:00", "symptoms": SYMPTOMS,
                   "contact_with_confirmed_case": True, "note": NOTE}  # fmt: skip
    await ok(await flow.call(http, "worker", "POST", "/api/v1/me/declarations", json=declaration, headers=worker), 201)
    trip = {"left_at": "2021-09-10T17:00:00+07:00", "destination_province": "Hà Nội"}
    await ok(await flow.call(http, "worker", "POST", "/api/v1/me/travels", json=trip, headers=worker), 201)
    checkin = {"qr_code": venue["qr_code"], "checked_in_at": "2021-09-15T07:02:00+07:00"}
    await ok(await flow.call(http, "worker", "POST", "/api/v1/me/checkins", json=checkin, headers=worker), 201)

    # The lab: results named by national ID, single and pooled.
    flow.sample_ids = ["PRIV-S-0001", "PRIV-P-0001"]
    batch = {"items": [
        {"type": "single", "sample_id": flow.sample_ids[0], "national_id": spaced(flow.national_ids[0]),
         "kind": "RAPID_ANTIGEN", "collected_at": "2021-09-15T07:30:00+07:00",
         "resulted_at": "2021-09-15T08:00:00+07:00", "result": "POSITIVE"},
        {"type": "pool", "pool_sample_id": flow.sample_ids[1],
         "members": [{"national_id": flow.national_ids[1]}, {"person_id": flow.person_ids[2]}],
         "collected_at": "2021-09-15T07:30:00+07:00", "resulted_at": "2021-09-15T15:00:00+07:00",
         "result": "NEGATIVE"},
    ]}  # fmt: skip
    posted = await ok(await flow.call(http, "lab", "POST", f"/api/v1/labs/{labs[0]}/results", json=batch,
                                      headers={**lab_h, "Idempotency-Key": "privacy-batch-1"}))  # fmt: skip
    assert posted["accepted"] == 2, posted

    # Reads: every role, the records above.
    reads = [
        ("worker", "/api/v1/me", worker), ("worker", "/api/v1/me/status", worker),
        ("worker", "/api/v1/me/declarations", worker),
        ("enterprise", f"/api/v1/enterprises/{enterprise_id}/due?date=2021-09-16", company_h),
        ("enterprise", f"/api/v1/enterprises/{enterprise_id}/compliance", company_h),
        ("enterprise", f"/api/v1/enterprises/{enterprise_id}/roster", company_h),
        ("enterprise", f"/api/v1/enterprises/{enterprise_id}/roster?q={flow.national_ids[2]}", company_h),
        ("enterprise", f"/api/v1/enterprises/{enterprise_id}/installations", company_h),
        ("lab", f"/api/v1/labs/{labs[0]}/results", lab_h),
        ("other lab", f"/api/v1/labs/{labs[1]}/results", other_lab_h),
        ("authority", f"/api/v1/enterprises/{enterprise_id}/roster", authority),
        ("authority", "/api/v1/due/people?as_of=2021-09-16T08:00:00%2B07:00", authority),
    ]  # fmt: skip
    for pid in flow.person_ids:
        reads += [(role, f"/api/v1/persons/{pid}{tail}", headers)
                  for role, headers in (("enterprise", company_h), ("authority", authority))
                  for tail in ("", "/summary", "/results", "/declarations", "/due")]  # fmt: skip
    for role, url, headers in reads:
        await ok(await flow.call(http, role, "GET", url, headers=headers))
    for nid in (spaced(flow.national_ids[0]), flow.national_ids[1]):
        found = await ok(await flow.call(http, "authority", "POST", "/api/v1/persons/lookup",
                                         json={"national_id": nid}, headers=authority))  # fmt: skip
        assert found["national_id"] == nid.replace(" ", "")
    # Another lab's results are not found, as if they did not exist.
    r = await flow.call(http, "other lab", "GET", f"/api/v1/labs/{labs[0]}/results", headers=other_lab_h)
    assert r.status_code == 404
    return flow


async def ids_where_they_do_not_belong(stack: Stack, flow: Flow) -> None:
    """A client's mistakes (or probes): national IDs in paths, query strings and headers, each
    answered (4xx mostly) and each logged on the way (the access line's path, the request ID, the
    upstream request line). A 9-digit (CMND) ID joins the flow's 12-digit ones."""
    cmnd = "1" + national_id()[4:]
    flow.national_ids.append(cmnd)
    nid, other = flow.national_ids[0], flow.national_ids[1]
    authority = stack.province()
    dotted = ".".join(nid[i : i + 3] for i in range(0, len(nid), 3))
    paths = [
        f"/api/v1/persons/{nid}", f"/api/v1/persons/{spaced(other).replace(' ', '%20')}",
        f"/api/v1/persons/{dotted}/summary", f"/api/v1/persons/{cmnd}/results",
        f"/api/v1/enterprises/{nid}/roster", f"/api/v1/labs/{cmnd}", f"/api/v1/vaccine-products/{nid}",
        f"/api/v1/no-such-route/{nid}", f"/api/v1/persons/CCCD{other}",
    ]  # fmt: skip
    queries = [
        f"/api/v1/enterprises?district={nid}&zone_type=KCN", f"/api/v1/due/people?as_of={nid}&district={cmnd}",
        f"/api/v1/vaccine-products/AZD1222?national_id={other}", f"/api/v1/persons/lookup?national_id={nid}",
    ]  # fmt: skip
    for url in paths + queries:
        r = await stack.http.get(url, headers=authority)
        assert r.status_code < 500, (url, r.text)
    headers = [
        {"X-Request-ID": nid}, {"X-Request-ID": f"req-{cmnd}"}, {"User-Agent": f"app/1.0 (id {spaced(nid)})"},
        {"Accept": f"application/json; id={other}"}, {"Authorization": f"Bearer {nid}"},
        {"Content-Type": f"application/json; charset={cmnd}"},
    ]  # fmt: skip
    for extra in headers:
        r = await stack.http.post(f"/api/v1/labs/{uuid.uuid4()}/results", content=b'{"items": []}',
                                  headers={**authority, "Content-Type": "application/json", **extra})  # fmt: skip
        assert r.status_code < 500, (extra, r.text)
    r = await stack.http.post(f"/api/v1/labs/{uuid.uuid4()}/results", json={"items": []},
                              headers={**authority, "Idempotency-Key": nid})  # fmt: skip
    assert r.status_code < 500, r.text
    # The registry itself, as a caller inside would reach it.
    assert stack.registry is not None
    for url in (f"/v1/persons/{nid}", f"/v1/enterprises?district={cmnd}"):
        r = await stack.registry(PROVINCE).get(url, headers={"X-Request-ID": other})
        assert r.status_code < 500, (url, r.text)


@contextmanager
def every_log_line() -> Iterator[io.StringIO]:
    """The services' own logging set-up (JSON lines on one root handler), at DEBUG, with every
    logger turned up (SQL statements and rows, the HTTP client, the server), written to a buffer."""
    root = logging.getLogger()
    saved = [(name, logging.getLogger(name)) for name in LOGGERS]
    state = [(lg, lg.level, lg.handlers[:], lg.propagate, lg.disabled) for _, lg in saved]
    buffer = io.StringIO()
    try:
        configure_logging("safework", "DEBUG")
        handler = root.handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(buffer)
        for _, lg in saved:
            lg.setLevel(logging.DEBUG)
        yield buffer
    finally:
        for lg, level, handlers, propagate, disabled in state:
            lg.setLevel(level)
            lg.handlers[:] = handlers
            lg.propagate = propagate
            lg.disabled = disabled


def leaks(text: str, flow: Flow) -> list[str]:
    """What of the flow's personal data and secrets appears in ``text``."""
    found = [f"national ID {nid}" for nid in flow.national_ids if any_form(nid).search(text)]
    found += [f"sample ID {s}" for s in flow.sample_ids if s in text]
    found += [f"symptom {s}" for s in SYMPTOMS if s in text]
    found += ["the declaration's note"] if NOTE in text else []
    found += [f"a secret or token ending {s[-6:]}" for s in flow.secrets if s in text]
    for line in text.splitlines():
        for value in RESULT_VALUES:
            if value in line and any(p in line for p in (*flow.person_ids, *flow.sample_ids)):
                found.append(f"result {value} next to a person or sample: {line[:200]}")
    return found


async def test_no_national_id_result_symptom_or_secret_in_the_logs(
    stack: Stack, capfd: pytest.CaptureFixture[str]
) -> None:
    """Rule (ARCHITECTURE "Privacy"): national IDs, results and symptoms are never logged, nor
    activation codes, client secrets or tokens, at any level, including SQL echo; a national ID
    a client sends in a path, a query string or a header is not logged either."""
    with every_log_line() as logs:
        flow = await full_flow(stack)
        await ids_where_they_do_not_belong(stack, flow)
    text = logs.getvalue()
    assert len(text.splitlines()) > 200  # the flow was logged, at DEBUG, SQL included
    assert "SELECT" in text and "HTTP Request" in text and "[SQL parameters hidden" in text
    out, err = capfd.readouterr()
    found = leaks(text + out + err, flow)
    assert not found, "\n".join(found)


async def test_national_ids_in_full_only_to_the_authority_and_labs_see_only_their_own(stack: Stack) -> None:
    """Rule (ARCHITECTURE "Privacy", README): a national ID is shown in full only to the authority
    (masked ``********1234`` to everyone else); an enterprise, a worker or a lab never gets one in
    any form; a lab reads back its own submissions only."""
    flow = await full_flow(stack)
    shown: dict[str, set[str]] = {}
    for role, label, response in flow.answers:
        for nid in flow.national_ids:
            if any_form(nid).search(response.text):
                shown.setdefault(role, set()).add(label.split("?")[0])
    assert set(shown) == {"authority"}, shown
    # The authority sees them where it should: its look-ups and its reads of each person.
    authority_reads = {f"GET /api/v1/persons/{pid}" for pid in flow.person_ids}
    assert authority_reads <= shown["authority"] and "POST /api/v1/persons/lookup" in shown["authority"]
    # Everyone else gets the masked form.
    reads = (*flow.person_ids, "/api/v1/me")
    masked = [a.json()["national_id"] for role, label, a in flow.answers
              if role in ("enterprise", "worker") and label.endswith(reads)]  # fmt: skip
    assert masked and all(re.fullmatch(r"\*{8}\d{4}", m) for m in masked), masked

    def samples(role: str) -> set[str]:
        """The samples a lab's read-backs (GET .../results) showed it."""
        read = [a for r, label, a in flow.answers if r == role and label.startswith("GET /api/v1/labs/")]
        return {i["pool_sample_id"] or i["sample_id"] for a in read if a.status_code == 200 for i in a.json()["items"]}

    assert samples("lab") == set(flow.sample_ids)
    assert samples("other lab") == set()
