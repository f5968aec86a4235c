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

from dashboard.settings import Settings
from tests import nginx
from tests.helpers import ROOT

DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = BIN / name if (BIN / name).exists() else shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (make test installs it)")
    return str(path)


def run(*args, cwd=ROOT):
    """A tool run as a user's shell would run it: without the PTRACKER_* variables the test
    session sets for the processes it starts (compose would interpolate them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PTRACKER_")}
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=120, env=env)


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


def _pins(lines) -> dict[str, str]:
    """{normalised name: version} of ``name==version`` requirement lines."""
    found = {}
    for line in lines:
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^]]*\])?==([^ ;\\]+)", line.strip())
        if match:
            found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return found


def test_the_image_installs_the_hashed_lock_of_the_pinned_requirements():
    """Supply chain: the image installs requirements.lock with --require-hashes (pip then
    refuses a file whose sha256 is not listed, and any package not listed); the lock holds
    every pin of requirements.txt at the same version, each entry with its hashes."""
    text = (DEPLOY / "Dockerfile").read_text()
    assert "pip install --require-hashes --no-deps -r /tmp/requirements.lock" in text
    assert "requirements.txt" not in text.split("# ---- runtime")[0].split("\nFROM")[1]
    lock = (ROOT / "requirements.lock").read_text()
    pinned, locked = _pins((ROOT / "requirements.txt").read_text().splitlines()), _pins(lock.splitlines())
    assert pinned and all(locked.get(name) == version for name, version in pinned.items()), {
        name: (version, locked.get(name)) for name, version in pinned.items() if locked.get(name) != version
    }
    lines = lock.splitlines()
    entries = [k for k, line in enumerate(lines) if re.match(r"^[A-Za-z0-9]", line)]
    assert len(entries) >= len(locked) > len(pinned)  # transitive ones too (some per Python version)
    assert all(lines[k + 1].strip().startswith("--hash=sha256:") for k in entries)  # each with its hashes
    # markers kept for every Python 3.11 (Debian's 3.11.2 needs what 3.11.7 does not)
    assert re.search(r"^async-timeout==\S+ ; python_full_version < '3\.11\.3'", lock, re.M)


@pytest.fixture
def compose_dir(tmp_path):
    target = tmp_path / "deploy"
    shutil.copytree(DEPLOY, target, ignore=shutil.ignore_patterns("k8s", "redis.env", "admin.env"))
    (target / "redis.env").write_text(  # make up writes a random one; the ha profile needs the second
        "REDIS_PASSWORD=test-password\nREDIS_SENTINEL_PASSWORD=test-sentinel-password\n"
    )
    (target / "admin.env").write_text("PTRACKER_ADMIN_TOKEN=test-token\n")  # make up writes a random one
    return target


def test_compose_file_validates(compose_dir):
    res = run(tool("docker-compose"), "-f", "compose.yaml", "config", cwd=compose_dir)
    assert res.returncode == 0, res.stderr
    config = yaml.safe_load(res.stdout)
    everything = config["services"]  # docker-compose 1.29 lists the profiles' services too
    services = {name: svc for name, svc in everything.items() if not svc.get("profiles")}
    assert set(services) == {"redis", "web", "worker", "load", "nginx", "clock"}
    assert set(everything) - set(services) == set(HA_SERVICES)
    # only nginx publishes a port; gunicorn is reached through it, Redis only on the network
    assert [name for name, svc in services.items() if svc.get("ports")] == ["nginx"]
    assert str(services["nginx"]["ports"][0]["target"]) == "8080"
    redis_ = services["redis"]
    assert "redis-data:/data" in redis_["volumes"][0]
    assert redis_["healthcheck"]["test"]
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert services["web"]["environment"]["PTRACKER_PROXY_COUNT"] == "1"
    assert services["web"]["environment"]["PTRACKER_ADMIN_TOKEN"] == "test-token"  # POST /load closed
    assert "8050" in [str(p) for p in services["web"].get("expose", [])]
    for name in ("web", "worker", "load", "clock"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
        assert services[name]["environment"]["REDIS_PASSWORD"]  # from the env file
    assert services["load"]["command"] == ["load-if-empty"]
    grace = services["worker"]["stop_grace_period"]
    assert int(grace.rstrip("s")) > int(services["worker"]["environment"]["PTRACKER_EXPORT_TIMEOUT"])
    # the clock (the Procfile's command, in the same image) queues refreshes the worker runs
    assert services["clock"]["command"] == procfile()["clock"].split()
    assert services["clock"]["image"] == services["worker"]["image"]
    assert services["clock"]["environment"]["PTRACKER_REFRESH_SECONDS"] == "900"
    assert "PTRACKER_WORKER_QUEUES" not in services["worker"]["environment"]  # exports and refreshes


HA_SERVICES = ("redis-replica", "sentinel-1", "sentinel-2", "sentinel-3")
APP_SERVICES = ("web", "worker", "load", "clock")


def compose_config(compose_dir, *args: str) -> dict:
    res = run(tool("docker-compose"), "-f", "compose.yaml", *args, "config", cwd=compose_dir)
    assert res.returncode == 0, res.stderr
    return yaml.safe_load(res.stdout)


def test_compose_containers_are_confined_like_the_pods(compose_dir):
    """Read-only root filesystems (tmpfs where a process writes), no capabilities beyond
    the three the Redis and nginx entry points need to drop root, no-new-privileges,
    memory and pids limits: every service, the ha profile's too."""
    services = compose_config(compose_dir)["services"]
    for name, svc in services.items():
        assert svc["read_only"] is True, name
        assert svc["cap_drop"] == ["ALL"], name
        assert set(svc.get("cap_add", [])) <= ({"CHOWN", "SETUID", "SETGID"} if "image" in svc else set()), name
        assert svc["security_opt"] == ["no-new-privileges:true"], name
        assert 0 < int(svc["pids_limit"]) <= (512 if name == "worker" else 256), name
        assert parse_bytes(svc.get("mem_limit") or svc["deploy"]["resources"]["limits"]["memory"]) > 0, name
        assert any(t.split(":")[0] == "/tmp" for t in svc["tmpfs"]), name
    for name in APP_SERVICES:  # the app's image: no capability at all
        assert "cap_add" not in services[name], name
    worker_tmpfs = [t.split(":")[0] for t in services["worker"]["tmpfs"]]
    assert "/home/ptracker" in worker_tmpfs  # Chromium's profile and cache
    assert "/etc/nginx/conf.d" in [t.split(":")[0] for t in services["nginx"]["tmpfs"]]  # the rendered template


