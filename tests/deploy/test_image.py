"""The image for real: deploy/Dockerfile built with buildah and its processes started as
uid 10001 on a read-only root filesystem (deploy/image/test.sh, the same as
`make image-test`; deploy/image/image_test.py lists the checks).

Needs root (debootstrap, mount namespaces, chroot): skipped otherwise. Cold (no stand-in
base, no layer cache) about 2.5 min on 2 cores; warm about 15-30 s.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.image


@pytest.mark.timeout(1800)
def test_the_image_builds_starts_serves_exports_and_stops(shared_data):
    if os.geteuid() != 0:
        pytest.skip("the image test needs root (debootstrap, mount namespaces, chroot): run make image-test as root")
    # localhost/ptracker:test, as make image-test; test.sh lets one session at a time build
    # and test it. (Not a tag per session: removing it afterwards would also remove the
    # untagged parent layers, which are the layer cache.)
    res = subprocess.run(
        [str(ROOT / "deploy" / "image" / "test.sh")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1700,
        env={**os.environ, "PTRACKER_SHARED_DATA": str(shared_data)},
    )
    print(res.stdout)
    assert res.returncode == 0, res.stdout[-8000:] + res.stderr[-4000:]
    assert res.stdout.count("PASS") >= 10 and "FAIL" not in res.stdout
