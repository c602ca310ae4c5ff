"""Registry rows for the vaccine queue and plan tests, written straight into the test database
(the scheduler only reads them). Any bytes do for the national ID columns here."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, time

import asyncpg

from safework_common.timezone import LOCAL_TZ

BAC_GIANG = "Bắc Giang"
VIET_YEN = "Việt Yên"
YEN_DUNG = "Yên Dũng"


def at_local(day: date, hour: int = 9) -> datetime:
    """An aware instant on a local date in Asia/Ho_Chi_Minh."""
    return datetime.combine(day, time(hour), tzinfo=LOCAL_TZ)


class VaccineData:
    """Inserts enterprises, people, products and doses over one connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self._n = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    async def product(self, code: str, min_interval_days: int, series: int = 2, *, active: bool = True) -> str:
        await self.conn.execute(
            "INSERT INTO vaccine_product (code, name, min_interval_days, doses_in_primary_series, active)"
            " VALUES ($1, $2, $3, $4, $5)",
            code,
            code,
            min_interval_days,
            series,
            active,
        )
        return code

    async def enterprise(self, *, district: str = VIET_YEN, zone_type: str = "KCN") -> uuid.UUID:
        n = self._next()
        eid = uuid.uuid4()
        await self.conn.execute(
            "INSERT INTO enterprise (id, tax_code, name, district, zone_type) VALUES ($1, $2, $3, $4, $5)",
            eid,
            f"{2400000000 + n:010d}",
            f"Enterprise {n}",
            district,
            zone_type,
        )
        return eid

    async def person(
        self,
        enterprise_id: uuid.UUID | None,
        *,
        job_role: str = "worker",
        hire_date: date | None = None,
        status: str = "active",
        person_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        n = self._next()
        pid = person_id or uuid.uuid4()
        await self.conn.execute(
            "INSERT INTO person (id, national_id_hash, national_id_enc, national_id_last4, full_name,"
            " date_of_birth, sex, job_role, enterprise_id, employee_code, hire_date, status)"
            " VALUES ($1, $2, $3, $4, $5, $6, 'female', $7, $8, $9, $10, $11)",
            pid,
            hashlib.sha256(pid.bytes).digest(),
            b"not-a-real-ciphertext",
            f"{n % 10000:04d}",
            f"Worker {n}",
            date(1995, 1, 1),
            job_role,
            enterprise_id,
            f"E{n:06d}",
            hire_date,
            status,
        )
        return pid

    async def dose(self, person_id: uuid.UUID, number: int, product: str, administered_at: datetime) -> None:
        await self.conn.execute(
            "INSERT INTO dose (person_id, dose_number, product_code, administered_at) VALUES ($1, $2, $3, $4)",
            person_id,
            number,
            product,
            administered_at,
        )


@asynccontextmanager
async def vaccine_data(url: str) -> AsyncIterator[VaccineData]:
    conn = await asyncpg.connect(url)
    try:
        yield VaccineData(conn)
    finally:
        await conn.close()
