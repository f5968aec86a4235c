"""What the page says: the summary strip, the "now" card (with how stale it is while
refreshes fail), the notice of new data, a waypoint's details, the export list's lines,
the outcome of a load, and where to load data when the button is withdrawn.

``*_items``/``*_fields`` give (label, value) text pairs (tested without a browser); the
``*_children`` functions wrap them in Dash HTML components.
"""

from __future__ import annotations

import re
from datetime import datetime

import pandas as pd
from dash import html

from dashboard.data.schema import source_label
from dashboard.data.store import Dataset
from dashboard.data.timeline import LAYER_LABELS, now, panorama_url
from dashboard.figures import TITLES
from dashboard.marstime import parse_utc
from dashboard.page import ids
from dashboard.rovers import ROVERS


def load_restricted() -> list:
    """Said where the "Load data" button would be when PTRACKER_ADMIN_TOKEN withdraws it."""
    return [
        "Loading is restricted to the operator: on the server run ",
        html.Code("python -m dashboard load"),
        " (in a container, the image's ",
        html.Code("load"),
        " command; in Kubernetes, ",
        html.Code("kubectl exec deploy/clock -c refresher -- python -m dashboard load"),
        "), or send ",
        html.Code("curl -X POST -H @admin.header https://<this site>/load"),
        " with the admin token in a header file (a line ",
        html.Code("Authorization: Bearer <token>"),
        ", kept off the command line). The data also refreshes by itself on a schedule.",
    ]


def _fmt_date(dataset: Dataset, sol: int) -> str:
    return dataset.calendar.sol_start(sol).strftime("%Y-%m-%d")


# ---------------------------------------------------------------------------------------
# the "now" card


def _current_layer_text(current: dict) -> str:
    """How fresh the current-position layer is, in words."""
    text = {"off": "not read", "unavailable": "unavailable"}.get(current["status"], "")
    if current["sol"] is not None:
        return f"sol {current['sol']}" + (f" ({text}, previous kept)" if text else "")
    return text or "none"


def now_items(dataset: Dataset, when=None) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The "now" card: (where the rover is, by the newest sol of any layer) and (how
    fresh each layer is), as (label, value) pairs."""
    return _now_items(now(dataset, when))


def _now_items(info: dict) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    if info.get("sol") is None:
        return [], []
    elev = "unknown" if info["elev_geoid_m"] is None else f"{info['elev_geoid_m']:.1f} m"
    legs = " (traverse legs)" if info["odometry_from"] == "traverse" else ""
    where = [
        ("Latest sol", f"sol {info['sol']}"),
        ("Earth date", f"{info['earth_date']} UTC · {info['ago']}"),
        ("Position", f"{info['lon']:.4f}° E, {info['lat']:.4f}° N"),
        ("Elevation", elev),
        ("Odometry", f"{info['odometry_km']:.2f} km{legs}"),
        ("From", f"the {LAYER_LABELS.get(info['layer'], info['layer'])}"),
    ]
    layers = info["layers"]
    traverse_max = layers["traverse"]["sol_max"]
    fresh = [
        ("Waypoints", f"to sol {layers['waypoints']['sol_max']}"),
        ("Traverse", f"to sol {traverse_max}" if traverse_max is not None else "none"),
        ("Current position", _current_layer_text(layers["current"])),
    ]
    return where, fresh


def _pairs(items: list[tuple[str, str]], cls: str) -> html.Dl:
    return html.Dl(
        className=cls,
        children=[
            html.Div(
                className="now-pair",
                children=[html.Dt(label), html.Dd(value, id=ids.now_value(label))],
            )
            for label, value in items
        ],
    )


#: an HTTP status in a load failure's words ("wp.json: HTTP 500 Internal Server Error")
HTTP_STATUS = re.compile(r"\bHTTP \d{3}\b")
#: characters of a failure's words the now card repeats
FAILURE_CHARS = 120


def _utc_minute(raw) -> str:
    when = parse_utc(raw)
    return when.strftime("%Y-%m-%d %H:%M UTC") if when is not None else str(raw or "an unknown time")


def failure_reason(error: str | None) -> str:
    """A load failure in a few words: its HTTP status when it has one, else the problem
    without the source's name in front ("x.json: could not connect" -> "could not connect")."""
    text = str(error or "").strip()
    status = HTTP_STATUS.search(text)
    if status:
        return status.group(0)
    problem = text.split(": ", 1)[-1]
    return problem if len(problem) <= FAILURE_CHARS else problem[: FAILURE_CHARS - 1] + "…"


def rover_note(rover: str, loaded: bool, last_load: dict | None) -> str | None:
    """What the page says of a served rover whose data is missing or whose latest load
    failed (None when its data is there and its loads succeed)."""
    label = ROVERS[rover].label
    failed = bool(last_load) and last_load.get("ok") is False  # type: ignore[union-attr]
    reason = failure_reason(last_load.get("error")) if failed and last_load else ""
    if not loaded:
        return f"{label}'s data is missing: " + (f"its load failed ({reason})." if failed else "not loaded yet.")
    if failed:
        return f"{label}'s data may be out of date: its latest refresh failed ({reason})."
    return None


