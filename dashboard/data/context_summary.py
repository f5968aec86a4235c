"""The context layers (Ingenuity's flights, the sample tubes, the terrain) in words and
figures: their state in a load's summary and in "now", and the page's cards (the
helicopter's flights and the tubes filled, up to a sol). Pure code: metadata and frames
in, dicts and sentences out.

A context layer's ``status`` is one of :data:`STATUSES`: ``ok`` (read from its source at
the load that made this version, or unchanged since), ``stale`` (that load could not read
it; the previous copy is served), ``missing`` (it could not be read and there is no
previous copy) or ``off`` (no source configured).
"""

from __future__ import annotations

import pandas as pd

from dashboard.data.ingenuity import flight_summary
from dashboard.data.samples import tubes_filled
from dashboard.data.schema import source_label
from dashboard.rovers import DEFAULT_ROVER, ROVERS

#: The context layers, in the order summaries name them, and their Dataset fields.
CONTEXT_LAYERS = ("ingenuity", "samples", "terrain")
DATASET_FIELDS = {"ingenuity": "flights", "samples": "samples", "terrain": "terrain"}
#: The layers as people read them.
CONTEXT_LABELS = {"ingenuity": "Ingenuity flights", "samples": "sample tubes", "terrain": "terrain"}
STATUSES = ("ok", "stale", "missing", "off")
#: the longest problem quoted in a sentence
PROBLEM_CHARS = 60


def context_summary(layer: dict | None) -> dict:
    """A context layer's public summary (what summaries and the load answer show)."""
    layer = layer or {"status": "off", "source": None}
    out = {key: layer.get(key) for key in ("status", "source", "rows", "sol_min", "sol_max")}
    for key in ("flights", "sites", "columns", "bbox", "height_min_m", "height_max_m", "error", "problem"):
        if layer.get(key) is not None:
            out[key] = layer[key]
    if layer.get("skipped"):
        out["skipped"] = sum(layer["skipped"].values())
    return out


def context_text(name: str, info: dict) -> str:
    """One context layer's state in words, e.g. ``Ingenuity flights: 72 (sols 43..1036)`` or
    ``terrain missing (cannot connect: ...)``; "" when the layer is off."""
    label, status = CONTEXT_LABELS[name], info.get("status")
    if status == "ok":
        return f"{label}: {_what(name, info)}"
    if status in ("stale", "missing"):
        problem = info.get("problem") or "see --json"
        problem = problem if len(problem) <= PROBLEM_CHARS else problem[: PROBLEM_CHARS - 1] + "…"
        return f"{label} {status} ({problem}" + ("; previous copy kept)" if status == "stale" else ")")
    return ""


def _what(name: str, info: dict) -> str:
    sols = f"(sols {info.get('sol_min')}..{info.get('sol_max')})"
    if name == "ingenuity":
        return f"{info.get('flights')} {sols}"
    if name == "samples":
        return f"{info.get('rows')} at {info.get('sites')} sites {sols}"
    return f"{info.get('columns')} x {info.get('rows')} px MOLA crop"


def offered_layers(rover: str) -> tuple[str, ...]:
    """The context layers a rover has: all three for Perseverance, the terrain for Curiosity."""
    return CONTEXT_LAYERS if ROVERS[rover].has_context else ("terrain",)


def context_now(dataset) -> dict[str, dict]:
    """Each context layer's freshness for "now" (``/perseverance/current``): status, the
    last sol it covers (flights, samples), its source, and its state in words. A rover
    without Ingenuity and the sample tubes (Curiosity) has the terrain alone."""
    layers = (getattr(dataset, "meta", None) or {}).get("layers", {})
    out = {}
    for name in offered_layers(getattr(dataset, "rover", None) or DEFAULT_ROVER):
        info = layers.get(name) or {}
        loaded = getattr(dataset, DATASET_FIELDS[name], None) is not None
        status = info.get("status") or ("ok" if loaded else "off")
        entry = {"status": status, "source": source_label(info.get("source"))}
        if name != "terrain":
            entry["sol_max"] = info.get("sol_max") if loaded else None
        if info.get("problem"):
            entry["problem"] = info["problem"]
        entry["text"] = context_text(name, {**info, "status": status}) or f"{CONTEXT_LABELS[name]}: not read (off)"
        out[name] = entry
    return out


# --- the page's cards ------------------------------------------------------------------------


def ingenuity_card(flights: pd.DataFrame | None, sol: int | None = None) -> dict | None:
    """Ingenuity's flights up to the end of ``sol`` (all of them without one): the counts
    and totals of :func:`~dashboard.data.ingenuity.flight_summary` plus ``text``, e.g.
    "72 flights, 17.2 km flown, last flight sol 1036". None when the layer is not loaded."""
    if flights is None:
        return None
    shown = flights if sol is None else flights[flights["sol"].to_numpy() <= sol]
    card = flight_summary(shown)
    if not card["flights"]:
        deployed = card.get("deployment_sol")
        text = f"deployed on sol {deployed}, no flight yet" if deployed is not None else "no flight yet"
    else:
        count = f"{card['flights']} flight{'s' if card['flights'] != 1 else ''}"
        text = f"{count}, {card['distance_km']:.1f} km flown, last flight sol {card['last_sol']}"
    return {**card, "sol": sol, "text": text}


def samples_card(samples: pd.DataFrame | None, sol: int | None = None) -> dict | None:
    """The sample tubes filled by the end of ``sol`` (all without one): how many of all the
    layer's tubes, at how many sites, the last one's name and sol, and ``text``, e.g.
    "25 of 25 tubes filled, at 17 sites; the last on sol 1215". None when not loaded."""
    if samples is None:
        return None
    last_sol = int(samples["sol"].max()) if len(samples) else 0
    upto = last_sol if sol is None else sol
    filled = samples[samples["sol"].to_numpy() <= upto]
    count = tubes_filled(samples, upto)
    card: dict = {
        "sol": sol,
        "tubes_filled": count,
        "tubes_total": len(samples),
        "sites": int(filled["site"].nunique()),
        "last_sol": int(filled["sol"].max()) if count else None,
        "last_name": str(filled.sort_values("sol", kind="mergesort")["name"].iloc[-1]) if count else None,
    }
    tubes = "tube" if card["tubes_total"] == 1 else "tubes"
    text = f"{count} of {card['tubes_total']} {tubes} filled"
    if count:
        text += f", at {card['sites']} site{'s' if card['sites'] != 1 else ''}; the last on sol {card['last_sol']}"
    return {**card, "text": text}
