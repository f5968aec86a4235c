"""Checks on Dash's callback endpoint, before Dash sees the request.

Dash answers a malformed or forged ``POST /_dash-update-component`` with an exception
(a 500). This guard parses the body itself (orjson), refuses nesting deeper than
:data:`dashboard.http.MAX_JSON_DEPTH` (Dash and Python's json recurse: ~990 levels, which
orjson accepts, would raise RecursionError), and then holds the request to the callback it names:
its outputs, inputs and state must be exactly the ones that callback declares (the same
ids, properties and count; pattern-matching ids of the declared type), its
changedPropIds must name supplied inputs, and each value must have the type this app's
components send (numbers, click counts, short strings, the graph's event objects).
Anything else is answered 400 JSON with the reason.
"""

from __future__ import annotations

import math

import orjson
from flask import Flask, request

from dashboard.exports.request import FORMATS, MAX_SELECTION, REPLAY, VIDEO_FORMATS
from dashboard.figures import BUILDERS
from dashboard.http import CALLBACK_PATH, MAX_CALLBACK_BODY, MAX_JSON_DEPTH, error, within_depth
from dashboard.page import ids

MAX_SOL = 10_000_000
MAX_COUNT = 1_000_000_000  # n_clicks and friends
MAX_EXPORT_LIST = 100  # export ids the page keeps
MAX_QUERY = 2048  # characters of the page address's query string


class BadCallback(ValueError):
    pass