def test_compose_ha_profile_points_the_app_at_three_sentinels(compose_dir):
    """--profile ha with deploy/ha.env: a replica of redis, three sentinels watching it
    (quorum 2), and every app service finding the primary through them."""
    plain = compose_config(compose_dir)["services"]
    for name in APP_SERVICES:  # without ha.env: Redis at REDIS_URL, no sentinels
        assert plain[name]["environment"]["REDIS_SENTINELS"] == ""
    services = compose_config(compose_dir, "--env-file", "ha.env", "--profile", "ha")["services"]
    assert all(services[name]["profiles"] == ["ha"] for name in HA_SERVICES)
    replica = services["redis-replica"]["command"][-1]
    assert re.search(r"^replicaof redis 6379$", replica, re.M) and "--requirepass" not in replica
    assert re.search(r'^masterauth "\$+REDIS_PASSWORD"$', replica, re.M)
    assert re.search(r'^masterauth "\$+REDIS_PASSWORD"$', services["redis"]["command"][-1], re.M)  # once demoted
    assert any(v.startswith("redis-replica-data:") for v in services["redis-replica"]["volumes"])
    sentinels = [f"sentinel-{i}" for i in (1, 2, 3)]
    for name in sentinels:
        script = services[name]["command"][-1]
        assert re.search(r"^sentinel monitor mymaster redis 6379 2$", script, re.M)
        assert re.search(r'^requirepass "\$+REDIS_SENTINEL_PASSWORD"$', script, re.M)
        assert "redis-server /data/sentinel.conf --sentinel" in script
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert env["REDIS_SENTINELS"] == ",".join(f"{s}:26379" for s in sentinels)
        assert env["REDIS_SENTINEL_MASTER"] == "mymaster"
        assert env["REDIS_SENTINEL_PASSWORD"] == "test-sentinel-password"  # from redis.env
        settings = Settings.from_env({k: v for k, v in env.items() if k != "PTRACKER_ADMIN_TOKEN"})
        assert len(settings.redis_sentinels) == 3  # the app accepts what compose gives it


