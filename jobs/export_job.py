"""The export job: the page's figure, drawn by the worker's warm browser, stored with a TTL.

Enqueued by the web side as ``jobs.export_job.export_chart`` with plain (JSON) arguments. It loads
the dataset version the request was made on (and fails, saying so, if that version has
been dropped since: it never draws another one silently), builds the figure with the
same ``dashboard.figures`` builder the page uses, renders it (kaleido), refuses a file
over ``max_bytes``, charges it to the byte budgets (evicting the oldest finished exports
when they are full) and stores the bytes under ``<prefix>export:file:<job id>`` for
``result_ttl`` seconds. The job's result is only metadata. Progress goes to
``job.meta`` (stage, progress 0..100).
"""

from __future__ import annotations

from rq import get_current_job

from dashboard import exports
from dashboard.data.store import Dataset, DatasetStore
from dashboard.exports import ExportError, file_key, validate
from dashboard.figures import View, build
from dashboard.settings import DEFAULT_EXPORT_TIMEOUT, DEFAULT_KEY_PREFIX
from jobs import browser
from jobs.vector import for_export

#: Seconds one render may take in the browser: the job's timeout less RENDER_MARGIN (for
#: loading the data and storing the file), kept within RENDER_TIMEOUT_MIN..MAX.
RENDER_MARGIN = 5.0
RENDER_TIMEOUT_MIN, RENDER_TIMEOUT_MAX = 5.0, 30.0
#: job.meta progress (0..100) at each stage
PROGRESS = {"loading data": 10, "rendering": 40, "storing": 90}


class ExportFailed(RuntimeError):
    """A render that cannot succeed on a retry (the message is shown to the user)."""


def _progress(job, stage: str) -> None:
    if job is not None:
        job.meta.update(stage=stage, progress=PROGRESS[stage])
        job.save_meta()


def render_timeout(job_timeout: float | None) -> float:
    """Seconds the browser may take for one image, within a job of ``job_timeout`` s."""
    total = job_timeout or DEFAULT_EXPORT_TIMEOUT
    return max(RENDER_TIMEOUT_MIN, min(RENDER_TIMEOUT_MAX, total - RENDER_MARGIN))


def _final(job, message: str) -> ExportFailed:
    """A failure that a retry would only repeat: no retry is spent on it."""
    if job is not None:
        job.retries_left = 0
    return ExportFailed(message)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def _dataset(job, store: DatasetStore, version) -> Dataset:
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


def _selected_sols(job, dataset: Dataset, selection) -> list[int]:
    """The sols of the waypoints a (map) selection names."""
    try:
        names = exports.decode_selection(selection, exports.selection_names(dataset.waypoints))
    except ExportError as exc:
        raise _final(job, str(exc)) from None
    return dataset.sols_of(names)


def _render(job, figure: dict, request, max_bytes: int) -> bytes:
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


def export_chart(
    chart,
    sol_min,
    sol_max,
    fmt="png",
    width=None,
    height=None,
    scale=1,
    selection=None,
    xkey=None,
    ykey=None,
    *,
    version=None,
    prefix=DEFAULT_KEY_PREFIX,
    result_ttl=exports.ExportSettings.result_ttl,
    client="unknown",
    max_bytes=exports.ExportSettings.max_bytes,
    budget=exports.ExportSettings.budget,
    client_budget=exports.ExportSettings.client_budget,
) -> dict:
    job = get_current_job()
    if job is None:
        raise RuntimeError("export_chart runs as an RQ job (jobs.export_job.export_chart)")
    connection = job.connection
    try:
        request = validate(chart, sol_min, sol_max, fmt, width, height, scale, None, xkey=xkey, ykey=ykey)
    except ExportError as exc:
        raise _final(job, str(exc)) from None
    _progress(job, "loading data")
    dataset = _dataset(job, DatasetStore(connection, prefix), version)
    sols = None if selection is None else _selected_sols(job, dataset, selection)
    options = {"xkey": request.xkey, "ykey": request.ykey} if request.chart == "xy" else {}
    figure = build(
        request.chart,
        dataset.waypoints,
        dataset.traverse,
        dataset.traverse_points,
        View.of(request.sol_min, request.sol_max, sols),
        memo=dataset.memo,  # derived values (the map's path levels) live on the dataset version
        **options,
    )
    # vector traces (no WebGL bitmap in SVG/PDF), no more vertices than the file has pixels
    figure = for_export(figure, request.width, request.height, request.scale)
    _progress(job, "rendering")
    body = _render(job, figure, request, int(max_bytes))
    _progress(job, "storing")
    cost = len(body) + exports.JOB_OVERHEAD
    evicted = exports.account(
        connection, prefix, job.id, cost, client, int(result_ttl), int(budget), int(client_budget)
    )
    exports.evict(connection, prefix, evicted)
    connection.set(file_key(prefix, job.id), body, ex=int(result_ttl))
    return {
        "bytes": len(body),
        "format": request.fmt,
        "width": request.width,
        "height": request.height,
        "scale": request.scale,
        "dataset_version": dataset.version,
        "filename": request.filename,
    }
