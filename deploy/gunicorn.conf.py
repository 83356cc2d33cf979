"""gunicorn settings for production; every value can be overridden by QH_* variables."""

import gc
import os
import sys

from gunicorn import sock

# Each gthread worker has one thread that accepts and hands out connections and several that
# run requests. Under load the request threads hold the GIL for the default 5 ms switch
# interval, so every hand-off waited that long: 1 ms halves the median under load
# (README, "Web load benchmark"). Set here, before the workers fork, so each inherits it.
sys.setswitchinterval(0.001)

bind = os.environ.get("QH_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("QH_WEB_WORKERS", "2"))
threads = int(os.environ.get("QH_WEB_THREADS", "8"))
worker_class = "gthread"
timeout = int(os.environ.get("QH_WEB_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# A worker restart re-imports the app (~2 s of CPU with Qiskit), so not too often.
max_requests = int(os.environ.get("QH_WEB_MAX_REQUESTS", "100000"))
max_requests_jitter = max_requests // 10
# Logs are structlog JSON from the app itself; gunicorn's own access log would duplicate them.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("QH_LOG_LEVEL", "info").lower()
forwarded_allow_ips = os.environ.get("QH_FORWARDED_ALLOW_IPS", "127.0.0.1")

# Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new
# connections over them. With one shared socket, which worker accepts is a race, and a
# worker keeps the connections it accepted: under load one worker often held most of them
# and queued behind the GIL while the other idled (README, "Web load benchmark", run H).
reuse_port = os.environ.get("QH_WEB_REUSE_PORT", "1") == "1"

# Young collections run after this many new container objects (Python's default is 700).
GC_THRESHOLD = 10_000


def post_fork(server, worker):
    """gunicorn opens a worker's own socket before the worker loads the app (~2 s with
    Qiskit), so connections the kernel hands to a restarting worker would wait that long.
    Closed here, it is opened again in ``post_worker_init``, once the worker can serve."""
    if reuse_port and worker.sockets:
        sock.close_sockets(worker.sockets, unlink=False)
        worker.sockets = []


def post_worker_init(worker):
    """Once the app is loaded: its ~250,000 objects (Qiskit, NumPy, SQLAlchemy, templates)
    live as long as the worker. Left to the collector, every full collection walked them all
    (~100 ms alone, 200–550 ms under load) and stopped all the worker's threads, every 5–10 s
    under load: the p95 tail. Frozen, they are never scanned again, and young collections
    come 14 times less often (README, "Web load benchmark", run H)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 10, 10)
    if reuse_port and not worker.sockets:
        worker.sockets = sock.create_sockets(worker.cfg, worker.log)
