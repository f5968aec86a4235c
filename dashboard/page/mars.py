"""What the page says about Mars around the rover: the sample tubes filled by the end of
the range, Ingenuity's card, and which context layer is missing or stale, in words.

``*_items``/``*_text`` give text (tested without a browser); :func:`around_children`
wraps it in Dash HTML components for the "around the rover" card beside the now card.
"""

from __future__ import annotations

import pandas as pd
from dash import html

from dashboard.data.ingenuity import flight_summary
from dashboard.data.samples import tubes_filled
from dashboard.data.store import Dataset
from dashboard.page import ids

#: the context layers: Dataset field -> what the page calls it
CONTEXT_LAYERS = {"terrain": "Terrain (MOLA)", "flights": "Ingenuity's flights", "samples": "Sample tubes"}
#: what a layer's absence costs the page, said after its name
WITHOUT = {
    "terrain": "no relief under the map, no regional view, no ground profile",
    "flights": "no flights on the maps",
    "samples": "no sample sites or sample sols",
}
#: a layer's ``status`` in the dataset's metadata -> words
STATUS_WORDS = {
    "off": "not read (switched off)",
    "unavailable": "could not be read",
    "failed": "could not be read",
    "error": "could not be read",
    "stale": "stale",
}
TUBES_LABEL = "Sample tubes"


def tubes_text(samples: pd.DataFrame | None, sol: int) -> str:
    """How many tubes had been filled by the end of ``sol`` (the range's end)."""
    if samples is None:
        return "not loaded"
    filled, total = tubes_filled(samples, sol), len(samples)
    return f"{filled} of {total} filled by sol {sol}"


def ingenuity_items(flights: pd.DataFrame) -> list[tuple[str, str]]:
    """Ingenuity's card: flights, distance flown, airtime and the last flight, as
    (label, value) pairs (the deployment point is not a flight)."""
    s = flight_summary(flights)
    if not s["flights"]:
        deployed = s.get("deployment_sol")
        return [("Flights", "none yet" + (f" (deployed on sol {deployed})" if deployed is not None else ""))]
    date = f", {s['last_earth_date']}" if s.get("last_earth_date") else ""
    flown = f"{s['distance_km']:.1f} km"
    if s["flights_without_distance"]:
        flown += f" (+{s['flights_without_distance']} flights of unknown length)"
    return [
        ("Flights", f"{s['flights']}, sols {s['first_sol']}–{s['last_sol']}"),
        ("Flown", flown),
        ("Airtime", f"{s['airtime_s'] / 60:.0f} min"),
        ("Last flight", f"flight {s['last_flight']}, sol {s['last_sol']}{date}"),
    ]


def layer_notes(dataset: Dataset) -> list[str]:
    """One sentence per context layer that is missing or stale (none when all are fine):
    from the layer's record in the dataset's metadata when it has one, else from the
    layer being absent."""
    records = (dataset.meta or {}).get("layers", {})
    notes = []
    for name, label in CONTEXT_LAYERS.items():
        record = records.get(name) or {}
        status = str(record.get("status") or "")
        present = getattr(dataset, name, None) is not None
        if status in STATUS_WORDS:
            words = STATUS_WORDS[status]
            if record.get("error"):
                words += f": {record['error']}"
            if present and status != "stale":
                words += "; the previous copy is shown"
            notes.append(f"{label}: {words}." + ("" if present else f" ({WITHOUT[name]})"))
        elif not present:
            notes.append(f"{label}: not loaded ({WITHOUT[name]}).")
    return notes


def _pairs(items: list[tuple[str, str]], cls: str) -> html.Dl:
    return html.Dl(
        className=cls,
        children=[
            html.Div(className="now-pair", children=[html.Dt(label), html.Dd(value, id=ids.now_value(label))])
            for label, value in items
        ],
    )


def around_children(dataset: Dataset | None, sol: int) -> list:
    """The card: tubes filled by ``sol``, Ingenuity's card, the layers' notes."""
    if dataset is None:
        return []
    children: list = [
        html.H2("Mars around the rover", id=ids.AROUND_TITLE),
        _pairs([(TUBES_LABEL, tubes_text(dataset.samples, sol))], "now-where"),
    ]
    if dataset.flights is not None:
        children.append(
            html.Div(
                id=ids.INGENUITY,
                className="ingenuity-card",
                children=[
                    html.H3("Ingenuity, the Mars helicopter"),
                    _pairs(ingenuity_items(dataset.flights), "now-where"),
                ],
            )
        )
    notes = layer_notes(dataset)
    if notes:
        children.append(html.Ul([html.Li(n) for n in notes], id=ids.LAYER_NOTES, className="layer-notes"))
    return children
