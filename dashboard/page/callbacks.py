"""Dash callbacks: thin (inputs -> current dataset -> figure builders).

The helpers above ``register_callbacks`` are plain functions, tested without a browser.
"""

from __future__ import annotations

import math
from urllib.parse import parse_qs, urlencode

import flask
import pandas as pd
import redis
from dash import ALL, Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from dashboard import exports
from dashboard.data.load import LoadError, load
from dashboard.data.store import Dataset, DatasetStore, StoreError
from dashboard.data.timeline import LAYER_LABELS, now, panorama_url
from dashboard.data.timeline import sol_bounds as timeline_bounds
from dashboard.figures import BUILDERS, TITLES, View, build
from dashboard.marstime import sol_start
from dashboard.page import ids
from dashboard.settings import Settings

STORE_DOWN = "The data store (Redis) is not reachable right now; showing nothing new until it is back."
STORE_FULL = (
    "Loading failed: the data store (Redis) is out of memory, so the new data was not saved; the data shown stays."
)


def load_restricted() -> list:
    """Said where the "Load data" button would be when PTRACKER_ADMIN_TOKEN withdraws it."""
    return [
        "Loading is restricted to the operator: on the server run ",
        html.Code("python -m dashboard load"),
        " (in a container, the image's ",
        html.Code("load"),
        " command; in Kubernetes, a Job from the CronJob ",
        html.Code("refresh-data"),
        "), or send ",
        html.Code('curl -X POST -H "Authorization: Bearer $PTRACKER_ADMIN_TOKEN" https://<this site>/load'),
        " with the admin token.",
    ]


# ---------------------------------------------------------------------------------------
# pure helpers


def _int_or_none(value) -> int | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    return int(round(number))


def clamp_range(a, b, lo: int, hi: int) -> tuple[int, int]:
    """An ordered range within [lo, hi]; missing ends take the bounds."""
    a, b = _int_or_none(a), _int_or_none(b)
    a = lo if a is None else min(max(a, lo), hi)
    b = hi if b is None else min(max(b, lo), hi)
    return (a, b) if a <= b else (b, a)


def range_from_query(search: str | None, lo: int, hi: int) -> tuple[int, int]:
    query = parse_qs((search or "").lstrip("?"))
    return clamp_range(query.get("sol_min", [None])[0], query.get("sol_max", [None])[0], lo, hi)


def range_query(a: int, b: int, time_axis: str = "sol") -> str:
    """The page's query string; ``axis=date`` only when the time axes show Earth dates."""
    params = {"sol_min": a, "sol_max": b}
    if time_axis == "date":
        params["axis"] = "date"
    return "?" + urlencode(params)


def axis_from_query(search: str | None) -> str:
    return "date" if parse_qs((search or "").lstrip("?")).get("axis", [""])[0] == "date" else "sol"


def sol_bounds(dataset: Dataset) -> tuple[int, int]:
    """The timeline: the union of the layers' sols (waypoints, current position, traverse)."""
    return timeline_bounds(dataset)


def slider_marks(lo: int, hi: int) -> dict:
    """Labels at round sols (at most about five of them) plus both ends; a round mark
    closer to an end than 0.6 steps is dropped, so labels do not collide on a phone."""
    span = max(hi - lo, 1)
    step = next(
        (s for s in (1, 2, 5, 10, 20, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000) if span / s <= 5),
        100000,
    )
    marks = {s: str(s) for s in range(math.ceil(lo / step) * step, hi + 1, step)}
    marks.update({lo: str(lo), hi: str(hi)})
    return {k: v for k, v in sorted(marks.items()) if k in (lo, hi) or min(k - lo, hi - k) >= step * 0.6}


def selection_from(selected: dict | None) -> list[str] | None:
    """site_drive names of the waypoints selected on the map (None when nothing is)."""
    points = selected.get("points") if isinstance(selected, dict) else None
    if not isinstance(points, list) or not points:
        return None
    rmcs = {p["customdata"] for p in points if isinstance(p, dict) and isinstance(p.get("customdata"), str)}
    return sorted(rmcs) or None


def sols_of(dataset: Dataset, rmcs: list[str] | None) -> list[int] | None:
    """The sols of the named waypoints (None for no selection)."""
    if not rmcs:
        return None
    wp = dataset.waypoints
    return sorted(int(s) for s in wp.loc[wp["rmc"].isin(rmcs), "sol"].unique())


