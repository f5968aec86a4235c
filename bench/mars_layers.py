"""The context layers (Ingenuity's flights, the sample tubes, the terrain) attached to a
stored dataset, for the benchmarks and the browser tests, until the loader stores them.

Until then a stored version has no ``flights``, ``samples`` or ``terrain``: the
:class:`LayeredStore` reads the three layers from files once and hands them out with every
version it reads (a version that has layers of its own is returned as it is), and
:func:`serve_relief` answers ``/terrain/<fingerprint>.png`` as the web side will
(immutable, a year). :func:`layered_web` starts gunicorn on an app made of both
(``bench/mars_app.py``). Once the loader stores the layers and the web side serves the
relief, the benchmarks and tests load them with the loader and drop these stand-ins.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import requests
from common import ROOT, free_port

from dashboard.data.ingenuity import parse_flights
from dashboard.data.samples import parse_samples
from dashboard.data.store import Dataset, DatasetStore
from dashboard.data.terrain import parse_crop
from dashboard.figures.relief import relief
from dashboard.run import procfile_command

#: (flights, samples, terrain .img, terrain .json) in NASA's shared data folder
SHARED_FILES = ("m20_heli_waypoints.json", "M20_SAMPLE_v3.json", "M20_mola128_jezero.img", "M20_mola128_jezero.json")
#: the same in tests/fixtures
FIXTURE_FILES = ("heli_flights.json", "sample_sites.json", "terrain_tiny.img", "terrain_tiny.json")
RELIEF_PATH = re.compile(r"^/terrain/([0-9a-f]{8,64})\.png$")


def read_layers(folder: Path, names: tuple[str, str, str, str] = SHARED_FILES) -> dict:
    """{"flights", "samples", "terrain"} parsed from the files in ``folder``."""
    flights, samples, img, sidecar = (Path(folder) / n for n in names)
    return {
        "flights": parse_flights(flights.read_bytes(), flights.name).frame,
        "samples": parse_samples(samples.read_bytes(), samples.name).frame,
        "terrain": parse_crop(img.read_bytes(), sidecar.read_bytes(), img.name),
    }


class LayeredStore(DatasetStore):
    """A DatasetStore whose versions carry ``layers`` when they have none of their own."""

    def __init__(self, *args, layers: dict, **kw):
        super().__init__(*args, **kw)
        self.layers = layers
        self._with: dict[str, Dataset] = {}
        self._with_lock = threading.Lock()

    def _layered(self, dataset: Dataset | None) -> Dataset | None:
        if dataset is None or any(getattr(dataset, k) is not None for k in self.layers):
            return dataset
        with self._with_lock:
            kept = self._with.get(dataset.version)
            if kept is None or kept.meta is not dataset.meta:
                kept = dataclasses.replace(dataset, **self.layers)
                self._with = {dataset.version: kept}
            return kept

    def current(self) -> Dataset | None:
        return self._layered(super().current())

    def read(self, version: str) -> Dataset | None:
        return self._layered(super().read(version))


def serve_relief(wsgi_app, store: DatasetStore):
    """WSGI middleware answering ``GET /terrain/<fingerprint>.png`` with the current
    terrain's relief (404 for another fingerprint); everything else goes to ``wsgi_app``."""

    def app(environ, start_response):
        found = RELIEF_PATH.match(environ.get("PATH_INFO", ""))
        if found is None:
            return wsgi_app(environ, start_response)
        dataset = store.current()
        shaded = relief(dataset.terrain, dataset.memo) if dataset is not None and dataset.terrain else None
        if shaded is None or shaded.fingerprint != found.group(1):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"no such terrain image"]
        start_response(
            "200 OK",
            [
                ("Content-Type", "image/png"),
                ("Content-Length", str(len(shaded.png))),
                ("Cache-Control", "public, max-age=31536000, immutable"),
                ("ETag", f'"{shaded.fingerprint}"'),
            ],
        )
        return [shaded.png]

    return app


@contextmanager
def layered_web(env: dict, plain: bool = False):
    """The web process (gunicorn, the Procfile's settings) whose versions carry the
    context layers (``bench/mars_app.py``; ``plain``: the Procfile's own command, without
    them); yields its base URL once /readyz answers, stops it afterwards."""
    port = free_port()
    env = {**os.environ, **env, "PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": "2"}
    argv = procfile_command("web")
    if not plain:
        argv = [*argv[:-1], "--pythonpath", str(ROOT / "bench"), "mars_app:server"]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if requests.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
