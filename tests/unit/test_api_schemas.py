"""The API's request models: lax numbers, unknown names refused, errors in the API's words."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dashboard.api.export_schemas import ExportBody, JobBody
from dashboard.api.schemas import FeaturesQuery, NoQuery, RangeQuery, explain


def failure(model, data) -> str:
    with pytest.raises(ValidationError) as err:
        model.model_validate(data)
    return explain(err.value, model)


def test_numbers_are_lax_as_the_original_readme_sends_them():
    assert RangeQuery.model_validate({"sol_min": "13.0", "sol_max": "1e3"}).model_dump() == {
        "sol_min": 13,
        "sol_max": 1000,
    }
    body = ExportBody.model_validate({"start": "0", "end": 400, "format": "SVG", "width": "", "scale": "2"})
    assert (body.sol_min, body.sol_max, body.fmt, body.width, body.scale) == (0, 400, "svg", None, 2.0)
    assert FeaturesQuery.model_validate({"start": ""}).start == 0


@pytest.mark.parametrize(
    "model, data, message",
    [
        (RangeQuery, {"sol_min": "abc"}, "sol_min must be a number, not 'abc'"),
        (RangeQuery, {"sol_max": "1.5"}, "sol_max must be a whole number, not '1.5'"),
        (RangeQuery, {"sol_min": "20", "sol_max": "10"}, "sol range is reversed: sol_min 20 is after sol_max 10"),
        (FeaturesQuery, {"start": "-1"}, "start must be 0 or more, not -1"),
        (FeaturesQuery, {"cachebust": "1"}, "unknown query parameter(s) cachebust; allowed: start, sol_min, sol_max"),
        (NoQuery, {"x": "1"}, "unknown query parameter(s) x; allowed: none"),
        (ExportBody, {"start": None}, "start must be a number, not None"),
        (ExportBody, {"end": True}, "end must be a number, not True"),
        (ExportBody, {"fmt": "png"}, "unknown field(s) fmt; allowed: end, format, height, scale, start, width"),
        (ExportBody, {"format": "exe"}, "unknown format 'exe'; choose one of: png, svg, pdf"),
        (ExportBody, {"width": [300]}, "width must be a number, not [300]"),
        (ExportBody, {"scale": "nan"}, "scale must be a finite number"),
        (JobBody, {"type": "x"}, "unknown type 'x'; allowed: way (waypoint fields)"),
        (JobBody, {"xkey": "sol"}, "ykey is required; allowed: sol, site"),
        (JobBody, {"xkey": "sol", "ykey": "colour"}, "unknown ykey 'colour'; choose one of: sol"),
        (JobBody, {"xkey": "sol", "ykey": "yaw", "tint": 1}, "unknown field(s) tint; allowed: end, format"),
    ],
)
def test_failures_are_said_in_the_apis_words(model, data, message):
    assert message in failure(model, data)


def test_the_models_document_the_bodies():
    schema = ExportBody.model_json_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"start", "end", "format", "width", "height", "scale"}
    assert schema["properties"]["start"]["type"] == ["integer", "string"]
    assert JobBody.model_json_schema()["required"] == ["xkey", "ykey"]
