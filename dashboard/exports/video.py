"""A replay made into a video file (worker side): a warm headless browser page draws the
frames, ffmpeg encodes them.

Drawing. One page per worker process, on choreographer's public API (``Browser``,
``get_tab``, ``send_command``), started lazily in the process that renders (never before
a fork: the worker is an RQ ``SimpleWorker``) and kept warm between jobs. The page loads
plotly.js once, from the installed plotly package (``file://``). A job sends its figure
and its frames' states once (``replayLoad``: ``Plotly.newPlot``); for each frame it sends
only the frame's number (``replayDraw``): the page shows the first points of each trace
(views into the typed arrays it already holds), the rover and the stamp with
``Plotly.react``, and the frame is taken with ``Page.captureScreenshot`` (PNG), the page
being exactly the video's size. The page draws in layers (see PAGE_SCRIPT): the still
parts once, the path and points so far every SETTLE_EVERY frames, each frame only what
came since. Measured on NASA's whole drive at 1280x720, CPU time a frame: drawing 49 ms
(84 ms with everything redrawn every frame), taking the PNG about 40 ms more.

``Plotly.toImage`` is not used per frame: it draws a hidden copy of the whole figure from
scratch on every call (newPlot, SVG serialisation, the SVG decoded into a canvas): 0.27 s
a frame against 0.10 s for the layers and the screenshot, measured side by side by
bench/bench_replay.py on two shared cores. Any exception while drawing, the job-timeout
exception included, closes the browser; the next replay starts a new one, so a call cut
short can never hand its late answer to the next job.

Encoding. ffmpeg, the static build shipped in the imageio-ffmpeg wheel (pinned in
requirements.txt; nothing to install on the system), run as its own process: the PNGs are
piped into it as they are taken (``image2pipe``), so it encodes beside the drawing, on the
other core, and nothing is decoded in Python. Chosen over PyAV, which would decode every
PNG into an array in the worker and encode inside the worker process; the ffmpeg process
is killed with the job, and its palette filters make good GIFs. MP4: H.264 (libx264,
yuv420p, ``+faststart`` for playing while downloading); WebM: VP9 in its realtime mode;
GIF: one palette made from the first and the last frames (the whole path, every colour
of the legend), each frame re-encoding only the rectangle that changed, looping.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import importlib.util
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import choreographer
import imageio_ffmpeg
import orjson

from dashboard.exports.errors import ExportFailed
from dashboard.exports.replay import Replay

log = logging.getLogger(__name__)

#: seconds the browser may take to close before it is killed
CLOSE_TIMEOUT = 8.0
#: seconds ffmpeg may take to finish the file once the last frame is in
ENCODE_TIMEOUT = 60.0
#: lines of ffmpeg's own error output quoted when it fails
FFMPEG_ERROR_LINES = 5
#: frames between two redraws of the settled layer (see PAGE_SCRIPT): every frame redraws
#: what came since, every SETTLE_EVERY frames all of it
SETTLE_EVERY = 8
CODECS = {
    "mp4": ["-c:v", "libx264", "-preset", "veryfast", "-tune", "animation", "-crf", "23"]
    + ["-pix_fmt", "yuv420p", "-movflags", "+faststart", "-f", "mp4"],
    "webm": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1"]
    + ["-crf", "33", "-b:v", "0", "-pix_fmt", "yuv420p", "-f", "webm"],
    "gif": ["-lavfi", "[0:v][1:v]paletteuse=dither=bayer:bayer_scale=5:diff_mode=rectangle", "-loop", "0", "-f", "gif"],
}
PAGE_SCRIPT = """
"use strict";
const TYPES = {f4: Float32Array, f8: Float64Array, i4: Int32Array};
const CONFIG = {staticPlot: true, displayModeBar: false};
const SETTLE_EVERY = %(settle)d;
let replay = null;
function typed(spec) {
  if (!spec || typeof spec.bdata !== "string") return spec;
  const raw = atob(spec.bdata), bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return new TYPES[spec.dtype](bytes.buffer);
}
function part(values, from, to) {
  if (values && typeof values.subarray === "function") return values.subarray(from, to);
  return Array.isArray(values) ? values.slice(from, to) : values;
}
// Points from..to-1 of a trace. A trace with no point at all is dropped from the legend
// (plotly makes it invisible): one with nothing to show gets one point that is not drawn.
function points(trace, from, to) {
  const some = to > from;
  const out = {...trace, x: some ? part(trace.x, from, to) : [NaN], y: some ? part(trace.y, from, to) : [NaN]};
  if (trace.marker && trace.marker.color && typeof trace.marker.color === "object") {
    out.marker = {...trace.marker, color: part(trace.marker.color, from, some ? to : from + 1)};
  }
  return out;
}
function rover(k) {
  const at = replay.spec.frames[k].rover, trace = replay.data[replay.spec.rover];
  return {...trace, x: at ? [at[0]] : [NaN], y: at ? [at[1]] : [NaN]};
}
function frameData(k) {
  const cuts = replay.spec.frames[k].cuts;
  return replay.data.map((trace, i) => {
    if (i === replay.spec.rover) return rover(k);
    return cuts[i] === null || cuts[i] === undefined ? trace : points(trace, 0, cuts[i]);
  });
}
function withStamp(layout, k) {
  const annotations = layout.annotations.slice();
  annotations[annotations.length - 1] = {...annotations[annotations.length - 1], text: replay.spec.frames[k].stamp};
  return {...layout, annotations};
}
// Three layers when plotly says where it put the plot area (the usual case), each a plot of
// the same size, margins and ranges: the still parts (axes, legend, colour bar, the whole
// path, the scale bar) drawn once; above them, transparent, the path and points "settled"
// up to a frame, redrawn every SETTLE_EVERY frames; on top, what came since (the newest
// stretch of path and points, the rover, the stamp), redrawn every frame. Each frame then
// redraws a few points instead of all of them. Otherwise one layer, redrawn whole.
function overlayLayout(gd, layout) {
  const size = gd._fullLayout && gd._fullLayout._size;
  const x = gd.layout.xaxis && gd.layout.xaxis.range, y = gd.layout.yaxis && gd.layout.yaxis.range;
  if (!size || !x || !y) return null;
  const axis = (range) => ({range: range.slice(), autorange: false, visible: false, fixedrange: true});
  return {
    width: layout.width, height: layout.height, autosize: false, showlegend: false,
    font: layout.font, template: layout.template, hovermode: false,
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    margin: {l: size.l, r: size.r, t: size.t, b: size.b, pad: size.p || 0, autoexpand: false},
    xaxis: axis(x), yaxis: axis(y), annotations: [layout.annotations[replay.spec.stamp]],
  };
}
function layered(trace) {
  const out = {...trace, showlegend: false};
  if (out.marker) out.marker = {...out.marker, showscale: false};
  return out;
}
function settledData(k) {
  const cuts = replay.spec.frames[k].cuts;
  return replay.growing.map((i) => layered(points(replay.data[i], 0, cuts[i])));
}
function newestData(k) {
  const cuts = replay.spec.frames[k].cuts, settled = replay.spec.frames[replay.settled].cuts;
  const data = replay.growing.map((i) => {
    // a line goes on from the last vertex the settled layer drew
    const trace = replay.data[i], lines = String(trace.mode || "").includes("lines");
    return layered(points(trace, Math.max(settled[i] - (lines ? 1 : 0), 0), cuts[i]));
  });
  return [...data, layered(rover(k))];
}
async function replayLoad(spec) {
  const [gd, sd, od] = ["still", "settled", "newest"].map((id) => document.getElementById(id));
  [gd, sd, od].forEach((div) => Plotly.purge(div));
  const data = spec.figure.data.map((trace) => {
    const out = {...trace, x: typed(trace.x), y: typed(trace.y)};
    if (trace.marker) out.marker = {...trace.marker, color: typed(trace.marker.color)};
    return out;
  });
  const growing = data.map((_, i) => i).filter((i) => i !== spec.rover && spec.frames[0].cuts[i] !== null);
  replay = {gd, sd, od, spec, data, growing, overlay: null, settled: 0};
  const layout = spec.figure.layout, moving = [...growing, spec.rover];
  const still = {...layout, annotations: layout.annotations.filter((_, i) => i !== spec.stamp)};
  await Plotly.newPlot(gd, data.map((t, i) => (moving.includes(i) ? points(t, 0, 0) : t)), still, CONFIG);
  replay.overlay = overlayLayout(gd, layout);
  if (replay.overlay === null) {
    await Plotly.react(gd, frameData(0), withStamp(layout, 0), CONFIG);
    return "one layer";
  }
  await Plotly.newPlot(sd, settledData(0), {...replay.overlay, annotations: []}, CONFIG);
  await Plotly.newPlot(od, newestData(0), withStamp(replay.overlay, 0), CONFIG);
  return "layers";
}
async function replayDraw(k) {
  if (replay.overlay === null) {
    await Plotly.react(replay.gd, frameData(k), withStamp(replay.spec.figure.layout, k), CONFIG);
    return k;
  }
  if (k < replay.settled || k - replay.settled >= SETTLE_EVERY) {
    await Plotly.react(replay.sd, settledData(k), {...replay.overlay, annotations: []}, CONFIG);
    replay.settled = k;
  }
  await Plotly.react(replay.od, newestData(k), withStamp(replay.overlay, k), CONFIG);
  return k;
}
"""


class DrawError(RuntimeError):
    """The page could not draw a frame (a JavaScript error, or the browser went away)."""


def plotly_js() -> Path:
    """plotly.js as the installed plotly package ships it (the page the app serves uses it too)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise DrawError("the plotly package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"


def browser_path() -> str | None:
    """Chromium: BROWSER_PATH, else Debian's binary behind its launcher script (which says
    noise about /dev/shm), else whatever choreographer finds."""
    for path in (os.environ.get("BROWSER_PATH"), "/usr/lib/chromium/chromium"):
        if path and os.path.exists(path):
            return path
    return None


def _value(answer: dict):
    """The value of a Runtime.evaluate answer, or DrawError with the page's own words."""
    result = answer.get("result") or {}
    if "exceptionDetails" in result:
        details = result["exceptionDetails"]
        raise DrawError(str((details.get("exception") or {}).get("description") or details.get("text"))[:300])
    return (result.get("result") or {}).get("value")


class Page:
    """A headless browser with the replay page loaded, and the event loop (in a thread of
    its own) that talks to it; :meth:`call` runs one of its coroutines from this thread."""

    def __init__(self, timeout: float) -> None:
        self.pid = os.getpid()
        self.folder = Path(tempfile.mkdtemp(prefix="ptracker-replay-page-"))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="replay-browser", daemon=True)
        self.thread.start()
        self.browser: choreographer.Browser | None = None
        self.tab: choreographer.Tab | None = None
        index = self.folder / "index.html"
        index.write_text(
            '<!DOCTYPE html><html><head><meta charset="utf-8">'
            "<style>html,body{margin:0;padding:0;overflow:hidden;background:#fff}"
            "#still,#settled,#newest{position:absolute;left:0;top:0}</style>"
            f'<script src="{plotly_js().as_uri()}"></script><script>{PAGE_SCRIPT % {"settle": SETTLE_EVERY}}</script>'
            '</head><body><div id="still"></div><div id="settled"></div><div id="newest"></div></body></html>'
        )
        try:
            self.call(self._open(index.as_uri()), timeout)
        except BaseException:
            self.close()
            raise

    def call(self, coroutine, timeout: float):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _open(self, url: str) -> None:
        self.browser = choreographer.Browser(path=browser_path(), headless=True)
        await self.browser.open()
        self.tab = self.browser.get_tab()
        if self.tab is None:
            raise DrawError("the browser opened no tab")
        loaded = self.tab.subscribe_once("Page.loadEventFired")
        await self._send("Page.enable")
        await self._send("Page.navigate", {"url": url})
        await loaded
        if await self.evaluate("typeof Plotly") != "object":
            raise DrawError("plotly.js did not load in the replay page")

    async def _send(self, command: str, params: dict | None = None) -> dict:
        """One DevTools command on the page's tab; DrawError when the browser refuses it."""
        if self.tab is None:
            raise DrawError("the replay page is not open")
        answer = await self.tab.send_command(command, params=params)
        if not isinstance(answer, dict) or "error" in answer:
            said = answer.get("error") if isinstance(answer, dict) else answer
            raise DrawError(f"the browser refused {command}: {said}"[:300])
        return answer

    async def evaluate(self, expression: str):
        params = {"expression": expression, "awaitPromise": True, "returnByValue": True}
        return _value(await self._send("Runtime.evaluate", params))

    async def load(self, spec: dict, width: int, height: int) -> str:
        """The replay's figure drawn once (its first frame), the page at the video's size;
        "layers" or "one layer" (see PAGE_SCRIPT)."""
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        await self._send("Emulation.setDeviceMetricsOverride", metrics)
        return await self.evaluate(f"replayLoad({orjson.dumps(spec).decode()})")

    async def frame(self, k: int) -> bytes:
        """Frame ``k`` drawn and taken as a PNG of the page."""
        await self.evaluate(f"replayDraw({int(k)})")
        params = {"format": "png", "optimizeForSpeed": True, "captureBeyondViewport": False, "fromSurface": True}
        answer = await self._send("Page.captureScreenshot", params)
        return base64.b64decode(answer["result"]["data"])

    def close(self) -> None:
        """Close the browser (killed if it does not close in time), the loop and the folder."""
        browser, self.browser = self.browser, None
        if browser is not None:
            pipe_log = logging.getLogger("choreographer.channels.pipe")
            level = pipe_log.level
            pipe_log.setLevel(logging.CRITICAL)  # a message cut in half by the close is expected
            try:
                self.call(browser.close(), CLOSE_TIMEOUT)
            except BaseException:  # it hangs or is gone: make sure of it
                process = getattr(browser, "subprocess", None)
                if process is not None and process.poll() is None:
                    process.kill()
            finally:
                pipe_log.setLevel(level)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(CLOSE_TIMEOUT)
        shutil.rmtree(self.folder, ignore_errors=True)


