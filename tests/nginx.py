"""Debian's nginx run with the project's own proxy config (deploy/nginx/default.conf.template),
the way the official image would render it, in a private prefix: no root, no system paths."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.helpers import ROOT

TEMPLATE = ROOT / "deploy" / "nginx" / "default.conf.template"
#: What compose gives the official image's envsubst step (deploy/compose.yaml, service nginx).
VARIABLES = ("PTRACKER_UPSTREAM", "PTRACKER_PROXY_PORT", "PTRACKER_RESOLVER")

#: The official image's /etc/nginx/nginx.conf, reduced to what matters, with every path
#: in the test's directory. The project's file is included inside http{}, as conf.d/ is.
MAIN_CONF = """\
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
{user}
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {dir}/access.log;
    sendfile on;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/conf.d/*.conf;
}}
"""


def nginx_binary() -> str:
    path = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
    if path is None:
        pytest.fail("nginx is not installed (make test installs it: Debian package nginx)")
    return path


def template_variables() -> set[str]:
    return set(re.findall(r"\$\{(\w+)\}", TEMPLATE.read_text()))


def render(directory: Path, upstream: str, port: int) -> Path:
    """Render the template with envsubst limited to our variables (as the image does, whose
    envsubst only replaces variables that are set) and write a main config around it."""
    envsubst = shutil.which("envsubst")
    if envsubst is None:
        pytest.fail("envsubst is not installed (make test installs it: Debian package gettext-base)")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "conf.d").mkdir(exist_ok=True)
    values = {
        "PTRACKER_UPSTREAM": upstream,
        "PTRACKER_PROXY_PORT": f"127.0.0.1:{port}",
        "PTRACKER_RESOLVER": "127.0.0.1",
    }
    shell_format = " ".join(f"${{{name}}}" for name in VARIABLES)
    res = subprocess.run(
        [envsubst, shell_format],
        input=TEMPLATE.read_text(),
        capture_output=True,
        text=True,
        env={**os.environ, **values},
        check=True,
    )
    (directory / "conf.d" / "default.conf").write_text(res.stdout)
    user = "user root;" if os.geteuid() == 0 else ""  # workers may then write the temp paths here
    main = directory / "nginx.conf"
    main.write_text(MAIN_CONF.format(dir=directory, user=user))
    return main


def check(conf: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [nginx_binary(), "-t", "-p", str(conf.parent), "-e", str(conf.parent / "error.log"), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
    )


class Nginx:
    def __init__(self, directory: Path, upstream: str, port: int):
        self.conf = render(directory, upstream, port)
        self.base = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Nginx:
        checked = check(self.conf)
        assert checked.returncode == 0, checked.stderr
        d = self.conf.parent
        self.proc = subprocess.Popen(
            [nginx_binary(), "-p", str(d), "-e", str(d / "error.log"), "-c", str(self.conf)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                pytest.fail(f"nginx exited: {self.proc.stdout.read()}\n{self.error_log()}")
            try:
                requests.get(self.base + "/nginx-started", timeout=1)
                return self
            except requests.RequestException:
                time.sleep(0.1)
        pytest.fail("nginx did not start listening")

    def error_log(self) -> str:
        path = self.conf.parent / "error.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: workers finish, then exit
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