def chart_figures(
    dataset: Dataset, sol_min: int, sol_max: int, selection=None, time_axis: str = "sol"
) -> dict[str, dict]:
    """Every chart of the page for a range (and optional map selection)."""
    view = View.of(sol_min, sol_max, selection, time_axis)
    return {name: build(name, dataset.waypoints, dataset.traverse, dataset.traverse_points, view) for name in BUILDERS}


def _fmt_date(sol: int) -> str:
    return sol_start(sol).strftime("%Y-%m-%d")


def now_items(dataset: Dataset, when=None) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The "now" card: (where the rover is, by the newest sol of any layer) and (how
    fresh each layer is), as (label, value) pairs."""
    info = now(dataset, when)
    if info.get("sol") is None:
        return [], []
    elev = "unknown" if info["elev_geoid_m"] is None else f"{info['elev_geoid_m']:.1f} m"
    where = [
        ("Latest sol", f"sol {info['sol']}"),
        ("Earth date", f"{info['earth_date']} UTC · {info['ago']}"),
        ("Position", f"{info['lon']:.4f}° E, {info['lat']:.4f}° N"),
        ("Elevation", elev),
        (
            "Odometry",
            f"{info['odometry_km']:.2f} km" + (" (traverse legs)" if info["odometry_from"] == "traverse" else ""),
        ),
        ("From", f"the {LAYER_LABELS.get(info['layer'], info['layer'])}"),
    ]
    layers = info["layers"]
    cur = layers["current"]
    cur_text = {"off": "not read", "unavailable": "unavailable"}.get(cur["status"], "")
    if cur["sol"] is not None:
        cur_text = f"sol {cur['sol']}" + (f" ({cur_text}, previous kept)" if cur_text else "")
    elif not cur_text:
        cur_text = "none"
    fresh = [
        ("Waypoints", f"to sol {layers['waypoints']['sol_max']}"),
        (
            "Traverse",
            f"to sol {layers['traverse']['sol_max']}" if layers["traverse"]["sol_max"] is not None else "none",
        ),
        ("Current position", cur_text),
    ]
    return where, fresh


def now_children(dataset: Dataset, when=None) -> list:
    where, fresh = now_items(dataset, when)
    if not where:
        return []

    def pairs(items, cls):
        return html.Dl(
            className=cls,
            children=[
                html.Div(
                    className="now-pair",
                    children=[html.Dt(label), html.Dd(value, id=f"now-{label.lower().replace(' ', '-')}")],
                )
                for label, value in items
            ],
        )

    return [
        html.H2("Where the rover is now", id="now-title"),
        pairs(where, "now-where"),
        html.H3("Freshness of NASA's layers"),
        pairs(fresh, "now-fresh"),
    ]


def summary_items(dataset: Dataset, last_load: dict | None = None) -> list[tuple[str, str]]:
    """(label, value) pairs of the summary strip."""
    wp, legs = dataset.waypoint_layer if "layer" in dataset.waypoints else dataset.waypoints, dataset.traverse
    latest = wp.iloc[-1]
    items = [
        ("Latest waypoint", f"sol {int(latest['sol'])} · {_fmt_date(int(latest['sol']))} UTC"),
        ("Odometry at that waypoint", f"{latest['dist_total_m'] / 1000:.2f} km"),
        ("Elevation there", "unknown" if pd.isna(latest["elev_geoid"]) else f"{latest['elev_geoid']:.1f} m"),
    ]
    if len(legs):
        driven = legs[legs["length_m"] > 0]
        sol_max = legs["sol"].max()
        to_sol = f" to sol {int(sol_max)}" if pd.notna(sol_max) else ""
        items.append(("Drives (traverse)", f"{len(driven):,}{to_sol}, {legs['length_m'].sum() / 1000:.2f} km"))
    meta = dataset.meta
    loaded = meta.get("loaded_at", "?")
    source = meta.get("layers", {}).get("waypoints", {}).get("source", "?")
    items.append(("Data loaded", f"{loaded.replace('T', ' ').replace('Z', ' UTC')} from {source}"))
    if last_load and not last_load.get("ok"):
        items.append(("Last load attempt failed", f"{last_load.get('at', '')}: {last_load.get('error', '')}"))
    return items


def summary_children(dataset: Dataset, last_load: dict | None = None) -> list:
    return [
        html.Div(
            className="summary-item",
            children=[html.Span(label, className="summary-label"), html.Span(value, className="summary-value")],
        )
        for label, value in summary_items(dataset, last_load)
    ]


def waypoint_fields(dataset: Dataset, rmc: str) -> list[tuple[str, str]] | None:
    rows = dataset.waypoints[dataset.waypoints["rmc"] == rmc]
    if rows.empty:
        return None
    row = rows.iloc[0]
    fields = []
    for name, value in row.items():
        if pd.isna(value):
            text = "—"
        elif isinstance(value, float):
            text = f"{value:.6g}" if name not in ("lat", "lon") else f"{value:.8f}"
        else:
            text = str(value)
        fields.append((name, text))
    fields.insert(1, ("earth_date", f"{_fmt_date(int(row['sol']))} (UTC, start of sol)"))
    return fields


def waypoint_panorama(dataset: Dataset, rmc: str) -> str | None:
    """The absolute URL of a waypoint's NASA panorama (None when it has none)."""
    rows = dataset.waypoints[dataset.waypoints["rmc"] == rmc]
    if rows.empty or pd.isna(rows["image_url"].iloc[0]):
        return None
    layer = rows["layer"].iloc[0] if "layer" in rows and pd.notna(rows["layer"].iloc[0]) else "waypoints"
    source = (dataset.meta or {}).get("layers", {}).get(layer, {}).get("source")
    return panorama_url(rows["image_url"].iloc[0], source)


