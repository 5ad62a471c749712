"""Dates and times as Ereje's inventories, modules and reports write them (ISO 8601)."""

from __future__ import annotations

import datetime as dt


def as_date(value: object) -> dt.date | None:
    """A date from a date, a datetime or ISO text (``2027-03-31``, as YAML may leave it); else None."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        return None


def as_datetime(value: object, default_tz: dt.tzinfo | None = dt.UTC) -> dt.datetime | None:
    """A moment from ISO text (``2026-11-22T08:25:00+00:00``); else None.

    A time without an offset is taken to be in ``default_tz`` (borg prints local time, the
    scan state UTC), so that it can be compared with an aware ``now``.
    """
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            return None
    if moment.tzinfo is None and default_tz is not None:
        moment = moment.replace(tzinfo=default_tz)
    return moment
