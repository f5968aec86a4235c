"""`make k8s-apply` and `make up` generate the secrets that are missing, never overwrite one,
and never put one on a command line. Kubernetes is a recording stand-in for kubectl (no
cluster here); compose's env files are written for real (no Docker: `up` is not run)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

from tests.helpers import ROOT

FAKE_KUBECTL = r'''#!PYTHON
"""Records every call (argv, stdin) and keeps Secrets in a JSON file, like a cluster would."""
import json, os, sys
state_dir = os.environ["FAKE_KUBE_DIR"]
path = os.path.join(state_dir, "secrets.json")
secrets = json.load(open(path)) if os.path.exists(path) else {}
args = sys.argv[1:]
stdin = ""
if "/dev/stdin" in " ".join(args) or args[-2:] == ["-f", "-"]:
    stdin = sys.stdin.read()
with open(os.path.join(state_dir, "calls.jsonl"), "a") as log:
    log.write(json.dumps({"argv": args, "stdin": stdin}) + "\n")
if args[:1] == ["kustomize"]:
    print("kind: Deployment\nimage: ptracker:latest")
elif args[2:4] == ["get", "secret"]:
    sys.exit(0 if args[4] in secrets else 1)
elif args[2:5] == ["create", "secret", "generic"]:
    name = args[5]
    if name in secrets:
        sys.exit("AlreadyExists")
    key = args[6].split("=", 1)[1].split("=", 1)[0]
    secrets[name] = {key: stdin}
    json.dump(secrets, open(path, "w"))
elif args[2:4] == ["get", "job"]:
    sys.exit(1)
'''


@pytest.fixture
def kube(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    fake = tmp_path / "kubectl"
    fake.write_text(FAKE_KUBECTL.replace("PYTHON", sys.executable))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    state = tmp_path / "cluster"
    state.mkdir()

    def apply(**env) -> tuple[subprocess.CompletedProcess, list[dict], dict]:
        (state / "calls.jsonl").unlink(missing_ok=True)
        base = {k: v for k, v in os.environ.items() if k not in ("REDIS_PASSWORD", "PTRACKER_ADMIN_TOKEN")}
        res = subprocess.run(
            ["make", "-s", "k8s-apply", f"KUBECTL={fake}", "TAG=v9"],
            cwd=ROOT,
            env={**base, "FAKE_KUBE_DIR": str(state), **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        calls = [json.loads(line) for line in (state / "calls.jsonl").read_text().splitlines()]
        secrets = json.loads((state / "secrets.json").read_text()) if (state / "secrets.json").exists() else {}
        return res, calls, secrets

    return apply


def test_k8s_apply_creates_missing_secrets_once_and_never_overwrites(kube):
    res, calls, secrets = kube()
    assert res.returncode == 0, res.stdout + res.stderr
    assert set(secrets) == {"redis-auth", "ptracker-admin"}
    password = secrets["redis-auth"]["REDIS_PASSWORD"]
    token = secrets["ptracker-admin"]["PTRACKER_ADMIN_TOKEN"]
    assert len(password) >= 32 and len(token) >= 32 and password != token
    # through stdin only: neither value is on any command line, nor printed
    assert not any(password in " ".join(c["argv"]) or token in " ".join(c["argv"]) for c in calls)
    assert password not in res.stdout + res.stderr and token not in res.stdout + res.stderr
    # the namespace first, the rendered kustomization last, with the image
    assert calls[0]["argv"][:3] == ["apply", "-f", "deploy/k8s/namespace.yaml"]
    assert calls[-1]["argv"] == ["apply", "-f", "-"] and "image: ptracker:v9" in calls[-1]["stdin"]
    assert "curl -X POST -H @admin.header" in res.stdout and "Authorization: Bearer" in res.stdout

    again, calls, kept = kube()
    assert again.returncode == 0, again.stdout + again.stderr
    assert kept == secrets  # a running Redis keeps its password
    assert not any(c["argv"][2:4] == ["create", "secret"] for c in calls)
    assert "Secret redis-auth exists: kept" in again.stdout


def test_k8s_apply_uses_given_values(kube):
    res, calls, secrets = kube(REDIS_PASSWORD="given-password-123", PTRACKER_ADMIN_TOKEN="given-token-456")
    assert res.returncode == 0, res.stdout + res.stderr
    assert secrets == {
        "redis-auth": {"REDIS_PASSWORD": "given-password-123"},
        "ptracker-admin": {"PTRACKER_ADMIN_TOKEN": "given-token-456"},
    }
    assert "given-password-123" not in json.dumps([c["argv"] for c in calls]) + res.stdout + res.stderr
    assert "the given Redis password" in res.stdout


def test_make_writes_compose_env_files_private_and_keeps_them(tmp_path):
    """The env-file rules `make up` depends on, run in a copy of the Makefile's directory
    layout (so the real deploy/*.env are never touched)."""
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    work = tmp_path / "project"
    (work / "deploy").mkdir(parents=True)
    shutil.copy(ROOT / "Makefile", work / "Makefile")
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_PASSWORD", "PTRACKER_ADMIN_TOKEN")}
    res = subprocess.run(
        ["make", "-s", "deploy/redis.env", "deploy/admin.env"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 0, res.stderr
    admin, redis_env = work / "deploy" / "admin.env", work / "deploy" / "redis.env"
    token = admin.read_text().strip().split("=", 1)[1]
    assert len(token) >= 32 and token not in res.stdout
    assert stat.S_IMODE(admin.stat().st_mode) == 0o600 and stat.S_IMODE(redis_env.stat().st_mode) == 0o600
    header = work / "deploy" / "admin.header"  # for curl -H @deploy/admin.header: the token off the command line
    assert header.read_text() == f"Authorization: Bearer {token}\n" and stat.S_IMODE(header.stat().st_mode) == 0o600
    before = admin.read_text(), redis_env.read_text()
    subprocess.run(
        ["make", "-s", "deploy/redis.env", "deploy/admin.env"],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
        timeout=30,
    )
    assert (admin.read_text(), redis_env.read_text()) == before  # never regenerated
    ignored = (ROOT / ".gitignore").read_text().split()
    assert {"deploy/admin.env", "deploy/admin.header", "deploy/redis.env"} <= set(ignored)
