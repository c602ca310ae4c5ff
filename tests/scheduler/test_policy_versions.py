"""Policy is data: versions with an effective date, the one in force picked by `as_of`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import asyncpg
import pytest
import yaml

from safework_cli.policy import PolicyConflict, load_policies
from safework_common.contract.policy_document import PolicyDocument, in_force
from safework_scheduler.policy.files import VERSIONS_DIR, read_versions


def test_repository_versions_parse_and_have_distinct_dates() -> None:
    docs = read_versions()
    assert [d.version for d in docs] == ["2021-05-13", "2021-06-24", "2021-07-20", "2021-09-11", "2021-11-01"]


@pytest.mark.parametrize(
    ("rule", "on", "expected"),
    [
        ("before the first version (seeds/002, 13 May) nothing is in force", date(2021, 5, 12), None),
        ("seeds/002 mass testing from the conference of 13 May", date(2021, 5, 13), "2021-05-13"),
        ("seeds/002 still in force the day before June's", date(2021, 6, 23), "2021-05-13"),
        ("seeds/003 restoring production from 24 June", date(2021, 6, 24), "2021-06-24"),
        ("seeds/003 the day before the July plan", date(2021, 7, 19), "2021-06-24"),
        ("July plan (seeds/001, seeds/004) from its date", date(2021, 7, 20), "2021-07-20"),
        ("July plan the day before September's", date(2021, 9, 10), "2021-07-20"),
        ("September conclusion (seeds/000) from 11 Sep 2021", date(2021, 9, 11), "2021-09-11"),
        ("September conclusion still in force at the end of October", date(2021, 10, 31), "2021-09-11"),
        ("seeds/000 §2.4 'sau đó': the app mandate outside the parks from 1 Nov", date(2021, 11, 1), "2021-11-01"),
    ],
)
def test_version_in_force_on_a_date(rule: str, on: date, expected: str | None) -> None:
    doc = in_force(read_versions(), on)
    assert (doc.version if doc else None) == expected, rule


def test_september_policy_holds_the_numbers_of_seeds_000() -> None:
    doc = {d.version: d for d in read_versions()}["2021-09-11"]
    t = doc.testing
    assert t.routine is not None
    assert (t.high_risk_interval_days, t.unvaccinated_interval_days) == (3, 3)
    assert (t.routine.round_days, t.routine.share, t.routine.alternating_halves) == (7, 0.5, True)
    assert set(t.sampled_industries_outside_parks) == {"garment", "shuttlecock"}
    assert t.sampled_industries_min_share == 0.2
    assert t.small_enterprise_threshold == 20
    assert t.new_hire is not None and (t.new_hire.pre_arrival_pcr_max_hours, t.new_hire.buffer_days) == (48, 7)
    assert (t.new_hire.buffer_negative_tests, t.new_hire.high_risk_days_after_buffer) == (2, 10)
    assert t.boarding_house_return is not None
    assert (t.boarding_house_return.first_test_within_hours, t.boarding_house_return.second_test_after_hours) == (
        24,
        72,
    )
    assert doc.vaccines.deadlines == {1: date(2021, 9, 30), 2: date(2021, 10, 31)}
    assert doc.vaccines.tier_of("KCN", "worker") == 1
    assert doc.vaccines.tier_of("OUTSIDE", "freight_driver") == 1
    assert doc.vaccines.tier_of("OUTSIDE", "freight_driver_assistant") == 1  # seeds/003 "phụ xe"
    assert doc.vaccines.tier_of("OUTSIDE", "shuttle_driver") == 3  # passengers, not goods
    assert doc.vaccines.tier_of("CCN", "worker") == 2
    assert doc.vaccines.tier_of("OUTSIDE", "worker") == 3
    assert doc.province == "Bắc Giang"
    assert set(t.outside_parks_zone_types) == {"CCN", "OUTSIDE"}  # §2.2: "ngoài khu công nghiệp"
    assert doc.single_app.enforced_zone_types == ("KCN",)  # §2.4: the parks first


@pytest.mark.parametrize("version", ["2021-05-13", "2021-06-24", "2021-07-20", "2021-09-11", "2021-11-01"])
def test_history_window_covers_every_rule(version: str) -> None:
    """A person's history is read back ``history_days``: at least 2 + 7 + 10 days for a new hire
    (seeds/000 §2.2 (2)) and 14 for an alternating half, plus the grace."""
    t = {d.version: d for d in read_versions()}[version].testing
    assert t.history_days >= t.min_history_days
    raw = yaml.safe_load((VERSIONS_DIR / f"{version}.yaml").read_text())
    raw["testing"]["history_days"] = 10
    with pytest.raises(ValueError, match="history_days"):
        PolicyDocument.model_validate(raw)


async def test_loading_is_idempotent_and_versions_are_immutable(db: str, tmp_path: Path) -> None:
    # The session fixture loaded the repository's versions already.
    assert await load_policies(db) == []
    changed = tmp_path / "versions"
    changed.mkdir()
    raw = yaml.safe_load((VERSIONS_DIR / "2021-09-11.yaml").read_text())
    raw["testing"]["high_risk_interval_days"] = 2
    (changed / "2021-09-11.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(PolicyConflict):
        await load_policies(db, changed)
    # A corrected reading of the same sources says so with a higher revision, and replaces it.
    corrected = dict(raw, revision=raw["revision"] + 1)
    (changed / "2021-09-11.yaml").write_text(yaml.safe_dump(corrected))
    assert await load_policies(db, changed) == [f"2021-09-11 (revision {corrected['revision']})"]
    assert await load_policies(db, changed) == []
    new = dict(raw, version="2021-12-01", effective_from="2021-12-01")
    (changed / "2021-09-11.yaml").unlink()
    (changed / "2021-12-01.yaml").write_text(yaml.safe_dump(new))
    assert await load_policies(db, changed) == ["2021-12-01"]
    conn = await asyncpg.connect(db)
    try:
        versions = [
            r["version"] for r in await conn.fetch("SELECT version FROM scheduler_policy ORDER BY effective_from")
        ]
        assert versions == ["2021-05-13", "2021-06-24", "2021-07-20", "2021-09-11", "2021-11-01", "2021-12-01"]
        await conn.execute("DELETE FROM scheduler_policy WHERE version = '2021-12-01'")
        # Put the repository's September document back (the corrected revision replaced it).
        await conn.execute("DELETE FROM scheduler_policy WHERE version = '2021-09-11'")
    finally:
        await conn.close()
    assert await load_policies(db) == ["2021-09-11"]
    PolicyDocument.model_validate(new)


@pytest.mark.parametrize("version", ["2021-05-13", "2021-06-24", "2021-07-20", "2021-09-11", "2021-11-01"])
def test_every_parameter_names_its_source(version: str) -> None:
    """DOMAIN.md: a value the seeds do not give is a named parameter marked "not in the
    source". Every parameter of every version has an entry, and a document without one is
    refused."""
    doc = {d.version: d for d in read_versions()}[version]
    assert set(doc.sources) == set(doc.parameter_paths())
    assert doc.unsourced("testing.overdue_grace_hours")  # not in any seed
    raw = yaml.safe_load((VERSIONS_DIR / f"{version}.yaml").read_text())
    del raw["sources"]["testing.overdue_grace_hours"]
    with pytest.raises(ValueError, match=r"testing\.overdue_grace_hours"):
        PolicyDocument.model_validate(raw)


@pytest.mark.parametrize(
    ("rule", "version", "path", "unsourced"),
    [
        ("seeds/000 §2.2 (1): 3 days for the high-risk", "2021-09-11", "testing.high_risk_interval_days", False),
        ("seeds/000 §2.2 (3): 50% each round", "2021-09-11", "testing.routine.share", False),
        (
            "seeds/000 §2.2: the district's ratio is the district's; our default is not",
            "2021-09-11",
            "testing.district_sampling_ratio.default",
            True,
        ),
        (
            "July: 'duy trì … 3 ngày/lần' (seeds/000) for the unvaccinated",
            "2021-07-20",
            "testing.unvaccinated_interval_days",
            False,
        ),
        ("July: periodic screening has no period in seeds/004", "2021-07-20", "testing.routine.round_days", True),
        ("July: no under-20 ratio rule before September", "2021-07-20", "testing.district_sampling_ratio", False),
        ("seeds/002: before 16 May", "2021-05-13", "testing.mass_testing.due_by", False),
        ("seeds/002: paid by the enterprise", "2021-05-13", "testing.mass_testing.payer", False),
        ("seeds/003: the buffer's length is not given", "2021-06-24", "testing.new_hire.buffer_days", True),
    ],
)
def test_what_the_seeds_give_and_what_they_do_not(rule: str, version: str, path: str, unsourced: bool) -> None:
    doc = {d.version: d for d in read_versions()}[version]
    assert doc.unsourced(path) is unsourced, rule


def test_july_holds_no_number_the_seeds_do_not_give() -> None:
    """Issue: the July file held 'unvaccinated every 7 days' and the under-20 ratio rule two
    months early. July keeps the 3 days September says it maintains, and no district ratio."""
    doc = {d.version: d for d in read_versions()}["2021-07-20"]
    assert doc.testing.unvaccinated_interval_days == 3
    assert doc.testing.district_sampling_ratio is None
    assert doc.testing.sampled_industries_outside_parks == ()
    may = {d.version: d for d in read_versions()}["2021-05-13"]
    assert may.testing.mass_testing is not None and may.testing.mass_testing.payer == "enterprise"
    assert may.testing.routine is None


async def test_the_policy_store_reads_again_after_its_ttl_or_when_invalidated(db: str, tmp_path: Path) -> None:
    """A version loaded while the scheduler runs takes effect within the cache's lifetime
    (``PolicyStore``'s 30 s), at once after ``invalidate()``, never before its time is up."""
    from safework_common.db import make_engine, make_sessionmaker
    from safework_scheduler.policy.repository import PolicyStore

    clock = [1000.0]
    store = PolicyStore(ttl_seconds=30.0, timer=lambda: clock[0])
    engine = make_engine(db, pool_size=1)
    changed = tmp_path / "versions"
    changed.mkdir()
    raw = yaml.safe_load((VERSIONS_DIR / "2021-11-01.yaml").read_text())
    (changed / "2021-12-01.yaml").write_text(
        yaml.safe_dump(dict(raw, version="2021-12-01", effective_from="2021-12-01"))
    )
    try:
        async with make_sessionmaker(engine)() as session:
            before = [d.version for d in await store.versions(session)]
            assert before[-1] == "2021-11-01"
            assert await load_policies(db, changed) == ["2021-12-01"]
            clock[0] += 29.0
            assert [d.version for d in await store.versions(session)] == before  # still cached
            clock[0] += 2.0
            assert [d.version for d in await store.versions(session)] == [*before, "2021-12-01"]
            conn = await asyncpg.connect(db)
            try:
                await conn.execute("DELETE FROM scheduler_policy WHERE version = '2021-12-01'")
            finally:
                await conn.close()
            assert [d.version for d in await store.versions(session)][-1] == "2021-12-01"  # cached
            store.invalidate()
            assert [d.version for d in await store.versions(session)] == before
    finally:
        await engine.dispose()
