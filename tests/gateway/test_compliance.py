"""Compliance polling: computed by the scheduler, served by the gateway with an ETag, 304 for a
matching If-None-Match (RFC 9110 §13.1.2) and Cache-Control (RFC 9111 §5.2)."""

from __future__ import annotations

from safework_gateway.forwarding.compliance import etag_of, none_match
from tests.gateway.conftest import Stack
from tests.gateway.world import DISTRICT_A, DISTRICT_B, app_info, enterprise, new_device_id


def test_if_none_match_uses_the_weak_comparison() -> None:
    tag = etag_of(b'{"status":"compliant"}')
    assert none_match(tag, tag)
    assert none_match(f"W/{tag}", tag)
    assert none_match(f'"other", {tag}', tag)
    assert none_match("*", tag)
    assert not none_match('"other"', tag)
    assert not none_match(None, tag)
    assert etag_of(b"a") != etag_of(b"b")


async def test_compliance_poll_with_etag_and_304(stack: Stack) -> None:
    tenant = await enterprise(stack, DISTRICT_A)
    path = f"/api/v1/enterprises/{tenant.enterprise_id}/compliance"
    first = await stack.http.get(path, headers=tenant.headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["status"] in {"compliant", "warning", "violation"}
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, max-age=60"
    assert etag == etag_of(first.content)

    again = await stack.http.get(path, headers={**tenant.headers, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b"" and again.headers["etag"] == etag
    assert again.headers["cache-control"] == "private, max-age=60"

    stale = await stack.http.get(path, headers={**tenant.headers, "If-None-Match": '"not-this-one"'})
    assert stale.status_code == 200 and stale.headers["etag"] == etag

    # A change (an enterprise account syncs from the app) changes the answer and its ETag.
    sync = {"device_id": new_device_id(), **app_info(platform="web")}
    r = await stack.http.post(f"/api/v1/enterprises/{tenant.enterprise_id}/app/sync", json=sync, headers=tenant.headers)
    assert r.status_code in (200, 201), r.text
    changed = await stack.http.get(path, headers={**tenant.headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


async def test_compliance_of_another_enterprise_is_not_found(stack: Stack) -> None:
    ours = await enterprise(stack, DISTRICT_A, people=0)
    theirs = await enterprise(stack, DISTRICT_B, people=0)
    r = await stack.http.get(f"/api/v1/enterprises/{theirs.enterprise_id}/compliance", headers=ours.headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "enterprise_not_found"
    district_a = {"Authorization": f"Bearer {stack.token('authority', district=DISTRICT_A)}"}
    r = await stack.http.get(f"/api/v1/enterprises/{theirs.enterprise_id}/compliance", headers=district_a)
    assert r.status_code == 404
    r = await stack.http.get(f"/api/v1/enterprises/{ours.enterprise_id}/compliance", headers=district_a)
    assert r.status_code == 200


async def test_the_authority_lists_violations_by_zone_and_district(stack: Stack) -> None:
    park = await enterprise(stack, DISTRICT_A, people=1, zone_type="KCN")
    await enterprise(stack, DISTRICT_B, people=1, zone_type="KCN")
    r = await stack.http.get(
        "/api/v1/compliance/violations", params={"zone_type": "KCN", "district": DISTRICT_A}, headers=stack.province()
    )
    assert r.status_code == 200, r.text
    listed = r.text
    assert park.enterprise_id in listed
    district_b = {"Authorization": f"Bearer {stack.token('authority', district=DISTRICT_B)}"}
    r = await stack.http.get("/api/v1/compliance/violations", headers=district_b)
    assert r.status_code == 200 and park.enterprise_id not in r.text
