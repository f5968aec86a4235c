"""The Redis start-up lines of compose and Kubernetes, run for real with Debian's redis-server:
the password arrives on stdin (on no command line), the settings are those of
deploy/redis/redis.conf, and `exec` leaves redis-server as the shell's own process (PID 1 in
the container, so SIGTERM reaches it). The official image's entry point is stood in for by
`exec "$@"` (what it does after chowning /data and dropping to the `redis` user)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis
import yaml

from tests.helpers import ROOT, free_port

PASSWORD = "p4ss-for-this-test-only"


def compose_script() -> str:
    doc = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    command = doc["services"]["redis"]["command"]
    assert command[:2] == ["sh", "-c"]
    return command[2].replace("$$", "$")  # compose's escape for a literal $


def k8s_script() -> str:
    docs = [d for d in yaml.safe_load_all((ROOT / "deploy" / "k8s" / "redis.yaml").read_text()) if d]
    container = next(d for d in docs if d["kind"] == "StatefulSet")["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["sh", "-c"]
    return container["args"][0]


def start(script: str, tmp_path: Path, port: int) -> subprocess.Popen:
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        pytest.fail("redis-server is not installed (make test installs it)")
    stub = tmp_path / "bin"
    stub.mkdir()
    entry = stub / "docker-entrypoint.sh"
    entry.write_text('#!/bin/sh\nexec "$@"\n')
    entry.chmod(0o755)
    conf = tmp_path / "redis.conf"  # the project's file, plus what differs in a test
    conf.write_text((ROOT / "deploy" / "redis" / "redis.conf").read_text() + f"\nport {port}\nbind 127.0.0.1\n")
    script = script.replace("/usr/local/etc/redis/redis.conf", str(conf))
    script = script.replace("exec redis-server ", f"exec redis-server --port {port} --bind 127.0.0.1 ", 1)
    data = tmp_path / "data"
    data.mkdir()
    return subprocess.Popen(
        ["sh", "-c", script],
        cwd=data,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={
            **os.environ,
            "REDIS_PASSWORD": PASSWORD,
            "PATH": f"{stub}:{Path(redis_server).parent}:{os.environ['PATH']}",
        },
    )


@pytest.mark.parametrize("where", ["compose", "k8s"])
def test_redis_start_line_reads_the_password_from_stdin(where, tmp_path):
    script = compose_script() if where == "compose" else k8s_script()
    assert PASSWORD not in script
    port = free_port()
    proc = start(script, tmp_path, port)
    try:
        authed = redis.Redis(port=port, password=PASSWORD, socket_timeout=2)
        end = time.monotonic() + 10
        while True:
            try:
                assert authed.ping()
                break
            except redis.ConnectionError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < end, "redis-server did not start"
                time.sleep(0.1)
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port, socket_timeout=2).set("k", "v")
        config = authed.config_get("*")
        assert config["appendonly"] == "yes" and config["appendfsync"] == "everysec"
        assert config["maxmemory"] == str(512 * 1024 * 1024) and config["maxmemory-policy"] == "noeviction"
        assert config["save"] == ""
        # exec: the shell became redis-server (PID 1 in a container), whose command line
        # does not hold the password
        info = authed.info("server")
        assert info["process_id"] == proc.pid
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        assert "redis-server" in cmdline and PASSWORD not in cmdline
        proc.send_signal(signal.SIGTERM)  # stops cleanly on SIGTERM (AOF flushed)
        out, _ = proc.communicate(timeout=10)
        assert proc.returncode == 0, out
        assert "ready to exit, bye bye" in out.lower() or "Redis is now ready to exit" in out
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
