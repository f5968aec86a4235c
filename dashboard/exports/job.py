"""The export job (worker side): the page's figure, drawn by the worker's warm browser,
stored with a TTL.

Enqueued by the web side as ``dashboard.exports.job.export_chart`` with the request as
JSON (:class:`~dashboard.exports.request.ExportRequest`), the dataset version it was asked
on and the client it is charged to. The limits (file size, byte budgets, how long a file
is kept) are the worker's own :class:`~dashboard.settings.Settings`. The job loads the
dataset version the request was made on (and fails, saying so, if that version has been
dropped since: it never draws another one silently), builds the figure with the same
``dashboard.figures`` builder the page uses, renders it (kaleido), refuses a file over
``export_max_bytes``, charges it to the byte budgets (evicting the oldest finished exports
when they are full) and stores the bytes under ``<prefix>export:file:<job id>``. The job's
result is only metadata. Progress goes to ``job.meta`` (stage, progress 0..100); a
failure's reason in words to ``job.meta["error"]`` (:func:`on_failure`).

``dashboard.exports.job.export_replay`` is the same for a replay of the drive (chart
"replay"): the frames of :mod:`~dashboard.exports.replay` drawn and encoded by
:mod:`~dashboard.exports.video`, progress counted in frames ("frame 84 of 120", saved a few
times a second at most), the file capped by ``replay_max_bytes`` (checked while it grows).
"""

from __future__ import annotations

import functools
import time
from types import TracebackType

from rq import get_current_job
from rq.exceptions import AbandonedJobError, DeserializationError
from rq.job import Job
from rq.timeouts import JobTimeoutException

from dashboard.data.store import Dataset, DatasetStore
from dashboard.exports import browser, video
from dashboard.exports.budget import JOB_OVERHEAD, Budgets
from dashboard.exports.errors import ExportError, ExportFailed
from dashboard.exports.queue import UNREADABLE
from dashboard.exports.replay import replay_of
from dashboard.exports.request import REPLAY, ExportRequest, decode_selection, selection_names
from dashboard.exports.vector import for_export
from dashboard.figures import View, build
from dashboard.figures.terrain import IMAGE_INLINE
from dashboard.rovers import DEFAULT_ROVER
from dashboard.settings import DEFAULT_EXPORT_TIMEOUT, Settings

#: Seconds one render may take in the browser: the job's timeout less RENDER_MARGIN (for
#: loading the data and storing the file), kept within RENDER_TIMEOUT_MIN..MAX.
RENDER_MARGIN = 5.0
RENDER_TIMEOUT_MIN, RENDER_TIMEOUT_MAX = 5.0, 30.0
#: job.meta progress (0..100) at each stage
PROGRESS = {"loading data": 10, "rendering": 40, "storing": 90}
#: characters of an unexpected failure's message shown to the user
MAX_REASON = 300
#: a replay's progress (0..100): its frames fill FRAMES_FROM..FRAMES_TO
FRAMES_FROM, FRAMES_TO = 10, 90
#: seconds between two saves of a replay's progress (a save is a Redis write)
META_INTERVAL = 0.25


@functools.cache
def worker_settings() -> Settings:
    """The worker process's settings, read from its environment once."""
    return Settings.from_env()


def _progress(job: Job, stage: str) -> None:
    job.meta.update(stage=stage, progress=PROGRESS[stage])
    job.save_meta()


def render_timeout(job_timeout: float | None) -> float:
    """Seconds the browser may take for one image, within a job of ``job_timeout`` s."""
    total = job_timeout or DEFAULT_EXPORT_TIMEOUT
    return max(RENDER_TIMEOUT_MIN, min(RENDER_TIMEOUT_MAX, total - RENDER_MARGIN))


