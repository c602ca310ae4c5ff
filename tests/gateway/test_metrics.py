"""Prometheus metrics: scraped from the metrics listener and parsed with prometheus-client's own
parser; labels are route templates and codes, never a person, a national ID or any ID."""

from __future__ import annotations

import re

import httpx
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from safework_common.metrics import start_metrics
from tests.gateway.conftest import Stack
from tests.gateway.world import DISTRICT_A, enterprise, ok

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_LONG_DIGITS = re.compile(r"\d{9,}")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(scraped: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    wanted = tuple(sorted(labels.items()))
    return sum(v for (n, ls), v in scraped.items() if n == name and all(item in ls for item in wanted))


def scrape_http() -> str:
    server = start_metrics("127.0.0.1", 0)
    assert server is not None
    try:
        r = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5.0)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain")
        return r.text
    finally:
        server.stop()


async def test_metrics_count_routes_by_template_and_hold_no_personal_data(stack: Stack) -> None:
    before = samples(generate_latest(REGISTRY).decode())
    tenant = await enterprise(stack, DISTRICT_A, people=2)
    province = stack.province()
    person_id, nid = tenant.people[0], tenant.national_ids[0]
    # A national-ID lookup, a person read, a verdict, a roster upsert.
    await ok(await stack.http.post("/api/v1/persons/lookup", json={"national_id": nid}, headers=province))
    await ok(await stack.http.get(f"/api/v1/persons/{person_id}", headers=province))
    await ok(await stack.http.get(f"/api/v1/persons/{person_id}/due", headers=province))
    roster = {"items": [{"employee_code": "NV-0000", "full_name": "Nguyễn Văn A", "job_role": "welder"}]}
    path = f"/api/v1/enterprises/{tenant.enterprise_id}/roster"
    await ok(await stack.http.put(path, json=roster, headers=tenant.headers))
    assert (await stack.http.get(f"/api/v1/persons/{person_id}/nowhere", headers=province)).status_code == 404

    text = scrape_http()
    after = samples(text)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    count = "safework_http_request_duration_seconds_count"
    # The gateway's route and the registry's behind it, each by its template.
    assert grew(count, route="/api/v1/persons/{person_id}", method="GET", status="200") == 1
    assert grew(count, route="/v1/persons/{person_id}", method="GET", status="200") == 1
    assert grew(count, route="/api/v1/persons/lookup", method="POST", status="200") == 1
    assert grew(count, route="<unmatched>", status="404") >= 1
    assert grew("safework_gateway_upstream_request_duration_seconds_count", upstream="registry") >= 4
    assert grew("safework_gateway_upstream_request_duration_seconds_count", upstream="scheduler") == 1
    assert grew("safework_verdicts_total") == 1
    assert grew("safework_batch_item_outcomes_total", kind="roster") == 1
    assert grew("safework_batch_items_count", kind="roster") == 1
    assert any(n == "safework_policy_in_force" and v == 1 for (n, _), v in after.items())
    assert ("safework_db_pool_size", ()) in after

    # No label anywhere holds an ID, a national ID or a long digit run (privacy: ARCHITECTURE).
    for (_, labels), _v in after.items():
        for _k, label in labels:
            assert not _UUID.search(label), label
            assert not _LONG_DIGITS.search(label), label
            assert nid not in label and person_id not in label
    assert nid not in text and person_id not in text and tenant.enterprise_id not in text
