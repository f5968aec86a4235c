"""What changed and what an open page polls: the schemas of ``/perseverance/changes``
(``dashboard/api/feed_routes.py``) and ``/perseverance/version``
(``dashboard/api/live_routes.py``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, WithJsonSchema, field_validator

from dashboard.api.schemas import Layer, NoQuery
from dashboard.exports.request import whole

#: how many changes /perseverance/changes lists by default, and at most
CHANGES_DEFAULT, CHANGES_MAX = 20, 100


class ChangesQuery(NoQuery):
    """``/perseverance/changes``: how many of the newest changes."""

    limit: Annotated[int, WithJsonSchema({"type": "integer", "minimum": 1, "maximum": CHANGES_MAX})] = Field(
        CHANGES_DEFAULT, description=f"how many changes, newest first (1..{CHANGES_MAX}; default {CHANGES_DEFAULT})"
    )

    @field_validator("limit", mode="before")
    @classmethod
    def _limit(cls, value: Any) -> int:
        limit = CHANGES_DEFAULT if value in (None, "") else whole("limit", value)
        if not 1 <= limit <= CHANGES_MAX:
            raise ValueError(f"limit must be 1..{CHANGES_MAX}, not {limit}")
        return limit


class ChangePosition(BaseModel):
    sol: int = Field(description="the newest sol of any layer")
    earth_date: str | None = None
    lon: float
    lat: float
    elev_geoid_m: float | None = None
    layer: Layer | None = Field(None, description="the layer the position comes from")
    rmc: str | None = None


class Change(BaseModel):
    """What one dataset version changed on the rover's track."""

    version: str = Field(description="the dataset version that brought the change")
    previous_version: str | None = Field(None, description="the version before it (null: the first version)")
    first: bool = Field(description="the first version loaded: everything is new, nothing is compared")
    sol_min: int = Field(description="first sol the change is about (the page shows /?sol_min=&sol_max=)")
    sol_max: int = Field(description="last sol the change is about")
    new_sols: int = Field(description="sols of any layer that were not in the previous version")
    new_waypoints: int
    new_legs: int = Field(description="new traverse legs")
    distance_m: float | None = Field(
        None, description="metres driven since the previous version: the new legs' length, else the odometry's growth"
    )
    elevation_change_m: float | None = Field(None, description="the newest position's elevation change (m)")
    newest: ChangePosition
    layers_changed: list[Layer] = Field(description="the layers whose content changed")
    data_changed_at: str | None = Field(
        None, description="when NASA's data changed: the changed layers' Last-Modified, else when they were fetched"
    )
    loaded_at: str | None = None


class LiveVersion(BaseModel):
    """``/perseverance/version``: what an open page polls to learn of new data."""

    version: str | None = Field(description="the current dataset version (null: none loaded yet)")
    sol: int | None = Field(description="the newest sol of any layer")
    odometry_m: float | None = Field(description="odometry at that sol (m)")
    loaded_at: str | None = Field(description="when the current version was loaded (UTC)")
    checked_at: str | None = Field(description="the latest load attempt (UTC), whatever its outcome")
    failing_since: str | None = Field(
        description="while loads fail: since when (UTC), when the load record says; else null"
    )
    error: str | None = Field(description="while loads fail: the latest failure in words; else null")