def test_compose_redis_drops_root_and_keeps_its_password_off_the_command_line(compose_dir):
    config = yaml.safe_load(run(tool("docker-compose"), "-f", "compose.yaml", "config", cwd=compose_dir).stdout)
    redis_ = config["services"]["redis"]
    script = redis_["command"][-1]
    # the image's entry point (chown /data, then su-exec redis) starts redis-server with the
    # mounted config file, and the password arrives on stdin ("-"), not as an argument
    assert re.search(
        r"^exec docker-entrypoint\.sh redis-server /usr/local/etc/redis/redis\.conf - <<EOF$", script, re.M
    )
    assert re.search(r'^requirepass "\$+REDIS_PASSWORD"$', script, re.M)
    assert "--requirepass" not in script and "su-exec" not in script and "user" not in redis_
    conf = (DEPLOY / "redis" / "redis.conf").read_text()
    for line in ("appendonly yes", "appendfsync everysec", 'save ""', "maxmemory 512mb", "maxmemory-policy noeviction"):
        assert re.search(rf"^{re.escape(line)}$", conf, re.M), line
    assert "requirepass" not in re.sub(r"#.*", "", conf)
    assert any(v.endswith(":/usr/local/etc/redis/redis.conf:ro") for v in redis_["volumes"])
    # room above maxmemory for the fork of an AOF rewrite
    limit = redis_.get("mem_limit") or redis_["deploy"]["resources"]["limits"]["memory"]
    assert parse_bytes(limit) >= 1024**3


def test_compose_nginx_renders_the_project_template(compose_dir):
    config = yaml.safe_load(run(tool("docker-compose"), "-f", "compose.yaml", "config", cwd=compose_dir).stdout)
    proxy = config["services"]["nginx"]
    assert proxy["image"].startswith("nginx:") and "alpine" in proxy["image"]
    assert any(
        v.endswith("nginx/default.conf.template:/etc/nginx/templates/default.conf.template:ro")
        for v in proxy["volumes"]
    )
    # every ${VAR} in the template is given to the image's envsubst, and nothing more
    assert set(proxy["environment"]) == nginx.template_variables() == set(nginx.VARIABLES)
    assert proxy["environment"]["PTRACKER_UPSTREAM"] == "web:8050"
    assert proxy["environment"]["PTRACKER_PROXY_PORT"] == str(proxy["ports"][0]["target"])
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"


def parse_bytes(value) -> int:
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"(\d+)\s*([kmgKMG]i?)?[bB]?", str(value))
    assert match, value
    unit = (match.group(2) or "").lower().rstrip("i")
    return int(match.group(1)) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]


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


def k8s_docs() -> list[dict]:
    return [d for p in k8s_files() for d in yaml.safe_load_all(p.read_text()) if d]


def pod_specs(docs) -> dict[str, dict]:
    """Every pod template's spec, by kind/name."""
    out = {}
    for d in docs:
        spec = d.get("spec", {})
        if d["kind"] == "CronJob":
            spec = spec["jobTemplate"]["spec"]
        if "template" in spec:
            out[f"{d['kind']}/{d['metadata']['name']}"] = spec["template"]
    return out


