"""What every chart shares: the view, typed arrays, selecting and thinning rows, the
theme and the layout."""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field, replace
from typing import Protocol, TypeVar

import numpy as np
import pandas as pd

from dashboard.data.memo import Memo
from dashboard.data.terrain import Crop
from dashboard.marstime import M20, SolCalendar
from dashboard.rovers import DEFAULT_ROVER, ROVERS

#: Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000"]
SOL_COLORSCALE = "Viridis"  # perceptually uniform, colour-blind safe
SERIES_BUDGET = 2000  # points per series trace before min/max thinning
MAP_POINT_BUDGET = 4000  # waypoint markers on the map
PATH_BUDGET = 6000  # traverse vertices on the map (~4 m apart over NASA's whole 42.5 km drive)
GAP_DEGREES = 2e-5  # |dlon| + |dlat| above which two legs do not join (~1 m)
GL_THRESHOLD = 2500  # WebGL traces above this many points
#: markers an SVG series draws at most within the axes' view (plotly's marker.maxdisplayed:
#: evenly picked, all of them once zooming leaves fewer in view). Each marker is an SVG
#: element plotly styles one by one: they were most of the time the page took to draw
MARKER_BUDGET = 150
BAR_BUDGET = 1500  # bars in the distance chart before sols are binned
GAP_SOLS = 60  # more sols than this without data: the line breaks (NASA's own gaps are <= 42)
CURRENT_COLOR = "#D55E00"  # the current-position layer's star

_AXIS = {
    "gridcolor": "#E5ECF6",
    "linecolor": "#A2B1C6",
    "zerolinecolor": "#C8D4E3",
    "ticks": "outside",
    "tickcolor": "#A2B1C6",
}
#: Each axis may push the margins across itself only (an x axis's labels the bottom/top, a
#: y axis's the left/right). ``automargin: True`` lets either push every side, and with the
#: map's equal-scale axes (``scaleanchor``) each push moved the other axis's labels: plotly
#: redrew the map with the context layers up to 18 times in its auto-margin loop
#: (3.6 s; 0.75 s like this, in headless Chromium on this machine).
X_AUTOMARGIN, Y_AUTOMARGIN = "top+bottom", "left+right"
#: A note in the plot's top left corner (an annotation's placement): the climb's words on
#: the elevation profile, the sol stamp on a replay's frames.
TOP_LEFT_NOTE = {
    "xref": "paper",
    "yref": "paper",
    "x": 0.01,
    "y": 0.99,
    "xanchor": "left",
    "yanchor": "top",
    "showarrow": False,
    "align": "left",
}
#: A light template of our own, in the spirit of plotly's "plotly_white".
TEMPLATE = {
    "layout": {
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "font": {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 13, "color": "#1f2a36"},
        "xaxis": {**_AXIS, "automargin": X_AUTOMARGIN},
        "yaxis": {**_AXIS, "automargin": Y_AUTOMARGIN},
        "colorway": PALETTE,
        "hoverlabel": {"align": "left"},
    }
}

Figure = dict  # {"data": [trace, ...], "layout": {...}}
T = TypeVar("T")


class ChartData(Protocol):
    """What a figure builder draws from: a dataset version's frames and its memo (a
    :class:`~dashboard.data.store.Dataset` is one; :class:`Frames` is one made of frames)."""

    @property
    def waypoints(self) -> pd.DataFrame: ...
    @property
    def traverse(self) -> pd.DataFrame | None: ...
    @property
    def traverse_points(self) -> pd.DataFrame | None: ...
    def memo(self, key: Hashable, build: Callable[[], T], /) -> T: ...


