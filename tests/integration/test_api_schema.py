"""Property-based run against the OpenAPI document (schemathesis): generated requests,
valid and invalid, get no server error and no answer outside the documented schema
(status codes, content types, bodies, headers, 405 with Allow for other methods).

Two of schemathesis' checks are left out on purpose, because JSON Schema cannot say
what the API does: "schema-valid request rejected" (a reversed sol range, or sols
outside the data, are valid numbers but a documented 400) and "schema-violating request
accepted" (numeric strings for sols are accepted, as the original tracker's README
sends them)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from dashboard.api.openapi import document
from dashboard.app import create_app
from dashboard.data.load import load

schema = schemathesis.openapi.from_dict(document())


@pytest.fixture
def wsgi_app(store, settings):
    load(store, settings)
    return create_app(settings, store).server


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
