from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy.dialects import postgresql, sqlite

from portal.core.db import UTCDateTime


def test_naive_values_are_taken_as_utc_and_returned_aware():
    column = UTCDateTime()
    naive = datetime(2026, 1, 2, 3, 4, 5)
    stored = column.process_bind_param(naive, sqlite.dialect())
    assert stored == naive  # SQLite keeps naive UTC text
    loaded = column.process_result_value(stored, sqlite.dialect())
    assert loaded.tzinfo is UTC and loaded.hour == 3


def test_other_zones_are_converted_to_utc():
    column = UTCDateTime()
    plus_two = datetime(2026, 1, 2, 5, 0, tzinfo=timezone(timedelta(hours=2)))
    stored = column.process_bind_param(plus_two, postgresql.dialect())
    assert stored.tzinfo is UTC and stored.hour == 3
    assert column.process_bind_param(None, postgresql.dialect()) is None
