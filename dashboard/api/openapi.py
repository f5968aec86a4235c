"""The OpenAPI 3 description of the REST API (served at /openapi.json)."""

from __future__ import annotations

from dashboard import __version__
from dashboard.data.parse import WAYPOINT_COLUMNS
from dashboard.exports import FORMATS, MAX_PX, MAX_SCALE, MIN_PX, MIN_SCALE
from dashboard.figures import FIELDS

_NUM = {"type": "number"}
_NULLABLE_NUM = {"type": ["number", "null"]}
_SOL_PARAMS = [
    {
        "name": "sol_min",
        "in": "query",
        "required": False,
        "schema": {"type": "integer"},
        "description": "first sol to include",
    },
    {
        "name": "sol_max",
        "in": "query",
        "required": False,
        "schema": {"type": "integer"},
        "description": "last sol to include",
    },
]


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


#: Data answers carry ETag, Last-Modified and Cache-Control (dashboard/api/http_cache.py).
_NOT_MODIFIED = {
    "description": "not modified: If-None-Match names the current ETag (or If-Modified-Since is not "
    "older than the dataset's load); no body",
    "headers": {"ETag": {"schema": {"type": "string"}}, "Cache-Control": {"schema": {"type": "string"}}},
}
_DATA_ERRORS = {
    "304": _NOT_MODIFIED,
    "400": _error("bad query parameter"),
    "503": _error("no dataset loaded, or Redis unreachable"),
}
_EXPORT_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "start": {"type": ["integer", "string"], "description": "first sol (a number or a numeric string)"},
        "end": {"type": ["integer", "string"], "description": "last sol (a number or a numeric string)"},
        "format": {"type": "string", "enum": list(FORMATS), "default": "png"},
        "width": {
            "type": ["integer", "null"],
            "minimum": MIN_PX,
            "maximum": MAX_PX,
            "description": "pixels; null or absent: the chart's default",
        },
        "height": {"type": ["integer", "null"], "minimum": MIN_PX, "maximum": MAX_PX},
        "scale": {"type": ["number", "null"], "minimum": MIN_SCALE, "maximum": MAX_SCALE, "default": 1},
    },
}
_EXPORT_RESPONSES = {
    "202": {
        "description": "queued (or the existing export of the same request on the same dataset)",
        "headers": {"Location": {"schema": {"type": "string"}, "description": "the status URL"}},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}},
    },
    "400": _error(
        "bad body: not a JSON object, non-numeric or reversed sols, unknown format or field, size out of bounds"
    ),
    "413": _error("body too large"),
    "415": _error("the body is not sent as Content-Type: application/json"),
    "429": {
        **_error("too many exports from this client (per minute), or it already has its share of the queue waiting"),
        "headers": {"Retry-After": {"schema": {"type": "string"}, "description": "seconds to wait"}},
    },
    "503": {
        **_error("no dataset loaded, Redis unreachable or out of memory, or the export queue is full"),
        "headers": {"Retry-After": {"schema": {"type": "string"}, "description": "seconds to wait (queue full)"}},
    },
}


def _export(summary: str) -> dict:
    return {
        "post": {
            "summary": summary,
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/ExportBody"},
                        "example": {"start": "0", "end": "400"},
                    }
                },
            },
            "responses": _EXPORT_RESPONSES,
        }
    }