def test_kustomization_lists_every_manifest_and_the_pieces_fit():
    kust = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    assert sorted(kust["resources"]) == sorted(p.name for p in k8s_files())
    docs = k8s_docs()
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for expected in [
        ("Namespace", "perseverance-tracker"),
        ("StatefulSet", "redis"),
        ("Service", "redis"),
        ("Deployment", "web"),
        ("Service", "web"),
        ("Deployment", "worker"),
        ("HorizontalPodAutoscaler", "web"),
        ("Deployment", "clock"),
        ("Job", "load-on-install"),
        ("Ingress", "web"),
        ("Ingress", "web-callbacks"),
        ("NetworkPolicy", "redis-clients-only"),
        ("NetworkPolicy", "app-egress-redis-dns"),
        ("NetworkPolicy", "loader-egress-internet"),
        ("NetworkPolicy", "web-ingress-from-proxy-and-monitoring"),
        ("NetworkPolicy", "worker-ingress-from-monitoring"),
    ]:
        assert expected in kinds
    by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    web = by[("Deployment", "web")]["spec"]
    assert "replicas" not in web  # the HPA owns it (test_web_is_left_to_its_autoscaler...)
    probe = web["template"]["spec"]["containers"][0]
    assert probe["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert probe["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert probe["securityContext"]["readOnlyRootFilesystem"] is True
    assert web["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    secrets = {e["secretRef"]["name"] for e in probe["envFrom"] if "secretRef" in e}
    assert secrets == {"redis-auth", "ptracker-admin"}  # PTRACKER_ADMIN_TOKEN: POST /load closed
    worker = by[("Deployment", "worker")]["spec"]["template"]["spec"]
    assert worker["terminationGracePeriodSeconds"] > 60
    redis_ = by[("StatefulSet", "redis")]["spec"]
    redis_container = redis_["template"]["spec"]["containers"][0]
    assert redis_["volumeClaimTemplates"] and "--appendonly yes" in redis_container["args"][0]
    assert "--requirepass" not in redis_container["args"][0]  # fed on stdin, on no command line
    assert re.search(r'^requirepass "\$REDIS_PASSWORD"$', redis_container["args"][0], re.M)
    assert parse_bytes(redis_container["resources"]["limits"]["memory"]) >= 1024**3  # > maxmemory 512mb
    allowed = by[("NetworkPolicy", "redis-clients-only")]["spec"]["ingress"][0]["from"][0]["podSelector"]
    components = allowed["matchExpressions"][0]["values"]
    labels = {t["metadata"]["labels"]["app.kubernetes.io/component"] for t in pod_specs(docs).values()}
    assert labels - {"redis"} == set(components)
    config = by[("ConfigMap", "ptracker-config")]["data"]
    assert config["PTRACKER_PROXY_COUNT"] == "1"  # the ingress controller


def test_kustomization_ships_no_secret():
    """No known secret is ever applied: no Secret among the resources, no password or
    token as a literal anywhere; `make k8s-apply` creates the Secrets when missing."""
    kust = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    assert "secretGenerator" not in kust
    docs = k8s_docs()
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "Secret"] == []
    for d in docs:
        text = yaml.safe_dump(d)
        assert "change-me" not in text and "--requirepass" not in text
        if d["kind"] == "ConfigMap":
            assert not any(re.search(r"PASSWORD|TOKEN", k) for k in d["data"]), d["data"]
    # and the Secrets the pods read are the ones make k8s-apply creates
    refs = {
        e["secretRef"]["name"]
        for t in pod_specs(docs).values()
        for c in t["spec"]["containers"]
        for e in c.get("envFrom", [])
        if "secretRef" in e
    }
    refs |= {
        env["valueFrom"]["secretKeyRef"]["name"]
        for t in pod_specs(docs).values()
        for c in t["spec"]["containers"]
        for env in c.get("env", [])
        if "valueFrom" in env
    }
    makefile = (ROOT / "Makefile").read_text()
    assert refs == {"redis-auth", "ptracker-admin"}
    for name in refs:
        assert f"get secret {name}" in makefile and f"create secret generic {name}" in makefile


def test_every_pod_is_confined():
    specs = pod_specs(k8s_docs())
    assert set(specs) == {
        "StatefulSet/redis",
        "Deployment/web",
        "Deployment/worker",
        "Job/load-on-install",
        "Deployment/clock",
    }
    for name, template in specs.items():
        confined(template, name)


def test_install_job_loads_only_into_an_empty_store():
    by = {(d["kind"], d["metadata"]["name"]): d for d in k8s_docs()}
    job = by[("Job", "load-on-install")]["spec"]
    container = job["template"]["spec"]["containers"][0]
    assert container["args"] == ["load-if-empty"]
    assert job["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == "loader"
    assert job["backoffLimit"] >= 5  # retries while Redis starts
    entry = (DEPLOY / "docker-entrypoint.sh").read_text()
    assert "load-if-empty) exec python -m dashboard load --if-empty" in entry


def test_egress_only_the_loader_reaches_the_internet():
    docs = k8s_docs()
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]

    pods = {
        t["metadata"]["labels"]["app.kubernetes.io/component"]: t["metadata"]["labels"]
        for t in pod_specs(docs).values()
    }

    def selected(policy, component: str) -> bool:
        """Does the policy's podSelector match the pod template labels of `component`?"""
        labels, sel = pods[component], policy["spec"]["podSelector"]
        ok = all(labels.get(k) == v for k, v in sel.get("matchLabels", {}).items())
        for e in sel.get("matchExpressions", []):
            assert e["operator"] == "In"
            ok = ok and labels.get(e["key"]) in e["values"]
        return ok

    def egress_of(component: str) -> list[dict]:
        rules = [p["spec"] for p in policies if selected(p, component) and "Egress" in p["spec"]["policyTypes"]]
        assert rules, f"no egress policy selects {component}: it could reach anything"
        return [rule for r in rules for rule in r.get("egress", [])]

    def reaches_internet(rules) -> bool:
        return any("ipBlock" in peer for r in rules for peer in r.get("to", []))

    for component in ("web", "worker"):
        rules = egress_of(component)
        assert not reaches_internet(rules), component
        ports = {(p["protocol"], p["port"]) for r in rules for p in r["ports"]}
        assert ports == {("TCP", 6379), ("UDP", 53), ("TCP", 53)}, component

    # ingress: web only from the ingress controller and Prometheus (a pod reaching web
    # directly could forge X-Forwarded-For), the workers only from Prometheus
    def ingress_of(component: str) -> list[dict]:
        rules = [p["spec"] for p in policies if selected(p, component) and "Ingress" in p["spec"]["policyTypes"]]
        assert rules, f"no ingress policy selects {component}: any pod could reach it"
        return [rule for r in rules for rule in r.get("ingress", [])]

    def sources(rules) -> set[str]:
        return {
            peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for r in rules for peer in r["from"]
        }

    web_in, worker_in = ingress_of("web"), ingress_of("worker")
    assert sources(web_in) == {"ingress-nginx", "monitoring"}
    assert {(p["protocol"], p["port"]) for r in web_in for p in r["ports"]} == {("TCP", 8050)}
    assert sources(worker_in) == {"monitoring"}
    assert {(p["protocol"], p["port"]) for r in worker_in for p in r["ports"]} == {("TCP", 9150)}
    assert egress_of("redis") == []
    loader = egress_of("loader")
    assert reaches_internet(loader)
    internet = next(r for r in loader if any("ipBlock" in p for p in r["to"]))
    assert (
        internet["to"][0]["ipBlock"]["cidr"] == "0.0.0.0/0" and "10.0.0.0/8" in internet["to"][0]["ipBlock"]["except"]
    )
    assert internet["ports"] == [{"protocol": "TCP", "port": 443}]


def test_ingress_matches_the_compose_proxy():
    from dashboard.http import MAX_BODY
    from dashboard.page.guard import CALLBACK_PATH, MAX_CALLBACK_BODY

    by = {(d["kind"], d["metadata"]["name"]): d for d in k8s_docs()}
    limits = {}
    for name in ("web", "web-callbacks"):
        ing = by[("Ingress", name)]
        assert ing["spec"]["ingressClassName"] == "nginx"
        notes = ing["metadata"]["annotations"]
        p = "nginx.ingress.kubernetes.io/"
        assert notes[p + "proxy-request-buffering"] == "on" and notes[p + "proxy-buffering"] == "on"
        assert int(notes[p + "proxy-read-timeout"]) >= 90  # POST /load may take the fetch deadline
        path = ing["spec"]["rules"][0]["http"]["paths"][0]
        assert path["backend"]["service"] == {"name": "web", "port": {"name": "http"}}
        limits[path["path"]] = parse_bytes(notes[p + "proxy-body-size"])
    assert MAX_BODY < limits["/"] <= 2 * MAX_BODY
    assert MAX_CALLBACK_BODY < limits[CALLBACK_PATH] <= 2 * MAX_CALLBACK_BODY


def test_kustomization_renders(tmp_path):
    """`kubectl kustomize` (what make k8s-apply pipes into kubectl apply), when kubectl is
    here (it is not a Debian package; skipped otherwise)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed")
    res = run(kubectl, "kustomize", "deploy/k8s")
    assert res.returncode == 0, res.stderr
    docs = [d for d in yaml.safe_load_all(res.stdout) if d]
    assert len(docs) == len(k8s_docs())
    assert all(d["metadata"]["labels"]["app.kubernetes.io/part-of"] == "perseverance-tracker" for d in docs)
    assert "image: ptracker:latest" in res.stdout  # what the Makefile's sed replaces with IMAGE_REF


def confined(template: dict, name: str) -> None:
    """The pod checks of test_every_pod_is_confined, for one pod template."""
    spec = template["spec"]
    assert spec["automountServiceAccountToken"] is False, name
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
    assert spec["securityContext"]["runAsNonRoot"] is True, name
    for c in spec["containers"]:
        assert c["securityContext"]["allowPrivilegeEscalation"] is False, (name, c["name"])
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"], (name, c["name"])
        assert c["securityContext"]["readOnlyRootFilesystem"] is True, (name, c["name"])
        assert c["resources"]["limits"]["memory"], (name, c["name"])


def test_kubernetes_ha_overlay_builds_and_validates(tmp_path):
    """deploy/k8s-overlays/ha (the base, a Redis replica, three sentinels, the app pointed at
    them) rendered by `kubectl kustomize` (skipped without kubectl, as above) and validated
    strictly; the pieces fit."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed")
    res = run(kubectl, "kustomize", "deploy/k8s-overlays/ha")
    assert res.returncode == 0, res.stderr
    rendered = tmp_path / "ha.yaml"
    rendered.write_text(res.stdout)
    checked = run(tool("kubernetes-validate"), "--strict", str(rendered))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    docs = [d for d in yaml.safe_load_all(res.stdout) if d]
    by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    assert len(docs) == len(k8s_docs()) + 7  # 2 Services, 2 StatefulSets, 3 NetworkPolicies
    assert [d for d in docs if d["kind"] == "Secret"] == []
    specs = pod_specs(docs)
    assert set(specs) == set(pod_specs(k8s_docs())) | {"StatefulSet/redis-replica", "StatefulSet/sentinel"}
    for name, template in specs.items():
        confined(template, name)
    # the primary named by a stable host name, a replica of it, three sentinels watching it
    assert by[("StatefulSet", "redis")]["spec"]["serviceName"] == "redis-nodes"
    primary = by[("StatefulSet", "redis")]["spec"]["template"]["spec"]["containers"][0]["args"][0]
    replica = by[("StatefulSet", "redis-replica")]["spec"]
    replica_args = replica["template"]["spec"]["containers"][0]["args"][0]
    for args in (primary, replica_args):
        assert "--appendonly yes" in args and "--requirepass" not in args
        assert re.search(r'^masterauth "\$REDIS_PASSWORD"$', args, re.M)
    assert re.search(r"^replicaof redis-0\.redis-nodes 6379$", replica_args, re.M)
    assert by[("Service", "redis-nodes")]["spec"]["clusterIP"] == "None"
    sentinels = by[("StatefulSet", "sentinel")]["spec"]
    assert sentinels["replicas"] == 3
    script = sentinels["template"]["spec"]["containers"][0]["args"][0]
    assert re.search(r"^sentinel monitor mymaster redis-0\.redis-nodes 6379 2$", script, re.M)
    assert re.search(r'^requirepass "\$REDIS_PASSWORD"$', script, re.M)
    # the app finds the primary through them, with the sentinels' password from the Secret
    config = by[("ConfigMap", "ptracker-config")]["data"]
    settings = Settings.from_env(config)
    assert settings.redis_sentinel_master == "mymaster"
    assert settings.redis_sentinels == tuple((f"sentinel-{i}.sentinel", 26379) for i in range(3))
    for name, template in specs.items():
        if template["metadata"]["labels"]["app.kubernetes.io/component"] in ("redis", "sentinel"):
            continue
        for c in template["spec"]["containers"]:
            env = {e["name"]: e for e in c.get("env", [])}
            ref = env["REDIS_SENTINEL_PASSWORD"]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": "redis-auth", "key": "REDIS_PASSWORD"}, (name, c["name"])
    # and may reach them: the app's egress names the sentinels' port
    app_egress = by[("NetworkPolicy", "ha-app-egress-sentinels")]["spec"]["egress"]
    assert {(p["protocol"], p["port"]) for r in app_egress for p in r["ports"]} == {("TCP", 26379), ("TCP", 6379)}


