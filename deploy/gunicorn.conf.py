"""gunicorn settings for production; every value can be overridden by QH_* variables."""

import os

bind = os.environ.get("QH_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("QH_WEB_WORKERS", "2"))
threads = int(os.environ.get("QH_WEB_THREADS", "8"))
worker_class = "gthread"
timeout = int(os.environ.get("QH_WEB_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
max_requests = 5000
max_requests_jitter = 500
# Logs are structlog JSON from the app itself; gunicorn's own access log would duplicate them.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("QH_LOG_LEVEL", "info").lower()
forwarded_allow_ips = os.environ.get("QH_FORWARDED_ALLOW_IPS", "127.0.0.1")
