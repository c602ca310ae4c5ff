"""The one scope module (session 3, finding 8): the same question gets the same answer for the
gateway's principal and the services' caller, in every service."""

from __future__ import annotations

import uuid

import pytest

from safework_common import scope
from safework_common.errors import Forbidden, NotFound, SafeworkError, Unprocessable
from safework_common.internal_auth import Caller
from safework_gateway.auth.principal import Principal

E1, E2 = uuid.uuid4(), uuid.uuid4()
PROVINCE = Caller(subject="p", role="authority")
VIET_YEN = Caller(subject="d", role="authority", district="Việt Yên")
# A client made before districts were checked, with a spelling of its own.
VIET_YEN_OLD_SPELLING = Caller(subject="d2", role="authority", district="Huyện Việt Yên")
ATLANTIS = Caller(subject="a", role="authority", district="Atlantis")
ENTERPRISE = Caller(subject="e", role="enterprise", enterprise_id=str(E1))
LAB = Caller(subject="l", role="lab", lab_id=str(E2))
SYSTEM = Caller(subject="s", role="system")


def answer(call: object) -> tuple[int, str, str | None]:
    assert callable(call)
    with pytest.raises(SafeworkError) as raised:
        call()
    exc = raised.value
    return exc.status_code, exc.code, exc.details[0].field if exc.details else None


def test_a_district_authority_naming_another_district_is_not_found_everywhere() -> None:
    """The question /due, /compliance/violations and /vaccines/queue used to answer 403, 403 and
    404: now one function answers it, 404 with the field."""
    assert scope.district_filter(VIET_YEN, None) == "Việt Yên"
    assert scope.district_filter(VIET_YEN, "viet yen") == "Việt Yên"
    assert answer(lambda: scope.district_filter(VIET_YEN, "Yên Dũng")) == (404, "district_not_found", "query.district")
    assert answer(lambda: scope.narrow(scope.caller_reach(VIET_YEN, "authority"), "Yên Dũng", None)) == (
        404,
        "district_not_found",
        "query.district",
    )
    assert answer(lambda: scope.require_in_district(VIET_YEN, "Yên Dũng")) == (
        404,
        "district_not_found",
        "body.district",
    )
    assert scope.district_filter(PROVINCE, "Huyện Yên Dũng") == "Yên Dũng"
    assert scope.district_filter(PROVINCE, None) is None


def test_an_unknown_district_is_422_with_the_field() -> None:
    for call in (
        lambda: scope.district_filter(PROVINCE, "Atlantis"),
        lambda: scope.narrow(scope.Reach(), "Atlantis", None),
    ):
        assert answer(call) == (422, "unknown_district", "query.district")
    assert answer(lambda: scope.require_in_district(PROVINCE, "Atlantis")) == (422, "unknown_district", "body.district")


def test_districts_are_compared_in_their_canonical_form() -> None:
    assert scope.caller_district(VIET_YEN_OLD_SPELLING) == "Việt Yên"
    assert scope.may_see_enterprise(VIET_YEN_OLD_SPELLING, E1, "Việt Yên")
    assert scope.may_see_enterprise(VIET_YEN, E1, "viet yen")
    assert not scope.may_see_enterprise(VIET_YEN, E1, "Yên Dũng")


def test_an_authority_whose_district_is_unknown_reaches_nothing_never_everything() -> None:
    assert not scope.sees_everything(ATLANTIS)
    assert scope.caller_district(ATLANTIS) == "Atlantis"
    assert not scope.may_see_enterprise(ATLANTIS, E1, "Việt Yên")
    assert not scope.may_see_person(ATLANTIS, uuid.uuid4(), E1, "Việt Yên")
    assert not scope.may_name_any_person(ATLANTIS)
    assert scope.caller_reach(ATLANTIS, "authority") == scope.Reach(district="Atlantis")


def test_people_labs_and_sites() -> None:
    pid = uuid.uuid4()
    assert scope.may_see_person(VIET_YEN, pid, E1, "Việt Yên")
    assert not scope.may_see_person(VIET_YEN, pid, E1, "Yên Dũng")
    assert not scope.may_see_person(VIET_YEN, pid, None, None)  # no employer: the province's
    assert scope.may_see_person(PROVINCE, pid, None, None)
    assert scope.may_name_any_person(LAB) and scope.may_name_any_person(PROVINCE) and scope.may_name_any_person(SYSTEM)
    assert not scope.may_name_any_person(VIET_YEN)
    assert scope.may_see_lab(VIET_YEN, E2) and scope.may_see_lab(LAB, E2) and not scope.may_see_lab(LAB, E1)
    assert scope.may_name_site(VIET_YEN, "Việt Yên") and not scope.may_name_site(VIET_YEN, "Yên Dũng")
    assert scope.may_name_site(ENTERPRISE, "Yên Dũng")  # the one-site-one-enterprise rule decides
    assert scope.may_see_site(ENTERPRISE, None, "Yên Dũng") and not scope.may_see_site(ENTERPRISE, E2, "Việt Yên")


def test_roles_and_province_only() -> None:
    assert answer(lambda: scope.require_role(LAB, "authority")) == (403, "role_not_allowed", None)
    assert answer(lambda: scope.require_province(VIET_YEN)) == (403, "province_only", None)
    assert answer(lambda: scope.require_province(ENTERPRISE)) == (403, "role_not_allowed", None)
    scope.require_province(PROVINCE)
    scope.require_role(SYSTEM, "authority")


def test_the_gateway_principal_is_judged_as_its_internal_caller() -> None:
    principal = Principal(subject="d", role="authority", typ="client", jti="j", expires_at=0, district="viet yen")
    assert scope.caller_district(principal) == scope.caller_district(principal.caller()) == "Việt Yên"
    enterprise = Principal(subject="e", role="enterprise", typ="client", jti="j", expires_at=0, enterprise_id=str(E1))
    assert not scope.claims_other_tenant(enterprise, "enterprise", E1)
    assert scope.claims_other_tenant(enterprise, "enterprise", E2)
    assert scope.claims_other_tenant(enterprise, "lab", E1)  # no lab claim at all
    assert not scope.claims_other_tenant(principal, "enterprise", E2)  # decided upstream, by district


def test_exception_types() -> None:
    with pytest.raises(NotFound):
        scope.district_filter(VIET_YEN, "Lục Nam")
    with pytest.raises(Unprocessable):
        scope.district_filter(VIET_YEN, "Atlantis")
    with pytest.raises(Forbidden):
        scope.caller_enterprise(Caller(subject="e", role="enterprise"))
