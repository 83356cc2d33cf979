"""The small parts of portal/embedded.py that need no server."""

from __future__ import annotations

import os
import socket

import pytest

from portal import embedded


def test_the_env_file_round_trips_urls_a_shell_can_source(tmp_path):
    values = {
        "QH_DATABASE_URL": "postgresql://postgres:@/quantum_hub?host=/a dir/with 'quotes'",
        "QH_REDIS_URL": "redis://127.0.0.1:16379/0",
    }
    path = tmp_path / "services.env"
    embedded._write_env_file(path, values)
    assert embedded.read_env_file(path) == values
    assert all(line.startswith("export QH_") for line in path.read_text().splitlines())


def test_a_port_in_use_is_refused_with_a_message():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        bind = f"127.0.0.1:{busy.getsockname()[1]}"
        with pytest.raises(SystemExit, match=f"cannot listen on {bind}"):
            embedded._check_bind_free(bind)
    embedded._check_bind_free(bind)  # free again
    embedded._check_bind_free("unix:/tmp/x.sock")  # left to gunicorn


def test_a_second_holder_for_the_same_folder_refuses_to_start(tmp_path, capsys):
    (tmp_path / embedded.PID_FILE).write_text(str(os.getppid()))  # a live process
    assert embedded.serve_services(tmp_path, postgres=False, valkey=False) == 1
    assert "already run in process" in capsys.readouterr().out
    assert not (tmp_path / embedded.ENV_FILE).exists()


def test_the_secret_key_is_kept_in_the_instance_folder(tmp_path):
    first = embedded._secret_key(tmp_path)
    assert len(first) == 64 and embedded._secret_key(tmp_path) == first
    assert (tmp_path / "dev-secret-key").stat().st_mode & 0o777 == 0o600