@dataclass(frozen=True)
class Frames:
    """Frames to draw that belong to no stored version (tests, benchmarks): what builders
    derive from them is kept with them, as a :class:`~dashboard.data.store.Dataset` keeps it."""

    waypoints: pd.DataFrame
    traverse: pd.DataFrame | None = None
    traverse_points: pd.DataFrame | None = None
    #: the context layers, as a stored Dataset has them (None: not loaded)
    flights: pd.DataFrame | None = None
    samples: pd.DataFrame | None = None
    terrain: Crop | None = None
    _memo: Memo = field(default_factory=Memo, init=False, repr=False, compare=False)

    def memo(self, key: Hashable, build: Callable[[], T], /) -> T:
        return self._memo.get(key, build)


def arr(values, dtype: str = "f8") -> dict:
    """A numeric array as a plotly typed-array spec."""
    np_dtype = {"f8": "<f8", "f4": "<f4", "i4": "<i4"}[dtype]
    data = np.ascontiguousarray(np.asarray(values), dtype=np_dtype)
    return {"dtype": dtype, "bdata": base64.b64encode(data.tobytes()).decode("ascii")}


def values(spec) -> np.ndarray:
    """Decode a typed-array spec (or pass a list through) as a numpy array."""
    if isinstance(spec, dict) and "bdata" in spec:
        np_dtype = {"f8": "<f8", "f4": "<f4", "i4": "<i4"}[spec["dtype"]]
        return np.frombuffer(base64.b64decode(spec["bdata"]), dtype=np_dtype)
    return np.asarray(spec)


@dataclass(frozen=True)
class View:
    """What a figure shows: an inclusive sol range, an optional sol selection, the time
    axis of the charts by sol (``"sol"``, or ``"date"``: the UTC start of each sol), and the
    rover's sol calendar the dates follow (:func:`dashboard.figures.build` sets the data's)."""

    sol_min: int
    sol_max: int
    sols: frozenset[int] | None = None  # a map selection narrows the other charts
    time_axis: str = "sol"
    calendar: SolCalendar = M20
    rover: str = DEFAULT_ROVER  # whose data (named in the titles when not Perseverance)

    @classmethod
    def of(cls, sol_min, sol_max, sols: Iterable[int] | None = None, time_axis: str = "sol") -> View:
        lo, hi = int(sol_min), int(sol_max)
        if lo > hi:
            lo, hi = hi, lo
        return cls(
            lo,
            hi,
            frozenset(int(s) for s in sols) if sols is not None else None,
            "date" if time_axis == "date" else "sol",
        )


def rover_of(data: ChartData) -> str:
    """The rover the data is of (a stored ``Dataset`` names it; ``Frames`` are Perseverance's)."""
    name = getattr(data, "rover", None)
    return name if name in ROVERS else DEFAULT_ROVER


def calendar_of(data: ChartData) -> SolCalendar:
    """The sol calendar of the data's rover (a stored ``Dataset`` names it; ``Frames``
    are Perseverance's unless they say otherwise)."""
    return ROVERS.get(getattr(data, "rover", None) or DEFAULT_ROVER, ROVERS[DEFAULT_ROVER]).calendar


def for_data(view: View, data: ChartData) -> View:
    """``view`` for the data's rover: dated by its calendar, titled with its name."""
    calendar, rover = calendar_of(data), rover_of(data)
    return view if view.calendar is calendar and view.rover == rover else replace(view, calendar=calendar, rover=rover)


def context_layer(data: ChartData, name: str):
    """A context layer of the data (``flights``, ``samples``, ``terrain``), None when it is
    not loaded or the data has no such field."""
    return getattr(data, name, None)


# ---------------------------------------------------------------------------------------
# selecting and thinning


def in_range(frame: pd.DataFrame, view: View, use_selection: bool = True) -> pd.DataFrame:
    sol = frame["sol"]
    mask = (sol >= view.sol_min) & (sol <= view.sol_max)
    if use_selection and view.sols is not None:
        mask &= sol.isin(view.sols)
    keep = mask.fillna(False).to_numpy(dtype=bool)
    return frame if keep.all() else frame[keep]  # the whole range: no copy


