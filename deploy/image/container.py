"""One process started from the image's root filesystem the way a container runtime would
start it (deploy/image/image_test.py's docstring says what the container looks like), and
what the test reads of it from the host: its status, mounts, descendants, zombies, browsers.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from pathlib import Path


def mount_setup(rootfs: str, tmpfs: tuple[str, ...], ro_binds: dict[str, str]) -> list[str]:
    """Shell lines that build the container's filesystem view in a fresh mount namespace."""
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
    return setup


def gid_of(rootfs: str, uid: str) -> str:
    """The primary group of a user (by name or number) in the image's /etc/passwd."""
    for line in Path(rootfs, "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == uid or fields[2] == uid:
            return fields[3]
    return uid


def entry_command(name: str, rootfs: str, config: dict, args: list[str], env: dict[str, str]) -> list[str]:
    """The image's ENTRYPOINT and CMD (or args) as its user, with its ENV and WORKDIR, no_new_privs."""
    user = config.get("User") or "0"
    uid, _, gid = user.partition(":")
    gid = gid or gid_of(rootfs, uid)
    image_env = dict(e.split("=", 1) for e in config.get("Env") or [])
    argv = [*(config.get("Entrypoint") or []), *(args or config.get("Cmd") or [])]
    env_args = [f"{k}={v}" for k, v in {**image_env, "HOSTNAME": name, **env}.items()]
    workdir = config.get("WorkingDir") or "/"
    return [
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
        command = entry_command(name, rootfs, config, args, env)
        # the setup shell becomes PID 1 of the new namespace and execs into the entry point
        script = "\n".join([*mount_setup(rootfs, tmpfs, ro_binds), "exec " + shlex.join(command)])
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
        found: list[int] = []
        todo = [self.pid]
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
