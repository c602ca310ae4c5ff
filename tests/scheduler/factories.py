"""Registry rows for the scheduler's tests, written straight into the test database (the
scheduler only reads them). Times are Asia/Ho_Chi_Minh unless given otherwise."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from zoneinfo import ZoneInfo

import asyncpg

from safework_common.settings import plain_pg_url

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SANCTIONED_APP = "vn.gov.bluezone"


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TZ)


class Registry:
    """Inserts registry rows with one connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self._lab: uuid.UUID | None = None
        self._products: set[str] = set()
        self._n = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    async def enterprise(
        self,
        *,
        district: str = "Việt Yên",
        zone_type: str = "KCN",
        industry: str = "other",
        operating_status: str = "cleared",
        enterprise_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        eid = enterprise_id or uuid.uuid4()
        await self.conn.execute(
            "INSERT INTO enterprise (id, tax_code, name, district, zone_type, industry, operating_status)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            eid,
            f"{int.from_bytes(os.urandom(4), 'big') % 10**10:010d}",
            f"Công ty {eid.hex[:6]}",
            district,
            zone_type,
            industry,
            operating_status,
        )
        return eid

    async def person(
        self,
        enterprise_id: uuid.UUID | None = None,
        *,
        cohort: int = 0,
        status: str = "active",
        hire_date: date | None = date(2021, 6, 1),
        arrived_at: datetime | None = None,
        arrived_from_province: str | None = None,
        high_risk: bool = False,
        high_risk_until: datetime | None = None,
        employee_code: str | None = None,
        person_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        pid = person_id or uuid.uuid4()
        n = self._next()
        await self.conn.execute(
            "INSERT INTO person (id, national_id_hash, national_id_enc, national_id_last4, full_name,"
            " date_of_birth, sex, enterprise_id, employee_code, hire_date, arrived_at, arrived_from_province,"
            " high_risk, high_risk_until, status, test_cohort)"
            " VALUES ($1, $2, $3, $4, $5, $6, 'female', $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            pid,
            os.urandom(32),
            os.urandom(28),
            f"{n % 10000:04d}",
            f"Nguyễn Thị {n}",
            date(1995, 3, 14),
            enterprise_id,
            employee_code or (f"NV-{n:05d}" if enterprise_id else None),
            hire_date,
            arrived_at,
            arrived_from_province,
            high_risk,
            high_risk_until,
            status,
            cohort,
        )
        return pid

    async def lab(self) -> uuid.UUID:
        if self._lab is None:
            self._lab = uuid.uuid4()
            await self.conn.execute(
                "INSERT INTO lab (id, name, licence_code) VALUES ($1, $2, $3)",
                self._lab,
                "CDC Bắc Giang",
                f"BG-{self._lab.hex[:8]}",
            )
        return self._lab

    async def dose(self, person_id: uuid.UUID, number: int, at: datetime, product: str = "AZ") -> None:
        if product not in self._products:
            series = 1 if product == "JANSSEN" else 2
            await self.conn.execute(
                "INSERT INTO vaccine_product (code, name, min_interval_days, doses_in_primary_series)"
                " VALUES ($1, $1, 28, $2) ON CONFLICT DO NOTHING",
                product,
                series,
            )
            self._products.add(product)
        await self.conn.execute(
            "INSERT INTO dose (person_id, dose_number, product_code, administered_at) VALUES ($1, $2, $3, $4)",
            person_id,
            number,
            product,
            at,
        )

    async def result(
        self,
        person_id: uuid.UUID,
        collected_at: datetime,
        *,
        kind: str = "PCR",
        result: str = "NEGATIVE",
        pooled: bool = False,
        pool_id: int | None = None,
    ) -> None:
        lab = await self.lab()
        await self.conn.execute(
            "INSERT INTO test_result (person_id, lab_id, sample_id, kind, collected_at, resulted_at, result,"
            " pooled, pool_id)"
            " VALUES ($1, $2, $3, $4, $5::timestamptz, $5::timestamptz + interval '6 hours', $6, $7, $8)",
            person_id,
            lab,
            f"S-{self._next():06d}",
            kind,
            collected_at,
            result,
            pooled,
            pool_id,
        )

    async def pool(
        self, members: Sequence[uuid.UUID], collected_at: datetime, resulted_at: datetime, result: str = "POSITIVE"
    ) -> int:
        lab = await self.lab()
        pool_id: int = await self.conn.fetchval(
            "INSERT INTO pool (lab_id, pool_sample_id, size, collected_at, resulted_at, result)"
            " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            lab,
            f"P-{self._next():06d}",
            len(members),
            collected_at,
            resulted_at,
            result,
        )
        await self.conn.executemany(
            "INSERT INTO pool_member (pool_id, person_id, position) VALUES ($1, $2, $3)",
            [(pool_id, m, i + 1) for i, m in enumerate(members)],
        )
        return pool_id

    async def declaration(
        self, person_id: uuid.UUID, at: datetime, *, symptoms: Sequence[str] = (), contact: bool = False
    ) -> None:
        await self.conn.execute(
            "INSERT INTO health_declaration (person_id, declared_at, symptoms, contact_with_confirmed_case)"
            " VALUES ($1, $2, $3, $4)",
            person_id,
            at,
            list(symptoms),
            contact,
        )

    async def travel(
        self,
        person_id: uuid.UUID,
        returned_at: datetime,
        *,
        destination: str = "Hà Nội",
        to_boarding_house: bool = True,
    ) -> None:
        await self.conn.execute(
            "INSERT INTO travel (person_id, left_at, destination_province, returned_at, returned_to_boarding_house)"
            " VALUES ($1, $2::timestamptz - interval '3 days', $3, $2::timestamptz, $4)",
            person_id,
            returned_at,
            destination,
            to_boarding_house,
        )

    async def device(
        self,
        *,
        person_id: uuid.UUID | None = None,
        enterprise_id: uuid.UUID | None = None,
        first_seen_at: datetime,
        last_sync_at: datetime,
        app_id: str = SANCTIONED_APP,
        revoked_at: datetime | None = None,
    ) -> None:
        await self.conn.execute(
            "INSERT INTO app_installation (device_id, person_id, enterprise_id, app_id, app_version, platform,"
            " first_seen_at, last_sync_at, revoked_at) VALUES ($1, $2, $3, $4, '4.2.1', 'android', $5, $6, $7)",
            f"dev-{uuid.uuid4().hex}",
            person_id,
            enterprise_id,
            app_id,
            first_seen_at,
            last_sync_at,
            revoked_at,
        )


@asynccontextmanager
async def registry(db: str) -> AsyncIterator[Registry]:
    conn = await asyncpg.connect(plain_pg_url(db))
    try:
        yield Registry(conn)
    finally:
        await conn.close()
