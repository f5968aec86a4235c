"""``python -m jobs.alive``: the export worker pod's liveness probe.

Exits 0 while an RQ worker of this host (a Kubernetes pod: its name) is registered in Redis
with a live heartbeat, 1 when none is, saying why either way. RQ keeps a worker's key only
while it beats: an idle worker renews it every few seconds, a busy one for its job's
timeout plus the grace, so a worker stuck past that (or never started, or gone) has none.
When Redis itself cannot be asked the answer is 0: restarting the worker would not help.

A module of its own so the probe imports only redis, RQ and the settings (0.3 s and ~33 MB
here), not the worker with numpy, pandas and plotly (1.5 s and ~106 MB), inside a pod
whose memory Chromium needs and whose CPU a render may hold.
"""

from __future__ import annotations

import socket
import sys

from rq import Worker

from dashboard.redis_conn import from_url
from dashboard.settings import Settings


def alive(settings: Settings, hostname: str | None = None) -> tuple[bool, str]:
    """(alive, why) for the workers of ``hostname`` (this host by default)."""
    hostname = hostname or socket.gethostname()
    try:
        with from_url(settings) as connection:
            workers = [w for w in Worker.all(connection=connection) if w.hostname == hostname]
    except Exception as exc:  # noqa: BLE001 - Redis away: not this process's fault, say so
        return True, f"cannot ask Redis ({type(exc).__name__}); not judging the worker"
    if not workers:
        return False, f"no worker of {hostname} is registered with a live heartbeat"
    beat = max((w.last_heartbeat for w in workers if w.last_heartbeat), default=None)
    return True, f"{len(workers)} worker(s) of {hostname}, last heartbeat {beat:%H:%M:%S}" if beat else "registered"


def main() -> int:
    ok, why = alive(Settings.from_env())
    print(why, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
