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
default ../shared/data from the project root), PTRACKER_EXPECTED_SOL (default 1110),
PTRACKER_TEST_IMAGE (default localhost/ptracker:test), PTRACKER_IMAGE_TEST_NO_BUILD=1 to
test the image as it is, PTRACKER_IMAGE_TEST_KEEP=1 to keep the containers' logs.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
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


class Container:
    """One process started from the image's root filesystem, as a container runtime would."""

    def __init__(
        self,
        name: str,
        rootfs: str,
        config: dict,
        args: list[str],
        env: dict[str, str],
        logdir: Path,
        ro_binds: dict[str, str],
        tmpfs: tuple[str, ...] = ("/tmp",),
    ):
        self.name = name
        self.log_path = logdir / f"{name}.log"
        user = config.get("User") or "0"
        uid, _, gid = user.partition(":")
        gid = gid or self._gid_of(rootfs, uid)
        image_env = dict(e.split("=", 1) for e in config.get("Env") or [])
        argv = [*(config.get("Entrypoint") or []), *(args or config.get("Cmd") or [])]
        m = shlex.quote(rootfs)
        setup = [
            "set -eu",
            "mount --make-rprivate /",
            f"mount --bind {m} {m}",
            f"mount -o remount,bind,ro {m}",  # readOnlyRootFilesystem
            f"mount -t proc -o nosuid,nodev,noexec proc {m}/proc",
            f"mount -t sysfs -o ro,nosuid,nodev,noexec sysfs {m}/sys",
            f"mount -t tmpfs -o nosuid,mode=755,size=65536k tmpfs {m}/dev",
            f"for n in null zero full random urandom tty; do touch {m}/dev/$n; mount --bind /dev/$n {m}/dev/$n; done",
            f"ln -s /proc/self/fd {m}/dev/fd; ln -s /proc/self/fd/0 {m}/dev/stdin",
            f"ln -s /proc/self/fd/1 {m}/dev/stdout; ln -s /proc/self/fd/2 {m}/dev/stderr",
            f"mkdir {m}/dev/shm {m}/dev/pts",
            f"mount -t tmpfs -o nosuid,nodev,noexec,size=64m shm {m}/dev/shm",  # Docker's default size
        ]
        for path in tmpfs:  # the manifests' emptyDir volumes
            setup.append(f"mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs {shlex.quote(rootfs + path)}")
        for host, inside in {"/etc/hosts": "/etc/hosts", "/etc/resolv.conf": "/etc/resolv.conf", **ro_binds}.items():
            target = shlex.quote(rootfs + inside)
            setup += [f"mount --bind {shlex.quote(host)} {target}", f"mount -o remount,bind,ro {target}"]
        env_args = [f"{k}={v}" for k, v in {**image_env, "HOSTNAME": name, **env}.items()]
        workdir = config.get("WorkingDir") or "/"
        command = [
            "setpriv",
            "--no-new-privs",
            "chroot",
            f"--userspec={uid}:{gid}",
            f"--groups={gid}",
            rootfs,
            "/usr/bin/env",
            "-i",
            "-C",
            workdir,
            *env_args,
            *argv,
        ]
        # the setup shell becomes PID 1 of the new namespace and execs into the entry point
        script = "\n".join([*setup, "exec " + shlex.join(command)])
        self.log = open(self.log_path, "w")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--pid", "--fork", "--kill-child", "sh", "-c", script],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pid = self._main_pid()

    @staticmethod
    def _gid_of(rootfs: str, uid: str) -> str:
        for line in Path(rootfs, "etc/passwd").read_text().splitlines():
            fields = line.split(":")
            if fields[0] == uid or fields[2] == uid:
                return fields[3]
        return uid

    def _main_pid(self) -> int:
        """The container's PID 1 (unshare's child), as seen from the host."""
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
            except FileNotFoundError:
                break
            if children:
                return int(children[0])
            time.sleep(0.02)
        raise RuntimeError(f"{self.name}: no process started ({self.output()[-2000:]})")

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def running(self) -> bool:
        return self.proc.poll() is None

    def status_field(self, field: str) -> str:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return line.split(":", 1)[1].strip()
        return ""

    def root_mount_options(self) -> list[str]:
        """The mount options of "/" as the container's process sees it."""
        for line in Path(f"/proc/{self.pid}/mountinfo").read_text().splitlines():
            fields = line.split()
            if fields[4] == "/":
                return fields[5].split(",")
        return []

    def descendants(self) -> list[int]:
        found, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            try:
                kids = [
                    int(k) for t in Path(f"/proc/{pid}/task").iterdir() for k in (t / "children").read_text().split()
                ]
            except (FileNotFoundError, ProcessLookupError):
                continue
            found += kids
            todo += kids
        return found

    def zombies(self) -> list[str]:
        """Exited processes nobody reaped, in the container (an init's job)."""
        found = []
        for pid in self.descendants():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            name, state = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2]
            if state == "Z":
                found.append(f"{name} ({pid})")
        return found

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace: float) -> tuple[int | None, float]:
        """SIGTERM to PID 1, as `docker stop` does; (exit status or None, seconds taken)."""
        start = time.monotonic()
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        code = self.wait(grace)
        took = time.monotonic() - start
        if code is None:
            self.kill()
        return code, took

    def kill(self) -> None:
        if self.running():
            try:
                os.kill(self.pid, signal.SIGKILL)  # PID 1 dies: the kernel kills the whole namespace
            except ProcessLookupError:
                pass
            self.wait(10)


