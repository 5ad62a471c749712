"""Dates as inventories, modules and reports write them (module_utils/dates.py)."""

import datetime as dt

import pytest

from ansible_collections.ereje.compliance.plugins.module_utils.dates import as_date, as_datetime

ALMATY = dt.timezone(dt.timedelta(hours=5))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2027-03-31", dt.date(2027, 3, 31)),
        (" 2027-03-31 ", dt.date(2027, 3, 31)),
        (dt.date(2027, 3, 31), dt.date(2027, 3, 31)),  # YAML reads an unquoted date as a date
        (dt.datetime(2027, 3, 31, 23, 59), dt.date(2027, 3, 31)),
        ("31.03.2027", None),
        ("2027-02-30", None),
        ("", None),
        (None, None),
    ],
)
def test_as_date(value, expected):
    assert as_date(value) == expected


def test_a_time_without_offset_is_in_the_zone_given():
    assert as_datetime("2026-11-22T08:25:00") == dt.datetime(2026, 11, 22, 8, 25, tzinfo=dt.UTC)
    assert as_datetime("2026-11-22T08:25:00", ALMATY).utcoffset() == dt.timedelta(hours=5)
    assert as_datetime("2026-11-22T08:25:00", None).tzinfo is None


def test_an_offset_is_honoured():
    moment = as_datetime("2026-11-22T17:00:00+06:00", ALMATY)
    assert moment == dt.datetime(2026, 11, 22, 11, 0, tzinfo=dt.UTC)


def test_what_is_not_an_iso_time_is_none():
    assert as_datetime("yesterday") is None
    assert as_datetime("") is None
    assert as_datetime(None) is None
