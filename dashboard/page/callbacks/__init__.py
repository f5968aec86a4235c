"""Dash callbacks: thin (inputs -> current dataset -> figure builders and page pieces).

One module per area of the page, each with a ``register`` function: the sol range
(:mod:`.sol_range`), the charts (:mod:`.charts`), the now card and new data while the
page is open (:mod:`.live`), the map's selection and details (:mod:`.selection`),
loading (:mod:`.load`), exports (:mod:`.exports`), Mars around the rover
(:mod:`.mars`) and the replay's frames (:mod:`.replay`). The range
maths live in :mod:`dashboard.page.ranges`, what the page says in :mod:`dashboard.page.pieces`.
"""

from __future__ import annotations

from dashboard.data.store import DatasetStore
from dashboard.page.callbacks import charts, exports, live, load, mars, replay, selection, sol_range
from dashboard.page.callbacks.current import STORE_DOWN, STORE_FULL
from dashboard.settings import Settings

__all__ = ["STORE_DOWN", "STORE_FULL", "register_callbacks"]


def register_callbacks(app, store: DatasetStore, settings: Settings) -> None:
    """Every callback of the page, on ``app`` (never Dash's global registry)."""
    sol_range.register(app, store)
    charts.register(app, store)
    live.register(app, store)
    selection.register(app, store)
    load.register(app, store, settings)
    exports.register(app, store, settings)
    mars.register(app, store)
    replay.register(app, store)