_lock = threading.Lock()
_page: Page | None = None
#: a worker that ends closes its browser (stop() does nothing when there is none)
atexit.register(lambda: stop())


def start(timeout: float = 30.0) -> Page:
    """The warm page of this process, started if it is not (idempotent)."""
    global _page
    if _page is not None and _page.pid == os.getpid():
        return _page
    if _page is not None:
        raise RuntimeError("the replay browser was started before a fork: run the worker as a SimpleWorker")
    _page = Page(timeout)
    return _page


def stop() -> None:
    global _page
    page, _page = _page, None
    if page is not None and page.pid == os.getpid():
        page.close()


class Encoder:
    """ffmpeg in its own process, fed PNG frames on its standard input; the file in ``folder``."""

    def __init__(self, fmt: str, fps: int, folder: Path) -> None:
        self.fmt, self.fps, self.folder = fmt, fps, folder
        self.out = folder / f"replay.{fmt}"
        self.palette = folder / "palette.png"
        self.errors = folder / "ffmpeg.log"
        self.exe = imageio_ffmpeg.get_ffmpeg_exe()
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Encoder:
        return self

    def __exit__(self, *_exc) -> None:
        self.kill()

    def _input(self) -> list[str]:
        head = [self.exe, "-hide_banner", "-loglevel", "error", "-y", "-f", "image2pipe"]
        return [*head, "-framerate", str(self.fps), "-c:v", "png", "-i", "pipe:0"]

    def _failed(self, what: str) -> ExportFailed:
        lines = self.errors.read_text(errors="replace").strip().splitlines() if self.errors.exists() else []
        said = "; ".join(lines[-FFMPEG_ERROR_LINES:]) or "no message"
        return ExportFailed(f"the video encoder failed {what}: {said}"[:300])

    def make_palette(self, frames: list[bytes]) -> None:
        """A GIF's one palette, from these frames (the first and the last)."""
        command = [*self._input(), "-vf", "palettegen=stats_mode=full", "-frames:v", "1", str(self.palette)]
        with self.errors.open("wb") as errors:
            done = subprocess.run(command, input=b"".join(frames), stderr=errors, timeout=ENCODE_TIMEOUT, check=False)
        if done.returncode != 0:
            raise self._failed("making the GIF's palette")

    def write(self, png: bytes) -> None:
        if self.process is None:
            palette = ["-i", str(self.palette)] if self.fmt == "gif" else ["-an"]
            command = [*self._input(), *palette, *CODECS[self.fmt], str(self.out)]
            with self.errors.open("ab") as errors:
                self.process = subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors
                )
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(png)
        except BrokenPipeError:
            self.process.wait(CLOSE_TIMEOUT)
            raise self._failed("while taking the frames") from None

    def size(self) -> int:
        """Bytes of the file written so far."""
        try:
            return self.out.stat().st_size
        except FileNotFoundError:
            return 0

    def finish(self) -> bytes:
        if self.process is None or self.process.stdin is None:
            raise ExportFailed("the video encoder got no frame")
        try:
            self.process.stdin.close()
        except BrokenPipeError:
            pass
        if self.process.wait(ENCODE_TIMEOUT) != 0:
            raise self._failed("finishing the file")
        return self.out.read_bytes()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


