"""Exports: the per-chart "Export" buttons and the replay's "Export replay" submit a job;
the list polls their status."""

from __future__ import annotations

import flask
import redis
from dash import ALL, Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from dashboard.data.store import Dataset, DatasetStore
from dashboard.exports.errors import ExportBusy, ExportConflict, ExportError
from dashboard.exports.request import REPLAY
from dashboard.exports.status import status_of
from dashboard.exports.submit import request_export, request_replay
from dashboard.page import ids
from dashboard.page.callbacks.current import STORE_DOWN, STORE_ERRORS, Stores, current_or, store_of
from dashboard.page.pieces import export_item
from dashboard.page.ranges import range_within, sol_bounds
from dashboard.settings import Settings

#: The page lists (and polls) at most this many of the session's exports, newest first.
MAX_PAGE_EXPORTS = 10
#: Job statuses that keep the list polling.
STILL_RUNNING = ("queued", "started", "deferred", "scheduled")
NO_DATASET = "Load the data before exporting."


def register(app, stores: Stores, settings: Settings) -> None:
    register_submit(app, stores, settings)
    register_poll(app, next(iter(stores.values())))


def register_submit(app, stores: Stores, settings: Settings) -> None:
    @app.callback(
        Output(ids.EXPORT_JOBS, "data"),
        Output(ids.EXPORT_MESSAGE, "children"),
        Input({"type": ids.EXPORT_BUTTON, "chart": ALL}, "n_clicks"),
        State({"type": ids.EXPORT_FORMAT, "chart": ALL}, "value"),
        State({"type": ids.EXPORT_FORMAT, "chart": ALL}, "id"),
        State(ids.SOL_RANGE, "value"),
        State(ids.SELECTION, "data"),
        State(ids.EXPORT_JOBS, "data"),
        State(ids.ROVER, "data"),
        prevent_initial_call=True,
        # While one submission is in flight the buttons are disabled: Dash keeps only the
        # newest answer of a callback, so a second click meanwhile would queue an export
        # whose id never reached the page's list.
        running=[(Output({"type": ids.EXPORT_BUTTON, "chart": ALL}, "disabled"), True, False)],
    )
    def submit_export(clicks, formats, format_ids, sol_range, selection, jobs, rover=None):
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not any(clicks or []):
            raise PreventUpdate
        chart = trigger.get("chart")
        fmt = next((f for f, i in zip(formats, format_ids, strict=False) if i.get("chart") == chart), None)
        store = store_of(stores, rover)  # the rover shown: its dataset is exported
        dataset = current_or(store, down=(no_update, STORE_DOWN), empty=(no_update, NO_DATASET))
        if not isinstance(dataset, Dataset):
            return dataset
        address = flask.request.remote_addr
        try:
            a, b = range_within(sol_range, *sol_bounds(dataset))
            if chart == REPLAY:  # the replay of the range as a video (default frames, fps and size)
                job = request_replay(dataset, a, b, fmt=fmt or "mp4", store=store, settings=settings, address=address)
            else:
                picked = selection if isinstance(selection, list) and chart != "map" else None
                fields = {"chart": chart, "sol_min": a, "sol_max": b, "fmt": fmt or "png", "selection": picked}
                job = request_export(dataset, fields, store=store, settings=settings, address=address)
        except ExportError as exc:
            return no_update, f"Cannot export: {exc}"
        except (ExportBusy, ExportConflict) as exc:
            return no_update, f"Not now: {exc}"
        except STORE_ERRORS:
            return no_update, STORE_DOWN
        kept = [j for j in (jobs or []) if isinstance(j, str) and j != job.id]
        return [job.id, *kept][:MAX_PAGE_EXPORTS], ""


def register_poll(app, store: DatasetStore) -> None:
    """The export list (``store``: any rover's: the jobs are the app's, not a rover's)."""

    @app.callback(
        Output(ids.EXPORT_LIST, "children"),
        Output(ids.EXPORT_POLL, "disabled"),
        Input(ids.EXPORT_POLL, "n_intervals"),
        Input(ids.EXPORT_JOBS, "data"),
    )
    def poll_exports(_tick, jobs):
        items, active = [], False
        try:
            for job_id in (jobs or [])[:MAX_PAGE_EXPORTS]:
                if not isinstance(job_id, str):
                    continue
                info = status_of(store.redis, job_id)
                if info is None:
                    continue  # expired
                active = active or info["status"] in STILL_RUNNING
                items.append(export_item(info))
        except redis.RedisError:
            return [html.Li(STORE_DOWN)], False  # keep polling: it may come back
        return items, not active
