"""The export job: the page's figure, drawn by the worker's warm browser, stored with a TTL.

Enqueued by the web side as ``jobs.export.render`` with plain arguments. It loads the
dataset version the request was made on (the current one if that has been cleaned up),
builds the figure with the same ``dashboard.figures`` builder the page uses, renders it
(kaleido) and stores the bytes under ``<prefix>export:file:<job id>`` for ``result_ttl``
seconds. Progress goes to ``job.meta`` (stage, progress 0..100).
"""

from __future__ import annotations

from rq import get_current_job

from dashboard.exports import file_key, validate
from dashboard.figures import View, build
from dashboard.store import DatasetStore

from . import render as renderer
from .vector import for_export


def _progress(job, stage: str, progress: int) -> None:
    if job is not None:
        job.meta.update(stage=stage, progress=progress)
        job.save_meta()


def render(chart, sol_min, sol_max, fmt="png", width=None, height=None, scale=1, selection=None, xkey=None,
           ykey=None, *, version=None, prefix="ptracker:", result_ttl=3600) -> dict:
    job = get_current_job()
    connection = job.connection
    request = validate(chart, sol_min, sol_max, fmt, width, height, scale, selection, xkey=xkey, ykey=ykey)
    _progress(job, "loading data", 10)
    store = DatasetStore(connection, prefix)
    dataset = (store.read(version) if version else None) or store.current()
    if dataset is None:
        raise RuntimeError("no dataset is loaded: load the data, then export again")
    sols = None
    if request.selection is not None:
        wp = dataset.waypoints
        sols = sorted(int(s) for s in wp.loc[wp["rmc"].isin(request.selection), "sol"].unique())
    options = {"xkey": request.xkey, "ykey": request.ykey} if request.chart == "xy" else {}
    figure = build(request.chart, dataset.waypoints, dataset.traverse, dataset.traverse_points,
                   View.of(request.sol_min, request.sol_max, sols), **options)
    # vector traces (no WebGL bitmap in SVG/PDF), no more vertices than the file has pixels
    figure = for_export(figure, request.width, request.height, request.scale)
    _progress(job, "rendering", 40)
    timeout = max(5.0, min(30.0, (job.timeout or 60) - 5))
    body = renderer.to_image(figure, request.fmt, request.width, request.height, request.scale, timeout=timeout)
    _progress(job, "storing", 90)
    connection.set(file_key(prefix, job.id), body, ex=int(result_ttl))
    return {"bytes": len(body), "format": request.fmt, "width": request.width, "height": request.height,
            "scale": request.scale, "dataset_version": dataset.version, "filename": request.filename}
