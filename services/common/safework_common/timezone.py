"""Time is local: the province works in Asia/Ho_Chi_Minh."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def now_local() -> datetime:
    return datetime.now(LOCAL_TZ)


def local_date(instant: datetime) -> date:
    """The calendar date of an aware instant in the province."""
    if instant.tzinfo is None:
        raise ValueError("instant must carry a time zone")
    return instant.astimezone(LOCAL_TZ).date()


def start_of_local_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ)