def staleness_text(last_load: dict | None, sol: int | None, ago: str | None) -> str | None:
    """What the now card says while refreshes fail (the load record ``last_load`` not ok):
    since when the source has failed, why, and how old the shown position is (``sol``,
    ``ago``: the newest sol shown and how long ago it began). None while loads succeed."""
    if not last_load or last_load.get("ok") is not False:
        return None
    reason = failure_reason(last_load.get("error"))
    since = last_load.get("failing_since")
    if since:
        head = f"NASA's source has not answered since {_utc_minute(since)}"
    else:
        head = f"The latest refresh failed at {_utc_minute(last_load.get('at'))}"
    head += f" ({reason})" if reason else ""
    if sol is None:
        return head + "."
    return f"{head}; the position shown is from sol {sol}, {ago}."


def new_data_notice(seen: dict | None, latest: dict) -> str:
    """The notice when an open page takes a new dataset version: "New drive: sol N, +X m"
    (X: odometry gained since the version the page showed, ``seen``); "New data: sol N"
    when the rover has not driven further (or the page had nothing to compare with)."""
    sol, odometry = latest.get("sol"), latest.get("odometry_m")
    before = (seen or {}).get("odometry_m")
    if isinstance(odometry, (int, float)) and isinstance(before, (int, float)) and odometry - before >= 0.05:
        gained = odometry - before
        return f"New drive: sol {sol}, +{gained:,.0f} m" if gained >= 10 else f"New drive: sol {sol}, +{gained:.1f} m"
    return f"New data: sol {sol}" if sol is not None else "New data"


def now_position(dataset: Dataset, when: datetime | None = None) -> dict:
    """The newest sol and the odometry there (what the notice of new data compares)."""
    info = now(dataset, when)
    return {"sol": info.get("sol"), "odometry_m": info.get("odometry_m")}


def now_children(dataset: Dataset, when=None, last_load: dict | None = None) -> list:
    info = now(dataset, when)
    where, fresh = _now_items(info)
    if not where:
        return []
    stale = staleness_text(last_load, info.get("sol"), info.get("ago"))
    return [
        html.H2("Where the rover is now", id=ids.NOW_TITLE),
        *([html.P(stale, id=ids.NOW_STALE, className="now-stale")] if stale else []),
        _pairs(where, "now-where"),
        html.H3("Freshness of NASA's layers"),
        _pairs(fresh, "now-fresh"),
    ]


# ---------------------------------------------------------------------------------------
# the summary strip


def summary_items(dataset: Dataset, last_load: dict | None = None) -> list[tuple[str, str]]:
    """(label, value) pairs of the summary strip."""
    wp, legs = dataset.waypoint_layer if "layer" in dataset.waypoints else dataset.waypoints, dataset.traverse
    latest = wp.iloc[-1]
    items = [
        ("Latest waypoint", f"sol {int(latest['sol'])} · {_fmt_date(dataset, int(latest['sol']))} UTC"),
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
    source = source_label(meta.get("layers", {}).get("waypoints", {}).get("source")) or "?"
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


# ---------------------------------------------------------------------------------------
# a waypoint's details


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
        fields.append((str(name), text))
    fields.insert(1, ("earth_date", f"{_fmt_date(dataset, int(row['sol']))} (UTC, start of sol)"))
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
                id=ids.PANORAMA_LINK,
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


def selection_status(rmcs: list[str] | None) -> str:
    """What the page says about the waypoints selected on the map."""
    if not rmcs:
        return ""
    return f"{len(rmcs)} waypoint{'s' if len(rmcs) != 1 else ''} selected on the map"


# ---------------------------------------------------------------------------------------
# loading and exports


def load_message(summary: dict) -> str:
    """The outcome of a load from the page (``summary``: what dashboard.data.load.load returned)."""
    wp, tr = summary["waypoints"], summary["traverse"]
    cur: dict = summary.get("current") or {}
    said = {
        "newer": f", and the current position (sol {cur.get('sol')})",
        "same": f", and the current position (sol {cur.get('sol')})",
        "unavailable": "; the current position could not be read"
        + (f" (kept sol {cur.get('sol')})" if cur.get("kept") else ""),
        "older": "; the current position was older than the waypoints",
    }.get(cur.get("status") or "", "")
    return (
        f"Loaded {wp['rows']} waypoints (sols {wp['sol_min']}–{wp['sol_max']}) "
        f"and {tr['rows']} traverse segments (sols {tr['sol_min']}–{tr['sol_max']}){said}."
    )


def export_label(info: dict) -> str:
    """An export's chart, format, range and selection, in words."""
    params = info.get("params") or {}
    chart = str(info.get("chart"))
    label = (
        f"{TITLES.get(chart, chart)} {str(params.get('fmt', '')).upper()}, "
        f"sols {params.get('sol_min')}–{params.get('sol_max')}"
    )
    if params.get("rover") in ROVERS:  # another rover than Perseverance: named first
        label = f"{ROVERS[params['rover']].label}: {label}"
    if params.get("selected"):
        label += f" ({params['selected']} selected waypoints)"
    return label


def export_item(info: dict) -> html.Li:
    """One line of the page's export list."""
    label = export_label(info)
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
    return html.Li(children, id=ids.export_item(info["id"]), className=f"export-item export-{state}")
