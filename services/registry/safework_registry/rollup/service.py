"""Taking the roll-up rows of a write's people in one order, before the write.

Each statement that writes results, pool members or doses upserts ``person_rollup`` rows in
person order from its trigger, so two transactions of one statement each cannot deadlock. A
transaction of *two* such statements (a lab batch with a positive pool: its members, then the
batch's results) could: it holds the first statement's rows while it waits for the second's.
``lock_people`` takes every row the transaction will touch in one statement, in person order,
first (inserting the missing ones); the triggers then only touch rows it holds.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, Final

# ON CONFLICT DO UPDATE ... WHERE false locks the existing row without changing it.
_LOCK: Final = """
INSERT INTO person_rollup (person_id)
SELECT u.id FROM unnest($1::uuid[]) AS u(id) ORDER BY u.id
ON CONFLICT (person_id) DO UPDATE SET person_id = excluded.person_id WHERE false
"""


async def lock_people(conn: Any, people: Iterable[uuid.UUID]) -> None:
    """Lock (creating if need be) the roll-up rows of ``people``, in person order, on the
    asyncpg connection ``conn`` inside its transaction."""
    ids = sorted(set(people))
    if ids:
        await conn.execute(_LOCK, ids)
