"""One way to ask for an export, for the page and the REST API alike: check the request
against the dataset, admit the client, queue the job, count it as the client's."""

from __future__ import annotations

from rq.job import Job

from dashboard.data.store import Dataset, DatasetStore
from dashboard.data.timeline import sol_bounds
from dashboard.exports.admission import admit, client_key, note_pending
from dashboard.exports.jobs import export_settings, submit
from dashboard.exports.recent import remember
from dashboard.exports.request import selection_names, validate
from dashboard.settings import Settings


def request_export(
    dataset: Dataset,
    chart: object,  # validated here: anything a client sent
    sol_min,
    sol_max,
    fmt="png",
    *,
    store: DatasetStore,
    settings: Settings,
    address: str | None,
    selection: list[str] | None = None,
    width=None,
    height=None,
    scale=1,
    xkey: str | None = None,
    ykey: str | None = None,
    bounds: tuple[int, int] | None = None,
    listed: bool = False,
) -> Job:
    """Validate, admit and queue one export of ``dataset``; return its RQ job.

    Raises :class:`~dashboard.exports.request.ExportError` for a request that cannot be
    exported (``ExportConflict``, a subclass, when the same export is being queued by
    another request right now), :class:`~dashboard.exports.admission.ExportBusy` when the
    client or the queue is over its limits; Redis errors go through. ``bounds`` defaults
    to the dataset's timeline (the union of its layers' sols); a ``selection`` names
    waypoints (``rmc``) of this dataset. ``listed`` puts the job on the recent-exports
    list (``GET /jobs/list``)."""
    request = validate(
        chart,
        sol_min,
        sol_max,
        fmt,
        width,
        height,
        scale,
        selection,
        xkey=xkey,
        ykey=ykey,
        bounds=bounds if bounds is not None else sol_bounds(dataset),
        names=selection_names(dataset.waypoints) if selection is not None else None,
    )
    client = client_key(address)
    admit(store.redis, store.prefix, client, settings.export_rate, settings.queue_max, settings.queue_client_max)
    job = submit(store.redis, store.prefix, dataset.version, request, export_settings(settings), client)
    note_pending(store.redis, store.prefix, client, job.id, settings.export_ttl)
    if listed:
        remember(store.redis, store.prefix, job.id)
    return job