def test_gunicorn_config_reads_the_environment(monkeypatch):
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert conf["bind"] == "0.0.0.0:9123" and conf["workers"] == 3
    # access lines come from the app as JSON with the request id (dashboard/logs.py), not gunicorn
    assert conf["accesslog"] is None and conf["errorlog"] == "-" and conf["timeout"] >= 60
    assert conf["logconfig_dict"]["root"]["handlers"] == ["json"]
    assert callable(conf["child_exit"]) and callable(conf["worker_exit"]) and callable(conf["post_worker_init"])


def procfile() -> dict[str, str]:
    return dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if ":" in line)


def test_procfile_matches_the_image_commands():
    lines = procfile()
    assert lines["web"].split() == ["gunicorn", "-c", "deploy/gunicorn.conf.py", "dashboard.wsgi:server"]
    assert lines["worker"].split() == ["python", "-m", "jobs.worker"]
    assert lines["clock"].split() == ["python", "-m", "jobs.clock"]  # run as given by the entry point
    entry = (DEPLOY / "docker-entrypoint.sh").read_text()
    assert 'gunicorn -c /app/deploy/gunicorn.conf.py "$@" dashboard.wsgi:server' in entry
    assert os.access(DEPLOY / "docker-entrypoint.sh", os.X_OK)