def document() -> dict:
    waypoint_props = {}
    for name, dtype in WAYPOINT_COLUMNS.items():
        if dtype in ("int64",):
            waypoint_props[name] = {"type": "integer"}
        elif dtype == "bool":
            waypoint_props[name] = {"type": "boolean"}
        elif dtype == "str":
            waypoint_props[name] = {"type": ["string", "null"]}
        else:
            waypoint_props[name] = _NULLABLE_NUM
    jobs_body = {
        "type": "object",
        "additionalProperties": False,
        "required": ["xkey", "ykey"],
        "properties": {
            "type": {"type": "string", "enum": ["way"], "default": "way"},
            "xkey": {"type": "string", "enum": list(FIELDS)},
            "ykey": {"type": "string", "enum": list(FIELDS)},
            **_EXPORT_BODY["properties"],
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Perseverance Tracker API",
            "version": __version__,
            "description": "NASA's Mars 2020 rover localizations (MMGIS layers) as JSON, and chart exports.",
        },
        "paths": {
            "/help": {
                "get": {
                    "summary": "plain-text table of the routes",
                    "responses": {
                        "200": {"description": "help", "content": {"text/plain": {"schema": {"type": "string"}}}}
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "liveness: the process is not stuck",
                    "description": "Touches nothing outside the process (not Redis, not the dataset): 200 whenever "
                    "the process answers.",
                    "responses": {"200": _json({"$ref": "#/components/schemas/Health"}, "alive")},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "readiness: this process can serve requests",
                    "description": "200 once the app has booted. Redis and the dataset are reported in `checks`, not "
                    "required: the page and the API answer a Redis outage or an empty store in words, "
                    "and Redis is shared, so failing readiness on it would take every web pod out of "
                    "service at once. Neither probe depends on a dataset being loaded.",
                    "responses": {"200": _json({"$ref": "#/components/schemas/Readiness"}, "ready")},
                }
            },
            "/load": {
                "post": {
                    "summary": "reload the layers (waypoints, traverse, optional current position)",
                    "description": "When PTRACKER_ADMIN_TOKEN is set: Authorization: Bearer <token>.",
                    "security": [{}, {"admin": []}],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/LoadSummary"}, "loaded, or unchanged"),
                        "401": _error("the admin token is required and was missing or wrong"),
                        "409": _error("a load is already running"),
                        "502": _error("a source failed; the previous dataset stays current"),
                        "503": _error("Redis unreachable"),
                    },
                }
            },
            "/perseverance": {
                "get": {
                    "summary": "waypoints as GeoJSON features",
                    "parameters": [
                        {
                            "name": "start",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 0},
                            "description": "skip the first N",
                        },
                        *_SOL_PARAMS,
                    ],
                    "responses": {
                        "200": _json({"type": "array", "items": {"$ref": "#/components/schemas/Feature"}}, "features"),
                        **_DATA_ERRORS,
                    },
                }
            },
            "/perseverance/sol": {
                "get": {
                    "summary": "the most recent waypoint's sol (the current position when newer)",
                    "responses": {
                        "200": {
                            "description": "text, or JSON when asked for",
                            "content": {
                                "text/plain": {"schema": {"type": "string"}},
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {"sol": {"type": "integer"}, "earth_date": {"type": "string"}},
                                    }
                                },
                            },
                        },
                        "304": _NOT_MODIFIED,
                        "503": _error("no dataset loaded, or Redis unreachable"),
                    },
                }
            },
            "/perseverance/current": {
                "get": {
                    "summary": "where the rover is now, and each layer's freshness",
                    "description": "The newest sol of any layer (waypoints, current position, traverse) with its Earth "
                    "date, position, elevation and odometry, and the layer they come from; per layer, "
                    'the last sol it covers. The dashboard\'s "now" card says the same.',
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Now"}, "the rover now"),
                        "503": _error("no dataset loaded, or Redis unreachable"),
                    },
                }
            },
            "/perseverance/orientation": {
                "get": {
                    "summary": "sol, yaw (radians), pitch and roll of each waypoint",
                    "parameters": _SOL_PARAMS,
                    "responses": {
                        "200": _json(
                            {"type": "array", "items": {"$ref": "#/components/schemas/Orientation"}}, "orientation"
                        ),
                        **_DATA_ERRORS,
                    },
                }
            },
            "/perseverance/position": {
                "get": {
                    "summary": "sol, longitude and latitude of each waypoint",
                    "parameters": _SOL_PARAMS,
                    "responses": {
                        "200": _json(
                            {"type": "array", "items": {"$ref": "#/components/schemas/Position"}}, "positions"
                        ),
                        **_DATA_ERRORS,
                    },
                }
            },
            "/perseverance/waypoints.csv": {
                "get": {
                    "summary": "the waypoints as CSV",
                    "parameters": _SOL_PARAMS,
                    "responses": {
                        "200": {"description": "CSV file", "content": {"text/csv": {"schema": {"type": "string"}}}},
                        **_DATA_ERRORS,
                    },
                }
            },
            "/perseverance/waypoints.geojson": {
                "get": {
                    "summary": "the waypoints as a GeoJSON FeatureCollection",
                    "parameters": _SOL_PARAMS,
                    "responses": {
                        "200": {
                            "description": "GeoJSON file",
                            "content": {"application/geo+json": {"schema": {"type": "object"}}},
                        },
                        **_DATA_ERRORS,
                    },
                }
            },
            "/perseverance/orientation/yaw": _export("queue an image of yaw by sol"),
            "/perseverance/orientation/pitch": _export("queue an image of pitch by sol"),
            "/perseverance/orientation/roll": _export("queue an image of roll by sol"),
            "/perseverance/position/longitude": _export("queue an image of longitude by sol"),
            "/perseverance/position/latitude": _export("queue an image of latitude by sol"),
            "/perseverance/position/map": _export("queue an image of the traverse map"),
            "/jobs": {
                "post": {
                    "summary": "queue an image of any numeric waypoint field against another",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": jobs_body,
                                "example": {"type": "way", "xkey": "lon", "ykey": "yaw", "start": 0, "end": 400},
                            }
                        },
                    },
                    "responses": _EXPORT_RESPONSES,
                }
            },
            "/jobs/list": {
                "get": {
                    "summary": "recent exports",
                    "responses": {
                        "200": _json({"type": "array", "items": {"$ref": "#/components/schemas/Job"}}, "exports"),
                        "503": _error("Redis unreachable"),
                    },
                }
            },
            "/jobs/{id}": {
                "get": {
                    "summary": "one export's status and progress",
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Job"}, "status"),
                        "404": _error("unknown or expired id"),
                        "422": _error(
                            "a job whose stored data is not JSON (an old or forged pickled job): refused, never run"
                        ),
                        "503": _error("Redis unreachable"),
                    },
                }
            },
            "/download/{id}": {
                "get": {
                    "summary": "the exported image",
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {
                        "200": {
                            "description": "the file (Content-Disposition: attachment)",
                            "content": {
                                fmt: {"schema": {"type": "string", "format": "binary"}} for fmt in FORMATS.values()
                            },
                        },
                        "404": _error("unknown or expired id"),
                        "409": _error("not finished yet (status and error included)"),
                        "503": _error("Redis unreachable"),
                    },
                }
            },
            "/openapi.json": {
                "get": {"summary": "this document", "responses": {"200": _json({"type": "object"}, "OpenAPI document")}}
            },
        },
        "components": {
            "securitySchemes": {"admin": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "Health": {
                    "type": "object",
                    "required": ["status", "checks"],
                    "properties": {
                        "status": {"type": "string", "enum": ["ok"]},
                        "checks": {"type": "object", "properties": {"process": {"type": "string", "enum": ["ok"]}}},
                    },
                },
                "Readiness": {
                    "type": "object",
                    "required": ["status", "checks"],
                    "properties": {
                        "status": {"type": "string", "enum": ["ready"]},
                        "checks": {
                            "type": "object",
                            "required": ["app", "redis", "dataset"],
                            "properties": {
                                "app": {"type": "string", "enum": ["ok"]},
                                "redis": {"type": "string", "enum": ["ok", "unreachable"]},
                                "dataset": {
                                    "type": "string",
                                    "description": "'version N', 'none loaded', or unknown while Redis is unreachable",
                                },
                            },
                        },
                    },
                },
                "ExportBody": _EXPORT_BODY,
                "Accepted": {
                    "type": "object",
                    "required": ["id", "status", "status_url", "download_url"],
                    "properties": {
                        "id": {"type": "string"},
                        "status": {"type": "string"},
                        "status_url": {"type": "string"},
                        "download_url": {"type": "string"},
                        "chart": {"type": "string"},
                        "params": {"type": "object"},
                    },
                },
                "Job": {
                    "type": "object",
                    "required": ["id", "status"],
                    "properties": {
                        "id": {"type": "string"},
                        "chart": {"type": ["string", "null"]},
                        "params": {"type": ["object", "null"]},
                        "status": {"type": "string"},
                        "stage": {"type": ["string", "null"]},
                        "progress": {"type": ["number", "null"]},
                        "created_at": {"type": ["string", "null"]},
                        "started_at": {"type": ["string", "null"]},
                        "ended_at": {"type": ["string", "null"]},
                        "error": {"type": ["string", "null"]},
                        "filename": {"type": ["string", "null"]},
                        "retries_left": {"type": ["integer", "null"]},
                    },
                },
                "Feature": {
                    "type": "object",
                    "required": ["type", "properties", "geometry"],
                    "properties": {
                        "type": {"const": "Feature"},
                        "properties": {"type": "object", "properties": waypoint_props},
                        "geometry": {
                            "type": "object",
                            "properties": {
                                "type": {"const": "Point"},
                                "coordinates": {"type": "array", "items": _NUM, "minItems": 2, "maxItems": 3},
                            },
                        },
                    },
                },
                "Orientation": {
                    "type": "object",
                    "required": ["sol", "yaw_rad", "pitch", "roll"],
                    "properties": {
                        "sol": {"type": "integer"},
                        "yaw_rad": _NULLABLE_NUM,
                        "pitch": _NULLABLE_NUM,
                        "roll": _NULLABLE_NUM,
                    },
                },
                "Position": {
                    "type": "object",
                    "required": ["sol", "lon", "lat"],
                    "properties": {"sol": {"type": "integer"}, "lon": _NUM, "lat": _NUM},
                },
                "Now": {
                    "type": "object",
                    "required": ["sol", "earth_date", "layer", "lon", "lat", "layers"],
                    "properties": {
                        "sol": {"type": "integer", "description": "the newest sol of any layer"},
                        "earth_date": {
                            "type": "string",
                            "format": "date",
                            "description": "UTC date on which that sol began",
                        },
                        "sol_start_utc": {"type": "string", "format": "date-time"},
                        "ago": {"type": "string", "description": "how long ago that sol began, in words"},
                        "layer": {
                            "type": "string",
                            "enum": ["waypoints", "current", "traverse"],
                            "description": "the layer the position comes from",
                        },
                        "rmc": {"type": ["string", "null"], "description": "site_drive (null when from the traverse)"},
                        "lon": _NUM,
                        "lat": _NUM,
                        "elev_geoid_m": _NULLABLE_NUM,
                        "odometry_km": _NUM,
                        "odometry_m": _NUM,
                        "odometry_from": {
                            "type": "string",
                            "enum": ["waypoints", "current", "traverse"],
                            "description": "'traverse': the legs' cumulative length",
                        },
                        "layers": {
                            "type": "object",
                            "properties": {
                                "waypoints": {
                                    "type": "object",
                                    "properties": {
                                        "sol_max": {"type": ["integer", "null"]},
                                        "source": {"type": ["string", "null"]},
                                    },
                                },
                                "traverse": {
                                    "type": "object",
                                    "properties": {
                                        "sol_max": {"type": ["integer", "null"]},
                                        "source": {"type": ["string", "null"]},
                                    },
                                },
                                "current": {
                                    "type": "object",
                                    "properties": {
                                        "sol": {"type": ["integer", "null"]},
                                        "source": {"type": ["string", "null"]},
                                        "status": {
                                            "type": "string",
                                            "enum": ["newer", "same", "older", "unavailable", "off"],
                                        },
                                    },
                                },
                            },
                        },
                        "loaded_at": {"type": ["string", "null"]},
                        "dataset_version": {"type": "string"},
                    },
                },
                "LoadSummary": {
                    "type": "object",
                    "properties": {
                        "status": {"type": "string", "enum": ["loaded", "unchanged"]},
                        "version": {"type": "string"},
                        "loaded_at": {"type": "string"},
                        "sha256": {"type": "string"},
                        "seconds": _NUM,
                        "waypoints": {"type": "object"},
                        "traverse": {"type": "object"},
                        "current": {
                            "type": "object",
                            "description": "the optional current-position layer: status "
                            "(newer, same, older, unavailable, off), sol, rmc, source; kept: true when a previous "
                            "position was kept; error when it could not be read",
                        },
                    },
                },
            },
        },
    }
