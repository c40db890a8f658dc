"""A server whose clock runs behind the real one, for a browser test that walks a whole trial day.

Put this folder on PYTHONPATH and set SCALEBOOK_TEST_CLOCK_OFFSET_MINUTES (e.g. -150): Python
imports `sitecustomize` while it starts, before Streamlit or the app, so every later
`from datetime import datetime` gets a `datetime` (and `date`) whose now(), utcnow() and today()
are the real ones moved by the offset. Everything the app stores (db.clock) and every "now" a page
uses (worklist, default times, late-entry rule) then agree on that earlier moment, as on a tablet
used earlier in the day. Only the server process under test is affected; the monotonic and
`time.time()` clocks (timeouts, idle sign-out) stay real.

Why not a clock setting in the app: production code must have exactly one "now". Why not seed the
morning straight into the database: the walk is meant to go through the pages.

Instances keep working with the real classes: now() returns real datetime objects, and the
stand-in classes report real dates and datetimes as their instances (as freezegun does), so
`isinstance(x, datetime)` holds for values made by C code, pandas or Streamlit.
"""

from __future__ import annotations

import copyreg
import datetime as _datetime
import os

_MINUTES = os.environ.get("SCALEBOOK_TEST_CLOCK_OFFSET_MINUTES", "").strip()

if _MINUTES:
    # Compiled modules that subclass datetime (pandas' Timestamp) must be built on the real
    # class: import them first.
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401

    _OFFSET = _datetime.timedelta(minutes=float(_MINUTES))
    _real_date = _datetime.date
    _real_datetime = _datetime.datetime

    class _DateMeta(type):
        def __instancecheck__(cls, obj):
            return isinstance(obj, _real_date)

        def __subclasscheck__(cls, sub):
            return issubclass(sub, _real_date)

    class _DatetimeMeta(_DateMeta):
        def __instancecheck__(cls, obj):
            return isinstance(obj, _real_datetime)

        def __subclasscheck__(cls, sub):
            return issubclass(sub, _real_datetime)

    # __slots__ = (): instances keep the real classes' size, which compiled modules (pandas) check.
    class ShiftedDate(_real_date, metaclass=_DateMeta):
        __slots__ = ()

        @classmethod
        def today(cls):
            return (_real_datetime.now() + _OFFSET).date()

    class ShiftedDatetime(_real_datetime, metaclass=_DatetimeMeta):
        __slots__ = ()

        @classmethod
        def now(cls, tz=None):
            return _real_datetime.now(tz) + _OFFSET

        @classmethod
        def utcnow(cls):
            return _real_datetime.utcnow() + _OFFSET

        @classmethod
        def today(cls):
            return _real_datetime.today() + _OFFSET

    ShiftedDate.__name__ = ShiftedDate.__qualname__ = "date"
    ShiftedDatetime.__name__ = ShiftedDatetime.__qualname__ = "datetime"
    ShiftedDate.__module__ = ShiftedDatetime.__module__ = "datetime"
    _datetime.date = ShiftedDate
    _datetime.datetime = ShiftedDatetime
    # pickle names a class by module and name, which now leads to the stand-ins: let real
    # instances pickle as the stand-ins (the same values) instead of failing.
    copyreg.pickle(_real_date, lambda d: (ShiftedDate, d.__reduce__()[1]))
    copyreg.pickle(_real_datetime, lambda d: (ShiftedDatetime, d.__reduce__()[1]))
