"""Set-up for deploy/image/image_test.py: the image built and mounted (buildah), a private
Redis, and HTTP helpers. The containers themselves are in container.py.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from container import Container

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: dict | None = None, timeout: float = 10) -> tuple[int, dict, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"} if data else {}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def buildah(*args: str) -> str:
    return subprocess.run(["buildah", *args], check=True, capture_output=True, text=True).stdout.strip()


def build(image: str) -> float:
    """deploy/image/build.sh (seconds taken; NaN with PTRACKER_IMAGE_TEST_NO_BUILD=1); exits 1 if it fails."""
    if os.environ.get("PTRACKER_IMAGE_TEST_NO_BUILD") == "1":
        return float("nan")
    start = time.monotonic()
    res = subprocess.run([str(HERE / "build.sh"), image])
    took = time.monotonic() - start
    if res.returncode != 0:
        print(f"FAIL  image builds ({took:.0f} s)")
        sys.exit(1)
    return took


def image_size(image: str) -> str:
    """As buildah reports it: the uncompressed size of all layers (what `docker images` shows)."""
    return buildah("images", "--format", "{{.Size}}", "--filter", f"reference={image}").splitlines()[0]


def mount_working_container(ctr: str, data_mount: str) -> str:
    """Mount a working container (its root filesystem's path) with the mount points a runtime
    creates for a read-only container (in this working container only, never in the image)."""
    rootfs = buildah("mount", ctr)
    Path(rootfs + data_mount).mkdir(parents=True, exist_ok=True)
    for f in ("etc/hosts", "etc/resolv.conf"):
        Path(rootfs, f).touch()
    return rootfs


class Redis:
    """A private redis-server with a password, on a free loopback port."""

    def __init__(self, workdir: Path):
        self.password = secrets.token_hex(16)
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(workdir),
                "--save",
                "",
                "--appendonly",
                "no",
                "--requirepass",
                self.password,
            ],
            stdout=open(workdir / "redis.log", "w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        end = time.monotonic() + 10
        while time.monotonic() < end:
            res = subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"],
                capture_output=True,
                text=True,
                env={**os.environ, "REDISCLI_AUTH": self.password},
            )
            if res.stdout.strip() == "PONG":
                return
            time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def wait_http(url: str, container: Container, timeout: float) -> tuple[int, bytes] | None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and container.running():
        try:
            code, _, body = http("GET", url, timeout=5)
            if code == 200:
                return code, body
        except OSError:
            pass
        time.sleep(0.25)
    return None
