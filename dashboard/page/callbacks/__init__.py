"""Dash callbacks: thin (inputs -> current dataset -> figure builders and page pieces).

One module per area of the page, each with a ``register`` function: the sol range
(:mod:`.sol_range`), the charts (:mod:`.charts`), the map's selection and details
(:mod:`.selection`), loading (:mod:`.load`) and exports (:mod:`.exports`). The range
maths live in :mod:`dashboard.page.ranges`, what the page says in :mod:`dashboard.page.pieces`.
"""

from __future__ import annotations

from dashboard.data.store import DatasetStore
from dashboard.page.callbacks import charts, exports, load, selection, sol_range
from dashboard.page.callbacks.charts import chart_figures, sols_of
from dashboard.page.callbacks.current import STORE_DOWN, STORE_FULL
from dashboard.page.callbacks.exports import MAX_PAGE_EXPORTS
from dashboard.page.callbacks.selection import selection_from
from dashboard.page.pieces import (
    details_children,
    export_item,
    load_restricted,
    now_children,
    now_items,
    summary_children,
    summary_items,
    waypoint_fields,
    waypoint_panorama,
)
from dashboard.page.ranges import (
    axis_from_query,
    clamp_range,
    range_from_query,
    range_query,
    slider_marks,
    sol_bounds,
)
from dashboard.settings import Settings

# The names this module offered before it became a package (tests, bench, app) stay importable.
__all__ = [
    "MAX_PAGE_EXPORTS",
    "STORE_DOWN",
    "STORE_FULL",
    "axis_from_query",
    "chart_figures",
    "clamp_range",
    "details_children",
    "export_item",
    "load_restricted",
    "now_children",
    "now_items",
    "range_from_query",
    "range_query",
    "register_callbacks",
    "selection_from",
    "slider_marks",
    "sol_bounds",
    "sols_of",
    "summary_children",
    "summary_items",
    "waypoint_fields",
    "waypoint_panorama",
]


def register_callbacks(app, store: DatasetStore, settings: Settings) -> None:
    """Every callback of the page, on ``app`` (never Dash's global registry)."""
    sol_range.register(app, store)
    charts.register(app, store)
    selection.register(app, store)
    load.register(app, store, settings)
    exports.register(app, store, settings)