#: called after each frame with (frames done, frames in all, bytes of the file so far);
#: it may raise to stop the replay
OnFrame = Callable[[int, int, int], None]


def _draw(page: Page, replay: Replay, fmt: str, fps: int, folder: Path, on_frame: OnFrame, timeout: float) -> bytes:
    total = len(replay.sols)
    with Encoder(fmt, fps, folder) as encoder:
        page.call(
            page.load(replay.spec(), replay.figure["layout"]["width"], replay.figure["layout"]["height"]), timeout
        )
        taken: dict[int, bytes] = {}
        if fmt == "gif":
            for k in (0, total - 1):
                taken[k] = page.call(page.frame(k), timeout)
            encoder.make_palette([taken[0], taken[total - 1]])
        for k in range(total):
            encoder.write(taken.pop(k) if k in taken else page.call(page.frame(k), timeout))
            on_frame(k + 1, total, encoder.size())
        return encoder.finish()


def render(replay: Replay, fmt: str, fps: int, on_frame: OnFrame, timeout: float = 30.0) -> bytes:
    """The video file (``fmt``: mp4, webm or gif) of ``replay`` at ``fps`` frames a second.
    ``timeout``: seconds one step in the browser may take. The browser is restarted after
    any exception but an ExportFailed (a refusal between two frames: the page is idle)."""
    with _lock:
        page = start(timeout)
        try:
            with tempfile.TemporaryDirectory(prefix="ptracker-replay-") as folder:
                return _draw(page, replay, fmt, fps, Path(folder), on_frame, timeout)
        except ExportFailed:
            raise
        except BaseException:
            stop()
            raise