def test_entrypoint_runs_other_commands_as_given():
    res = run("sh", str(DEPLOY / "docker-entrypoint.sh"), "python", "-c", "print('ran')")
    assert res.returncode == 0 and res.stdout.strip() == "ran"


def test_nginx_config_passes_nginx_t(tmp_path):
    """The proxy config compose mounts (deploy/nginx/), rendered as the official image
    renders it, accepted by `nginx -t` (Debian's nginx)."""
    conf = nginx.render(tmp_path / "nginx", "127.0.0.1:8050", 8080)
    res = nginx.check(conf)
    assert res.returncode == 0, res.stderr
    assert "test is successful" in res.stderr
    rendered = (tmp_path / "nginx" / "conf.d" / "default.conf").read_text()
    assert "${" not in rendered  # every template variable was given
    for directive in (
        "proxy_request_buffering on",
        "proxy_buffering on",
        "client_body_timeout",
        "client_header_timeout",
        "client_max_body_size",
        "gzip on",
        "proxy_set_header X-Forwarded-For $remote_addr",
        "immutable",
    ):
        assert directive in rendered, directive


def test_nginx_t_is_not_vacuous(tmp_path):
    conf = nginx.render(tmp_path / "nginx", "127.0.0.1:8050", 8080)
    default = tmp_path / "nginx" / "conf.d" / "default.conf"
    default.write_text(default.read_text().replace("proxy_buffering on;", "proxy_buffering maybe;"))
    assert nginx.check(conf).returncode != 0


