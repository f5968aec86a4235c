"""Deployment files, checked offline: hadolint, docker-compose config, Kubernetes schemas,
gunicorn's config, and the Procfile agreeing with the image's commands."""

from __future__ import annotations

import os
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = BIN / name if (BIN / name).exists() else shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (make test installs it)")
    return str(path)


def run(*args, cwd=ROOT):
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=120)


def test_dockerfile_passes_hadolint():
    res = run(tool("hadolint"), "deploy/Dockerfile")
    assert res.returncode == 0, res.stdout + res.stderr


def test_hadolint_is_not_vacuous(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install -y curl\nCMD python app.py\n")
    res = run(tool("hadolint"), str(bad))
    assert res.returncode != 0 and "DL3007" in res.stdout


def test_dockerfile_shape():
    text = (DEPLOY / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) == 2  # multi-stage
    assert re.search(r"^FROM python:3\.11-slim-bookworm AS build$", text, re.M)
    assert re.search(r"^USER 10001$", text, re.M)  # non-root
    # exec form, tini as PID 1 (forwards SIGTERM, reaps Chromium's orphans)
    assert 'ENTRYPOINT ["/usr/bin/tini", "--", "/app/deploy/docker-entrypoint.sh"]' in text
    assert re.search(r"^ENV [^#]*\bHOST=0\.0\.0\.0\b", text, re.M | re.S)  # containers serve on all interfaces
    assert "chromium" in text
    entry = (DEPLOY / "docker-entrypoint.sh").read_text()
    assert "exec gunicorn -c /app/deploy/gunicorn.conf.py" in entry and "exec python -m jobs.worker" in entry
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignore and ".git" in ignore and "deploy/*.env" in ignore


@pytest.fixture
def compose_dir(tmp_path):
    target = tmp_path / "deploy"
    shutil.copytree(DEPLOY, target, ignore=shutil.ignore_patterns("k8s", "redis.env"))
    (target / "redis.env").write_text((DEPLOY / "redis.env.example").read_text())
    return target


def test_compose_file_validates(compose_dir):
    res = run(tool("docker-compose"), "-f", "compose.yaml", "config", cwd=compose_dir)
    assert res.returncode == 0, res.stderr
    config = yaml.safe_load(res.stdout)
    services = config["services"]
    assert set(services) == {"redis", "web", "worker", "load"}
    redis_ = services["redis"]
    assert "ports" not in redis_  # no published port
    assert "--appendonly yes --appendfsync everysec" in redis_["command"]
    assert "redis-data:/data" in redis_["volumes"][0]
    assert redis_["healthcheck"]["test"]
    assert "8050" in str(services["web"]["ports"][0])
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    for name in ("web", "worker", "load"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
        assert services[name]["environment"]["REDIS_PASSWORD"]  # from the env file
    assert services["load"]["command"] == ["load-if-empty"]
    grace = services["worker"]["stop_grace_period"]
    assert int(grace.rstrip("s")) > int(services["worker"]["environment"]["PTRACKER_EXPORT_TIMEOUT"])


def test_compose_validation_is_not_vacuous(compose_dir):
    (compose_dir / "compose.yaml").write_text("services:\n  web:\n    image: x\n    ports: 8050\n    nonsense: 1\n")
    res = run(tool("docker-compose"), "-f", "compose.yaml", "config", "-q", cwd=compose_dir)
    assert res.returncode != 0


def k8s_files():
    return sorted(p for p in (DEPLOY / "k8s").glob("*.yaml") if p.name != "kustomization.yaml")


@pytest.mark.parametrize("path", k8s_files(), ids=lambda p: p.name)
def test_kubernetes_manifest_validates_strictly(path):
    res = run(tool("kubernetes-validate"), "--strict", str(path))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "passed" in res.stdout + res.stderr


def test_kubernetes_validation_is_not_vacuous(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replicas: two\n")
    assert run(tool("kubernetes-validate"), "--strict", str(bad)).returncode != 0


def test_kustomization_lists_every_manifest_and_the_pieces_fit():
    kust = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    assert sorted(kust["resources"]) == sorted(p.name for p in k8s_files())
    docs = [d for p in k8s_files() for d in yaml.safe_load_all(p.read_text()) if d]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for expected in [("Namespace", "perseverance-tracker"), ("Secret", "redis-auth"), ("StatefulSet", "redis"),
                     ("Service", "redis"), ("Deployment", "web"), ("Service", "web"), ("Deployment", "worker"),
                     ("HorizontalPodAutoscaler", "web"), ("CronJob", "refresh-data"),
                     ("NetworkPolicy", "redis-clients-only")]:
        assert expected in kinds
    by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    web = by[("Deployment", "web")]["spec"]
    assert web["replicas"] == 2
    probe = web["template"]["spec"]["containers"][0]
    assert probe["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert probe["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert probe["securityContext"]["readOnlyRootFilesystem"] is True
    assert web["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    worker = by[("Deployment", "worker")]["spec"]["template"]["spec"]
    assert worker["terminationGracePeriodSeconds"] > 60
    redis_ = by[("StatefulSet", "redis")]["spec"]
    assert redis_["volumeClaimTemplates"] and "--appendonly yes" in redis_["template"]["spec"]["containers"][0]["args"][0]
    allowed = by[("NetworkPolicy", "redis-clients-only")]["spec"]["ingress"][0]["from"][0]["podSelector"]
    components = allowed["matchExpressions"][0]["values"]
    labels = {d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
              for d in docs if d["kind"] == "Deployment"}
    cron = by[("CronJob", "refresh-data")]["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert labels | {cron["app.kubernetes.io/component"]} == set(components)


def test_gunicorn_config_reads_the_environment(monkeypatch):
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert conf["bind"] == "0.0.0.0:9123" and conf["workers"] == 3
    assert conf["accesslog"] == "-" and conf["timeout"] >= 60


def test_procfile_matches_the_image_commands():
    lines = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if ":" in line)
    assert lines["web"].split() == ["gunicorn", "-c", "deploy/gunicorn.conf.py", "dashboard.wsgi:server"]
    assert lines["worker"].split() == ["python", "-m", "jobs.worker"]
    entry = (DEPLOY / "docker-entrypoint.sh").read_text()
    assert 'gunicorn -c /app/deploy/gunicorn.conf.py "$@" dashboard.wsgi:server' in entry
    assert os.access(DEPLOY / "docker-entrypoint.sh", os.X_OK)


def test_entrypoint_runs_other_commands_as_given():
    res = run("sh", str(DEPLOY / "docker-entrypoint.sh"), "python", "-c", "print('ran')")
    assert res.returncode == 0 and res.stdout.strip() == "ran"
