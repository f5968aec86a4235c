"""/metrics and JSON logs of the Procfile's processes (gunicorn with 2 workers + an export worker)."""

from __future__ import annotations

import json
import os
import signal
import time

import requests
from prometheus_client.parser import text_string_to_metric_families

from dashboard.data.load import load
from dashboard.page import ids
from tests.helpers import free_port, procfile_env, start_procfile, stop, wait_http


def samples(text: str) -> list[tuple[str, dict, float]]:
    return [(s.name, s.labels, s.value) for fam in text_string_to_metric_families(text) for s in fam.samples]


def value(all_samples, name: str, **labels) -> float | None:
    found = [v for n, lab, v in all_samples if n == name and all(lab.get(k) == w for k, w in labels.items())]
    return sum(found) if found else None


def json_lines(out: str) -> list[dict]:
    lines = []
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def callback_request(base: str, lo: int, hi: int) -> dict:
    deps = requests.get(base + "/_dash-dependencies", timeout=5).json()
    cb = next(d for d in deps if f"{ids.GRAPHS['orientation']}.figure" in d["output"])
    outputs = [
        {"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1]} for p in cb["output"].strip(".").split("...")
    ]
    values = {
        ids.SOL_RANGE: [lo, hi],
        ids.SELECTION: None,
        ids.DATA_VERSION: None,
        ids.TIME_AXIS: "sol",
        ids.ROVER: "perseverance",
        ids.SERVED: None,
    }
    inputs = [{"id": i["id"], "property": i["property"], "value": values[i["id"]]} for i in cb["inputs"]]
    state = [{"id": i["id"], "property": i["property"], "value": values[i["id"]]} for i in cb.get("state", [])]
    return {
        "output": cb["output"],
        "outputs": outputs,
        "inputs": inputs,
        "changedPropIds": [f"{ids.SOL_RANGE}.value"],
        "state": state,
    }


def test_metrics_and_json_logs_with_request_ids(redis_url, key_prefix, redis_client, store, settings, tmp_path):
    load(store, settings)  # fixtures: sols 13..18
    port, worker_port = free_port(), free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = procfile_env(
        redis_url,
        key_prefix,
        port,
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        PTRACKER_WORKER_METRICS_PORT=str(worker_port),
        PTRACKER_WORKER_METRICS_ADDR="127.0.0.1",
    )
    env.pop("PTRACKER_LOG_FORMAT", None)
    web = start_procfile("web", env)
    worker = start_procfile("worker", env, own_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/healthz", web)
        for _ in range(10):
            assert requests.get(base + "/perseverance", timeout=5).status_code == 200
        mine = requests.get(base + "/perseverance/position", headers={"X-Request-ID": "test-req-0042"}, timeout=5)
        assert mine.headers["X-Request-ID"] == "test-req-0042"
        made = requests.get(base + "/healthz", timeout=5).headers["X-Request-ID"]
        assert len(made) == 32
        bad = requests.get(base + "/healthz", headers={"X-Request-ID": "no spaces\tplease"}, timeout=5)
        assert bad.headers["X-Request-ID"] != "no spaces\tplease"
        assert requests.get(base + "/jobs/export-map-0123456789abcdef0123", timeout=5).status_code == 404
        assert requests.get(base + "/nope", timeout=5).status_code == 404
        for made_up in ("ZZQ0", "ZZQ1"):  # a client's own methods must not become series
            requests.request(made_up, base + "/healthz", timeout=5)
        cb = requests.post(base + "/_dash-update-component", json=callback_request(base, 13, 18), timeout=30)
        assert cb.status_code == 200, cb.text[:300]
        queued = requests.post(
            base + "/perseverance/position/map",
            json={"format": "png", "width": 640, "height": 480},
            headers={"X-Request-ID": "export-req-77"},
            timeout=10,
        )
        assert queued.status_code == 202, queued.text
        job_id = queued.json()["id"]
        end = time.monotonic() + 60
        while requests.get(f"{base}/download/{job_id}", timeout=5).status_code != 200:
            assert time.monotonic() < end, requests.get(f"{base}/jobs/{job_id}", timeout=5).text
            time.sleep(0.3)
        time.sleep(0.5)  # the worker records its metrics just after the job finishes
        text = requests.get(base + "/metrics", timeout=10).text
        assert "ZZQ0" not in text and 'method="other"' in text
        got = samples(text)
        assert value(got, "ptracker_http_requests_total", route="/perseverance", status="200", method="GET") == 10
        assert value(got, "ptracker_http_requests_total", route="/jobs/<path:job_id>", status="404") == 1
        assert value(got, "ptracker_http_requests_total", route="<unmatched>", status="404") == 1
        assert not [
            lab
            for n, lab, _ in got
            if n == "ptracker_http_requests_total" and "export-map-0123" in lab.get("route", "")
        ]  # the URL rule, never the raw path
        count = value(got, "ptracker_http_request_duration_seconds_count", route="/perseverance", status="200")
        total = value(got, "ptracker_http_request_duration_seconds_sum", route="/perseverance", status="200")
        assert count == 10 and 0 < total < 10
        assert value(got, "ptracker_callback_duration_seconds_count", status="200") == 1
        assert value(got, "ptracker_exports_total", chart="map", format="png", outcome="ok") == 1
        took = value(got, "ptracker_export_duration_seconds_sum", chart="map", format="png", outcome="ok")
        assert 0 < took < 60
        assert value(got, "ptracker_dataset_version") == 1
        assert 0 <= value(got, "ptracker_dataset_age_seconds") < 600
        assert value(got, "ptracker_dataset_waypoints") == 8
        assert value(got, "ptracker_export_queue_depth") == 0
        assert value(got, "ptracker_export_jobs", state="finished") >= 1
        assert value(got, "ptracker_redis_up") == 1
        # the worker's own endpoint (Kubernetes scrapes each worker pod)
        own = samples(requests.get(f"http://127.0.0.1:{worker_port}/metrics", timeout=5).text)
        assert value(own, "ptracker_exports_total", chart="map", format="png", outcome="ok") == 1
    finally:
        out = stop(web)
        os.killpg(worker.pid, signal.SIGTERM)
        worker_out, _ = worker.communicate(timeout=30)
    assert "Traceback" not in out + worker_out, (out + worker_out)[-3000:]
    web_lines = json_lines(out)
    assert web_lines and len(web_lines) >= 0.9 * len([ln for ln in out.splitlines() if ln.strip()])
    access = [ln for ln in web_lines if ln.get("request_id") == "test-req-0042"]
    assert access and access[0]["logger"] == "ptracker.access"
    assert access[0]["route"] == "/perseverance/position" and access[0]["status"] == 200
    assert {"time", "level", "message"} <= set(access[0])
    export_lines = [ln for ln in json_lines(worker_out) if ln.get("request_id") == "export-req-77"]
    assert any("finished" in ln["message"] for ln in export_lines), worker_out[-2000:]
    assert any(ln.get("job_id") == job_id and ln.get("chart") == "map" for ln in export_lines)