def test_nginx_body_limits_sit_just_above_the_apps():
    from dashboard.http import MAX_BODY
    from dashboard.page.guard import MAX_CALLBACK_BODY

    text = nginx.TEMPLATE.read_text()
    sizes = [
        int(n) * {"k": 1024, "m": 1024 * 1024}[u] for n, u in re.findall(r"client_max_body_size (\d+)([km]);", text)
    ]
    assert len(sizes) == 2
    api_limit, callback_limit = sorted(sizes)
    assert MAX_BODY < api_limit <= 2 * MAX_BODY
    assert MAX_CALLBACK_BODY < callback_limit <= 2 * MAX_CALLBACK_BODY


def test_the_clock_refreshes_in_its_own_pod_and_no_cronjob_is_left():
    """One clock (Recreate: never two), its refresher the only worker on the refresh queue,
    in a loader pod (HTTPS out to NASA); the export workers keep to exports."""
    docs = k8s_docs()
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "CronJob"] == []
    by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    clock = by[("Deployment", "clock")]["spec"]
    assert clock["replicas"] == 1 and clock["strategy"] == {"type": "Recreate"}
    pod = clock["template"]
    assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == "loader"
    containers = {c["name"]: c for c in pod["spec"]["containers"]}
    assert containers["clock"]["args"] == procfile()["clock"].split()
    refresher = containers["refresher"]
    assert refresher["args"] == ["worker"]
    env = {e["name"]: e.get("value") for e in refresher["env"]}
    assert env["PTRACKER_WORKER_QUEUES"] == "refresh"
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == env["PTRACKER_WORKER_METRICS_PORT"]
    for container in containers.values():
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
        assert {e["configMapRef"]["name"] for e in container["envFrom"] if "configMapRef" in e} == {"ptracker-config"}
    worker = by[("Deployment", "worker")]["spec"]["template"]["spec"]["containers"][0]
    assert {e["name"]: e.get("value") for e in worker["env"]}["PTRACKER_WORKER_QUEUES"] == "exports"
    assert int(by[("ConfigMap", "ptracker-config")]["data"]["PTRACKER_REFRESH_SECONDS"]) > 0
    makefile = (ROOT / "Makefile").read_text()
    assert "cronjob" not in makefile.lower() and "exec deploy/clock -c refresher" in makefile


def by_kind_name() -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for d in k8s_docs()}


