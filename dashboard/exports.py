"""Chart exports, web side: validate a request, queue it, report on it, hand out the file.

The web process never renders (and never imports kaleido): it enqueues the job by its
dotted name, ``jobs.export_job.export_chart``, with plain arguments. The same request on the same
dataset version gets the same job id, so a repeat returns the existing job (and its file
when finished) instead of rendering again.

Job data is JSON (RQ's ``JSONSerializer``, :data:`SERIALIZER`, used by the web side and
the worker alike): a job hash written with pickle is never unpickled, it reads back as
an error. A map selection is stored once, as a bitmask over the waypoints of the dataset
version it refers to (:func:`encode_selection`), after every name has been checked
against that version. Finished files live in their own keys, within a byte budget per
client and in total (:func:`account`): the oldest finished exports are evicted first.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import math
import re
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import orjson
import redis
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from dashboard.figures import BUILDERS, EXPORT_ONLY, FIELDS, MAP_POINT_BUDGET, TITLES
from dashboard.logs import request_id_var

QUEUE_NAME = "exports"
JOB_FUNCTION = "jobs.export_job.export_chart"
FORMATS = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
DEFAULT_SIZE = {"map": (1000, 800), "orientation": (1200, 700), "position": (1200, 650)}
MIN_PX, MAX_PX = 300, 4000  # below ~250 px a chart's titles, legend and margins leave no plot (kaleido: "axis scaling")
MIN_SCALE, MAX_SCALE = 0.25, 4.0
MAX_OUTPUT_PIXELS = 36_000_000  # width*scale x height*scale
MAX_SELECTION = MAP_POINT_BUDGET  # the map shows (and so can select) at most this many waypoints

#: The one serializer of the export queue, its jobs and their results (web and worker).
SERIALIZER = JSONSerializer


def queue(connection: redis.Redis) -> Queue:
    """The export queue, JSON-serialised: the only way this app opens it."""
    return Queue(QUEUE_NAME, connection=connection, serializer=SERIALIZER)


def client_key(address: str | None) -> str:
    """Who a request counts as for rate limits, queue shares and byte budgets: an IPv4
    address as is, an IPv6 client by its /64 (one home or host gets a whole /64, so
    counting single IPv6 addresses would give it 2**64 budgets)."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "unknown" if not address else address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class ExportError(ValueError):
    """A request that cannot be exported; the message says why, in words."""


class ExportBusy(RuntimeError):
    """Too many exports right now (per client, or in the queue); try again later."""

    def __init__(self, message: str, retry_after: int, http_status: int):
        super().__init__(message)
        self.retry_after, self.http_status = retry_after, http_status


_LIMITERS: dict[tuple, object] = {}
ACTIVE_STATUSES = (b"queued", b"started", b"deferred", b"scheduled")


def _limiter(connection: redis.Redis, prefix: str):
    """A moving-window rate limiter (the ``limits`` package) kept in this Redis, so every
    web process shares the counts."""
    key = (id(connection.connection_pool), prefix)
    limiter = _LIMITERS.get(key)
    if limiter is None:
        from limits.storage import RedisStorage
        from limits.strategies import MovingWindowRateLimiter

        storage = RedisStorage("redis://", connection_pool=connection.connection_pool, key_prefix=f"{prefix}limits")
        limiter = _LIMITERS[key] = MovingWindowRateLimiter(storage)
    return limiter


def _pending_key(prefix: str, client: str) -> str:
    return f"{prefix}export:pending:{client}"


def admit(
    connection: redis.Redis, prefix: str, client: str, rate: int, queue_max: int, client_queue_max: int = 10
) -> None:
    """Refuse (ExportBusy) a submission over the client's rate (a moving minute), when
    the client already has its share of the queue waiting, or when the queue is full.
    Counts live in Redis, so they are shared by every web process. ``client`` is
    :func:`client_key` of the address."""
    from limits import RateLimitItemPerMinute

    item = RateLimitItemPerMinute(rate)
    limiter = _limiter(connection, prefix)
    if not limiter.hit(item, "export", client):
        reset = limiter.get_window_stats(item, "export", client).reset_time
        retry = max(1, min(61, math.ceil(reset - time.time())))
        raise ExportBusy(f"too many exports: at most {rate} a minute; try again in {retry} s", retry, 429)
    waiting = queue(connection).count
    if waiting >= queue_max:
        raise ExportBusy(f"the export queue is full ({waiting} waiting); try again shortly", 30, 503)
    share = min(client_queue_max, queue_max)
    mine = pending(connection, prefix, client)
    if mine >= share:
        raise ExportBusy(
            f"you have {mine} exports waiting or rendering; at most {share} at a time: try again when one has finished",
            10,
            429,
        )