def details_children(dataset: Dataset, rmc: str) -> list:
    fields = waypoint_fields(dataset, rmc)
    if fields is None:
        return [html.P(f"Waypoint {rmc} is not in the current dataset.")]
    pano = waypoint_panorama(dataset, rmc)
    return [
        html.H2(f"Waypoint {rmc}"),
        html.P(
            html.A(
                "NASA panorama at this waypoint (JPG, opens in a new tab)",
                href=pano,
                id="panorama-link",
                target="_blank",
                rel="noopener noreferrer",
            )
        )
        if pano
        else html.P("No panorama for this waypoint.", className="muted"),
        html.Table(
            className="details-table",
            children=[html.Tbody([html.Tr([html.Th(name, scope="row"), html.Td(text)]) for name, text in fields])],
        ),
    ]


MAX_PAGE_EXPORTS = 10
ACTIVE = ("queued", "started", "deferred", "scheduled")


def export_item(info: dict) -> html.Li:
    """One line of the page's export list."""
    params = info.get("params") or {}
    label = (
        f"{TITLES.get(info.get('chart'), info.get('chart'))} {str(params.get('fmt', '')).upper()}, "
        f"sols {params.get('sol_min')}–{params.get('sol_max')}"
    )
    if params.get("selected"):
        label += f" ({params['selected']} selected waypoints)"
    state = info["status"]
    children: list = [html.Span(label, className="export-label")]
    if state == "finished":
        children += [
            html.Span("done", className="export-status"),
            html.A(
                "Download",
                href=f"/download/{info['id']}",
                download=info.get("filename") or "",
                className="export-download",
            ),
        ]
    elif state == "failed":
        children.append(html.Span(f"failed: {info.get('error')}", className="export-status export-status-failed"))
    else:
        stage = "queued" if state == "queued" else (info.get("stage") or state)
        children += [
            html.Progress(value=str(info.get("progress") or 0), max="100", **{"aria-label": f"{label}: {stage}"}),
            html.Span(stage, className="export-status"),
        ]
    return html.Li(children, id=f"export-{info['id']}", className=f"export-item export-{state}")


# ---------------------------------------------------------------------------------------