def _final(job: Job, message: str) -> ExportFailed:
    """A failure that a retry would only repeat: no retry is spent on it."""
    job.retries_left = 0
    return ExportFailed(message)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def _dataset(job: Job, store: DatasetStore, version: str) -> Dataset:
    """The dataset version the export was asked on; a final failure if it is gone."""
    if not version:
        raise _final(job, "the export names no dataset version")
    dataset = store.read(str(version))
    if dataset is None:
        current = store.current_version()
        raise _final(
            job,
            f"dataset version {version} that this export was asked on has been replaced and dropped"
            + (f" (the current one is {current})" if current else "")
            + ": export it again",
        )
    return dataset


def _selected_sols(job: Job, dataset: Dataset, selection: str) -> list[int]:
    """The sols of the waypoints a (map) selection names."""
    try:
        names = decode_selection(selection, selection_names(dataset.waypoints))
    except ExportError as exc:
        raise _final(job, str(exc)) from None
    return dataset.sols_of(names)


def _render(job: Job, figure: dict, request: ExportRequest, max_bytes: int) -> bytes:
    """The file's bytes from the warm browser; a final failure when over ``max_bytes``."""
    timeout = render_timeout(job.timeout)
    body = browser.to_image(figure, request.fmt, request.width, request.height, request.scale, timeout=timeout)
    if len(body) > max_bytes:
        raise _final(
            job,
            f"the rendered {request.fmt.upper()} is {_mb(len(body))}, over the limit of "
            f"{_mb(max_bytes)} for one export: ask for a smaller width, height or scale"
            + (", or PNG" if request.fmt != "png" else ""),
        )
    return body


def _figure(job: Job, dataset: Dataset, request: ExportRequest) -> dict:
    sols = None if request.selection is None else _selected_sols(job, dataset, request.selection)
    options = {"xkey": request.xkey, "ykey": request.ykey} if request.chart == "xy" else {}
    if request.chart == "map":  # the export browser has no server to fetch the relief from
        options["image_source"] = IMAGE_INLINE
    figure = build(request.chart, dataset, View.of(request.sol_min, request.sol_max, sols), **options)
    # vector traces (no WebGL bitmap in SVG/PDF), no more vertices than the file has pixels
    return for_export(figure, request.width, request.height, request.scale)


def _job(name: str) -> Job:
    job = get_current_job()
    if job is None:
        raise RuntimeError(f"{name} runs as an RQ job (dashboard.exports.job.{name})")
    return job


def _asked(job: Job, request: dict, replay: bool) -> ExportRequest:
    """The stored request, read back; a final failure when it is not one for this job."""
    try:
        asked = ExportRequest.from_json(request)
    except (ExportError, TypeError) as exc:
        raise _final(job, str(exc)) from None
    if (asked.chart == REPLAY) != replay:
        raise _final(job, f"the stored request is for {asked.chart!r}, not what this job draws")
    return asked


def _store(job: Job, settings: Settings, body: bytes, client: str) -> None:
    """Charge the file to the byte budgets (evicting the oldest when full) and keep it, in
    one step (a worker killed here leaves either both or neither)."""
    budgets = Budgets.of(job.connection, settings)
    budgets.evict(budgets.charge(job.id, len(body) + JOB_OVERHEAD, client, settings.export_ttl, body=body))


def export_chart(request: dict, version: str, client: str = "unknown") -> dict:
    """Draw the export ``request`` (:meth:`ExportRequest.to_json`) of dataset ``version``,
    charge it to ``client`` and store the file. Runs as an RQ job only."""
    job = _job("export_chart")
    settings = worker_settings()
    asked = _asked(job, request, replay=False)
    _progress(job, "loading data")
    dataset = _dataset(job, DatasetStore.of(job.connection, settings, asked.rover or DEFAULT_ROVER), version)
    figure = _figure(job, dataset, asked)
    _progress(job, "rendering")
    body = _render(job, figure, asked, settings.export_max_bytes)
    _progress(job, "storing")
    _store(job, settings, body, client)
    return {
        "bytes": len(body),
        "format": asked.fmt,
        "width": asked.width,
        "height": asked.height,
        "scale": asked.scale,
        "dataset_version": dataset.version,
        "filename": asked.filename,
    }


