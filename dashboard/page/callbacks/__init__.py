"""Dash callbacks: thin (inputs -> current dataset -> figure builders and page pieces).

One module per area of the page, each with a ``register`` function: the sol range
(:mod:`.sol_range`), the charts (:mod:`.charts`), the now card and new data while the
page is open (:mod:`.live`), the map's selection and details (:mod:`.selection`),
loading (:mod:`.load`), exports (:mod:`.exports`), Mars around the rover
(:mod:`.mars`), the replay's frames (:mod:`.replay`), the rover shown (:mod:`.rover`) and both
rovers on one chart (:mod:`.compare`). The range
maths live in :mod:`dashboard.page.ranges`, what the page says in :mod:`dashboard.page.pieces`.
"""

from __future__ import annotations

from dashboard.page.callbacks import charts, compare, exports, live, load, mars, replay, rover, selection, sol_range
from dashboard.page.callbacks.current import STORE_DOWN, STORE_FULL, Stores
from dashboard.settings import Settings

__all__ = ["STORE_DOWN", "STORE_FULL", "register_callbacks"]


def register_callbacks(app, stores: Stores, settings: Settings) -> None:
    """Every callback of the page, on ``app`` (never Dash's global registry); ``stores``:
    the served rovers' stores by name (the page's rover, ``ids.ROVER``, picks one)."""
    sol_range.register(app, stores)
    rover.register(app, stores, settings)
    charts.register(app, stores)
    live.register(app, stores)
    selection.register(app, stores)
    load.register(app, stores, settings)
    exports.register(app, stores, settings)
    mars.register(app, stores)
    replay.register(app, stores)
    compare.register(app, stores)
