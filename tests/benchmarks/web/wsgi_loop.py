"""In-process companion of ``make bench-web``: each request type of the locust mix called
straight into the WSGI app, one thread, against a database the bench kept
(``BENCH_WEB_KEEP=1``) and its ``.tmp/bench-web/creds.json``. Prints per request type the CPU
(process time) per request, the SQL statements and the Redis commands it sends, and the
status; beside it a bare Flask route in the same process. No network, no contention: a
change's effect on the portal's own work shows here within seconds.

``python -m tests.benchmarks.web.wsgi_loop [--rounds N] [--profile out.prof]``
(the same environment variables as run.py: BENCH_WEB_DATABASE_URL, BENCH_WEB_REDIS_URL).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import sys
import time

from tests.benchmarks.web.run import PORTAL_PORT, WORK, _env

UA = "qh-bench"


def _requests(data: dict, rng: random.Random) -> list[tuple[str, str, dict]]:
    """(name, path, headers, account): the locust mix, by its weights, as one account sees
    it."""
    account = rng.choice(data["users"])
    page = {"User-Agent": UA, "Cookie": f"session={account['cookie']}"}
    api = {"User-Agent": UA, "X-API-Key": account["api_key"]}
    visitor = {"User-Agent": UA}
    jobs = account["live_jobs"] or account["jobs"]
    word = rng.choice(data["words"])
    mix = [
        (4, "registry list", f"/registry/?page={rng.choice([1, 1, 1, 2, 3, rng.randint(4, 200)])}",
         visitor),
        (2, "registry search", f"/registry/?q={word}", visitor),
        (3, "marketplace list", f"/marketplace/?page={rng.choice([1, 1, 2, 3])}", visitor),
        (1, "marketplace search", f"/marketplace/?q={word}", visitor),
        (3, "registry app page", f"/registry/{rng.choice(data['apps'])}", visitor),
        (1, "marketplace listing page", f"/marketplace/{rng.choice(data['listings'])}", visitor),
        (2, "job list", "/jobs", page),
        (3, "job status poll (htmx)", f"/jobs/{rng.choice(jobs)}",
         {**page, "HX-Request": "true", "HX-Target": "job-status"}),
        (1, "job page", f"/jobs/{rng.choice(account['jobs'])}", page),
        (2, "api jobs list", "/api/v1/jobs?per_page=20", api),
        (1, "api job", f"/api/v1/jobs/{rng.choice(account['jobs'])}", api),
        (1, "api registry search", f"/api/v1/registry/?q={word}", api),
    ]  # fmt: skip
    who = account["api_key"]
    return [(name, path, headers, who) for weight, name, path, headers in mix
            for _ in range(weight)]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--profile", help="write a cProfile of the measured rounds here")
    parser.add_argument("--only", help="measure only this request type (e.g. 'job list')")
    args = parser.parse_args()
    env = _env()
    os.environ.update({k: v for k, v in env.items() if k.startswith("QH_")})
    from flask import Flask
    from sqlalchemy import event
    from werkzeug.test import EnvironBuilder

    import wsgi
    from portal.core.extensions import db

    app = wsgi.app
    counts = {"sql": 0, "redis": 0}
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *a: counts.__setitem__(
            "sql", counts["sql"] + 1))  # fmt: skip
    import redis.connection

    send = redis.connection.AbstractConnection.send_packed_command

    def counting_send(self, command, check_health=True):
        counts["redis"] += 1
        return send(self, command, check_health)

    redis.connection.AbstractConnection.send_packed_command = counting_send
    bare = Flask("bare")
    bare.get("/bare")(lambda: "ok")

    data = json.loads((WORK / "creds.json").read_text())
    rng = random.Random(7)

    etags: dict[tuple, str] = {}  # a browser cache per account, as the locust users keep

    visitors: dict[str, str] = {}  # a visitor keeps the cookie its first page gave it

    def call(target, path, headers, account=None) -> int:
        if "Cookie" not in headers and account in visitors:
            headers = {**headers, "Cookie": visitors[account]}
        key = (headers.get("Cookie"), path, headers.get("HX-Target"))
        if key in etags:
            headers = {**headers, "If-None-Match": etags[key]}
        environ = EnvironBuilder(
            path=path, headers=headers, base_url=f"http://127.0.0.1:{PORTAL_PORT}",
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        ).get_environ()  # fmt: skip
        status, sent = [], []
        body = target(environ, lambda s, h, e=None: (status.append(s), sent.extend(h)))
        for _ in body:
            pass
        if hasattr(body, "close"):
            body.close()
        code = int(status[0].split()[0])
        etag = dict(sent).get("ETag")
        if code == 200 and etag and headers.get("Cookie"):
            etags[key] = etag
        cookie = dict(sent).get("Set-Cookie", "")
        if account is not None and "Cookie" not in headers and cookie.startswith("session="):
            visitors[account] = cookie.split(";", 1)[0]
        return code

    for _ in range(3):  # warm: caches, pools, compiled templates and statements
        for _name, path, headers, who in _requests(data, rng):
            call(app, path, headers, who)
    stats: dict[str, dict] = collections.defaultdict(
        lambda: {
            "n": 0,
            "cpu": 0.0,
            "sql": 0,
            "redis": 0,
            "status": collections.Counter(),
            "cpu_by_status": collections.Counter(),
        }
    )
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile(time.thread_time)  # CPU, not waiting on I/O
        profiler.enable()
    for _ in range(args.rounds):
        for name, path, headers, who in _requests(data, rng):
            if args.only and name != args.only:
                continue
            counts.update(sql=0, redis=0)
            started = time.process_time()
            status = call(app, path, headers, who)
            used = time.process_time() - started
            entry = stats[name]
            entry["n"] += 1
            entry["cpu"] += used
            entry["sql"] += counts["sql"]
            entry["redis"] += counts["redis"]
            entry["status"][status] += 1
            entry["cpu_by_status"][status] += used
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    started, n = time.process_time(), 5000
    for _ in range(n):
        call(bare, "/bare", {"User-Agent": UA})
    bare_ms = 1000 * (time.process_time() - started) / n
    total = {"n": 0, "cpu": 0.0, "sql": 0, "redis": 0}
    print(f"{'request':28} {'CPU ms':>7} {'SQL':>5} {'Redis':>5}  status: count (CPU ms)")
    for name, entry in stats.items():
        for key in total:
            total[key] += entry[key]
        print(f"{name:28} {1000 * entry['cpu'] / entry['n']:7.2f} "
              f"{entry['sql'] / entry['n']:5.1f} {entry['redis'] / entry['n']:5.1f}  "
              + ", ".join(f"{code}: {count} ({1000 * entry['cpu_by_status'][code] / count:.2f})"
                          for code, count in sorted(entry["status"].items())))  # fmt: skip
    mean = 1000 * total["cpu"] / total["n"]
    print(f"{'the mix':28} {mean:7.2f} {total['sql'] / total['n']:5.1f} "
          f"{total['redis'] / total['n']:5.1f}")  # fmt: skip
    print(f"bare Flask route, same process: {bare_ms:.3f} ms; the mix = {mean / bare_ms:.1f} x")


if __name__ == "__main__":
    sys.exit(main())
