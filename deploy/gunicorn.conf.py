"""gunicorn settings for production; every value can be overridden by QH_* variables."""

import os
import sys

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