def test_web_is_left_to_its_autoscaler_spread_budgeted_and_drained():
    """Finding 3: no replicas for the HPA to fight, a PodDisruptionBudget, topology spread,
    a preStop drain that fits in the grace period."""
    by = by_kind_name()
    web = by[("Deployment", "web")]
    hpa = by[("HorizontalPodAutoscaler", "web")]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    assert "replicas" not in web["spec"] and hpa["minReplicas"] >= 2
    labels = web["spec"]["template"]["metadata"]["labels"]
    pdb = by[("PodDisruptionBudget", "web")]["spec"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    assert 1 <= pdb["minAvailable"] < hpa["minReplicas"]  # a drain can still evict one
    pod = web["spec"]["template"]["spec"]
    spread = pod["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    assert all(c["labelSelector"]["matchLabels"].items() <= labels.items() and c["maxSkew"] == 1 for c in spread)
    container = pod["containers"][0]
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep" and int(command[1]) >= 5
    graceful = int(re.search(r"^graceful_timeout = (\d+)", (DEPLOY / "gunicorn.conf.py").read_text(), re.M)[1])
    assert int(command[1]) + graceful < pod["terminationGracePeriodSeconds"]


def test_worker_liveness_is_its_rq_heartbeat():
    worker = by_kind_name()[("Deployment", "worker")]["spec"]["template"]["spec"]
    probe = worker["containers"][0]["livenessProbe"]
    assert probe["exec"]["command"] == ["python", "-m", "jobs.alive"]
    assert probe["timeoutSeconds"] >= 10 and probe["initialDelaySeconds"] >= 30
    assert (ROOT / "jobs" / "alive.py").exists()  # real: tested in test_faults_workers.py


@pytest.mark.parametrize(
    ("answer", "ready"),
    [
        ("PONG", True),
        ("LOADING Redis is loading the dataset in memory", False),
        ("NOAUTH Authentication required.", False),
        ("WRONGPASS invalid username-password pair or user is disabled.", False),
        ("Could not connect to Redis at 127.0.0.1:6379: Connection refused", False),
    ],
)
def test_redis_readiness_needs_exactly_pong(tmp_path, answer, ready):
    """Finding 3: the readiness command, run by sh against a stand-in redis-cli that
    answers as Redis would (and exits 0, as redis-cli does on an error reply)."""
    redis_ = by_kind_name()[("StatefulSet", "redis")]["spec"]["template"]["spec"]["containers"][0]
    overlay = [
        d for f in sorted((DEPLOY / "k8s-overlays" / "ha").glob("*.yaml")) for d in yaml.safe_load_all(f.read_text())
    ]
    ha = [  # the HA overlay's replica and sentinels: the same check
        c for d in overlay if d and d.get("kind") == "StatefulSet" for c in d["spec"]["template"]["spec"]["containers"]
    ]
    fake = tmp_path / "redis-cli"
    fake.write_text(f"#!/bin/sh\necho '{answer}'\n")
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    probes = [c["readinessProbe"]["exec"]["command"] for c in [redis_, *ha] if "readinessProbe" in c]
    assert len(probes) >= 3, probes
    for command in probes:
        res = subprocess.run(command, env=env, capture_output=True, text=True, timeout=10)
        assert (res.returncode == 0) == ready, (answer, command, res)


def test_dns_egress_reaches_kube_dns_in_kube_system_only():
    """Finding 3: namespaceSelector AND podSelector in one peer (two peers, or an empty
    namespaceSelector, would let any pod labelled k8s-app=kube-dns anywhere answer DNS)."""
    overlay = [
        d for f in sorted((DEPLOY / "k8s-overlays" / "ha").glob("*.yaml")) for d in yaml.safe_load_all(f.read_text())
    ]
    policies = [d for d in k8s_docs() + overlay if d and d.get("kind") == "NetworkPolicy"]
    dns_rules = [
        r for p in policies for r in p["spec"].get("egress", []) if any(port["port"] == 53 for port in r["ports"])
    ]
    assert len(dns_rules) == 4  # the base's app and loader rules, the HA overlay's Redis and sentinel rules
    for rule in dns_rules:
        assert rule["to"] == [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ]


def test_ingress_limits_each_client_and_the_controller_keeps_the_client_address():
    """Findings 1 and 2: a request rate per client on the Ingress, and controller settings
    that make the client address the real one (externalTrafficPolicy: Local, forwarded
    headers from clients never trusted)."""
    notes = by_kind_name()[("Ingress", "web")]["metadata"]["annotations"]
    p = "nginx.ingress.kubernetes.io/"
    assert 1 <= int(notes[p + "limit-rps"]) <= 50
    assert int(notes[p + "limit-burst-multiplier"]) >= 2
    folder = DEPLOY / "k8s" / "ingress-nginx"
    values = yaml.safe_load((folder / "values.yaml").read_text())["controller"]
    assert values["service"]["externalTrafficPolicy"] == "Local"
    configmap = yaml.safe_load((folder / "controller-configmap.yaml").read_text())
    for config in (values["config"], configmap["data"]):
        assert config["use-forwarded-headers"] == "false" and config["compute-full-forwarded-for"] == "false"
        assert config["use-proxy-protocol"] == "false"  # option 2 in values.yaml: only with a balancer sending it
        assert config["proxy-real-ip-cidr"] and config["limit-req-status-code"] == "429"
    assert values["config"] == configmap["data"]
    res = run(tool("kubernetes-validate"), "--strict", str(folder / "controller-configmap.yaml"))
    assert res.returncode == 0, res.stdout + res.stderr
    docs = (ROOT / "docs" / "deployment" / "kubernetes.md").read_text()
    assert "externalTrafficPolicy: Local" in docs and "PROXY protocol" in docs
