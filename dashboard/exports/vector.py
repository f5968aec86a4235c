"""The page's figure, made fit for a static file: vector everywhere, no more points than pixels.

- WebGL traces (``scattergl``) become ``scatter``: in an SVG or PDF a WebGL layer is a
  bitmap (an ``<image>``), and in the export browser (SwiftShader, no GPU) WebGL is also the
  slowest way to draw. Everything else in the trace stays as it is.
- Points are thinned at the export's resolution: a vertex that falls in the same device
  pixel as the vertex drawn before it is dropped (breaks - NaN - and each run's first and
  last vertex are kept). Pixels are estimated from the whole figure size times ``scale``
  and the trace's own extent, which over-estimates the pixels per data unit, so the
  thinning errs on the side of keeping points. Per-point arrays (text, customdata,
  marker colours and sizes, selectedpoints) are thinned alike.

The page keeps its WebGL traces and its own thinning (``dashboard.figures``); this only
shapes what the export browser draws.
"""

from __future__ import annotations

import copy

import numpy as np

from dashboard.figures import arr, values

#: Per-point attributes of a scatter trace thinned with x and y.
POINT_KEYS = ("x", "y", "text", "hovertext", "customdata", "ids")
MARKER_POINT_KEYS = ("color", "size", "symbol", "opacity")
#: Traces shorter than this are left alone (thinning would not pay for itself).
MIN_POINTS = 500


def _decode(spec):
    if isinstance(spec, dict) and "bdata" in spec:
        return values(spec), spec["dtype"]
    return None, None


def _take(spec, keep: np.ndarray, n: int):
    """``spec`` (typed-array spec, list or scalar) restricted to ``keep`` when it is per point."""
    data, dtype = _decode(spec)
    if data is not None:
        return arr(data[keep], dtype) if len(data) == n else spec
    if isinstance(spec, (list, tuple)) and len(spec) == n:
        return [spec[i] for i in keep.tolist()]
    if isinstance(spec, np.ndarray) and len(spec) == n:
        return spec[keep]
    return spec


def _as_float(spec) -> np.ndarray | None:
    data, _ = _decode(spec)
    if data is None:
        try:
            data = np.asarray(spec, dtype=float)
        except (TypeError, ValueError):
            return None
    return np.asarray(data, dtype=float)


def thin_keep(x: np.ndarray, y: np.ndarray, width_px: float, height_px: float) -> np.ndarray:
    """Indices of the vertices to keep: one per run of consecutive vertices in one pixel."""
    n = len(x)
    finite = np.isfinite(x) & np.isfinite(y)
    if finite.sum() < 2:
        return np.arange(n)
    x0, x1 = np.nanmin(x[finite]), np.nanmax(x[finite])
    y0, y1 = np.nanmin(y[finite]), np.nanmax(y[finite])
    sx = width_px / (x1 - x0) if x1 > x0 else 0.0
    sy = height_px / (y1 - y0) if y1 > y0 else 0.0
    cx = np.where(finite, np.floor((np.where(finite, x, x0) - x0) * sx), -1).astype(np.int64)
    cy = np.where(finite, np.floor((np.where(finite, y, y0) - y0) * sy), -1).astype(np.int64)
    same = np.zeros(n, dtype=bool)
    same[1:] = (cx[1:] == cx[:-1]) & (cy[1:] == cy[:-1]) & finite[1:] & finite[:-1]
    keep = ~same
    # the last vertex of a run inside one pixel ends the line segment there: keep it too
    # when the next vertex is elsewhere (or a break), so the drawn path leaves from it
    run_end = np.zeros(n, dtype=bool)
    run_end[:-1] = same[:-1] & ~same[1:]
    run_end[-1] = True
    return np.flatnonzero(keep | run_end | ~finite)


def _thin_trace(trace: dict, width_px: float, height_px: float) -> None:
    x, y = _as_float(trace.get("x")), _as_float(trace.get("y"))
    if x is None or y is None or len(x) != len(y) or len(x) < MIN_POINTS:
        return
    n = len(x)
    keep = thin_keep(x, y, width_px, height_px)
    if len(keep) >= n:
        return
    for key in POINT_KEYS:
        if key in trace:
            trace[key] = _take(trace[key], keep, n)
    marker = trace.get("marker")
    if isinstance(marker, dict):
        marker = trace["marker"] = dict(marker)
        for key in MARKER_POINT_KEYS:
            if key in marker:
                marker[key] = _take(marker[key], keep, n)
    if isinstance(trace.get("selectedpoints"), list):
        new_index = {int(old): new for new, old in enumerate(keep.tolist())}
        trace["selectedpoints"] = [new_index[i] for i in trace["selectedpoints"] if i in new_index]


def for_export(figure: dict, width: int, height: int, scale: float = 1.0) -> dict:
    """A copy of ``figure`` drawn as vectors and thinned to ``width x height x scale`` pixels."""
    out = {**figure, "data": [copy.copy(t) for t in figure.get("data", [])]}
    width_px, height_px = max(1.0, width * scale), max(1.0, height * scale)
    for trace in out["data"]:
        kind = trace.get("type", "scatter")
        if kind == "scattergl":
            trace["type"] = kind = "scatter"
        if kind == "scatter":
            _thin_trace(trace, width_px, height_px)
    return out