def register_callbacks(app, store: DatasetStore, settings: Settings) -> None:
    def current() -> Dataset | None:
        return store.current()

    @app.callback(
        Output(ids.SOL_RANGE, "value"),
        Output(ids.SOL_RANGE, "min"),
        Output(ids.SOL_RANGE, "max"),
        Output(ids.SOL_RANGE, "marks"),
        Output(ids.SOL_MIN, "value"),
        Output(ids.SOL_MAX, "value"),
        Output(ids.URL, "search"),
        Output(ids.DOWNLOAD_CSV, "href"),
        Output(ids.DOWNLOAD_GEOJSON, "href"),
        Output(ids.TIME_AXIS, "value"),
        Input(ids.URL, "search"),
        Input(ids.SOL_RANGE, "value"),
        Input(ids.TIME_AXIS, "value"),
        Input(ids.SOL_MIN, "n_submit"),
        Input(ids.SOL_MIN, "n_blur"),
        Input(ids.SOL_MAX, "n_submit"),
        Input(ids.SOL_MAX, "n_blur"),
        Input(ids.DATA_VERSION, "data"),
        State(ids.SOL_MIN, "value"),
        State(ids.SOL_MAX, "value"),
    )
    def sync_range(search, slider, time_axis, _s1, _b1, _s2, _b2, _version, typed_min, typed_max):
        try:
            dataset = current()
        except (redis.RedisError, StoreError):
            raise PreventUpdate from None
        if dataset is None:
            raise PreventUpdate
        lo, hi = sol_bounds(dataset)
        trigger = ctx.triggered_id
        if trigger == ids.SOL_RANGE and isinstance(slider, list) and len(slider) == 2:
            a, b = clamp_range(slider[0], slider[1], lo, hi)
        elif trigger in (ids.SOL_MIN, ids.SOL_MAX):
            # an empty or half-typed box falls back to the slider's end
            current_a, current_b = slider if isinstance(slider, list) and len(slider) == 2 else (lo, hi)
            a, b = clamp_range(
                typed_min if _int_or_none(typed_min) is not None else current_a,
                typed_max if _int_or_none(typed_max) is not None else current_b,
                lo,
                hi,
            )
        elif trigger == ids.TIME_AXIS:
            a, b = range_from_query(search, lo, hi)
        else:  # first render, a load from the page, or the URL changed (back/forward, a shared link)
            a, b = range_from_query(search, lo, hi)
        axis = (
            ("date" if time_axis == "date" else "sol")
            if trigger == ids.TIME_AXIS
            else (
                axis_from_query(search)
                if trigger in (ids.URL, None, ids.DATA_VERSION)
                else ("date" if time_axis == "date" else "sol")
            )
        )
        query, data_query = range_query(a, b, axis), range_query(a, b)
        return (
            [a, b],
            lo,
            hi,
            slider_marks(lo, hi),
            a,
            b,
            (query if query != search else no_update),
            f"/perseverance/waypoints.csv{data_query}",
            f"/perseverance/waypoints.geojson{data_query}",
            axis if axis != time_axis else no_update,
        )

    outputs = [Output(ids.GRAPHS[name], "figure") for name in BUILDERS]

    @app.callback(
        *outputs,
        Output(ids.SUMMARY, "children"),
        Output(ids.NOW, "children"),
        Output(ids.STATUS, "children"),
        Output(ids.EMPTY_STATE, "hidden"),
        Output(ids.CONTROLS, "hidden"),
        Output(ids.CHARTS, "hidden"),
        Input(ids.SOL_RANGE, "value"),
        Input(ids.SELECTION, "data"),
        Input(ids.DATA_VERSION, "data"),
        Input(ids.TIME_AXIS, "value"),
    )
    def update_charts(sol_range, selection, _version, time_axis):
        keep = [no_update] * len(outputs)
        try:
            dataset = current()
            last_load = store.last_load()
        except (redis.RedisError, StoreError):
            return *keep, no_update, no_update, STORE_DOWN, no_update, no_update, no_update
        if dataset is None:
            return *keep, [], [], "", False, True, True
        lo, hi = sol_bounds(dataset)
        a, b = clamp_range(*(sol_range if isinstance(sol_range, list) and len(sol_range) == 2 else (lo, hi)), lo, hi)
        sols = sols_of(dataset, [str(r) for r in selection] if isinstance(selection, list) else None)
        figures = chart_figures(dataset, a, b, sols, "date" if time_axis == "date" else "sol")
        if ctx.triggered_id == ids.SELECTION and sols:
            # The map already shows the selection it made; drawing it again would clear
            # plotly's selection box (and with it the selection). Reset redraws it.
            figures["map"] = no_update
        return (
            *[figures[name] for name in BUILDERS],
            summary_children(dataset, last_load),
            now_children(dataset),
            "",
            True,
            False,
            False,
        )

    @app.callback(
        Output(ids.SELECTION, "data"),
        Output(ids.SELECTION_STATUS, "children"),
        Input(ids.GRAPHS["map"], "selectedData"),
        Input(ids.RESET_SELECTION, "n_clicks"),
        prevent_initial_call=True,
    )
    def select_on_map(selected, _reset):
        if ctx.triggered_id == ids.RESET_SELECTION:
            return None, ""
        rmcs = selection_from(selected)
        if rmcs is None:
            return None, ""
        return rmcs, f"{len(rmcs)} waypoint{'s' if len(rmcs) != 1 else ''} selected on the map"

    @app.callback(
        Output(ids.DETAILS, "children"),
        Input(ids.GRAPHS["map"], "clickData"),
        prevent_initial_call=True,
    )
    def show_details(click):
        points = click.get("points") if isinstance(click, dict) else None
        first = points[0] if isinstance(points, list) and points else None
        rmc = first.get("customdata") if isinstance(first, dict) else None
        if not isinstance(rmc, str):
            raise PreventUpdate  # a click on the path, not on a waypoint
        try:
            dataset = current()
        except (redis.RedisError, StoreError):
            return [html.P(STORE_DOWN)]
        if dataset is None:
            raise PreventUpdate
        return details_children(dataset, rmc)

    @app.callback(
        Output(ids.LOAD_STATUS, "children"),
        Output(ids.DATA_VERSION, "data"),
        Input(ids.LOAD_BUTTON, "n_clicks"),
        State(ids.DATA_VERSION, "data"),
        prevent_initial_call=True,
    )
    def load_data(_clicks, _version):
        if settings.admin_token:  # the button is not offered; a forged click gets nothing
            return load_restricted(), no_update
        try:
            summary = load(store, settings)
        except LoadError as exc:
            return f"Loading failed: {exc}", no_update
        except redis.exceptions.OutOfMemoryError:
            return STORE_FULL, no_update
        except (redis.RedisError, StoreError):
            return STORE_DOWN, no_update
        wp, tr = summary["waypoints"], summary["traverse"]
        cur = summary.get("current") or {}
        said = {
            "newer": f", and the current position (sol {cur.get('sol')})",
            "same": f", and the current position (sol {cur.get('sol')})",
            "unavailable": "; the current position could not be read"
            + (f" (kept sol {cur.get('sol')})" if cur.get("kept") else ""),
            "older": "; the current position was older than the waypoints",
        }.get(cur.get("status"), "")
        return (
            f"Loaded {wp['rows']} waypoints (sols {wp['sol_min']}–{wp['sol_max']}) "
            f"and {tr['rows']} traverse segments (sols {tr['sol_min']}–{tr['sol_max']}){said}."
        ), summary["version"]

    export_settings = exports.export_settings(settings)

    @app.callback(
        Output(ids.EXPORT_JOBS, "data"),
        Output(ids.EXPORT_MESSAGE, "children"),
        Input({"type": ids.EXPORT_BUTTON, "chart": ALL}, "n_clicks"),
        State({"type": ids.EXPORT_FORMAT, "chart": ALL}, "value"),
        State({"type": ids.EXPORT_FORMAT, "chart": ALL}, "id"),
        State(ids.SOL_RANGE, "value"),
        State(ids.SELECTION, "data"),
        State(ids.EXPORT_JOBS, "data"),
        prevent_initial_call=True,
        # While one submission is in flight the buttons are disabled: Dash keeps only the
        # newest answer of a callback, so a second click meanwhile would queue an export
        # whose id never reached the page's list.
        running=[(Output({"type": ids.EXPORT_BUTTON, "chart": ALL}, "disabled"), True, False)],
    )
    def submit_export(clicks, formats, format_ids, sol_range, selection, jobs):
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not any(clicks or []):
            raise PreventUpdate
        chart = trigger.get("chart")
        fmt = next((f for f, i in zip(formats, format_ids) if i.get("chart") == chart), "png")
        try:
            dataset = current()
            if dataset is None:
                return no_update, "Load the data before exporting."
            lo, hi = sol_bounds(dataset)
            a, b = clamp_range(
                *(sol_range if isinstance(sol_range, list) and len(sol_range) == 2 else (lo, hi)), lo, hi
            )
            picked = selection if isinstance(selection, list) and chart != "map" else None
            request = exports.validate(
                chart,
                a,
                b,
                fmt,
                selection=picked,
                bounds=(lo, hi),
                names=exports.selection_names(dataset.waypoints) if picked else None,
            )
            client = exports.client_key(flask.request.remote_addr)
            exports.admit(
                store.redis, store.prefix, client, settings.export_rate, settings.queue_max, settings.queue_client_max
            )
            job = exports.submit(store.redis, store.prefix, dataset.version, request, export_settings, client)
            exports.note_pending(store.redis, store.prefix, client, job.id, settings.export_ttl)
        except exports.ExportError as exc:
            return no_update, f"Cannot export: {exc}"
        except exports.ExportBusy as exc:
            return no_update, f"Not now: {exc}"
        except (redis.RedisError, StoreError):
            return no_update, STORE_DOWN
        kept = [j for j in (jobs or []) if isinstance(j, str) and j != job.id]
        return [job.id, *kept][:MAX_PAGE_EXPORTS], ""

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
                info = exports.status(store.redis, job_id)
                if info is None:
                    continue  # expired
                active = active or info["status"] in ACTIVE
                items.append(export_item(info))
        except redis.RedisError:
            return [html.Li(STORE_DOWN)], False  # keep polling: it may come back
        return items, not active
