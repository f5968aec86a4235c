"""Export requests: validation before anything is queued, deterministic job ids."""

from __future__ import annotations

import pytest

from dashboard.exports.admission import client_key
from dashboard.exports.errors import ExportError
from dashboard.exports.request import MAX_SELECTION, ExportRequest, decode_selection, validate


def test_defaults_and_normalisation():
    req = validate("map", "13", 400.0, "PNG", bounds=(13, 1110))
    assert req == ExportRequest("map", 13, 400, "png", 1000, 800, 1.0, None)
    assert req.filename == "perseverance-map-sols-13-400.png"
    names = ["3_0", "3_110", "4_0", "4_120"]
    sel = validate("orientation", 13, 20, "svg", 800, "600", "2", ["4_120", "3_110", "4_120"], names=names)
    assert sel.scale == 2.0 and sel.height == 600
    assert decode_selection(sel.selection, names) == ["3_110", "4_120"]
    assert sel.public()["selected"] == 2 and "selection" not in sel.public()


def test_a_selection_is_only_names_of_the_dataset_and_is_stored_compactly():
    names = [f"{site}_{drive}" for site in range(1, 60) for drive in range(0, 700, 100)]  # 413 names
    everything = validate("distance", 13, 20, selection=list(reversed(names)), names=names)
    assert len(everything.selection) <= 4 * ((len(names) + 7) // 8 + 2) // 3 + 4  # one bit a name, base64
    assert decode_selection(everything.selection, names) == names
    with pytest.raises(ExportError, match="not in this dataset, such as 'made_up_1'"):
        validate("distance", 13, 20, selection=["3_0", "made_up_1", "made_up_2"], names=names)
    with pytest.raises(ExportError, match="needs the dataset"):
        validate("distance", 13, 20, selection=["3_0"])
    with pytest.raises(ExportError, match="at most"):
        validate("distance", 13, 20, selection=[f"x{i}" for i in range(MAX_SELECTION + 1)], names=names)
    # the job id depends on the selection; a request without one has none
    assert everything.job_id("1") != validate("distance", 13, 20).job_id("1")
    assert validate("distance", 13, 20, selection=[], names=names).selection is None


@pytest.mark.parametrize(
    "address, key",
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        (None, "unknown"),
    ],
)
def test_clients_are_keyed_by_address_and_ipv6_by_its_64(address, key):
    assert client_key(address) == key


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        (("pie", 13, 20), {}, "unknown chart 'pie'; choose one of: orientation, position, map"),
        (("xy", 13, 20), {"xkey": "sol", "ykey": "colour"}, "unknown ykey 'colour'; choose one of: sol, site"),
        (("xy", 13, 20), {"ykey": "yaw"}, "unknown xkey None"),
        (("map", 13, 20), {"xkey": "sol"}, "xkey/ykey apply to the 'xy' chart only"),
        (("map", 400, 13), {}, "sol range is reversed: sol_min 400 is after sol_max 13"),
        (
            ("map", 2000, 3000),
            {"bounds": (13, 1110)},
            "sols 2000..3000 are outside the data, which covers sols 13..1110",
        ),
        (("map", 13, 20), {"width": 100000}, "width 100000 is out of bounds: use 300..4000 pixels"),
        (("map", 13, 20), {"height": 10}, "height 10 is out of bounds"),
        (("map", 13, 20), {"fmt": "exe"}, "unknown format 'exe'; choose one of: png, svg, pdf"),
        (("map", 13, 20), {"fmt": {}}, "unknown format {}"),
        (("map", 13, 20), {"width": [300]}, "width must be a number"),
        (("map", 13, 20), {"scale": 9}, "scale 9 is out of bounds: use 0.25..4"),
        (("map", 13, 20), {"scale": "nan"}, "scale must be a finite number"),
        (("map", 13, 20), {"width": 4000, "height": 4000, "scale": 2}, "output pixels"),
        (("map", "abc", 20), {}, "sol_min must be a number, not 'abc'"),
        (("map", 13.5, 20), {}, "sol_min must be a whole number"),
        (("map", True, 20), {}, "sol_min must be a number"),
        (("map", None, 20), {}, "sol_min must be a number"),
        (("map", 13, 20), {"selection": "3_110"}, "selection must be a list of site_drive names"),
        (("map", 13, 20), {"selection": [1, 2]}, "selection must be a list of site_drive names"),
        (("map", 13, 20), {"selection": ["3_0"], "names": ["3_1"]}, "not in this dataset"),
        (({"a": 1}, 13, 20), {}, "unknown chart"),
    ],
)
def test_bad_parameters_are_refused_with_a_clear_message(args, kwargs, message):
    with pytest.raises(ExportError) as err:
        validate(*args, **kwargs)
    assert message in str(err.value)


def test_job_ids_are_deterministic_per_request_and_dataset_version():
    a = validate("map", 13, 400)
    assert a.job_id("7") == validate("map", "13", "400", "png").job_id("7")
    assert a.job_id("7") != a.job_id("8")
    assert a.job_id("7") != validate("map", 13, 401).job_id("7")
    assert a.job_id("7") != validate("map", 13, 400, "svg").job_id("7")
    assert a.job_id("7").startswith("export-map-")


def test_overlapping_range_is_narrowed_to_the_data():
    req = validate("xy", "0", "400", xkey="sol", ykey="yaw", bounds=(13, 1110))
    assert (req.sol_min, req.sol_max) == (13, 400)
    assert req.filename == "perseverance-yaw-vs-sol-sols-13-400.png"
    assert req.job_id("1") != validate("xy", 13, 400, xkey="sol", ykey="pitch").job_id("1")
