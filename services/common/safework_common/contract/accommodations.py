"""Boarding houses and dormitories (nhà trọ / ký túc xá). A concentrated lodging site houses the
workers of one enterprise only (seeds/003); a private boarding house may house several's."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from safework_common.contract.fields import Instant, NotNull
from safework_common.geo import District

AccommodationKind = Literal["boarding_house", "dormitory"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]

ACCOMMODATION_EXAMPLE: dict[str, Any] = {
    "name": "Nhà trọ Hoàng Mai",
    "address": "Thôn Nam Ngạn, xã Quang Châu",
    "owner_name": "Hoàng Văn Mai",
    "district": "Việt Yên",
    "kind": "boarding_house",
}


class AccommodationCreate(BaseModel):
    """A site. ``enterprise_id`` is set by the first worker assigned; an enterprise creating a
    site claims it for itself; the authority may name the enterprise up front."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [ACCOMMODATION_EXAMPLE]})

    name: Name
    address: Address
    owner_name: Name | None = None
    district: District
    kind: AccommodationKind = "boarding_house"
    concentrated: bool = Field(
        default=False,
        description="A concentrated lodging site the province introduces to enterprises (authority only): it "
        "houses the workers of one enterprise only (seeds/003).",
    )
    enterprise_id: uuid.UUID | None = None


class AccommodationUpdate(BaseModel):
    """Fields to change. ``enterprise_id`` (authority only) may change only while no active
    worker of another enterprise lives there."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"owner_name": "Hoàng Thị Lan"}]})

    name: NotNull[Name] = None
    address: NotNull[Address] = None
    owner_name: Name | None = None
    district: NotNull[District] = None
    kind: NotNull[AccommodationKind] = None
    concentrated: NotNull[bool] = None
    enterprise_id: uuid.UUID | None = None


class AccommodationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    address: str
    owner_name: str | None
    district: str
    kind: str
    concentrated: bool
    enterprise_id: uuid.UUID | None
    created_at: Instant
    updated_at: Instant


ManagerRole = Literal["owner", "manager"]


class ManagerIn(BaseModel):
    """A person (registered in the registry) who owns or manages the site (chủ quản lý)."""

    model_config = ConfigDict(extra="forbid")

    person_id: uuid.UUID
    role: ManagerRole = "owner"


class ManagerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    accommodation_id: uuid.UUID
    person_id: uuid.UUID
    role: ManagerRole
    created_at: Instant


class ManagersOut(BaseModel):
    items: list[ManagerOut]
    next_cursor: str | None = Field(default=None, description="Always null: the whole list fits one page.")
