"""Pure figure builders: frames + a view -> a plotly figure (as a plain dict).

Used by the Dash callbacks and by the export job, so the exported file is the figure
the page shows. Builders read nothing global (no ``dash.callback_context``, no store):
same inputs, same figure.

Figures are plain dicts in plotly's JSON schema, with numeric arrays as typed-array
specs (``{"dtype": "f8", "bdata": <base64>}``, which plotly.js decodes natively): dcc.Graph
and kaleido take them as they are, and building them costs ~1 ms instead of ~10 ms
of ``go.Figure`` validation per chart. ``go.Figure(fig)`` validates one when wanted
(the unit tests do). :func:`values` decodes an array back.

Large inputs are thinned for display (min/max per bucket for series, a vertex budget
for the traverse path, sols binned for the bars) so the page stays light; below the
budgets every point is drawn.

Modules: :mod:`.common` (the view, typed arrays, thinning, theme and layout),
:mod:`.series` (the traces the charts over time share), :mod:`.charts` (orientation,
position, elevation), :mod:`.map` (the traverse map), :mod:`.distance` and
:mod:`.fields` (the export-only field-against-field chart). What other code imports is
re-exported here.

Every builder takes one :class:`ChartData` (a stored ``Dataset``, or :class:`Frames`) and
a :class:`View`. What a builder derives from a dataset version's frames alone (the map's
path levels, the traverse by sol) goes through the data's ``memo``: for a ``Dataset``
built once per version and dropped with it; ``Frames`` keep theirs likewise.
"""

from __future__ import annotations

from collections.abc import Callable

from dashboard.figures.charts import elevation, elevation_distance, orientation, position
from dashboard.figures.common import (
    BAR_BUDGET,
    MAP_POINT_BUDGET,
    PATH_BUDGET,
    SERIES_BUDGET,
    ChartData,
    Figure,
    Frames,
    View,
    arr,
    for_data,
    thin_indices,
    values,
)
from dashboard.figures.distance import distance
from dashboard.figures.fields import FIELDS, xy
from dashboard.figures.map import PATH_MEMO_KEY, path_xy, traverse_map

__all__ = [
    "BAR_BUDGET",
    "BUILDERS",
    "EXPORT_ONLY",
    "FIELDS",
    "ChartData",
    "Frames",
    "MAP_POINT_BUDGET",
    "PATH_BUDGET",
    "PATH_MEMO_KEY",
    "SERIES_BUDGET",
    "TITLES",
    "View",
    "arr",
    "build",
    "path_xy",
    "thin_indices",
    "values",
]

#: Chart name -> builder. The names are the ones the page, the API and exports use.
BUILDERS: dict[str, Callable[..., Figure]] = {
    "orientation": orientation,
    "position": position,
    "map": traverse_map,
    "elevation": elevation,
    "elevation_distance": elevation_distance,
    "distance": distance,
}

#: Charts that only exports draw (not on the page): one field against another.
EXPORT_ONLY = {"xy": xy}

TITLES = {
    "orientation": "Orientation",
    "position": "Position",
    "map": "Traverse map",
    "elevation": "Elevation by sol",
    "elevation_distance": "Elevation by distance",
    "distance": "Distance driven",
    "xy": "Field against field",
}


def build(chart: str, dataset: ChartData, view: View, **options) -> Figure:
    """Build one chart by name (KeyError for an unknown name); ``options`` go to the
    builder (``xkey``/``ykey`` for ``xy``)."""
    builder = BUILDERS.get(chart) or EXPORT_ONLY[chart]
    return builder(dataset, for_data(view, dataset), **options)
