"""Test data written straight into the registry's tables (no dependence on other routes)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg

from safework_registry.persons.national_id import NationalIdCipher

DISTRICT = "Việt Yên"
OTHER_DISTRICT = "Yên Dũng"


def national_id(n: int) -> str:
    """A valid 12-digit citizen ID from Bắc Giang (province code 024)."""
    return f"0241{n:08d}"


def cipher_for(keys_dir: Path) -> NationalIdCipher:
    """The registry's cipher with the test key (tests/conftest.py ``keys_dir``)."""
    return NationalIdCipher((keys_dir / "national_id_hmac.key").read_bytes().strip())


class Seed:
    """Rows for a test, inserted with asyncpg into the test database."""

    def __init__(self, url: str, cipher: NationalIdCipher) -> None:
        self.url = url
        self.cipher = cipher
        self._n = 0

    async def _execute(self, sql: str, *args: Any) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            await conn.execute(sql, *args)
        finally:
            await conn.close()

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.url)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def fetchval(self, sql: str, *args: Any) -> Any:
        conn = await asyncpg.connect(self.url)
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    async def enterprise(self, *, district: str = DISTRICT, zone_type: str = "KCN") -> uuid.UUID:
        self._n += 1
        eid = uuid.uuid4()
        tax = f"{2400000000 + (eid.int % 99_999_999):010d}"
        await self._execute(
            "INSERT INTO enterprise (id, tax_code, name, district, zone_type) VALUES ($1, $2, $3, $4, $5)",
            eid,
            tax,
            f"Công ty {self._n}",
            district,
            zone_type,
        )
        return eid

    async def people(
        self, enterprise_id: uuid.UUID | None, count: int, *, start: int | None = None, status: str = "active"
    ) -> list[tuple[uuid.UUID, str]]:
        """``count`` people (by COPY), each with a distinct valid national ID; (id, national ID)."""
        first = self._n * 100_000 + 1 if start is None else start
        self._n += 1
        out: list[tuple[uuid.UUID, str]] = []
        rows = []
        for k in range(count):
            nid = national_id(first + k)
            pid = uuid.uuid4()
            out.append((pid, nid))
            rows.append(
                (
                    pid,
                    self.cipher.hash(nid),
                    self.cipher.encrypt(nid),
                    nid[-4:],
                    f"Nguyễn Văn {first + k}",
                    date(1995, 3, 14),
                    "male",
                    enterprise_id,
                    None if enterprise_id is None else f"NV{first + k:06d}",
                    status,
                )
            )
        conn = await asyncpg.connect(self.url)
        try:
            await conn.copy_records_to_table(
                "person",
                records=rows,
                columns=[
                    "id",
                    "national_id_hash",
                    "national_id_enc",
                    "national_id_last4",
                    "full_name",
                    "date_of_birth",
                    "sex",
                    "enterprise_id",
                    "employee_code",
                    "status",
                ],
            )
        finally:
            await conn.close()
        return out

    async def person(self, enterprise_id: uuid.UUID | None, **kw: Any) -> uuid.UUID:
        ((pid, _),) = await self.people(enterprise_id, 1, **kw)
        return pid

    async def lab(self, *, active: bool = True) -> uuid.UUID:
        lid = uuid.uuid4()
        await self._execute(
            "INSERT INTO lab (id, name, licence_code, active) VALUES ($1, $2, $3, $4)",
            lid,
            "CDC Bắc Giang",
            f"LAB-{lid.hex[:8]}",
            active,
        )
        return lid

    async def product(self, code: str, *, min_interval_days: int, doses: int = 2) -> None:
        await self._execute(
            "INSERT INTO vaccine_product (code, name, min_interval_days, doses_in_primary_series) "
            "VALUES ($1, $2, $3, $4)",
            code,
            f"Vaccine {code}",
            min_interval_days,
            doses,
        )

    async def dose(
        self,
        person_id: uuid.UUID,
        number: int,
        product: str,
        at: datetime,
        *,
        site: str | None = None,
        lot: str | None = None,
    ) -> None:
        await self._execute(
            "INSERT INTO dose (person_id, dose_number, product_code, administered_at, site, lot) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            person_id,
            number,
            product,
            at,
            site,
            lot,
        )

    async def venue(self, enterprise_id: uuid.UUID, qr_code: str, *, active: bool = True) -> uuid.UUID:
        vid = uuid.uuid4()
        await self._execute(
            "INSERT INTO venue (id, enterprise_id, name, kind, qr_code, active) VALUES ($1, $2, $3, $4, $5, $6)",
            vid,
            enterprise_id,
            "Cổng chính",
            "gate",
            qr_code,
            active,
        )
        return vid

    async def result(
        self,
        person_id: uuid.UUID,
        lab_id: uuid.UUID,
        sample_id: str,
        collected_at: datetime,
        result: str = "NEGATIVE",
        kind: str = "PCR",
    ) -> None:
        await self._execute(
            "INSERT INTO test_result (person_id, lab_id, sample_id, kind, collected_at, resulted_at, result) "
            "VALUES ($1, $2, $3, $4, $5, $5, $6)",
            person_id,
            lab_id,
            sample_id,
            kind,
            collected_at,
            result,
        )

    async def count(self, table: str, where: str = "TRUE", *args: Any) -> int:
        value = await self.fetchval(f"SELECT count(*) FROM {table} WHERE {where}", *args)  # noqa: S608
        return int(value)


def ids(rows: Sequence[tuple[uuid.UUID, str]]) -> list[uuid.UUID]:
    return [pid for pid, _ in rows]


# ``person_rollup`` as it should be, recomputed from the rows, beside what the triggers keep:
# every person whose two differ (a person with nothing has no row or a row of NULLs).
ROLLUP_DRIFT = """
WITH truth AS (
    SELECT p.id AS person_id, (
        (SELECT max(r.collected_at) FROM test_result r WHERE r.person_id = p.id AND r.result <> 'INVALID'),
        (SELECT max(r.collected_at) FROM test_result r WHERE r.person_id = p.id AND r.result = 'POSITIVE'),
        (SELECT d.administered_at FROM dose d WHERE d.person_id = p.id AND d.dose_number = 1),
        (SELECT max(h.declared_at) FROM health_declaration h WHERE h.person_id = p.id),
        (SELECT max(v.returned_at) FROM travel v WHERE v.person_id = p.id),
        (SELECT max(pl.collected_at) FROM pool_member m JOIN pool pl ON pl.id = m.pool_id
         WHERE m.person_id = p.id AND pl.result = 'POSITIVE')
    ) AS expected
    FROM person p
)
SELECT t.person_id, t.expected, (s.last_result_at, s.last_positive_at, s.first_dose_at, s.last_declared_at,
       s.last_returned_at, s.last_positive_pool_at) AS kept
FROM truth t LEFT JOIN person_rollup s ON s.person_id = t.person_id
WHERE t.expected IS DISTINCT FROM (s.last_result_at, s.last_positive_at, s.first_dose_at, s.last_declared_at,
      s.last_returned_at, s.last_positive_pool_at)
UNION ALL
SELECT s.person_id, NULL, NULL FROM person_rollup s WHERE NOT EXISTS (SELECT 1 FROM person p WHERE p.id = s.person_id)
"""


async def rollup_drift(url: str) -> list[tuple[Any, ...]]:
    """The people whose ``person_rollup`` row is not what their results and doses say."""
    conn = await asyncpg.connect(url)
    try:
        return [tuple(r) for r in await conn.fetch(ROLLUP_DRIFT)]
    finally:
        await conn.close()
