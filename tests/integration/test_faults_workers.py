"""Workers SIGKILLed (with their Chromium) again and again while 20 exports
are queued or running: no job is lost, every one ends finished (retried if it was the
one killed) or failed with a clear reason, within the tuned window; new jobs still run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from dashboard.data.load import load
from dashboard.exports.request import validate
from dashboard.exports.status import status_of
from tests.helpers import queue_export

pytestmark = pytest.mark.faults
TIMEOUT, GRACE, MAINTENANCE = 8, 2, 1  # job timeout, heartbeat grace (TUNED_WORKER), clean-up interval


def test_repeated_worker_kills_lose_no_export(redis_client, store, settings, start_worker):
    load(store, settings)
    version = store.current_version()
    tuned = {"export_timeout": TIMEOUT, "export_retries": 2}
    charts = ["map", "orientation", "position", "elevation", "elevation_distance", "distance"]
    requests_ = [validate(charts[i % 6], 13, 14 + i % 5, "png", 400 + 10 * i, 300) for i in range(20)]
    jobs = [queue_export(store, version, r, **tuned) for r in requests_]
    assert len({j.id for j in jobs}) == 20
    worker = start_worker(PTRACKER_WARM_BROWSER="0")  # each new worker starts Chromium at its first job
    victims: dict[str, list] = {}  # job id -> [killed at, noticed at]

    def notice() -> None:
        for job_id, times in victims.items():
            if times[1] is None and status_of(redis_client, job_id)["status"] != "started":
                times[1] = time.monotonic()

    worker = _kill_running_workers(jobs, worker, start_worker, victims, notice)
    window = TIMEOUT + GRACE + MAINTENANCE
    while any(t[1] is None for t in victims.values()):
        notice()
        late = [time.monotonic() - t[0] for t in victims.values() if t[1] is None]
        assert max(late, default=0) < window + 10, "an abandoned job was not noticed"
        time.sleep(0.1)
    detections = [noticed - killed for killed, noticed in victims.values()]
    infos = _wait_until_all_ended(redis_client, jobs)
    finished = [i for i in infos if i["status"] == "finished"]
    failed = [i for i in infos if i["status"] == "failed"]
    for info in failed:
        assert info["error"] == "the worker rendering this export stopped (killed or crashed) before finishing"
    retried = [i for i in infos if i["retries_left"] is not None and i["retries_left"] < 2]
    assert len(finished) + len(failed) == 20 and len(retried) >= 1
    fresh = queue_export(store, version, validate("map", 13, 18, "svg"), **tuned)
    end = time.monotonic() + 60
    while status_of(redis_client, fresh.id)["status"] != "finished":
        assert time.monotonic() < end
        time.sleep(0.2)
    assert len(detections) >= 2, "fewer than two kills landed on a running export"
    print(
        f"\n{len(detections)} kills: 0 of 20 jobs lost; {len(finished)} finished ({len(retried)} after a retry), "
        f"{len(failed)} failed "
        f"with the reason; abandoned job noticed after {', '.join(f'{d:.1f}' for d in detections)} s "
        f"(window {TIMEOUT}+{GRACE}+{MAINTENANCE} s)"
    )


def _kill_running_workers(jobs, worker, start_worker, victims: dict, notice):
    """Three times: SIGKILL the worker (and its browser) as soon as it renders an export
    not killed before, and start a new one. Returns the last worker."""
    for _ in range(3):
        end = time.monotonic() + 60
        victim = None
        while victim is None:
            assert time.monotonic() < end, "no export started"
            notice()
            states = {j.id: j.get_status().value for j in jobs}
            if not any(s in ("queued", "started") for s in states.values()):
                break  # everything rendered before this kill
            victim = next((j for j in jobs if states[j.id] == "started" and j.id not in victims), None)
            time.sleep(0.05)
        if victim is None:
            break
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its browser
        victims[victim.id] = [time.monotonic(), None]
        worker.wait(10)
        worker = start_worker(PTRACKER_WARM_BROWSER="0")
    return worker


def _wait_until_all_ended(redis_client, jobs) -> list[dict]:
    """Every job's status once all are finished or failed (none lost on the way)."""
    end = time.monotonic() + 120
    while True:
        infos = [status_of(redis_client, j.id) for j in jobs]
        assert all(i is not None for i in infos), "a job was lost"
        if all(i["status"] in ("finished", "failed") for i in infos):
            return infos
        assert time.monotonic() < end, [i["status"] for i in infos]
        time.sleep(0.2)


def test_the_worker_liveness_probe_follows_the_rq_heartbeat(redis_url, redis_client):
    """Finding 3: the worker pod's liveness probe (``python -m jobs.alive``) fails
    when no worker of this host beats in Redis (never started, stuck past its heartbeat,
    gone), passes while one does, and does not judge the worker when Redis is away."""
    import socket as socket_

    from rq import Worker as RqWorker

    from dashboard.exports.queue import queue as export_queue
    from tests.helpers import ROOT

    def probe(url: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "REDIS_URL": url}
        return subprocess.run([sys.executable, "-m", "jobs.alive"], cwd=ROOT, env=env, capture_output=True, text=True)

    none = probe(redis_url)
    assert none.returncode == 1 and f"no worker of {socket_.gethostname()}" in none.stderr, none
    worker = RqWorker([export_queue(redis_client)], connection=redis_client)
    worker.register_birth()
    worker.heartbeat(30)
    beating = probe(redis_url)
    assert beating.returncode == 0 and "last heartbeat" in beating.stdout, beating
    redis_client.expire(worker.key, 1)  # its heartbeat lapses: a stuck worker
    time.sleep(1.5)
    stuck = probe(redis_url)
    assert stuck.returncode == 1, stuck
    away = probe("redis://127.0.0.1:1/0")
    assert away.returncode == 0 and "not judging" in away.stdout, away