def pending(connection: redis.Redis, prefix: str, client: str) -> int:
    """How many of the client's exports are waiting or rendering (ended ones are dropped
    from its list here)."""
    key = _pending_key(prefix, client)
    ids = [raw.decode() for raw in connection.zrange(key, 0, -1)]
    if not ids:
        return 0
    pipe = connection.pipeline(transaction=False)
    for job_id in ids:
        pipe.hget(Job.key_for(job_id), "status")
    done = [j for j, st in zip(ids, pipe.execute()) if st not in ACTIVE_STATUSES]
    if done:
        connection.zrem(key, *done)
    return len(ids) - len(done)


def note_pending(connection: redis.Redis, prefix: str, client: str, job_id: str, ttl: int = 3600) -> None:
    key = _pending_key(prefix, client)
    pipe = connection.pipeline(transaction=False)
    pipe.zadd(key, {job_id: time.time()})
    pipe.expire(key, ttl)
    pipe.execute()


# ---------------------------------------------------------------------------------------
# the map selection: names checked against a dataset version, stored as a bitmask


def selection_names(waypoints) -> list[str]:
    """The selectable names of a dataset version, in a fixed order (the mask's bits)."""
    return list(dict.fromkeys(str(r) for r in waypoints["rmc"].tolist()))


def encode_selection(picked, names: list[str]) -> str:
    """The picked names as a base64 bitmask over ``names``; ExportError naming the first
    unknown ones if any is not in the dataset."""
    index = {name: i for i, name in enumerate(names)}
    unknown = [p for p in picked if p not in index]
    if unknown:
        shown = ", ".join(repr(u[:40]) for u in unknown[:3])
        raise ExportError(f"selection names {len(unknown):,} waypoint(s) not in this dataset, such as {shown}")
    bits = bytearray((len(names) + 7) // 8)
    for name in picked:
        i = index[name]
        bits[i // 8] |= 0x80 >> (i % 8)
    return base64.b64encode(bytes(bits)).decode()


def decode_selection(mask: str, names: list[str]) -> list[str]:
    try:
        bits = base64.b64decode(mask.encode(), validate=True)
    except (ValueError, AttributeError):
        raise ExportError("the stored selection is not a valid mask") from None
    if len(bits) != (len(names) + 7) // 8:
        raise ExportError("the stored selection does not fit this dataset version")
    return [name for i, name in enumerate(names) if bits[i // 8] & (0x80 >> (i % 8))]


def selected_count(mask: str | None) -> int:
    if not mask:
        return 0
    return sum(bin(b).count("1") for b in base64.b64decode(mask.encode()))


@dataclass(frozen=True)
class ExportRequest:
    chart: str
    sol_min: int
    sol_max: int
    fmt: str = "png"
    width: int = 1200
    height: int = 600
    scale: float = 1.0
    selection: str | None = None  # the map selection: a bitmask (encode_selection) over the version's names
    xkey: str | None = None  # chart "xy": the fields on x and y
    ykey: str | None = None

    def kwargs(self) -> dict:
        """Plain (JSON) arguments for the job function."""
        return asdict(self)

    def public(self) -> dict:
        """What a user needs to see about the request: the selection only as a count."""
        out = asdict(self)
        out["selected"] = selected_count(out.pop("selection"))
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
    names: list[str] | None = None,
) -> ExportRequest:
    """Check every parameter and return a normalised request, or raise ExportError.

    ``bounds`` is the (first, last) sol of the current dataset: a range that misses it
    entirely is refused; one that overlaps it is narrowed to it (the original tracker's
    README asks for sols 0..400, and the data starts at sol 13). A ``selection`` is a
    list of waypoint names; each must be one of ``names`` (the dataset version's, see
    :func:`selection_names`), and the request keeps it as a compact bitmask."""
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
            raise ExportError('selection must be a list of site_drive names such as "3_110"')
        if len(selection) > MAX_SELECTION:
            raise ExportError(f"selection has {len(selection):,} entries; at most {MAX_SELECTION:,}")
        if names is None:
            raise ExportError("a selection needs the dataset it refers to")
        picked = encode_selection(sorted(set(selection)), names) if selection else None
    return ExportRequest(chart, lo, hi, fmt, w, h, round(s, 4), picked, xkey, ykey)


# ---------------------------------------------------------------------------------------
# queueing and status


@dataclass(frozen=True)
class ExportSettings:
    job_timeout: int = 60  # seconds one render may take
    result_ttl: int = 3600  # how long a finished export (and its file) is kept
    failure_ttl: int = 86400  # how long a failed export is kept, with its reason
    retries: int = 1  # an abandoned (worker killed) or failed render is tried once more
    max_bytes: int = 10 * 1024 * 1024  # the largest file one export may produce
    budget: int = 192 * 1024 * 1024  # bytes all finished exports may hold in Redis
    client_budget: int = 32 * 1024 * 1024  # bytes one client's finished exports may hold


def export_settings(settings) -> ExportSettings:
    """The export settings of a :class:`dashboard.settings.Settings`."""
    return ExportSettings(
        job_timeout=settings.export_timeout,
        result_ttl=settings.export_ttl,
        max_bytes=settings.export_max_bytes,
        budget=settings.export_budget,
        client_budget=settings.export_client_budget,
    )


#: What one export costs in Redis besides its file (job hash, result, registry entries,
#: budget bookkeeping), charged against the budgets so that the number of kept jobs is
#: bounded too. Measured with MEMORY USAGE on a finished export: about 4 KiB.
JOB_OVERHEAD = 8 * 1024


def file_key(prefix: str, job_id: str) -> str:
    return f"{prefix}export:file:{job_id}"


_ACCOUNT = """
local files, sizes, owners, total_key, client_zset = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, size, client = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local now, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local total_budget, client_budget, client_prefix = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
local evicted = {}
local function size_of(v) return tonumber(redis.call('HGET', sizes, v) or '0') end
local function drop(v)
  local s = size_of(v)
  local owner = redis.call('HGET', owners, v)
  redis.call('ZREM', files, v)
  redis.call('HDEL', sizes, v)
  redis.call('HDEL', owners, v)
  if owner then redis.call('ZREM', client_prefix .. owner, v) end
  redis.call('DECRBY', total_key, s)
end
for _, v in ipairs(redis.call('ZRANGEBYSCORE', files, '-inf', '(' .. tostring(now))) do drop(v) end
if redis.call('ZSCORE', files, id) then drop(id) end
local mine = 0
for _, v in ipairs(redis.call('ZRANGE', client_zset, 0, -1)) do mine = mine + size_of(v) end
while mine + size > client_budget do
  local oldest = redis.call('ZRANGE', client_zset, 0, 0)[1]
  if not oldest then break end
  mine = mine - size_of(oldest)
  drop(oldest)
  redis.call('ZREM', client_zset, oldest)
  table.insert(evicted, oldest)
end
local total = tonumber(redis.call('GET', total_key) or '0')
while total + size > total_budget do
  local oldest = redis.call('ZRANGE', files, 0, 0)[1]
  if not oldest then break end
  total = total - size_of(oldest)
  drop(oldest)
  table.insert(evicted, oldest)
end
redis.call('ZADD', files, now + ttl, id)
redis.call('HSET', sizes, id, size)
redis.call('HSET', owners, id, client)
redis.call('ZADD', client_zset, now + ttl, id)
if redis.call('TTL', client_zset) < ttl then redis.call('EXPIRE', client_zset, ttl) end
redis.call('INCRBY', total_key, size)
return evicted
"""


def account(
    connection: redis.Redis, prefix: str, job_id: str, size: int, client: str, ttl: int, budget: int, client_budget: int
) -> list[str]:
    """Charge ``size`` bytes for a finished (or failed) export to its client and to the
    total, atomically (one Lua script). Entries are scored by when they expire (now +
    ``ttl``); expired ones are forgotten first; then the client's oldest exports, and then anyone's oldest, are chosen for
    eviction until both budgets hold the new one. Returns the ids to evict (:func:`evict`)."""
    base = f"{prefix}export:budget:"
    keys = [base + "files", base + "sizes", base + "owners", base + "total", base + "client:" + client]
    evicted = connection.eval(
        _ACCOUNT,
        len(keys),
        *keys,
        job_id,
        int(size),
        client,
        time.time(),
        int(ttl),
        int(budget),
        int(client_budget),
        base + "client:",
    )
    return [v.decode() if isinstance(v, bytes) else str(v) for v in evicted]


def evict(connection: redis.Redis, prefix: str, job_ids: list[str]) -> None:
    """Delete evicted exports: the file and the job with its result."""
    for job_id in job_ids:
        connection.delete(file_key(prefix, job_id))
        job = _fetch(connection, job_id)
        if job is not None:
            _forget(connection, job)


def budget_usage(connection: redis.Redis, prefix: str) -> int:
    raw = connection.get(f"{prefix}export:budget:total")
    return int(raw) if raw is not None else 0


_RETRYABLE = (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)


def submit(
    connection: redis.Redis,
    prefix: str,
    version: str,
    request: ExportRequest,
    settings: ExportSettings = ExportSettings(),
    client: str = "unknown",
) -> Job:
    """Queue the export, or return the existing job for the same request and dataset.

    A failed (or stopped) export asked for again is put back on the queue under the same
    id. A short Redis claim keeps two identical requests from queueing it twice."""
    job_id = request.job_id(version)
    existing = _fetch(connection, job_id)
    if existing is not None and existing.get_status() not in _RETRYABLE and not unreadable(existing):
        return existing
    claim = f"{prefix}export:claim:{job_id}"
    if not connection.set(claim, "1", nx=True, ex=10):
        for _ in range(40):  # an identical request is queueing it right now
            time.sleep(0.05)
            existing = _fetch(connection, job_id)
            if existing is not None and existing.get_status() not in _RETRYABLE and not unreadable(existing):
                return existing
        raise ExportError("the same export is being queued by another request; try again")
    try:
        existing = _fetch(connection, job_id)
        if existing is not None:
            status = existing.get_status()
            if status not in _RETRYABLE and not unreadable(existing):
                return existing
            if status == JobStatus.FAILED and not unreadable(existing):
                try:
                    job = existing.requeue()
                    job.meta.update(stage="queued", progress=0)
                    job.save_meta()
                    return job
                except Exception:  # no longer in the failed registry: queue it afresh
                    pass
            _forget(connection, existing)
        return queue(connection).enqueue(
            JOB_FUNCTION,
            kwargs={
                **request.kwargs(),
                "version": version,
                "prefix": prefix,
                "result_ttl": settings.result_ttl,
                "client": client,
                "max_bytes": settings.max_bytes,
                "budget": settings.budget,
                "client_budget": settings.client_budget,
            },
            job_id=job_id,
            job_timeout=settings.job_timeout,
            result_ttl=settings.result_ttl,
            failure_ttl=settings.failure_ttl,
            retry=Retry(max=settings.retries) if settings.retries else None,
            description=f"{request.title} {request.fmt.upper()}, sols {request.sol_min}-{request.sol_max}",
            meta={
                "chart": request.chart,
                "params": request.public(),
                "version": version,
                "stage": "queued",
                "progress": 0,
                "filename": request.filename,
                "request_id": request_id_var.get(),
            },  # the worker logs it with the job
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
        return Job.fetch(job_id, connection=connection, serializer=SERIALIZER)
    except NoSuchJobError:
        return None


UNREADABLE = (
    "this export's stored data is not JSON (an old or forged pickled job); "
    "it is refused and will not run: export it again"
)


def unreadable(job: Job) -> bool:
    """A job whose data or meta the JSON serializer cannot read (never unpickled)."""
    if "unserialized" in job.meta:
        return True
    try:
        job.kwargs  # noqa: B018 - decodes the job's data with the JSON serializer
    except Exception:  # DeserializationError, or data of the wrong shape
        return True
    return False


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


_EXC_PREFIX = re.compile(r"^(?:[\w.]+\.)?(?:ExportError|ExportFailed): ")


def explain_failure(job: Job) -> str:
    """The reason a job failed, in words (no traceback)."""
    text = ""
    try:
        result = job.latest_result()
    except Exception:  # a result the JSON serializer cannot read
        result = None
    if result is not None and result.exc_string:
        text = result.exc_string
    text = text or (job.exc_info or "")
    if "AbandonedJobError" in text:
        return "the worker rendering this export stopped (killed or crashed) before finishing"
    if "JobTimeoutException" in text:
        return f"rendering took longer than {job.timeout} s and was stopped"
    if "DeserializationError" in text:
        return UNREADABLE
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return _EXC_PREFIX.sub("", lines[-1])[:300] if lines else "failed for an unknown reason"


def describe(job: Job) -> dict:
    """A job's public status: what the page and the API show (no client, no selection)."""
    if unreadable(job):
        return {
            "id": job.id,
            "chart": None,
            "params": None,
            "status": "unreadable",
            "stage": None,
            "progress": 0,
            "created_at": _iso(job.created_at),
            "started_at": None,
            "ended_at": None,
            "error": UNREADABLE,
            "filename": None,
            "retries_left": 0,
        }
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
    """(bytes, content type, file name) of a finished export, or None when it has none.
    The file is its own key (bytes, with the job's TTL); the job result holds only
    metadata, so nothing binary ever passes through the JSON serializer."""
    job = _fetch(connection, job_id)
    if job is None or unreadable(job) or job.get_status() != JobStatus.FINISHED:
        return None
    body = connection.get(file_key(prefix, job_id))
    if body is None:
        return None
    params = job.get_meta().get("params") or {}
    fmt = params.get("fmt", "png")
    return body, FORMATS.get(fmt, "application/octet-stream"), job.get_meta().get("filename", f"{job_id}.{fmt}")
