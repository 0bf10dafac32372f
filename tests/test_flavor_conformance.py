"""Every flavor passes the flavor contract (``loopml.models.conformance.check_flavor``)."""

from __future__ import annotations

import pytest

from loopml.models.conformance import check_flavor
from loopml.models.flavors import FLAVOR_NAMES, get_flavor

CHECK_NAMES = [name for name, _ in check_flavor(get_flavor("sklearn"))]


@pytest.mark.parametrize("check", CHECK_NAMES)
@pytest.mark.parametrize("flavor", FLAVOR_NAMES)
def test_flavor_contract(flavor: str, check: str) -> None:
    dict(check_flavor(get_flavor(flavor)))[check]()


def test_every_flavor_runs_the_same_checks() -> None:
    for flavor in FLAVOR_NAMES:
        assert [name for name, _ in check_flavor(get_flavor(flavor))] == CHECK_NAMES
    assert len(CHECK_NAMES) >= 20
