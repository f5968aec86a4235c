#!/usr/bin/env python3
"""Build (or reuse) the image and start it for real: `make image-test`.

No Docker engine is needed. The image is built by deploy/image/build.sh (buildah), then
each process runs the way a container runtime would start it, from the image's own root
filesystem (a buildah working container, mounted):

- its own mount and PID namespaces; the entry point becomes PID 1, as under Docker;
- the root filesystem read-only (Kubernetes' readOnlyRootFilesystem), with a fresh
  tmpfs on /tmp (the manifests' emptyDir) and a 64 MB /dev/shm (Docker's default);
- a minimal /dev, /proc, a read-only /sys, the host's /etc/hosts and /etc/resolv.conf;
- the image's user (10001), environment, working directory, ENTRYPOINT and CMD, with
  no_new_privs (allowPrivilegeEscalation: false) and no capabilities;
- the host's network (127.0.0.1), as buildah's chroot isolation has it.

Against a private, password-protected redis-server on a free loopback port it runs
`load` (NASA's files mounted read-only), `web` and `worker`, checks /healthz, /readyz,
/perseverance/sol and one PNG export drawn by the image's Chromium, then stops both with
SIGTERM and checks they exit within their grace periods. One line per check (PASS/FAIL);
the exit status is non-zero on any failure. Needs root, buildah, redis-server, util-linux.

Environment: PTRACKER_SHARED_DATA (folder with M20_waypoints.json and M20_traverse.json;
default: the shared data folder beside the checkout), PTRACKER_EXPECTED_SOL (default 1110),
PTRACKER_TEST_IMAGE (default localhost/ptracker:test), PTRACKER_IMAGE_TEST_NO_BUILD=1 to
test the image as it is, PTRACKER_IMAGE_TEST_KEEP=1 to keep the containers' logs.

This file holds the checks, one function per phase; harness.py builds and mounts the image
and starts Redis, container.py starts a process as a container and reads it from the host.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from container import Container, browser_roots
from harness import Redis, build, buildah, free_port, http, image_size, mount_working_container, wait_http

ROOT = Path(__file__).resolve().parent.parent.parent
IMAGE = os.environ.get("PTRACKER_TEST_IMAGE", "localhost/ptracker:test")
SHARED = Path(os.environ.get("PTRACKER_SHARED_DATA") or ROOT.parent / "shared" / "data")
SHARED = (SHARED if SHARED.is_absolute() else ROOT / SHARED).resolve()
EXPECTED_SOL = int(os.environ.get("PTRACKER_EXPECTED_SOL", "1110"))
WEB_GRACE = 20  # gunicorn's graceful_timeout (deploy/gunicorn.conf.py)
WORKER_GRACE = 90  # compose's stop_grace_period, the worker's terminationGracePeriodSeconds
DATA_MOUNT = "/data/nasa"  # where the NASA files appear inside the container
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

failures: list[str] = []


def check(name: str, ok: bool, detail: str = "") -> bool:
    print(f"{'PASS' if ok else 'FAIL'}  {name}{f'  ({detail})' if detail else ''}", flush=True)
    if not ok:
        failures.append(name)
    return ok


@dataclass
class Run:
    """One run against the mounted image: what its containers share, and the containers started."""

    rootfs: str
    config: dict
    tmp: Path
    redis: Redis
    containers: list[Container]
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.env = {
            "REDIS_URL": f"redis://127.0.0.1:{self.redis.port}/0",
            "REDIS_PASSWORD": self.redis.password,  # kept out of the URL, as compose and Kubernetes do
            "PORT": str(self.port),
            "PTRACKER_WAYPOINTS_SOURCE": f"{DATA_MOUNT}/M20_waypoints.json",
            "PTRACKER_TRAVERSE_SOURCE": f"{DATA_MOUNT}/M20_traverse.json",
            "PTRACKER_EXPORT_TIMEOUT": "60",
            "WEB_CONCURRENCY": "2",
        }
        if (SHARED / "MSL_waypoints.json").is_file() and (SHARED / "MSL_traverse.json").is_file():
            self.env["PTRACKER_MSL_WAYPOINTS_SOURCE"] = f"{DATA_MOUNT}/MSL_waypoints.json"
            self.env["PTRACKER_MSL_TRAVERSE_SOURCE"] = f"{DATA_MOUNT}/MSL_traverse.json"
        else:  # Curiosity's files are not there: the image serves Perseverance alone
            self.env["PTRACKER_ROVERS"] = "perseverance"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, name: str, args: list[str]) -> Container:
        c = Container(name, self.rootfs, self.config, args, self.env, self.tmp, {str(SHARED): DATA_MOUNT})
        self.containers.append(c)
        return c


def data_present() -> bool:
    for name in ("M20_waypoints.json", "M20_traverse.json"):
        if not (SHARED / name).is_file():
            print(f"FAIL  NASA data file {SHARED / name} not found (set PTRACKER_SHARED_DATA)")
            return False
    return True


def check_load(run: Run) -> None:
    """load: a one-shot container, like compose's `load` service."""
    load = run.start("load", ["load"])
    code = load.wait(180)
    out = load.output()
    check(
        "load exits 0 with NASA's files mounted read-only (every rover served, each on its own line)",
        code == 0,
        " | ".join(line for line in out.splitlines() if "loaded" in line) or out.strip()[-300:],
    )


