"""A stand-in for NASA's MMGIS server: a tiny threaded HTTP server serving the files of a
folder with ETag (the content's sha256) and Last-Modified (the file's mtime), answering
If-None-Match / If-Modified-Since with 304, counting requests, 304s and body bytes, and
misbehaving on demand (an error status, a hang, an HTML page, an empty FeatureCollection).
Used by the refresh tests and bench/bench_refresh.py."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from collections import Counter
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

#: what a file may be made to answer instead of itself (Upstream.fault)
FAULTS = ("500", "hang", "html", "empty")
HTML = b"<!doctype html><html><body><h1>Service Unavailable</h1>Maintenance</body></html>"
EMPTY = b'{"type": "FeatureCollection", "features": []}'


class Upstream:
    """``with Upstream(folder) as up:`` serves ``folder`` on a free loopback port;
    ``up.url(name)`` is a file's URL. ``up.fault[name] = "500"`` (or "hang", "html",
    "empty") makes it misbehave until deleted; ``up.hang_seconds`` bounds a hang;
    ``up.conditional = False`` ignores the validators (every answer is 200 with the body)."""

    def __init__(self, folder: Path, hang_seconds: float = 5.0):
        self.folder = Path(folder)
        self.fault: dict[str, str] = {}
        self.hang_seconds = hang_seconds
        self.conditional = True
        self.stats: Counter = Counter()
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    # --- files ---------------------------------------------------------------------------
    def put(self, name: str, data: bytes | Path) -> None:
        """Replace (or add) a file at once, with a newer mtime than the one it replaces."""
        target = self.folder / name
        before = target.stat().st_mtime if target.exists() else 0.0
        tmp = target.with_suffix(target.suffix + ".tmp")
        if isinstance(data, Path):
            shutil.copyfile(data, tmp)
        else:
            tmp.write_bytes(data)
        when = max(time.time(), before + 1)
        os.utime(tmp, (when, when))
        tmp.replace(target)

    def url(self, name: str) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/{name}"

    def count(self, what: str, n: int = 1) -> None:
        with self._lock:
            self.stats[what] += n

    def reset(self) -> None:
        with self._lock:
            self.stats.clear()

    # --- server --------------------------------------------------------------------------
    def __enter__(self) -> Upstream:
        upstream = self

        class Handler(_Handler):
            up = upstream

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, client_address: None  # a client gone mid-answer
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    up: Upstream
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)
            self.up.count("body_bytes", len(body))
            self.up.count("bodies")

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        up = self.up
        name = self.path.lstrip("/").split("?", 1)[0]
        up.count("requests")
        fault = up.fault.get(name)
        if fault:
            up.count(f"fault_{fault}")
        if fault == "hang":
            up.stopping.wait(up.hang_seconds)
        if fault in ("500", "hang"):
            return self._send(500 if fault == "500" else 200, b"boom", {"Content-Type": "text/plain"})
        if fault in ("html", "empty"):
            kind = "text/html" if fault == "html" else "application/json"
            return self._send(200, HTML if fault == "html" else EMPTY, {"Content-Type": kind})
        path = up.folder / name
        if "/" in name or not path.is_file():
            return self._send(404, b"not found", {"Content-Type": "text/plain"})
        body = path.read_bytes()
        mtime = int(path.stat().st_mtime)
        validators = {
            "ETag": f'"{hashlib.sha256(body).hexdigest()[:32]}"',
            "Last-Modified": formatdate(mtime, usegmt=True),
        }
        if up.conditional and self._not_modified(validators["ETag"], mtime):
            up.count("not_modified")
            return self._send(304, b"", validators)
        self._send(200, body, {"Content-Type": "application/json", **validators})

    def _not_modified(self, etag: str, mtime: int) -> bool:
        inm = self.headers.get("If-None-Match")
        if inm is not None:  # it takes precedence over If-Modified-Since (RFC 9110)
            return etag in [tag.strip() for tag in inm.split(",")] or inm.strip() == "*"
        ims = self.headers.get("If-Modified-Since")
        if ims:
            try:
                return mtime <= parsedate_to_datetime(ims).timestamp()
            except (TypeError, ValueError):
                return False
        return False
