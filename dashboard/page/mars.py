"""What the page says about Mars around the rover: the sample tubes filled by the end of
the range, Ingenuity's card, and which context layer is missing or stale, in words.

``*_items``/``*_text`` give text (tested without a browser); :func:`around_children`
wraps it in Dash HTML components for the "around the rover" card beside the now card.
"""

from __future__ import annotations

import pandas as pd
from dash import html

from dashboard.data.context_summary import context_now
from dashboard.data.ingenuity import flight_summary
from dashboard.data.samples import tubes_filled
from dashboard.data.store import Dataset
from dashboard.page import ids
from dashboard.rovers import ROVERS

#: what a layer's absence costs the page, said after the loader's words for its state
WITHOUT = {
    "ingenuity": "no flights on the maps",
    "samples": "no sample sites or sample sols",
    "terrain": "no relief under the map, no regional view, no ground profile",
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
    """One sentence per context layer that is not fresh (none when all are): the loader's
    own words for its state (:func:`~dashboard.data.context_summary.context_now`, as
    ``/perseverance/current`` says them), and what the page lacks without it."""
    notes = []
    for name, entry in context_now(dataset).items():
        if entry["status"] == "ok":
            continue
        text = entry["text"][:1].upper() + entry["text"][1:]
        notes.append(f"{text}." if entry["status"] == "stale" else f"{text}: {WITHOUT[name]}.")
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
    children: list = [html.H2("Mars around the rover", id=ids.AROUND_TITLE)]
    if ROVERS[dataset.rover].has_context:  # Curiosity has no sample tubes (nor Ingenuity)
        children.append(_pairs([(TUBES_LABEL, tubes_text(dataset.samples, sol))], "now-where"))
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
