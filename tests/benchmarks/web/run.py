"""``make bench-web``: the web load benchmark. Not a test: nothing is asserted.

1. Creates its own PostgreSQL database (``qh_bench_web``), runs the app's migrations and
   fills it with COPY (10,000 apps, 1,000 users, 100,000 jobs; see datagen.py).
2. Serves the portal with gunicorn (deploy/gunicorn.conf.py: gthread) in production mode on
   PostgreSQL + Redis DB 8, and the reference app (reference_app.py) with the same settings.
3. Measures ceilings with wrk (closed loop): the bare route, the minimal page, the Registry and
   Marketplace listings, in three interleaved rounds; prints their ratios to the minimal page.
4. Runs locust (own process): 1,000 browsing users, think time 1–5 s, arriving over
   BENCH_WEB_RAMP_SECONDS (30: the caches and pools warm while they arrive; not counted), then
   measured for BENCH_WEB_SECONDS (60) with every user running (``--reset-stats``); prints
   requests/s, p50/p95/p99 and errors per request type and in total, and the CPU per request
   of the portal, PostgreSQL, Redis and locust.
5. Stops both servers and drops the database (BENCH_WEB_KEEP=1 keeps it; BENCH_WEB_REUSE=1
   reuses a kept one).

Everything listens on 127.0.0.1 only and stops by itself.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
WORK = ROOT / ".tmp" / "bench-web"
SECRET = "bench-web-secret-key-that-is-long-enough-0123456789"
# Another checkout's bench may run beside this one: BENCH_WEB_PORT moves both servers.
PORTAL_PORT = int(os.environ.get("BENCH_WEB_PORT", "8801"))
REF_PORT = PORTAL_PORT + 1
# WSGI servers the load phase is run under, in turn, in the same run ("gunicorn,granian").
SERVERS = [s.strip() for s in os.environ.get("BENCH_WEB_SERVERS", "gunicorn").split(",")]


def _env() -> dict[str, str]:
    # Next to the test services (same server), under its own database name and Redis DB.
    test_db = urlsplit(
        os.environ.get("QH_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/x")
    )
    test_redis = urlsplit(os.environ.get("QH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    db = os.environ.get("BENCH_WEB_DATABASE_URL") or urlunsplit(
        test_db._replace(path="/qh_bench_web")
    )
    redis = os.environ.get("BENCH_WEB_REDIS_URL") or urlunsplit(test_redis._replace(path="/8"))
    # The app's own settings come from here; these few may be varied from outside.
    keep = ("QH_LISTING_CACHE_SECONDS", "QH_DB_POOL_SIZE", "QH_WEB_WORKERS", "QH_WEB_THREADS",
            "QH_WEB_MAX_REQUESTS")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("QH_") or k in keep}
    env.update(
        QH_ENV="production",
        QH_DATABASE_URL=db,
        QH_REDIS_URL=redis,
        QH_SECRET_KEY=SECRET,
        QH_LOG_JSON="1",
        QH_LOG_LEVEL="WARNING",
        QH_BASE_URL=f"http://127.0.0.1:{PORTAL_PORT}",
        PYTHONPATH=str(ROOT),
    )
    return env


def _admin_sql(db_url: str, statement: str) -> None:
    import psycopg

    parts = urlsplit(db_url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as c:
        c.execute(statement)


def _exists(db_url: str) -> bool:
    import psycopg

    try:
        psycopg.connect(db_url).close()
        return True
    except psycopg.OperationalError:
        return False


def prepare(env: dict[str, str]) -> dict:
    db_url = env["QH_DATABASE_URL"]
    name = urlsplit(db_url).path.lstrip("/")
    creds = WORK / "creds.json"
    if os.environ.get("BENCH_WEB_REUSE") == "1" and _exists(db_url) and creds.exists():
        print(f"Reusing database {name}.")
        return {}
    _admin_sql(db_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin_sql(db_url, f'CREATE DATABASE "{name}"')
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=300)  # fmt: skip
    from tests.benchmarks.web.datagen import generate

    started = time.perf_counter()
    sizes = generate(
        db_url, SECRET, creds,
        n_apps=int(os.environ.get("BENCH_APPS", "10000")),
        n_users=int(os.environ.get("BENCH_USERS", "1000")),
        n_jobs=int(os.environ.get("BENCH_JOBS", "100000")),
        redis_url=env["QH_REDIS_URL"],
    )  # fmt: skip
    print(f"Data: {sizes} in {time.perf_counter() - started:.1f} s")
    return sizes


def serve(env: dict[str, str], target: str, port: int, log: Path,
          server: str = "gunicorn") -> subprocess.Popen:  # fmt: skip
    """The app under gunicorn (deploy/gunicorn.conf.py) or granian (granian_app.py: as many
    workers and threads, the same GC and switch-interval tuning)."""
    workers, threads = os.environ.get("QH_WEB_WORKERS", "2"), os.environ.get("QH_WEB_THREADS", "8")
    if server == "gunicorn":
        command = [str(BIN / "gunicorn"), "--config", str(ROOT / "deploy/gunicorn.conf.py"),
                   target]  # fmt: skip
    elif server == "granian":
        command = [str(BIN / "granian"), "--interface", "wsgi", "--no-ws", "--host", "127.0.0.1",
                   "--port", str(port), "--workers", workers, "--blocking-threads", threads,
                   "--log-level", "warning", "tests.benchmarks.web.granian_app:app"]  # fmt: skip
    else:
        raise SystemExit(f"unknown server {server!r} in BENCH_WEB_SERVERS")
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env={**env, "QH_BIND": f"127.0.0.1:{port}", "QH_WSGI_TARGET": target},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_ready(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=35)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wrk(url: str, seconds: int, connections: int = 16, server_pgid: int | None = None) -> dict:
    """Closed-loop ceiling: requests/s, p99 (ms), non-2xx responses and, given the server's
    process group, its CPU (user + system, all its processes) per request served."""
    before = _group_cpu(server_pgid) if server_pgid else 0.0
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-H",
         "User-Agent: qh-bench", url],
        capture_output=True, text=True, timeout=seconds + 30,
    ).stdout  # fmt: skip
    used = _group_cpu(server_pgid) - before if server_pgid else 0.0
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    count = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}
    return {
        "rps": rps,
        "cpu_ms": 1000 * used / count if server_pgid and count else None,
        "p99_ms": float(p99.group(1)) * scale[p99.group(2)] if p99 else None,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def _group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) so far of every process in the process group ``pgid``."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[2]) == pgid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


MINIMAL, BARE = "minimal page (2 queries, 20 rows)", "bare Flask route"


def ceilings(seconds: int, portal_pgid: int, reference_pgid: int, rounds: int = 3) -> dict:
    """Each route ``rounds`` times, in turn: the machine's speed swings within minutes, so
    a ratio is taken within a round (routes measured seconds apart) and the median kept.
    The server's CPU per request is measured over each wrk run as well."""
    routes = {
        BARE: (f"http://127.0.0.1:{REF_PORT}/bare", reference_pgid),
        MINIMAL: (f"http://127.0.0.1:{REF_PORT}/minimal", reference_pgid),
        "Registry listing": (f"http://127.0.0.1:{PORTAL_PORT}/registry/", portal_pgid),
        "Marketplace listing": (f"http://127.0.0.1:{PORTAL_PORT}/marketplace/", portal_pgid),
    }
    for url, _ in routes.values():
        wrk(url, 2)  # warm the workers, pools and caches
    runs: dict[str, list[dict]] = {name: [] for name in routes}
    for _ in range(rounds):
        for name, (url, pgid) in routes.items():
            runs[name].append(wrk(url, seconds, server_pgid=pgid))
    results = {}
    for name, measured in runs.items():
        rates = [r["rps"] for r in measured]
        results[name] = {
            "rps": statistics.median(rates),
            "rps_range": [min(rates), max(rates)],
            "cpu_ms": statistics.median(r["cpu_ms"] for r in measured),
            "vs_minimal": statistics.median(
                r["rps"] / m["rps"] for r, m in zip(measured, runs[MINIMAL], strict=True)
            ),
            "vs_bare": statistics.median(
                r["rps"] / b["rps"] for r, b in zip(measured, runs[BARE], strict=True)
            ),
            "p99_ms": max(r["p99_ms"] or 0 for r in measured),
            "non_2xx": sum(r["non_2xx"] for r in measured),
            "socket_errors": "; ".join(r["socket_errors"] for r in measured if r["socket_errors"]),
        }
    print(f"\nCeilings (wrk, 1 thread, 16 connections, {rounds} rounds of {seconds} s per route "
          "in turn, gunicorn; median req/s, median of each round's ratio; the server's CPU per "
          "request, median)")  # fmt: skip
    print(f"{'route':36} {'req/s':>7} {'range':>11} {'max p99':>8} {'÷minimal':>9} {'÷bare':>6} "
          f"{'CPU ms':>6} non-2xx")  # fmt: skip
    for name, r in results.items():
        low, high = r["rps_range"]
        print(f"{name:36} {r['rps']:7.0f} {f'{low:.0f}–{high:.0f}':>11} {r['p99_ms']:8.1f} "
              f"{r['vs_minimal']:9.2f} {r['vs_bare']:6.3f} {r['cpu_ms']:6.2f} {r['non_2xx']} "
              f"{r['socket_errors']}")  # fmt: skip
    return results


