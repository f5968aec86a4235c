"""``GET /rovers``: the rovers this server follows (``PTRACKER_ROVERS``), each with its
newest sol, position and freshness, and where its routes live (``/perseverance/...``,
``/curiosity/...``: twins with the same answers, :func:`dashboard.api.blueprint.twins`).

A rover whose dataset is not loaded yet (or whose last load failed) is listed with what
is known: ``loaded`` false, and the load record's error in words. Redis away answers 503
like every data route.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from dashboard.api.blueprint import route, settings, stores
from dashboard.api.live_routes import load_state
from dashboard.api.openapi import DATA, NO_REDIS, Answers
from dashboard.api.schemas import NoQuery, parse_query
from dashboard.data.timeline import now
from dashboard.http import json_response
from dashboard.rovers import ROVERS

RoverName = Literal["perseverance", "curiosity"]


class RoverNow(BaseModel):
    rover: RoverName = Field(description="the rover's name in routes and URLs")
    name: str
    mission: str
    place: str
    routes: str = Field(description="the path its data routes start with, e.g. /curiosity/sol")
    sol_epoch_utc: str = Field(description="when its sol 0 began (UTC): every date it serves follows it")
    loaded: bool = Field(description="a dataset of this rover is loaded")
    dataset_version: str | None = None
    sol: int | None = Field(None, description="the newest sol of any of its layers")
    earth_date: str | None = None
    lon: float | None = None
    lat: float | None = None
    odometry_m: float | None = None
    loaded_at: str | None = None
    checked_at: str | None = Field(None, description="when its layers were last checked (the latest load attempt)")
    failing_since: str | None = Field(None, description="while its loads fail: since when")
    error: str | None = Field(None, description="while its loads fail: why, in words")


ROVERS_ANSWERS = Answers(HTTP_200=(list[RoverNow], "the rovers served"), HTTP_503=NO_REDIS)


def rover_now(name: str) -> dict:
    """One rover's entry of ``GET /rovers``."""
    rover = ROVERS[name]
    store = stores()[name]
    dataset = store.current()
    entry: dict = {
        "rover": name,
        "name": rover.label,
        "mission": rover.mission,
        "place": rover.place,
        "routes": f"/{name}",
        "sol_epoch_utc": rover.calendar.epoch.isoformat().replace("+00:00", "Z"),
        "loaded": dataset is not None,
        "dataset_version": None if dataset is None else dataset.version,
        **dict.fromkeys(("sol", "earth_date", "lon", "lat", "odometry_m", "loaded_at")),
        **load_state(store.last_load()),
    }
    if dataset is not None:
        info = now(dataset)
        entry |= {k: info.get(k) for k in ("sol", "earth_date", "lon", "lat", "odometry_m")}
        entry["loaded_at"] = (dataset.meta or {}).get("loaded_at")
    return entry


@route("/rovers", "GET", tags=DATA, resp=ROVERS_ANSWERS)
def rovers():
    """the rovers served, each with its newest sol, position and freshness

    Each rover's data routes are twins under its name: /perseverance/sol and
    /curiosity/sol answer alike, each from its own rover's dataset and calendar."""
    parse_query(NoQuery)
    return json_response([rover_now(name) for name in settings().rovers])
