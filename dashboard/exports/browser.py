"""One warm headless browser per worker process, drawing plotly figures with kaleido.

Why it is drawn this way (measurements: docs/architecture/decisions.md): kaleido's sync
server (started lazily, in the process that renders, never before a fork) with MathJax off is
~5x faster than a browser per image; skipping kaleido's reload of its tab after each
figure saves another ~0.3 s per image. That reload is skipped through kaleido 1.5's
private ``Kaleido._return_kaleido_tab`` hook, guarded: if a later kaleido renames it,
rendering stays correct and only slower (logged once). Any exception during a render,
the job-timeout exception included, restarts the server, because an interrupted call
leaves its late result queued for the *next* job.
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger(__name__)

_lock = threading.Lock()
_started_in: int | None = None
_patched = False


def _patch_tab_reload(kaleido) -> None:
    global _patched
    if _patched:
        return
    _patched = True
    if not hasattr(kaleido.Kaleido, "_return_kaleido_tab"):
        log.warning("kaleido has no _return_kaleido_tab hook: exports reload their tab (slower, still correct)")
        return

    async def _keep_tab(self, tab):  # return the tab to the pool without reloading it
        await self.tabs_ready.put(tab)

    kaleido.Kaleido._return_kaleido_tab = _keep_tab


def _browser_path() -> str | None:
    # Debian's launcher script prints noise about /dev/shm; the binary behind it is the same.
    for path in (os.environ.get("BROWSER_PATH"), "/usr/lib/chromium/chromium"):
        if path and os.path.exists(path):
            return path
    return None


def start(timeout: float = 30.0) -> None:
    """Start the browser in this process (idempotent)."""
    global _started_in
    import kaleido
    import plotly.io as pio

    if _started_in == os.getpid():
        return
    if _started_in is not None:
        raise RuntimeError("kaleido was started before a fork: run the worker as a SimpleWorker")
    _patch_tab_reload(kaleido)
    pio.defaults.headers = {}
    path = _browser_path()
    if path and not os.environ.get("BROWSER_PATH"):
        os.environ["BROWSER_PATH"] = path
    kaleido.start_sync_server(mathjax=False, timeout=timeout, silence_warnings=True)
    _started_in = os.getpid()


def stop() -> None:
    global _started_in
    import kaleido

    # Closing the browser can cut its last message on the pipe in half; choreographer then
    # logs a JSONError traceback for a message nobody waits for any more.
    pipe_log = logging.getLogger("choreographer.channels.pipe")
    level = pipe_log.level
    pipe_log.setLevel(logging.CRITICAL)
    try:
        kaleido.stop_sync_server(silence_warnings=True)
    except Exception:  # already gone
        pass
    finally:
        pipe_log.setLevel(level)
    _started_in = None


def to_image(figure: dict, fmt: str, width: int, height: int, scale: float, timeout: float = 30.0) -> bytes:
    import plotly.io as pio

    with _lock:
        start(timeout)
        try:
            return pio.to_image(figure, format=fmt, width=width, height=height, scale=scale)
        except BaseException:
            stop()
            raise
