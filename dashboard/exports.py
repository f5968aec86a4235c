"""Chart exports, web side: validate a request, queue it, report on it, hand out the file.

The web process never renders (and never imports kaleido): it enqueues the job by its
dotted name, ``jobs.export.render``, with plain arguments. The same request on the same
dataset version gets the same job id, so a repeat returns the existing job (and its file
when finished) instead of rendering again.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import orjson
import redis
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from .figures import BUILDERS, EXPORT_ONLY, FIELDS, TITLES
from .logs import request_id_var

QUEUE_NAME = "exports"
JOB_FUNCTION = "jobs.export.render"
FORMATS = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
DEFAULT_SIZE = {"map": (1000, 800), "orientation": (1200, 700), "position": (1200, 650)}
MIN_PX, MAX_PX = 200, 4000
MIN_SCALE, MAX_SCALE = 0.25, 4.0
MAX_OUTPUT_PIXELS = 36_000_000  # width*scale x height*scale
MAX_SELECTION = 100_000


class ExportError(ValueError):
    """A request that cannot be exported; the message says why, in words."""


class ExportBusy(RuntimeError):
    """Too many exports right now (per client, or in the queue); try again later."""

    def __init__(self, message: str, retry_after: int, http_status: int):
        super().__init__(message)
        self.retry_after, self.http_status = retry_after, http_status


def admit(connection: redis.Redis, prefix: str, client: str, rate: int, queue_max: int) -> None:
    """Refuse (ExportBusy) a submission over the client's per-minute rate or when the
    queue is full. The count lives in Redis, so it is shared by every web process."""
    window = int(time.time() // 60)
    key = f"{prefix}ratelimit:export:{client}:{window}"
    pipe = connection.pipeline()
    pipe.incr(key)
    pipe.expire(key, 120)
    count = pipe.execute()[0]
    if count > rate:
        retry = 60 - int(time.time() % 60) + 1
        raise ExportBusy(f"too many exports: at most {rate} a minute; try again in {retry} s", retry, 429)
    waiting = Queue(QUEUE_NAME, connection=connection).count
    if waiting >= queue_max:
        raise ExportBusy(f"the export queue is full ({waiting} waiting); try again shortly", 30, 503)


@dataclass(frozen=True)
class ExportRequest:
    chart: str
    sol_min: int
    sol_max: int
    fmt: str = "png"
    width: int = 1200
    height: int = 600
    scale: float = 1.0
    selection: tuple[str, ...] | None = None  # site_drive names selected on the map
    xkey: str | None = None  # chart "xy": the fields on x and y
    ykey: str | None = None

    def kwargs(self) -> dict:
        """Plain arguments for the job function."""
        out = asdict(self)
        out["selection"] = list(self.selection) if self.selection is not None else None
        return out

    def job_id(self, version: str) -> str:
        digest = hashlib.sha256(orjson.dumps({"v": version, **self.kwargs()}, option=orjson.OPT_SORT_KEYS))
        return f"export-{self.chart}-{digest.hexdigest()[:20]}"

    @property
    def filename(self) -> str:
        name = f"{self.ykey}-vs-{self.xkey}" if self.chart == "xy" else self.chart
        return f"perseverance-{name}-sols-{self.sol_min}-{self.sol_max}.{self.fmt}"

    @property
    def title(self) -> str:
        return f"{self.ykey} against {self.xkey}" if self.chart == "xy" else TITLES[self.chart]


def _integer(name: str, value) -> int:
    if isinstance(value, bool):
        raise ExportError(f"{name} must be a number, not {value!r}")
    if isinstance(value, str):
        value = value.strip()
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ExportError(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(number) or number != int(number):
        raise ExportError(f"{name} must be a whole number, not {value!r}")
    return int(number)


def _number(name: str, value) -> float:
    if isinstance(value, bool):
        raise ExportError(f"{name} must be a number, not {value!r}")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ExportError(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(number):
        raise ExportError(f"{name} must be a finite number")
    return number


CHARTS = [*BUILDERS, *EXPORT_ONLY]


def validate(
    chart,
    sol_min,
    sol_max,
    fmt="png",
    width=None,
    height=None,
    scale=1,
    selection=None,
    *,
    xkey=None,
    ykey=None,
    bounds: tuple[int, int] | None = None,
) -> ExportRequest:
    """Check every parameter and return a normalised request, or raise ExportError.

    ``bounds`` is the (first, last) sol of the current dataset: a range that misses it
    entirely is refused; one that overlaps it is narrowed to it (the original tracker's
    README asks for sols 0..400, and the data starts at sol 13)."""
    if not isinstance(chart, str) or chart not in CHARTS:
        raise ExportError(f"unknown chart {chart!r}; choose one of: {', '.join(CHARTS)}")
    if chart == "xy":
        for name, key in (("xkey", xkey), ("ykey", ykey)):
            if not isinstance(key, str) or key not in FIELDS:
                raise ExportError(f"unknown {name} {key!r}; choose one of: {', '.join(FIELDS)}")
    elif xkey is not None or ykey is not None:
        raise ExportError(f"xkey/ykey apply to the 'xy' chart only, not {chart!r}")
    fmt = fmt.lower().strip() if isinstance(fmt, str) else fmt
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    lo, hi = _integer("sol_min", sol_min), _integer("sol_max", sol_max)
    if lo > hi:
        raise ExportError(f"sol range is reversed: sol_min {lo} is after sol_max {hi}")
    if bounds is not None:
        first, last = bounds
        if hi < first or lo > last:
            raise ExportError(f"sols {lo}..{hi} are outside the data, which covers sols {first}..{last}")
        lo, hi = max(lo, first), min(hi, last)
    default_w, default_h = DEFAULT_SIZE.get(chart, (1200, 600))
    w = default_w if width in (None, "") else _integer("width", width)
    h = default_h if height in (None, "") else _integer("height", height)
    for name, value in (("width", w), ("height", h)):
        if not MIN_PX <= value <= MAX_PX:
            raise ExportError(f"{name} {value} is out of bounds: use {MIN_PX}..{MAX_PX} pixels")
    s = _number("scale", 1 if scale in (None, "") else scale)
    if not MIN_SCALE <= s <= MAX_SCALE:
        raise ExportError(f"scale {s:g} is out of bounds: use {MIN_SCALE:g}..{MAX_SCALE:g}")
    if w * s * h * s > MAX_OUTPUT_PIXELS:
        raise ExportError(f"{w}x{h} at scale {s:g} is over {MAX_OUTPUT_PIXELS:,} output pixels")
    picked = None
    if selection is not None:
        if not isinstance(selection, (list, tuple)) or not all(isinstance(r, str) for r in selection):
            raise ExportError("selection must be a list of site_drive names such as \"3_110\"")
        if len(selection) > MAX_SELECTION:
            raise ExportError(f"selection has {len(selection):,} entries; at most {MAX_SELECTION:,}")
        picked = tuple(sorted(set(selection)))
    return ExportRequest(chart, lo, hi, fmt, w, h, round(s, 4), picked, xkey, ykey)


# ---------------------------------------------------------------------------------------
# queueing and status


@dataclass(frozen=True)
class ExportSettings:
    job_timeout: int = 60  # seconds one render may take
    result_ttl: int = 3600  # how long a finished export (and its file) is kept
    failure_ttl: int = 86400  # how long a failed export is kept, with its reason
    retries: int = 1  # an abandoned (worker killed) or failed render is tried once more


def file_key(prefix: str, job_id: str) -> str:
    return f"{prefix}export:file:{job_id}"


_RETRYABLE = (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)


def submit(connection: redis.Redis, prefix: str, version: str, request: ExportRequest,
           settings: ExportSettings = ExportSettings()) -> Job:
    """Queue the export, or return the existing job for the same request and dataset.

    A failed (or stopped) export asked for again is put back on the queue under the same
    id. A short Redis claim keeps two identical requests from queueing it twice."""
    job_id = request.job_id(version)
    existing = _fetch(connection, job_id)
    if existing is not None and existing.get_status() not in _RETRYABLE:
        return existing
    claim = f"{prefix}export:claim:{job_id}"
    if not connection.set(claim, "1", nx=True, ex=10):
        for _ in range(40):  # an identical request is queueing it right now
            time.sleep(0.05)
            existing = _fetch(connection, job_id)
            if existing is not None and existing.get_status() not in _RETRYABLE:
                return existing
        raise ExportError("the same export is being queued by another request; try again")
    try:
        existing = _fetch(connection, job_id)
        if existing is not None:
            status = existing.get_status()
            if status not in _RETRYABLE:
                return existing
            if status == JobStatus.FAILED:
                try:
                    job = existing.requeue()
                    job.meta.update(stage="queued", progress=0)
                    job.save_meta()
                    return job
                except Exception:  # no longer in the failed registry: queue it afresh
                    pass
            _forget(connection, existing)
        return Queue(QUEUE_NAME, connection=connection).enqueue(
            JOB_FUNCTION,
            kwargs={**request.kwargs(), "version": version, "prefix": prefix, "result_ttl": settings.result_ttl},
            job_id=job_id,
            job_timeout=settings.job_timeout,
            result_ttl=settings.result_ttl,
            failure_ttl=settings.failure_ttl,
            retry=Retry(max=settings.retries) if settings.retries else None,
            description=f"{request.title} {request.fmt.upper()}, sols {request.sol_min}-{request.sol_max}",
            meta={"chart": request.chart, "params": request.kwargs(), "version": version,
                  "stage": "queued", "progress": 0, "filename": request.filename,
                  "request_id": request_id_var.get()},  # the worker logs it with the job
        )
    finally:
        connection.delete(claim)


def _forget(connection: redis.Redis, job: Job) -> None:
    """Delete a finished-with job so its id can be queued again."""
    try:
        job.delete()
    except Exception:  # RQ may trip over execution records already cleaned up
        connection.delete(job.key)


def _fetch(connection: redis.Redis, job_id: str) -> Job | None:
    try:
        return Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return None


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def explain_failure(job: Job) -> str:
    """The reason a job failed, in words (no traceback)."""
    text = ""
    result = job.latest_result()
    if result is not None and result.exc_string:
        text = result.exc_string
    text = text or (job.exc_info or "")
    if "AbandonedJobError" in text:
        return "the worker rendering this export stopped (killed or crashed) before finishing"
    if "JobTimeoutException" in text:
        return f"rendering took longer than {job.timeout} s and was stopped"
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "failed for an unknown reason"


def describe(job: Job) -> dict:
    """A job's public status: what the page and the API show."""
    status = job.get_status()
    meta = job.get_meta()
    out = {
        "id": job.id,
        "chart": meta.get("chart"),
        "params": meta.get("params"),
        "status": status.value if status else "unknown",
        "stage": meta.get("stage"),
        "progress": meta.get("progress", 0),
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "ended_at": _iso(job.ended_at),
        "error": None,
        "filename": meta.get("filename"),
        "retries_left": job.retries_left,
    }
    if status == JobStatus.FAILED:
        out["error"] = explain_failure(job)
    if status == JobStatus.FINISHED:
        out["progress"] = 100
        out["stage"] = "done"
    return out


def status(connection: redis.Redis, job_id: str) -> dict | None:
    job = _fetch(connection, job_id)
    return describe(job) if job is not None else None


def download(connection: redis.Redis, prefix: str, job_id: str) -> tuple[bytes, str, str] | None:
    """(bytes, content type, file name) of a finished export, or None when it has none."""
    job = _fetch(connection, job_id)
    if job is None or job.get_status() != JobStatus.FINISHED:
        return None
    body = connection.get(file_key(prefix, job_id))
    if body is None:
        return None
    params = job.get_meta().get("params") or {}
    fmt = params.get("fmt", "png")
    return body, FORMATS.get(fmt, "application/octet-stream"), job.get_meta().get("filename", f"{job_id}.{fmt}")
