"""A small province built through the public API itself, as the authority would: two districts,
an enterprise in each with people on the roster, two labs, and the clients' tokens."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.gateway.conftest import Stack, bearer

DISTRICT_A = "Việt Yên"
DISTRICT_B = "Yên Dũng"
_serial = itertools.count(1)


def national_id() -> str:
    """A valid 12-digit citizen ID from Bắc Giang (province code 024)."""
    return f"0241{next(_serial) * 7919 % 100_000_000:08d}"


def tax_code() -> str:
    return f"{2400000000 + uuid.uuid4().int % 99_999_999:010d}"


@dataclass
class Tenant:
    enterprise_id: str
    district: str
    people: list[str] = field(default_factory=list)
    national_ids: list[str] = field(default_factory=list)
    token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


async def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def enterprise(stack: Stack, district: str, *, people: int = 2, zone_type: str = "KCN") -> Tenant:
    province = stack.province()
    body: dict[str, Any] = {"tax_code": tax_code(), "name": f"Công ty {uuid.uuid4().hex[:6]}", "district": district,
                            "zone_type": zone_type, "headcount": people}  # fmt: skip
    if zone_type != "OUTSIDE":
        body["zone_name"] = "KCN Vân Trung" if zone_type == "KCN" else "CCN Hồng Thái"
    created = await ok(await stack.http.post("/api/v1/enterprises", json=body, headers=province), 201)
    tenant = Tenant(enterprise_id=created["id"], district=district)
    tenant.token = stack.token("enterprise", enterprise_id=tenant.enterprise_id)
    for n in range(people):
        person = {
            "national_id": national_id(),
            "full_name": f"Nguyễn Văn {chr(65 + n)}",
            "date_of_birth": "1995-03-14",
            "sex": "male",
            "enterprise_id": tenant.enterprise_id,
            "employee_code": f"NV-{n:04d}",
        }
        made = await ok(await stack.http.post("/api/v1/persons", json=person, headers=province), 201)
        tenant.people.append(made["id"])
        tenant.national_ids.append(person["national_id"])
    return tenant


async def lab(stack: Stack) -> str:
    body = {"name": f"Lab {uuid.uuid4().hex[:6]}", "licence_code": f"BG-{uuid.uuid4().hex[:8]}"}
    created = await ok(await stack.http.post("/api/v1/labs", json=body, headers=stack.province()), 201)
    return str(created["id"])


def app_info(app_id: str = "vn.gov.bluezone", platform: str = "android") -> dict[str, str]:
    return {"app_id": app_id, "app_version": "4.2.1", "platform": platform}


def new_device_id() -> str:
    return f"android-{uuid.uuid4().hex}"
