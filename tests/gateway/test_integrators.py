"""What an integrator meets first (issue 15): the catalogue of codes, messages in Vietnamese or
English with the same codes, unknown query parameters refused, /docs without a CDN, CORS for a
browser dashboard."""

from __future__ import annotations

from pathlib import Path

from safework_gateway.app import create_app
from tests.conftest import running
from tests.gateway.conftest import DOWN_URL, Stack, bearer, gateway_settings_for
from tests.gateway.world import DISTRICT_A, enterprise


async def test_the_catalogue_is_served_in_the_language_asked_for(gateway: Stack) -> None:
    r = await gateway.http.get("/api/v1/codes", headers={"Accept-Language": "vi-VN,vi;q=0.9"})
    assert r.status_code == 200 and r.headers["content-language"] == "vi"
    items = {i["code"]: i for i in r.json()["items"]}
    assert r.json()["next_cursor"] is None
    assert items["person_not_found"]["message"] == "Không tìm thấy người này."
    assert items["person_not_found"]["http_statuses"] == [404]
    assert items["POSITIVE"]["kind"] == "reason" and items["POSITIVE"]["source"]
    english = (await gateway.http.get("/api/v1/codes")).json()["items"]
    assert [i["code"] for i in english] == list(items)
    assert next(i for i in english if i["code"] == "person_not_found")["message"] == "No such person."


async def test_an_error_is_in_the_callers_language_and_its_code_is_not(gateway: Stack) -> None:
    """Rule: the message follows Accept-Language (default English); the code never changes."""
    r = await gateway.http.get("/api/v1/clients")
    assert r.status_code == 401 and r.headers["content-language"] == "en"
    assert r.json()["error"]["code"] == "missing_token"
    assert r.json()["error"]["message"] == "A bearer token is required."
    r = await gateway.http.get("/api/v1/clients", headers={"Accept-Language": "vi"})
    assert r.status_code == 401 and r.headers["content-language"] == "vi"
    assert r.json()["error"] == {"code": "missing_token", "message": "Cần có bearer token.", "details": []}


async def test_an_unknown_query_parameter_is_refused_like_an_unknown_field(gateway: Stack) -> None:
    """Rule: a misspelt filter (``distrct``) is refused with the field, never ignored."""
    token = gateway.province()
    r = await gateway.http.get("/api/v1/clients", params={"limit": 5, "rol": "lab"}, headers=token)
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "unknown_query_parameter"
    assert error["details"][0]["field"] == "query.rol"
    assert (await gateway.http.get("/api/v1/clients", params={"limit": 5}, headers=token)).status_code == 200
    # A forwarded route's declared parameters pass, others are refused before the upstream.
    r = await gateway.http.get("/api/v1/due", params={"distrct": "Việt Yên"}, headers=token)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "query.distrct"


async def test_docs_load_their_assets_from_the_service(gateway: Stack) -> None:
    """A provincial network may be offline: /docs names no CDN, and its assets are served."""
    page = (await gateway.http.get("/docs")).text
    assert "cdn.jsdelivr.net" not in page and "unpkg.com" not in page
    assets = [part.split('"')[0] for part in page.split('src="')[1:]] + [
        part.split('"')[0] for part in page.split('href="')[1:] if part.split('"')[0].endswith(".css")
    ]
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets), assets
    for asset in assets:
        assert asset.startswith("/"), asset
        r = await gateway.http.get(asset)
        assert r.status_code == 200 and len(r.content) > 1000, asset


async def test_cors_answers_an_allowed_origins_preflight(db: str, keys_dir: Path) -> None:
    origin = "https://dashboard.bacgiang.example"
    settings = gateway_settings_for(
        db, keys_dir, registry_url=DOWN_URL, scheduler_url=DOWN_URL, cors_allow_origins=[origin]
    )
    app = create_app(settings, configure_logs=False)
    async with running(app) as http:
        stack = Stack(app=app, http=http)
        preflight = {
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization, accept-language",
        }
        r = await http.options("/api/v1/clients", headers=preflight)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == origin
        r = await http.options("/api/v1/clients", headers={**preflight, "Origin": "https://elsewhere.example"})
        assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
        r = await http.get("/api/v1/clients", headers={"Origin": origin, **bearer(stack.token("authority"))})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == origin
        assert "ratelimit-limit" in r.headers["access-control-expose-headers"].lower()


async def test_the_enterprise_due_list_and_the_plan_are_judged_as_of_the_instant_asked(stack: Stack) -> None:
    """Rule: ``as_of`` wherever a rule applies: the due list takes it beside ``date`` (the date
    defaults to as_of's), and a vaccine plan from a ``start`` is judged at that start."""
    a = await enterprise(stack, DISTRICT_A, people=1)
    province = stack.province()
    when = "2021-09-15T08:00:00+07:00"
    r = await stack.http.get(f"/api/v1/enterprises/{a.enterprise_id}/due", params={"as_of": when}, headers=province)
    assert r.status_code == 200, r.text
    assert r.json()["date"] == "2021-09-15" and r.json()["as_of"].startswith("2021-09-15T08:00:00")
    product = {"code": "AZD1222", "name": "AstraZeneca", "min_interval_days": 56}
    assert (await stack.http.post("/api/v1/vaccine-products", json=product, headers=province)).status_code == 201
    plan = {"daily_capacity": 100, "start": "2021-09-20"}
    r = await stack.http.post("/api/v1/vaccines/plan", json=plan, headers=province)
    assert r.status_code == 200, r.text
    assert r.json()["as_of"].startswith("2021-09-20T00:00:00")