def _cpu_seconds(portal_pgid: int, locust_pid: int) -> tuple[dict, dict]:
    """CPU time (user + system) so far of each process group (the portal's gunicorn, the
    PostgreSQL and Redis servers, locust) and of each of the portal's processes. The
    machine's speed swings; CPU per request does not, so runs minutes apart compare by it."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = dict.fromkeys(("portal", "PostgreSQL", "Redis", "locust"), 0.0)
    workers: dict[str, float] = {}  # the portal's processes, by pid
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as handle:
                name, rest = handle.read().rsplit(")", 1)
        except OSError:  # gone meanwhile
            continue
        fields = rest.split()
        comm = name.split("(", 1)[1]
        group = ("portal" if int(fields[2]) == portal_pgid else "locust" if int(pid) == locust_pid
                 else "PostgreSQL" if comm == "postgres" else "Redis" if comm == "redis-server"
                 else None)  # fmt: skip
        if group:
            used = (int(fields[11]) + int(fields[12])) / tick
            totals[group] += used
            if group == "portal":
                workers[pid] = used
    return totals, workers


def load(
    env: dict[str, str], users: int, ramp: int, seconds: int, portal_pgid: int,
    server: str = "gunicorn", bare_cpu_ms: float | None = None,
) -> dict:  # fmt: skip
    prefix = WORK / "locust"
    locust = subprocess.Popen(
        [str(BIN / "locust"), "-f", str(HERE / "locustfile.py"), "--headless", "--only-summary",
         "-u", str(users), "-r", f"{users / ramp:g}", "-t", f"{ramp + seconds}s",
         "--reset-stats", "--stop-timeout", "5", "--host", f"http://127.0.0.1:{PORTAL_PORT}",
         "--csv", str(prefix), "--loglevel", "WARNING"],
        cwd=ROOT, env={**env, "QH_BENCH_CREDS": str(WORK / "creds.json")},
        stdout=subprocess.DEVNULL, stderr=(WORK / "locust.log").open("w"),
    )  # fmt: skip
    # CPU over the measured part only: from the end of the ramp-up to just before the stop.
    time.sleep(ramp)
    (before, workers_before), started = _cpu_seconds(portal_pgid, locust.pid), time.monotonic()
    profilers = _profile(portal_pgid, max(1, seconds - 2), server)
    time.sleep(max(1, seconds - 1))
    (after, workers_after), elapsed = (
        _cpu_seconds(portal_pgid, locust.pid),
        time.monotonic() - started,
    )
    try:
        locust.wait(timeout=60)
    except subprocess.TimeoutExpired:
        locust.kill()
        raise
    with open(f"{prefix}_stats.csv") as handle:
        rows = list(csv.DictReader(handle))
    for profiler in profilers:
        profiler.wait(timeout=60)
    print(f"\nLoad, portal on {server} (locust, {users} users, think time 1–5 s: {ramp} s of "
          f"ramp-up, not counted, then {seconds} s measured with every user running)")  # fmt: skip
    print(
        f"{'request':28} {'count':>7} {'req/s':>7} {'p50':>5} {'p95':>5} {'p99':>5} {'errors':>6}"
    )
    for row in rows:
        print(
            f"{row['Name'][:28]:28} {row['Request Count']:>7} {float(row['Requests/s']):7.1f} "
            f"{row['50%']:>5} {row['95%']:>5} {row['99%']:>5} {row['Failure Count']:>6}"
        )
    rate = float(rows[-1]["Requests/s"])  # the Aggregated row
    cpu = {group: after[group] - before[group] for group in after}
    print("CPU per request (ms, all of its processes): " + ", ".join(
        f"{group} {1000 * used / elapsed / rate:.2f}" for group, used in cpu.items()
    ) + f"; cores busy {sum(cpu.values()) / elapsed:.2f} of {os.cpu_count()}")  # fmt: skip
    portal_ms = 1000 * cpu["portal"] / elapsed / rate
    if bare_cpu_ms:
        print(f"Portal CPU per request {portal_ms:.2f} ms = {portal_ms / bare_cpu_ms:.1f} x a bare "
              f"Flask route request ({bare_cpu_ms:.2f} ms, gunicorn, wrk, this run); goal ≤ 3 ms "
              "or ≤ 5 x")  # fmt: skip
    # Each worker accepts and keeps its own connections; one with most of them queues first.
    shares = sorted(used - workers_before.get(pid, 0) for pid, used in workers_after.items())
    busy = [used for used in shares if used > 0.01 * elapsed]  # not the idle master
    print("Portal workers' share of its CPU: " + " / ".join(
        f"{100 * used / sum(busy):.0f} %" for used in busy
    ))  # fmt: skip
    failures = Path(f"{prefix}_failures.csv")
    if failures.exists():
        lines = failures.read_text().splitlines()[1:6]
        for line in lines:
            print("  failure:", line[:160])
    return {"server": server, "rows": rows, "portal_cpu_ms": portal_ms,
            "cpu_ms": {group: 1000 * used / elapsed / rate for group, used in cpu.items()},
            "vs_bare": portal_ms / bare_cpu_ms if bare_cpu_ms else None}  # fmt: skip


def _workers(pgid: int) -> list[int]:
    """The portal's worker processes: its process group but the master (the group leader)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and int(pid) != pgid and int(fields[1]) == pgid:
            found.append(int(pid))
    return found


