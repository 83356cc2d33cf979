#!/usr/bin/env bash
# Makes sure the test suite has real PostgreSQL, Redis and Chromium, installing and starting
# them when they are missing. `env` prints the export lines for the test run on stdout;
# everything else goes to stderr.
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
  # Nothing usable: install the server and run a throwaway cluster on its own port.
  local bindir
  bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  if [ -z "$bindir" ]; then
    say "installing PostgreSQL"; apt_install postgresql
    bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  fi
  local data="$TMP/pgdata" port=55432
  mkdir -p "$TMP"; chmod 755 "$TMP"
  local run=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home "$TMP" postgres
    chown -R postgres "$TMP"; run=(runuser -u postgres --)
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    say "creating a throwaway PostgreSQL cluster in $data"
    "${run[@]}" "$bindir/initdb" -D "$data" -U postgres --auth=trust >&2
  fi
  if ! pg_isready -q -h 127.0.0.1 -p $port 2>/dev/null; then
    "${run[@]}" "$bindir/pg_ctl" -D "$data" -l "$TMP/pg.log" -w \
      -o "-p $port -k $TMP -c listen_addresses=127.0.0.1 -c fsync=off" start >&2
  fi
  echo "postgresql://postgres@127.0.0.1:$port/qh_test"
}

ensure_redis() {
  if [ -n "${QH_TEST_REDIS_URL:-}" ]; then echo "$QH_TEST_REDIS_URL"; return; fi
  if command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
    echo "redis://127.0.0.1:6379/15"; return
  fi
  command -v redis-server >/dev/null || { say "installing Redis"; apt_install redis-server; }
  say "starting Redis on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >&2
  for _ in $(seq 1 20); do redis-cli -p 6379 ping 2>/dev/null | grep -q PONG && break; sleep 0.5; done
  echo "redis://127.0.0.1:6379/15"
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
  *) echo "usage: $0 [env|check|browser]" >&2; exit 2 ;;
esac