def _too_large(job: Job, asked: ExportRequest, size: int, max_bytes: int, frames: str = "") -> ExportFailed:
    fewer = "ask for fewer frames or a smaller width and height" + (", or MP4" if asked.fmt == "gif" else "")
    return _final(
        job,
        f"the {asked.fmt.upper()} replay is {_mb(size)}{frames}, over the limit of {_mb(max_bytes)} "
        f"for one replay: {fewer}",
    )


class FrameProgress:
    """A replay's progress in ``job.meta`` ("rendering frame 84 of 120"), saved at most
    every META_INTERVAL seconds, and at the last frame; stops the replay (a final failure)
    as soon as its file is over ``max_bytes``."""

    def __init__(self, job: Job, asked: ExportRequest, max_bytes: int) -> None:
        self.job, self.asked, self.max_bytes = job, asked, max_bytes
        self.saved = 0.0

    def __call__(self, done: int, total: int, size: int) -> None:
        if size > self.max_bytes:
            raise _too_large(self.job, self.asked, size, self.max_bytes, f" after {done} of {total} frames")
        now = time.monotonic()
        if done < total and now - self.saved < META_INTERVAL:
            return
        stage = f"rendering frame {done} of {total}" if done < total else "encoding"
        self.job.meta.update(stage=stage, progress=FRAMES_FROM + (FRAMES_TO - FRAMES_FROM) * done // total)
        self.job.save_meta()
        self.saved = now


def export_replay(request: dict, version: str, client: str = "unknown") -> dict:
    """Draw the replay ``request`` (chart "replay") of dataset ``version`` as a video file,
    charge it to ``client`` and store it. Runs as an RQ job only."""
    job = _job("export_replay")
    settings = worker_settings()
    asked = _asked(job, request, replay=True)
    _progress(job, "loading data")
    dataset = _dataset(job, DatasetStore.of(job.connection, settings, asked.rover or DEFAULT_ROVER), version)
    replay = replay_of(dataset, asked, image_source=IMAGE_INLINE)  # no server to fetch the relief from
    progress = FrameProgress(job, asked, settings.replay_max_bytes)
    body = video.render(replay, asked.fmt, int(asked.fps or 1), progress, timeout=render_timeout(job.timeout))
    if len(body) > settings.replay_max_bytes:
        raise _too_large(job, asked, len(body), settings.replay_max_bytes)
    _progress(job, "storing")
    _store(job, settings, body, client)
    return {
        "bytes": len(body),
        "format": asked.fmt,
        "width": asked.width,
        "height": asked.height,
        "frames": asked.frames,
        "fps": asked.fps,
        "seconds": round(len(replay.sols) / int(asked.fps or 1), 3),
        "dataset_version": dataset.version,
        "filename": asked.filename,
    }


def failure_reason(job: Job, kind: type[BaseException] | None, value: BaseException | None) -> str:
    """Why a job failed, in words, from the exception's type (never from a traceback)."""
    if kind is not None and issubclass(kind, AbandonedJobError):
        return "the worker rendering this export stopped (killed or crashed) before finishing"
    if kind is not None and issubclass(kind, JobTimeoutException):
        return f"rendering took longer than {job.timeout} s and was stopped"
    if kind is not None and issubclass(kind, DeserializationError):
        return UNREADABLE
    if isinstance(value, ExportFailed):
        return str(value)[:MAX_REASON]
    name = kind.__name__ if kind is not None else "an unknown error"
    return f"{name}: {value}"[:MAX_REASON] if str(value or "") else name


def on_failure(
    job: Job, connection, kind: type[BaseException], value: BaseException, _traceback: TracebackType | None
) -> None:
    """RQ's failure callback (in the worker, or when a dead worker's job is cleaned up):
    the reason in words goes to ``job.meta["error"]``, where the status reads it."""
    job.meta["error"] = failure_reason(job, kind, value)
    job.save_meta()
