"""WSGI entry for the benchmarks: the app of ``dashboard.wsgi`` whose versions carry the
context layers read from the shared data folder (:mod:`mars_layers`), with the relief
served at ``/terrain/<fingerprint>.png``. Started by gunicorn with the Procfile's
settings: ``gunicorn -c deploy/gunicorn.conf.py --pythonpath bench mars_app:server``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mars_layers import LayeredStore, read_layers, serve_relief  # noqa: E402

from dashboard.app import create_app  # noqa: E402
from dashboard.redis_conn import connect  # noqa: E402
from dashboard.settings import Settings  # noqa: E402

settings = Settings.from_env()
store = LayeredStore(
    connect(settings),
    settings.key_prefix,
    settings.keep_versions,
    layers=read_layers(Path(os.environ["PTRACKER_SHARED_DATA"])),
)
app = create_app(settings, store)
server = app.server
server.wsgi_app = serve_relief(server.wsgi_app, store)  # type: ignore[method-assign]