def _number(value, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadCallback(f"{what} must be a number, not {value!r}"[:200])
    if abs(value) > MAX_SOL:
        raise BadCallback(f"{what} {value!r} is out of range")


def _strings(value, what: str, limit: int) -> None:
    if value is None:
        return
    if not isinstance(value, list) or len(value) > limit or not all(isinstance(v, str) and len(v) < 64 for v in value):
        raise BadCallback(f"{what} must be a list of at most {limit:,} short strings")


def _count(value, what: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise BadCallback(f"{what} must be a count (a whole number from 0), not {value!r}"[:200])


def _text(value, what: str, limit: int) -> None:
    if value is not None and not (isinstance(value, str) and len(value) <= limit):
        raise BadCallback(f"{what} must be a string of at most {limit:,} characters")


def _seen(value) -> None:
    """What the page shows (ids.LIVE_SEEN): null, or its newest sol and odometry."""
    if value is None:
        return
    if not isinstance(value, dict) or not set(value) <= {"sol", "odometry_m"}:
        raise BadCallback("what the page shows must be an object of sol and odometry_m")
    for key, number in value.items():
        if number is not None:
            _number(number, key)


def _graph_event(value, what: str) -> None:
    """clickData / selectedData / hoverData: null, or an object whose points are objects."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise BadCallback(f"{what} must be an object or null, not a JSON {type(value).__name__}")
    points = value.get("points")
    if points is not None and (
        not isinstance(points, list) or len(points) > 2 * MAX_SELECTION or not all(isinstance(p, dict) for p in points)
    ):
        raise BadCallback(f"{what}'s points must be a list of objects")
    for key in ("range", "lassoPoints"):
        if value.get(key) is not None and not isinstance(value[key], dict):
            raise BadCallback(f"{what}'s {key} must be an object")


COUNTS = {"n_clicks", "n_submit", "n_blur", "n_intervals"}
GRAPH_EVENTS = {"clickData", "selectedData", "hoverData"}


def _check_value(component, prop: str, value) -> None:
    if isinstance(component, dict):  # pattern-matching ids: the export controls
        _check_export_control(component, prop, value)
    elif prop in COUNTS:
        _count(value, f"{prop} of {component}"[:120])
    elif prop in GRAPH_EVENTS:
        _graph_event(value, prop)
    else:
        _check_plain(component, prop, value)


def _check_export_control(component: dict, prop: str, value) -> None:
    chart = component.get("chart")
    if component.get("type") in (ids.EXPORT_BUTTON, ids.EXPORT_FORMAT) and chart not in (*BUILDERS, REPLAY):
        raise BadCallback(f"unknown chart {chart!r}; choose one of: {', '.join((*BUILDERS, REPLAY))}")
    formats = VIDEO_FORMATS if chart == REPLAY else FORMATS
    if prop in COUNTS:
        _count(value, f"{prop} of {component}"[:120])
    elif prop == "value" and value is not None and not (isinstance(value, str) and value in formats):
        raise BadCallback(f"unknown format {str(value)[:40]!r}; choose one of: {', '.join(formats)}")
    elif prop == "id" and value != component:
        raise BadCallback("a component's id property must be its id")


def _sol_range(prop: str, value) -> None:
    if prop == "value" and value is not None:
        if not isinstance(value, list) or len(value) != 2:
            raise BadCallback("sol range must be a list of two sols")
        for end in value:
            _number(end, "a sol")
    elif prop in ("min", "max") and value is not None:
        _number(value, f"the sol range's {prop}")


def _data_version(value) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int)) or len(str(value)) > 32):
        raise BadCallback("the data version must be a short string or number")


def _check_plain(component: str, prop: str, value) -> None:
    if component == ids.SOL_RANGE:
        _sol_range(prop, value)
    elif component in (ids.SOL_MIN, ids.SOL_MAX) and prop == "value" and value not in (None, ""):
        _number(value, component)
    elif component == ids.SELECTION:
        _strings(value, "the selection", MAX_SELECTION)
    elif component == ids.EXPORT_JOBS:
        _strings(value, "the export list", MAX_EXPORT_LIST)
    elif component == ids.URL:
        _text(value, "the page address's query", MAX_QUERY)
    elif component == ids.TIME_AXIS and prop == "value" and value not in (None, "sol", "date"):
        raise BadCallback(f"the time axis is 'sol' or 'date', not {str(value)[:40]!r}")
    elif component == ids.LIVE:
        _count(value, "the count of new versions")
    elif component == ids.LIVE_SEEN:
        _seen(value)
    elif component == ids.DATA_VERSION:
        _data_version(value)


# ---------------------------------------------------------------------------------------
# structure: the request must match the callback it names


def _declared_id(raw: str):
    """A declared id: a plain string, or a pattern dict (wildcards as ["ALL"])."""
    return orjson.loads(raw) if raw.startswith("{") else raw


def _is_pattern(declared) -> bool:
    return isinstance(declared, dict)


def _matches(declared: dict, supplied) -> bool:
    if not isinstance(supplied, dict) or set(supplied) != set(declared):
        return False
    for key, want in declared.items():
        got = supplied[key]
        if isinstance(want, list):  # ALL / MATCH / ALLSMALLER: any plain value
            if not isinstance(got, (str, int, float)) or isinstance(got, bool):
                return False
        elif got != want:
            return False
    return True


def prop_id(component, prop: str) -> str:
    """How Dash names a supplied input in changedPropIds."""
    if isinstance(component, dict):
        return orjson.dumps(component, option=orjson.OPT_SORT_KEYS).decode() + "." + prop
    return f"{component}.{prop}"


def _check_items(supplied, declared: list[dict], what: str, names: set[str]) -> None:
    if not isinstance(supplied, list) or len(supplied) != len(declared):
        raise BadCallback(
            f"callback request's {what} must be a list of {len(declared)} item(s), as the callback declares"
        )
    for entry, spec in zip(supplied, declared, strict=True):
        want_id = _declared_id(spec["id"])
        if _is_pattern(want_id):
            if not isinstance(entry, list) or len(entry) > 100:
                raise BadCallback(f"each pattern-matching {what} entry must be a list of components")
            items = entry
        else:
            items = [entry]
        for item in items:
            if not isinstance(item, dict) or "id" not in item or not isinstance(item.get("property"), str):
                raise BadCallback(
                    f"each {what[:-1] if what.endswith('s') else what} must be an object with an id and a property"
                )
            ok = _matches(want_id, item["id"]) if _is_pattern(want_id) else item["id"] == want_id
            if not ok or item["property"] != spec["property"]:
                raise BadCallback(
                    f"{what} name {str(item['id'])[:80]}.{str(item['property'])[:40]}, which the "
                    f"callback does not declare"
                )
            _check_value(item["id"], item["property"], item.get("value"))
            names.add(prop_id(item["id"], item["property"]))


def _declared_outputs(output: str) -> list[str]:
    if output.startswith(".."):
        return [part for part in output.strip(".").split("...") if part]
    return [output]


def _payload(body: bytes) -> dict:
    if len(body) > MAX_CALLBACK_BODY:
        raise BadCallback(f"callback request is over {MAX_CALLBACK_BODY:,} bytes")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadCallback(f"callback request is not valid JSON ({exc})") from None
    if not within_depth(payload):
        raise BadCallback(f"callback request is nested more than {MAX_JSON_DEPTH} levels deep")
    if not isinstance(payload, dict) or not isinstance(payload.get("output"), str):
        raise BadCallback("callback request must be an object naming its output")
    return payload


def _check_outputs(payload: dict) -> None:
    declared_outputs = _declared_outputs(payload["output"])
    outputs = payload.get("outputs")
    if isinstance(outputs, dict) and len(declared_outputs) == 1:
        outputs = [outputs]
    if not isinstance(outputs, list) or len(outputs) != len(declared_outputs):
        raise BadCallback(f"callback request's outputs must list the {len(declared_outputs)} output(s) it names")
    for item, name in zip(outputs, declared_outputs, strict=True):
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("id"), str)
            or not isinstance(item.get("property"), str)
            or f"{item['id']}.{item['property']}" != name
        ):
            raise BadCallback("callback request's outputs must be the ones its output names")


def check(body: bytes, callback_map) -> None:
    payload = _payload(body)
    cb = callback_map.get(payload["output"])
    if cb is None:
        raise BadCallback(f"unknown callback output {payload['output'][:100]!r}")
    if "callback" not in cb:  # a clientside callback (the replay's): the browser runs it, never the server
        raise BadCallback(f"callback output {payload['output'][:100]!r} is run in the browser, not here")
    for key in ("inputs", "state", "changedPropIds"):
        if not isinstance(payload.get(key, []), list):
            raise BadCallback(f"callback request's {key} must be a list")
    _check_outputs(payload)
    names: set[str] = set()
    _check_items(payload.get("inputs", []), cb["inputs"], "inputs", names)
    _check_items(payload.get("state", []), cb["state"], "state", set())
    for changed in payload.get("changedPropIds", []):
        if not isinstance(changed, str) or changed not in names:
            raise BadCallback(f"changedPropIds name {str(changed)[:100]!r}, which is not one of the inputs")


def install(server: Flask, callback_map) -> None:
    @server.before_request
    def _guard_callbacks():
        if request.path != CALLBACK_PATH or request.method != "POST":
            return None
        try:
            check(request.get_data(cache=True), callback_map)
        except BadCallback as exc:
            return error(400, str(exc))
        return None
