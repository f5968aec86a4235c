"""Property-based run against the OpenAPI document the server generates (schemathesis):
generated requests, valid and invalid, get no server error and no answer outside the
documented schema (status codes, content types, bodies, headers, 405 with Allow for other
methods).

Two of schemathesis' checks are left out on purpose, because JSON Schema cannot say
what the API does: "schema-valid request rejected" (a reversed sol range, or sols
outside the data, are valid numbers but a documented 400) and "schema-violating request
accepted" (numeric strings for sols are accepted, as the original tracker's README
sends them)."""

from __future__ import annotations

import pytest
import redis
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from openapi_spec_validator import validate as validate_openapi
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from dashboard.app import create_app
from dashboard.data.load import load
from dashboard.data.store import DatasetStore
from dashboard.settings import Settings
from tests.helpers import FIXTURES

#: the context layers' fixtures, so their routes answer with data too
CONTEXT_FIXTURES = {"heli": "heli_flights.json", "samples": "sample_sites.json", "terrain": "terrain_tiny.img"}


def served_document() -> dict:
    """/openapi.json as an app serves it (generated from its routes and models); the
    document does not depend on Redis, so an app without one serves it too."""
    offline = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    app = create_app(Settings(redis_url="redis://127.0.0.1:1/0"), DatasetStore(offline, "ptracker:doc:"))
    return app.server.test_client().get("/openapi.json").get_json()


DOCUMENT = served_document()
schema = schemathesis.openapi.from_dict(DOCUMENT)


#: Curiosity's fixtures, so its twin routes answer with data too
MSL_FIXTURES = {"waypoints": "msl_waypoints.json", "traverse": "msl_traverse.json", "current": "msl_current.json"}


@pytest.fixture
def wsgi_app(store, settings):
    settings = settings.replace(
        **{f"{n}_source": str(FIXTURES / f) for n, f in CONTEXT_FIXTURES.items()},
        **{f"msl_{n}_source": str(FIXTURES / f) for n, f in MSL_FIXTURES.items()},
        msl_terrain_source=None,
    )
    load(store, settings)
    load(
        DatasetStore.of(store.redis, settings.replace(key_prefix=store.prefix), "curiosity"),
        settings.for_rover("curiosity"),
    )
    return create_app(settings, store).server


def test_the_document_is_openapi_3_1_and_names_its_models(wsgi_app):
    doc = wsgi_app.test_client().get("/openapi.json").get_json()
    assert doc == DOCUMENT  # the document the run below uses is the one the app serves
    validate_openapi(doc)  # a valid OpenAPI 3.1 document
    assert doc["openapi"] == "3.1.0" and doc["info"]["title"] == "Perseverance Tracker API"
    schemas = doc["components"]["schemas"]
    assert {"ExportBody", "JobBody", "Error", "Feature", "Job", "Now", "LoadSummary"} <= set(schemas)
    body = schemas["ExportBody"]
    assert body["additionalProperties"] is False and set(body["properties"]) == {
        "start",
        "end",
        "format",
        "width",
        "height",
        "scale",
    }
    yaw = doc["paths"]["/perseverance/orientation/yaw"]["post"]
    assert yaw["requestBody"]["required"] is False  # an empty body exports everything
    assert "Retry-After" in yaw["responses"]["429"]["headers"]
    assert doc["paths"]["/load"]["post"]["security"] == [{}, {"admin": []}]
    assert "text/csv" in doc["paths"]["/perseverance/waypoints.csv"]["get"]["responses"]["200"]["content"]


@schema.parametrize()
@hsettings(max_examples=20, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_api_matches_its_openapi_document(case, wsgi_app):
    # identity: schemathesis' WSGI transport does not undo the app's brotli/gzip (a real
    # client does; tests/integration/test_http_cache.py checks the compressed answers)
    case.call_and_validate(
        app=wsgi_app,
        headers={"Accept-Encoding": "identity"},
        excluded_checks=[positive_data_acceptance, negative_data_rejection],
    )