def browser_roots(container: Container) -> list[str]:
    """The root directory of each Chromium process under the container's PID 1."""
    roots = []
    for pid in container.descendants():
        try:
            if "chrom" in Path(f"/proc/{pid}/comm").read_text():
                roots.append(os.readlink(f"/proc/{pid}/root"))
        except OSError:  # gone meanwhile
            pass
    return roots


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


def build() -> float:
    if os.environ.get("PTRACKER_IMAGE_TEST_NO_BUILD") == "1":
        return float("nan")
    start = time.monotonic()
    res = subprocess.run([str(HERE / "build.sh"), IMAGE])
    took = time.monotonic() - start
    if res.returncode != 0:
        print(f"FAIL  image builds ({took:.0f} s)")
        sys.exit(1)
    return took


def image_size() -> str:
    """As buildah reports it: the uncompressed size of all layers (what `docker images` shows)."""
    return buildah("images", "--format", "{{.Size}}", "--filter", f"reference={IMAGE}").splitlines()[0]


def main() -> int:
    began = time.monotonic()
    for name in ("M20_waypoints.json", "M20_traverse.json"):
        if not (SHARED / name).is_file():
            print(f"FAIL  NASA data file {SHARED / name} not found (set PTRACKER_SHARED_DATA)")
            return 1
    build_s = build()
    size = image_size()
    print(f"image: {IMAGE}, {size}; build (this run): {build_s:.0f} s")

    config = json.loads(buildah("inspect", "--type", "image", IMAGE))["OCIv1"]["config"]
    tmp = Path(tempfile.mkdtemp(prefix="ptracker-image-test."))
    ctr = buildah("from", "--pull=never", "--name", f"ptracker-image-test-{secrets.token_hex(4)}", IMAGE)
    containers: list[Container] = []
    redis = None
    try:
        rootfs = buildah("mount", ctr)
        # mount points, as a runtime creates them for a read-only container (in this working
        # container only, never in the image)
        Path(rootfs + DATA_MOUNT).mkdir(parents=True, exist_ok=True)
        for f in ("etc/hosts", "etc/resolv.conf"):
            Path(rootfs, f).touch()
        redis = Redis(tmp)
        port = free_port()
        env = {
            "REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
            "REDIS_PASSWORD": redis.password,  # kept out of the URL, as compose and Kubernetes do
            "PORT": str(port),
            "PTRACKER_WAYPOINTS_SOURCE": f"{DATA_MOUNT}/M20_waypoints.json",
            "PTRACKER_TRAVERSE_SOURCE": f"{DATA_MOUNT}/M20_traverse.json",
            "PTRACKER_EXPORT_TIMEOUT": "60",
            "WEB_CONCURRENCY": "2",
        }
        binds = {str(SHARED): DATA_MOUNT}

        def start(name: str, args: list[str]) -> Container:
            c = Container(name, rootfs, config, args, env, tmp, binds)
            containers.append(c)
            return c

        # load: a one-shot container, like compose's `load` service
        load = start("load", ["load"])
        code = load.wait(180)
        out = load.output()
        check(
            "load exits 0 with NASA's files mounted read-only",
            code == 0,
            next((l for l in out.splitlines() if "loaded" in l), out.strip()[-300:]),
        )

        web = start("web", [])  # the image's CMD
        worker = start("worker", ["worker"])
        base = f"http://127.0.0.1:{port}"
        up = wait_http(base + "/healthz", web, 90)
        check(
            "web: /healthz 200",
            up is not None and json.loads(up[1])["status"] == "ok",
            up[1].decode() if up else web.output()[-500:],
        )
        if web.running():
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
            check(
                "web listens on 0.0.0.0 (HOST from the image's ENV)",
                f"Listening at: http://0.0.0.0:{port}" in web.output(),
                next((l.split("] ")[-1] for l in web.output().splitlines() if "Listening at" in l), "no bind line"),
            )
            code, _, body = http("GET", base + "/readyz")
            ready = json.loads(body) if code == 200 else {}
            check(
                "web: /readyz 200, Redis and the dataset reported",
                ready.get("checks", {}).get("redis") == "ok" and ready["checks"].get("dataset") == "version 1",
                f"{code} {body.decode()[:200]}",
            )
            code, _, body = http("GET", base + "/perseverance/sol")
            want = f"Most recent data waypoint is at Sol-{EXPECTED_SOL}"
            check(
                f"web: /perseverance/sol says '{want}'",
                code == 200 and body.decode() == want,
                f"{code} {body.decode()[:200]!r}",
            )

            t0 = time.monotonic()
            code, headers, body = http("POST", base + "/perseverance/orientation/yaw", {"start": 0, "end": 400})
            answer = json.loads(body) if body.startswith(b"{") else {}
            ok = check(
                "export queued: POST /perseverance/orientation/yaw",
                code == 202 and "download_url" in answer,
                f"{code} {answer.get('status')}, {answer.get('id')}" if answer else f"{code} {body[:200]!r}",
            )
            png, last, chromium = b"", "", []
            while ok and time.monotonic() - t0 < 150 and worker.running():
                if not chromium:  # the worker's browser, while it is up
                    chromium = browser_roots(worker)
                code, headers, body = http("GET", base + answer["download_url"])
                if code == 200:
                    png = body
                    (tmp / "export.png").write_bytes(png)
                    break
                last = f"{code} {body.decode(errors='replace')[:200]}"
                if code != 409:
                    break
                time.sleep(0.3)
            if ok:
                check(
                    "export: the PNG is drawn by the worker and downloaded",
                    png[:8] == PNG_MAGIC and "attachment" in headers.get("Content-Disposition", ""),
                    f"{len(png)} bytes in {time.monotonic() - t0:.1f} s"
                    if png
                    else f"last answer {last}; worker log: {worker.output()[-800:]}",
                )
                check(
                    "export: drawn by the image's own Chromium (its process root is the image)",
                    bool(chromium) and set(chromium) == {rootfs},
                    f"{len(chromium)} Chromium processes under the worker" if chromium else "none seen",
                )

        time.sleep(1)  # let exited processes be reaped, or not
        zombies = [z for c in (web, worker) if c.running() for z in c.zombies()]
        check(
            "no zombie processes in the web and worker containers (an init reaps them)", not zombies, ", ".join(zombies)
        )

        # the worker first, with an export in flight: a warm shutdown finishes it
        in_flight = None
        if web.running() and worker.running():
            code, _, body = http(
                "POST",
                base + "/perseverance/position/map",
                {"start": 0, "end": EXPECTED_SOL, "width": 4000, "height": 3000},
            )
            if code == 202:
                in_flight = json.loads(body)
                end = time.monotonic() + 60
                while time.monotonic() < end:
                    status = json.loads(http("GET", base + in_flight["status_url"])[2]).get("status")
                    if status != "queued":
                        break
                    time.sleep(0.05)
                in_flight["seen"] = status
        code, took = worker.stop(WORKER_GRACE + 5)
        check(
            f"worker: SIGTERM, exits 0 within {WORKER_GRACE} s",
            code == 0 and took <= WORKER_GRACE,
            f"exit {code} after {took:.1f} s",
        )
        if in_flight:
            code, _, body = http("GET", base + in_flight["download_url"])
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
        logs = {c.name: c.output() for c in containers}
        bad = [name for name, text in logs.items() if "Traceback" in text]
        check("no traceback in the containers' output", not bad, ", ".join(bad))
    finally:
        for c in containers:
            c.kill()
        if redis:
            redis.stop()
        subprocess.run(["buildah", "rm", ctr], capture_output=True)
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


if __name__ == "__main__":
    sys.exit(main())