def _profile(pgid: int, seconds: int, server: str) -> list[subprocess.Popen]:
    """BENCH_WEB_PROFILE=1: py-spy samples each worker (without pausing it, so its CPU
    figures hold) over the measured window; raw collapsed stacks land in .tmp/bench-web/,
    summed up by ``python -m tests.benchmarks.web.profile_summary``."""
    if os.environ.get("BENCH_WEB_PROFILE") != "1":
        return []
    spy = BIN / "py-spy"
    profilers = []
    for pid in _workers(pgid):
        output = WORK / f"profile-{server}-{pid}.txt"
        profilers.append(subprocess.Popen(
            [str(spy), "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "100",
             "--nonblocking", "--format", "raw", "--output", str(output)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
    return profilers


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    env = _env()
    sys.path.insert(0, str(ROOT))
    os.environ.update({k: v for k, v in env.items() if k.startswith("QH_")})
    import redis

    redis.Redis.from_url(env["QH_REDIS_URL"]).flushdb()
    prepare(env)
    reference = serve(env, "tests.benchmarks.web.reference_app:app", REF_PORT,
                      WORK / "reference.log")  # fmt: skip
    portal = serve(env, "wsgi:app", PORTAL_PORT, WORK / "portal-gunicorn.log")
    loads = []
    try:
        wait_ready(f"http://127.0.0.1:{PORTAL_PORT}/healthz")
        wait_ready(f"http://127.0.0.1:{REF_PORT}/bare")
        results = ceilings(
            int(os.environ.get("BENCH_WEB_CEILING_SECONDS", "5")), portal.pid, reference.pid
        )
        for server in SERVERS:
            if server != "gunicorn" or loads:
                stop(portal)
                redis.Redis.from_url(env["QH_REDIS_URL"]).flushdb()  # same cold caches
                portal = serve(env, "wsgi:app", PORTAL_PORT, WORK / f"portal-{server}.log",
                               server)  # fmt: skip
                wait_ready(f"http://127.0.0.1:{PORTAL_PORT}/healthz")
            loads.append(load(
                env,
                int(os.environ.get("BENCH_WEB_USERS", "1000")),
                int(os.environ.get("BENCH_WEB_RAMP_SECONDS", "30")),
                int(os.environ.get("BENCH_WEB_SECONDS", "60")),
                portal.pid,  # its own session: the workers share its process group
                server,
                results[BARE]["cpu_ms"],
            ))  # fmt: skip
        if len(loads) > 1:
            print("\nWSGI servers, same run: " + "; ".join(
                f"{run['server']} {float(run['rows'][-1]['Requests/s']):.1f} req/s, p95 "
                f"{run['rows'][-1]['95%']} ms, portal CPU {run['portal_cpu_ms']:.2f} ms/request "
                f"= {run['vs_bare']:.1f} x bare" for run in loads
            ))  # fmt: skip
        (WORK / "results.json").write_text(json.dumps({"ceilings": results, "load": loads}))
    finally:
        stop(portal)
        stop(reference)
        if os.environ.get("BENCH_WEB_KEEP") != "1":
            _admin_sql(
                env["QH_DATABASE_URL"],
                "DROP DATABASE IF EXISTS "
                f'"{urlsplit(env["QH_DATABASE_URL"]).path.lstrip("/")}" WITH (FORCE)',
            )


if __name__ == "__main__":
    main()
