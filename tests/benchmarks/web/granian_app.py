"""The portal for granian in ``make bench-web`` (BENCH_WEB_SERVERS=gunicorn,granian), tuned
as deploy/gunicorn.conf.py tunes gunicorn's workers: a 1 ms GIL switch interval, and the
loaded app frozen out of the garbage collector. ``QH_WSGI_TARGET`` (``module:attribute``,
default ``wsgi:app``) names the app. Granian is a benchmark comparison only: it did not win
(docs/performance.md), so deploy/ serves with gunicorn."""

import gc
import importlib
import os
import sys

sys.setswitchinterval(0.001)
_module, _attribute = os.environ.get("QH_WSGI_TARGET", "wsgi:app").split(":")
app = getattr(importlib.import_module(_module), _attribute)
gc.collect()
gc.freeze()
gc.set_threshold(10_000, 10, 10)