def check_healthz(run: Run, web: Container) -> None:
    up = wait_http(run.base + "/healthz", web, 90)
    check(
        "web: /healthz 200",
        up is not None and json.loads(up[1])["status"] == "ok",
        up[1].decode() if up else web.output()[-500:],
    )


def check_processes(run: Run, web: Container, worker: Container) -> None:
    """Who the containers' processes are, what they see as "/", where web listens."""
    check(
        "web and worker run as uid 10001, gid 10001",
        all(
            c.status_field("Uid").split()[0] == "10001" and c.status_field("Gid").split()[0] == "10001"
            for c in (web, worker)
        ),
        f"web Uid {web.status_field('Uid')}, worker Uid {worker.status_field('Uid')}",
    )
    opts = web.root_mount_options()
    check("root filesystem is read-only inside the containers", "ro" in opts, ",".join(opts))
    bind_line = (line.split("] ")[-1] for line in web.output().splitlines() if "Listening at" in line)
    check(
        "web listens on 0.0.0.0 (HOST from the image's ENV)",
        f"Listening at: http://0.0.0.0:{run.port}" in web.output(),
        next(bind_line, "no bind line"),
    )


def check_answers(run: Run) -> None:
    code, _, body = http("GET", run.base + "/readyz")
    ready = json.loads(body) if code == 200 else {}
    check(
        "web: /readyz 200, Redis and the dataset reported",
        ready.get("checks", {}).get("redis") == "ok" and ready["checks"].get("dataset") == "version 1",
        f"{code} {body.decode()[:200]}",
    )
    code, _, body = http("GET", run.base + "/perseverance/sol")
    want = f"Most recent data waypoint is at Sol-{EXPECTED_SOL}"
    check(
        f"web: /perseverance/sol says '{want}'",
        code == 200 and body.decode() == want,
        f"{code} {body.decode()[:200]!r}",
    )
    if "PTRACKER_MSL_WAYPOINTS_SOURCE" in run.env:
        code, _, body = http("GET", run.base + "/curiosity/sol")
        check(
            "web: /curiosity/sol answers from Curiosity's own dataset",
            code == 200 and body.decode().startswith("Most recent data waypoint is at Sol-"),
            f"{code} {body.decode()[:200]!r}",
        )


def download(run: Run, worker: Container, url: str, t0: float) -> tuple[bytes, dict, str, list[str]]:
    """Poll an export's download URL until the file is there (or an answer other than 409):
    (file, headers of the last answer, last answer if not 200, Chromium roots seen meanwhile)."""
    png, last = b"", ""
    headers: dict = {}
    chromium: list[str] = []
    while time.monotonic() - t0 < 150 and worker.running():
        if not chromium:  # the worker's browser, while it is up
            chromium = browser_roots(worker)
        code, headers, body = http("GET", run.base + url)
        if code == 200:
            png = body
            (run.tmp / "export.png").write_bytes(png)
            break
        last = f"{code} {body.decode(errors='replace')[:200]}"
        if code != 409:
            break
        time.sleep(0.3)
    return png, headers, last, chromium


def check_export(run: Run, worker: Container) -> None:
    t0 = time.monotonic()
    code, _, body = http("POST", run.base + "/perseverance/orientation/yaw", {"start": 0, "end": 400})
    answer = json.loads(body) if body.startswith(b"{") else {}
    if not check(
        "export queued: POST /perseverance/orientation/yaw",
        code == 202 and "download_url" in answer,
        f"{code} {answer.get('status')}, {answer.get('id')}" if answer else f"{code} {body[:200]!r}",
    ):
        return
    png, headers, last, chromium = download(run, worker, answer["download_url"], t0)
    check(
        "export: the PNG is drawn by the worker and downloaded",
        png[:8] == PNG_MAGIC and "attachment" in headers.get("Content-Disposition", ""),
        f"{len(png)} bytes in {time.monotonic() - t0:.1f} s"
        if png
        else f"last answer {last}; worker log: {worker.output()[-800:]}",
    )
    check(
        "export: drawn by the image's own Chromium (its process root is the image)",
        bool(chromium) and set(chromium) == {run.rootfs},
        f"{len(chromium)} Chromium processes under the worker" if chromium else "none seen",
    )


