"""Lab result batches: per-item outcomes, replays, conflicts, scope, and the set-based write."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from safework_common.internal_auth import InternalTokenMinter
from tests import callers
from tests.callers import As
from tests.conftest import running
from tests.registry.factories import Seed, cipher_for, national_id

COLLECTED = "2021-09-13T07:30:00+07:00"
RESULTED = "2021-09-13T15:00:00+07:00"


@pytest.fixture
def seed(db: str, keys_dir: Path) -> Seed:
    return Seed(db, cipher_for(keys_dir))


def single(sample_id: str, person_id: uuid.UUID | None, **kw: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "sample_id": sample_id,
        "person_id": None if person_id is None else str(person_id),
        "kind": "PCR",
        "collected_at": COLLECTED,
        "resulted_at": RESULTED,
        "result": "NEGATIVE",
    }
    item.update(kw)
    return {k: v for k, v in item.items() if v is not None}


def future() -> str:
    return (datetime.now(UTC) + timedelta(days=1)).isoformat()


# (rule, item builder given (person_id, national_id of that person), status, code, field suffix)
ItemCase = tuple[str, Callable[[uuid.UUID, str], dict[str, Any]], str, str | None, str | None]
CASES: list[ItemCase] = [
    ("a result named by person_id is stored", lambda p, n: single("S-1", p), "accepted", None, None),
    (
        "a result named by national_id is matched through the keyed hash",
        lambda p, n: single("S-2", None, national_id=n),
        "accepted",
        None,
        None,
    ),
    (
        "a rapid antigen test is a kind of its own",
        lambda p, n: single("S-3", p, kind="RAPID_ANTIGEN", result="POSITIVE"),
        "accepted",
        None,
        None,
    ),
    (
        "an unknown person is rejected",
        lambda p, n: single("S-4", uuid.UUID(int=7)),
        "rejected",
        "person_not_found",
        ".person_id",
    ),
    (
        "an unknown national ID is rejected",
        lambda p, n: single("S-5", None, national_id=national_id(99_999_999)),
        "rejected",
        "person_not_found",
        ".national_id",
    ),
    (
        "a malformed national ID is rejected (12 or 9 digits, province 001-096)",
        lambda p, n: single("S-6", None, national_id="999123456789"),
        "rejected",
        "invalid_national_id",
        ".national_id",
    ),
    (
        "collected_at in the future is rejected",
        lambda p, n: single("S-7", p, collected_at=future(), resulted_at=future()),
        "rejected",
        "collected_in_future",
        ".collected_at",
    ),
    (
        "resulted_at before collected_at is rejected",
        lambda p, n: single("S-8", p, resulted_at="2021-09-13T07:00:00+07:00"),
        "rejected",
        "resulted_before_collected",
        ".resulted_at",
    ),
    (
        "the same sample ID twice in one batch: the later one is rejected",
        lambda p, n: single("S-1", p),
        "rejected",
        "duplicate_in_batch",
        ".sample_id",
    ),
    (
        "no person reference at all is rejected",
        lambda p, n: single("S-9", None),
        "rejected",
        "person_ref_required",
        ".person_id",
    ),
    (
        "both person_id and national_id is ambiguous",
        lambda p, n: single("S-10", p, national_id=n),
        "rejected",
        "person_ref_ambiguous",
        "",
    ),
]


async def test_each_item_gets_its_outcome_and_only_accepted_items_are_stored(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    ent = await seed.enterprise()
    ((pid, nid),) = await seed.people(ent, 1)
    lab = await seed.lab()
    items = [build(pid, nid) for _, build, *_ in CASES]

    r = await As(registry, minter)(callers.lab(lab)).post(f"/v1/labs/{lab}/results", json={"items": items})

    assert r.status_code == 200, r.text
    body = r.json()
    for i, (rule, _, status, code, suffix) in enumerate(CASES):
        out = body["items"][i]
        assert out["index"] == i, rule
        assert out["sample_id"] == items[i]["sample_id"], rule
        assert out["status"] == status, rule
        assert out.get("code") == code, rule
        if suffix is not None:
            assert out["field"] == f"body.items[{i}]{suffix}", rule
    accepted = sum(1 for c in CASES if c[2] == "accepted")
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (accepted, 0, len(CASES) - accepted)
    stored = await seed.fetch("SELECT sample_id FROM test_result WHERE lab_id = $1 ORDER BY sample_id", lab)
    assert [r["sample_id"] for r in stored] == ["S-1", "S-2", "S-3"]


async def test_posting_the_same_batch_again_answers_duplicate_and_writes_nothing(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    ent = await seed.enterprise()
    people = await seed.people(ent, 3)
    lab = await seed.lab()
    items = [single(f"R-{k}", pid) for k, (pid, _) in enumerate(people)]
    items.append(single("R-bad", uuid.UUID(int=1)))
    client = As(registry, minter)(callers.lab(lab))

    first = (await client.post(f"/v1/labs/{lab}/results", json={"items": items})).json()
    again = (await client.post(f"/v1/labs/{lab}/results", json={"items": items})).json()

    assert [o["status"] for o in first["items"]] == ["accepted", "accepted", "accepted", "rejected"]
    assert [o["status"] for o in again["items"]] == ["duplicate", "duplicate", "duplicate", "rejected"]
    assert again["items"][3]["code"] == "person_not_found"
    assert await seed.count("test_result") == 3

    more = [*items[:2], single("R-new", people[0][0])]
    mixed = (await client.post(f"/v1/labs/{lab}/results", json={"items": more})).json()
    assert [o["status"] for o in mixed["items"]] == ["duplicate", "duplicate", "accepted"]
    assert await seed.count("test_result") == 4


async def test_same_sample_id_with_other_data_is_a_conflict_and_keeps_the_stored_row(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    ent = await seed.enterprise()
    ((pid, _),) = await seed.people(ent, 1)
    lab = await seed.lab()
    client = As(registry, minter)(callers.lab(lab))
    await client.post(f"/v1/labs/{lab}/results", json={"items": [single("C-1", pid)]})

    r = await client.post(f"/v1/labs/{lab}/results", json={"items": [single("C-1", pid, result="POSITIVE")]})

    out = r.json()["items"][0]
    assert (out["status"], out["code"], out["field"]) == ("rejected", "sample_conflict", "body.items[0].sample_id")
    assert await seed.fetchval("SELECT result FROM test_result WHERE sample_id = 'C-1'") == "NEGATIVE"


@pytest.mark.parametrize("concurrent", [False, True])
async def test_a_sample_id_is_one_row_per_lab_even_under_another_collection_month(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed, concurrent: bool
) -> None:
    """test_result is partitioned by month of collection, and its unique index must carry the
    partition key (issue 18): the same sample ID with a collection time in another month is still
    ``sample_conflict``, also when both batches arrive at once (one lab's batches write in turn)."""
    ent = await seed.enterprise()
    ((pid, _),) = await seed.people(ent, 1)
    lab = await seed.lab()
    client = As(registry, minter)(callers.lab(lab))
    first = single("M-1", pid)
    other = single("M-1", pid, collected_at="2021-08-13T07:30:00+07:00", resulted_at="2021-08-13T15:00:00+07:00")
    if concurrent:
        answers = await asyncio.gather(
            *(client.post(f"/v1/labs/{lab}/results", json={"items": [item]}) for item in (first, other))
        )
        statuses = sorted(a.json()["items"][0]["status"] for a in answers)
        assert statuses == ["accepted", "rejected"]
    else:
        await client.post(f"/v1/labs/{lab}/results", json={"items": [first]})
        out = (await client.post(f"/v1/labs/{lab}/results", json={"items": [other]})).json()["items"][0]
        assert (out["status"], out["code"]) == ("rejected", "sample_conflict")
    assert await seed.count("test_result") == 1


async def test_sample_ids_are_unique_per_lab_not_across_labs(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    ent = await seed.enterprise()
    ((pid, _),) = await seed.people(ent, 1)
    lab_a, lab_b = await seed.lab(), await seed.lab()
    for lab in (lab_a, lab_b):
        r = await As(registry, minter)(callers.lab(lab)).post(
            f"/v1/labs/{lab}/results", json={"items": [single("X-1", pid)]}
        )
        assert r.json()["items"][0]["status"] == "accepted"
    assert await seed.count("test_result") == 2


async def test_concurrent_identical_batches_store_one_set_of_rows(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    ent = await seed.enterprise()
    people = await seed.people(ent, 200)
    lab = await seed.lab()
    items = [single(f"CC-{k:04d}", pid) for k, (pid, _) in enumerate(people)]
    client = As(registry, minter)(callers.lab(lab))

    answers = await asyncio.gather(*(client.post(f"/v1/labs/{lab}/results", json={"items": items}) for _ in range(3)))

    assert all(a.status_code == 200 for a in answers)
    for k in range(len(items)):
        statuses = sorted(a.json()["items"][k]["status"] for a in answers)
        assert statuses == ["accepted", "duplicate", "duplicate"], k
    assert await seed.count("test_result") == 200


@pytest.mark.parametrize(
    ("rule", "caller", "status", "code"),
    [
        ("a lab posts only to its own lab_id", "other_lab", 404, "lab_not_found"),
        ("an inactive lab may not post", "inactive_lab", 403, "lab_inactive"),
        ("an enterprise may not post results", "enterprise", 403, "role_not_allowed"),
        ("a worker may not post results", "worker", 403, "role_not_allowed"),
        ("the authority may post for any lab", "authority", 200, None),
        ("an unknown lab is not found, even for the authority", "authority_unknown_lab", 404, "lab_not_found"),
    ],
)
async def test_who_may_post_results(
    registry: httpx.AsyncClient,
    minter: InternalTokenMinter,
    seed: Seed,
    rule: str,
    caller: str,
    status: int,
    code: str | None,
) -> None:
    ent = await seed.enterprise()
    ((pid, _),) = await seed.people(ent, 1)
    lab = await seed.lab(active=caller != "inactive_lab")
    other = await seed.lab()
    target = uuid.uuid4() if caller == "authority_unknown_lab" else lab
    who = {
        "other_lab": callers.lab(other),
        "inactive_lab": callers.lab(lab),
        "enterprise": callers.enterprise(ent),
        "worker": callers.worker(pid, ent),
        "authority": callers.PROVINCE,
        "authority_unknown_lab": callers.PROVINCE,
    }[caller]

    r = await As(registry, minter)(who).post(f"/v1/labs/{target}/results", json={"items": [single("W-1", pid)]})

    assert r.status_code == status, rule
    if code is not None:
        assert r.json()["error"]["code"] == code, rule
        assert await seed.count("test_result") == 0, rule


@pytest.mark.parametrize(
    ("rule", "body", "status", "code", "field"),
    [
        ("an empty batch is refused", {"items": []}, 422, "batch_empty", "body.items"),
        (
            "more items than REGISTRY_MAX_BATCH_ITEMS is refused",
            {"items": [{"sample_id": f"M-{k}"} for k in range(3)]},
            413,
            "batch_too_large",
            "body.items",
        ),
        ("a body that is not a batch (a list) is refused", [], 422, "validation_error", "body"),
        ("items that are not a list are refused", {"items": {"0": {}}}, 422, "validation_error", "body.items"),
        ("an unknown top-level key is refused", {"items": [], "lab": "x"}, 422, "validation_error", "body.lab"),
    ],
)
async def test_a_body_that_is_not_a_batch_is_refused_whole_and_changes_nothing(
    registry_app: FastAPI,
    minter: InternalTokenMinter,
    seed: Seed,
    rule: str,
    body: Any,
    status: int,
    code: str,
    field: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lab = await seed.lab()
    # The app is shared by the tests of its settings (tests/support/apps.py): set it back after.
    monkeypatch.setattr(registry_app.state.settings, "max_batch_items", 2)

    async with running(registry_app) as registry:
        r = await As(registry, minter)(callers.lab(lab)).post(f"/v1/labs/{lab}/results", json=body)

    assert r.status_code == status, rule
    error = r.json()["error"]
    assert error["code"] == code, rule
    assert field in [d["field"] for d in error["details"]], rule
    assert await seed.count("test_result") == 0, rule


@pytest.mark.parametrize(
    ("rule", "bad", "code", "field"),
    [
        (
            "a timestamp without a time zone rejects its item only (issue 16)",
            {"collected_at": "2021-09-13T07:30:00"},
            "timezone_aware",
            "body.items[1].collected_at",
        ),
        ("an unknown test kind rejects its item only", {"kind": "ELISA"}, "literal_error", "body.items[1].kind"),
        (
            "'#' is reserved in sample IDs (pool members)",
            {"sample_id": "M#2"},
            "string_pattern_mismatch",
            "body.items[1].sample_id",
        ),
        ("an unknown field rejects its item only", {"colour": "red"}, "extra_forbidden", "body.items[1].colour"),
    ],
)
async def test_an_item_that_fails_validation_is_rejected_alone(
    registry: httpx.AsyncClient,
    minter: InternalTokenMinter,
    seed: Seed,
    rule: str,
    bad: dict[str, Any],
    code: str,
    field: str,
) -> None:
    ent = await seed.enterprise()
    ((pid, _),) = await seed.people(ent, 1)
    lab = await seed.lab()
    items = [single("M-1", pid), {**single("M-2", pid), **bad}, single("M-3", pid, kind="RAPID_ANTIGEN")]

    r = await As(registry, minter)(callers.lab(lab)).post(f"/v1/labs/{lab}/results", json={"items": items})

    assert r.status_code == 200, rule
    body = r.json()
    assert [o["status"] for o in body["items"]] == ["accepted", "rejected", "accepted"], rule
    assert (body["items"][1]["code"], body["items"][1]["field"]) == (code, field), rule
    assert "row" not in body["items"][1], "a JSON batch has no spreadsheet rows"
    assert await seed.count("test_result") == 2, rule


async def test_one_audit_row_per_batch_with_counts_only(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    ent = await seed.enterprise()
    ((pid, nid),) = await seed.people(ent, 1)
    lab = await seed.lab()
    items = [single("A-1", None, national_id=nid), single("A-2", uuid.UUID(int=3))]

    await As(registry, minter)(callers.lab(lab)).post(f"/v1/labs/{lab}/results", json={"items": items})

    rows = await seed.fetch("SELECT entity, entity_id, details::text AS details FROM audit_log")
    assert len(rows) == 1
    assert (rows[0]["entity"], rows[0]["entity_id"]) == ("test_result_batch", str(lab))
    details = rows[0]["details"]
    assert '"accepted": 1' in details and '"rejected": 1' in details
    for secret in (nid, str(pid), "NEGATIVE", "A-1"):
        assert secret not in details


async def test_lab_reads_back_its_own_submissions_page_by_page(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    ent = await seed.enterprise()
    people = await seed.people(ent, 5)
    lab, other = await seed.lab(), await seed.lab()
    client = As(registry, minter)(callers.lab(lab))
    await client.post(
        f"/v1/labs/{lab}/results", json={"items": [single(f"P-{k}", p) for k, (p, _) in enumerate(people)]}
    )

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"/v1/labs/{lab}/results", params=params)).json()
        seen += [i["sample_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"P-{k}" for k in range(5)]
    assert len(seen) == 5

    r = await As(registry, minter)(callers.lab(other)).get(f"/v1/labs/{lab}/results")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "lab_not_found")


async def test_person_results_are_read_in_scope(
    registry: httpx.AsyncClient, minter: InternalTokenMinter, seed: Seed
) -> None:
    ent, other_ent = await seed.enterprise(), await seed.enterprise()
    ((pid, _),) = await seed.people(ent, 1)
    lab = await seed.lab()
    await As(registry, minter)(callers.lab(lab)).post(
        f"/v1/labs/{lab}/results",
        json={
            "items": [
                single("Q-1", pid, collected_at="2021-09-10T07:00:00+07:00", resulted_at="2021-09-10T12:00:00+07:00"),
                single("Q-2", pid),
            ]
        },
    )
    as_ = As(registry, minter)

    mine = (await as_(callers.worker(pid, ent)).get(f"/v1/persons/{pid}/results")).json()
    assert [i["sample_id"] for i in mine["items"]] == ["Q-2", "Q-1"]  # newest sample first
    assert (await as_(callers.enterprise(ent)).get(f"/v1/persons/{pid}/results")).status_code == 200
    for stranger in (callers.enterprise(other_ent), callers.worker(uuid.uuid4()), callers.lab(lab)):
        r = await as_(stranger).get(f"/v1/persons/{pid}/results")
        assert (r.status_code, r.json()["error"]["code"]) == (404, "person_not_found")