def thin_indices(y: np.ndarray, budget: int) -> np.ndarray:
    """Indices keeping the first, last, minimum and maximum of each bucket (M4-style),
    at most ``budget`` of them; all indices when there are no more than ``budget``."""
    n = len(y)
    if n <= budget:
        return np.arange(n)
    buckets = max(1, budget // 4)
    size = math.ceil(n / buckets)
    padded = np.full(buckets * size, np.nan)
    padded[:n] = y
    grid = padded.reshape(buckets, size)
    starts = np.arange(buckets) * size
    lows = starts + np.argmin(np.where(np.isnan(grid), np.inf, grid), axis=1)
    highs = starts + np.argmax(np.where(np.isnan(grid), -np.inf, grid), axis=1)
    ends = np.minimum(starts + size - 1, n - 1)
    keep = np.unique(np.concatenate([starts, ends, lows, highs]))
    return keep[keep < n]


def scatter_type(n: int) -> str:
    return "scattergl" if n > GL_THRESHOLD else "scatter"


def layer_of(frame: pd.DataFrame) -> str:
    """The layer of a one-layer frame (its first row's)."""
    if "layer" not in frame or not len(frame):
        return "waypoints"
    first = frame["layer"].iloc[0]
    return "waypoints" if pd.isna(first) else str(first)


def split_current(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows of the waypoint layer, rows of the current-position layer). The current
    position is at most the last row, so only the tail is looked at (no copy otherwise)."""
    if "layer" not in frame or not len(frame):
        return frame, frame.iloc[0:0]
    tail = frame["layer"].iloc[-1]
    if tail != "current":
        return frame, frame.iloc[0:0]
    layer = frame["layer"]
    k = 1
    while k < len(frame) and layer.iloc[-k - 1] == "current":
        k += 1
    return frame.iloc[:-k], frame.iloc[-k:]  # slices: no copy of the frame


def time_x(sols, view: View):
    """Sols as the time axis wants them: sols (typed array), or ISO instants (a list,
    None for a gap) when the axis shows Earth dates."""
    sols = np.asarray(sols, dtype=float)
    if view.time_axis != "date":
        return arr(sols, "f4")  # whole sols are exact in float32 (to 16.7 M); NaN breaks a line
    return view.calendar.sol_instants(sols)


def time_axis(view: View, **kw) -> dict:
    if view.time_axis == "date":
        return {"title": {"text": "Earth date (UTC, start of sol)"}, "type": "date", **kw}
    return {"title": {"text": "Sol"}, **kw}


def chart_layout(title: str, **kw) -> dict:
    layout = {
        # the title at the top, the legend at the bottom of the figure (both in container
        # coordinates, which reserve their margins): on a narrow screen the legend wraps
        # onto more lines instead of covering the title
        # (below the height of plotly's modebar, which sits at the top right and would
        # cover a long title on a phone)
        "title": {
            "text": title,
            "x": 0.01,
            "xanchor": "left",
            "y": 1.0,
            "yref": "container",
            "yanchor": "top",
            "pad": {"t": 34},
            "automargin": True,
        },
        "template": TEMPLATE,
        "margin": {"l": 70, "r": 30, "t": 50, "b": 40},
        "legend": {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0, "xanchor": "left"},
        "hovermode": "closest",
    }
    layout.update(kw)
    return layout


def range_text(view: View) -> str:
    """The range in a figure's title; another rover than Perseverance is named first (an
    exported file then says whose drive it shows)."""
    text = f"sols {view.sol_min}–{view.sol_max}"
    if view.rover != DEFAULT_ROVER:
        text = f"{ROVERS[view.rover].label}, {text}"
    if view.sols is not None:
        text += f", {len(view.sols)} selected"
    return text


def figure_of(data: list, layout: dict, empty: bool) -> Figure:
    if empty:
        layout["annotations"] = [
            {
                "text": "No waypoints in this sol range",
                "showarrow": False,
                "x": 0.5,
                "y": 0.5,
                "xref": "paper",
                "yref": "paper",
                "font": {"size": 16},
            }
        ]
    return {"data": data, "layout": layout}