def check_zombies(web: Container, worker: Container) -> None:
    time.sleep(1)  # let exited processes be reaped, or not
    zombies = [z for c in (web, worker) if c.running() for z in c.zombies()]
    check("no zombie processes in the web and worker containers (an init reaps them)", not zombies, ", ".join(zombies))


def queue_in_flight(run: Run) -> dict | None:
    """A big export, queued and waited for until the worker has taken it (or 60 s)."""
    code, _, body = http(
        "POST",
        run.base + "/perseverance/position/map",
        {"start": 0, "end": EXPECTED_SOL, "width": 4000, "height": 3000},
    )
    if code != 202:
        return None
    in_flight = json.loads(body)
    status = None
    end = time.monotonic() + 60
    while time.monotonic() < end:
        status = json.loads(http("GET", run.base + in_flight["status_url"])[2]).get("status")
        if status != "queued":
            break
        time.sleep(0.05)
    in_flight["seen"] = status
    return in_flight


def check_shutdown(run: Run, web: Container, worker: Container) -> None:
    """The worker first, with an export in flight: a warm shutdown finishes it; then web."""
    in_flight = queue_in_flight(run) if web.running() and worker.running() else None
    code, took = worker.stop(WORKER_GRACE + 5)
    check(
        f"worker: SIGTERM, exits 0 within {WORKER_GRACE} s",
        code == 0 and took <= WORKER_GRACE,
        f"exit {code} after {took:.1f} s",
    )
    if in_flight:
        code, _, body = http("GET", run.base + in_flight["download_url"])
        check(
            "worker: the export in flight at SIGTERM was finished before it exited",
            code == 200 and body[:8] == PNG_MAGIC,
            f"map 4000x3000 was {in_flight['seen']} at SIGTERM; then {code}, {len(body)} bytes",
        )
    code, took = web.stop(WEB_GRACE + 5)
    check(
        f"web: SIGTERM, exits 0 within {WEB_GRACE} s",
        code == 0 and took <= WEB_GRACE,
        f"exit {code} after {took:.1f} s",
    )


def run_checks(run: Run) -> None:
    """The checks, in order: load, web's answers, one export, zombies, shutdown, tracebacks."""
    check_load(run)
    web = run.start("web", [])  # the image's CMD
    worker = run.start("worker", ["worker"])
    check_healthz(run, web)
    if web.running():
        check_processes(run, web, worker)
        check_answers(run)
        check_export(run, worker)
    check_zombies(web, worker)
    check_shutdown(run, web, worker)
    bad = [c.name for c in run.containers if "Traceback" in c.output()]
    check("no traceback in the containers' output", not bad, ", ".join(bad))


def report(began: float, build_s: float, size: str, tmp: Path, containers: list[Container]) -> int:
    print(
        f"image-test: {len(failures)} failure(s); {time.monotonic() - began:.0f} s in all "
        f"(build {build_s:.0f} s); image {size}"
    )
    if failures or os.environ.get("PTRACKER_IMAGE_TEST_KEEP") == "1":
        print(f"logs kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        for c in containers:
            print(f"---- {c.name} (last lines) ----\n{c.output()[-3000:]}")
        return 1
    return 0


def main() -> int:
    began = time.monotonic()
    if not data_present():
        return 1
    build_s = build(IMAGE)
    size = image_size(IMAGE)
    print(f"image: {IMAGE}, {size}; build (this run): {build_s:.0f} s")

    config = json.loads(buildah("inspect", "--type", "image", IMAGE))["OCIv1"]["config"]
    tmp = Path(tempfile.mkdtemp(prefix="ptracker-image-test."))
    ctr = buildah("from", "--pull=never", "--name", f"ptracker-image-test-{secrets.token_hex(4)}", IMAGE)
    containers: list[Container] = []
    redis = None
    try:
        rootfs = mount_working_container(ctr, DATA_MOUNT)
        redis = Redis(tmp)
        run_checks(Run(rootfs, config, tmp, redis, containers))
    finally:
        for c in containers:
            c.kill()
        if redis:
            redis.stop()
        subprocess.run(["buildah", "rm", ctr], capture_output=True)
    return report(began, build_s, size, tmp, containers)


if __name__ == "__main__":
    sys.exit(main())
