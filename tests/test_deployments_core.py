"""Routes and their rules (``loopml.core.deployments``): canonical forms, the route syntax of the
command line, and the messages that refuse a route set which cannot make a deployment."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st

import loopml.core.deployments as deployments_module
from loopml.core.deployments import (
    Deployment,
    ResolvedDeployment,
    ResolvedRoute,
    Route,
    parse_route,
    validate_deployment_name,
    validate_routes,
)
from loopml.core.errors import InvalidInput


def test_docstring_examples_run() -> None:
    result = doctest.testmod(deployments_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 5
    assert result.failed == 0


@pytest.mark.parametrize(
    ("given_target", "target", "arm", "version", "alias"),
    [
        ("@champion", "@champion", "churn@champion", None, "champion"),
        ("champion", "@champion", "churn@champion", None, "champion"),
        ("3", "3", "churn/3", 3, None),
        ("007", "7", "churn/7", 7, None),
        (12, "12", "churn/12", 12, None),
    ],
)
def test_route_targets_are_canonical(
    given_target: object, target: str, arm: str, version: int | None, alias: str | None
) -> None:
    route = Route("churn", given_target)  # type: ignore[arg-type]
    assert (route.target, route.arm, route.version, route.alias) == (target, arm, version, alias)
    assert (route.weight, route.mode) == (100.0, "primary")
    assert parse_route(route.spec) == route


@pytest.mark.parametrize(
    ("spec", "route"),
    [
        ("churn@champion", Route("churn", "@champion")),
        ("churn@champion:90", Route("churn", "@champion", 90)),
        ("churn@challenger:10:canary", Route("churn", "@challenger", 10, "canary")),
        ("churn/7::shadow", Route("churn", "7", 100, "shadow")),
        ("churn/7:2.5:shadow", Route("churn", "7", 2.5, "shadow")),
        (" flight delay@champion : 50 : canary ", Route("flight delay", "@champion", 50, "canary")),
    ],
)
def test_parse_route(spec: str, route: Route) -> None:
    assert parse_route(spec) == route


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("churn", r"^route 'churn' must name a model and a version or alias: MODEL@ALIAS"),
        ("@champion", r"must name a model and a version or alias"),
        ("churn@", r"must name a model and a version or alias"),
        ("churn/champion", r"must give a version number after '/'.*Fix: e\.g\. 'churn/3' or "),
        ("churn@champion:1:canary:x", r"must look like MODEL@ALIAS\[:WEIGHT\[:MODE\]\]"),
        ("churn@champion:ten", r"weight of route 'churn@champion' must be a percentage.*'ten'"),
        ("churn@champion:0", r"above 0 and at most 100; got 0\.0\. Fix: remove the route"),
        ("churn@champion:101", r"at most 100; got 101\.0"),
        ("churn@champion:nan", r"at most 100; got nan"),
        ("churn@champion:50:canry", r"must be one of primary, canary, shadow; got 'canry'\. "),
        ("churn@latest", r"must be a version number or an alias; got '@latest'"),
        ("churn@v3", r"must be a version number or an alias; got '@v3'"),
        ("churn/0", r"model version must be a positive integer; got '0'"),
        ("ch:urn@champion", r"must name a model and a version or alias"),
        ("", r"^route must be a non-empty string"),
    ],
)
def test_parse_route_refusals(spec: str, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        parse_route(spec)


def test_mode_typo_suggests_the_mode() -> None:
    with pytest.raises(InvalidInput, match=r"Fix: did you mean 'canary'\.$"):
        parse_route("churn@champion:50:canry")


def test_arm_names() -> None:
    assert Route("churn", "3", arm="control").arm == "control"
    for bad in ("-x", "a:b", "a" * 401, "ü"):
        with pytest.raises(InvalidInput, match=r"arm name of the route to churn/3 must start"):
            Route("churn", "3", arm=bad)


def test_deployment_names() -> None:
    assert validate_deployment_name("web delay.v2") == "web delay.v2"
    for bad in ("", " web", "web ", "web@prod", "web/prod", "web:prod", "w" * 257, None, 3):
        with pytest.raises(InvalidInput, match=r"^deployment name must"):
            validate_deployment_name(bad)


def _routes(*specs: str) -> list[Route]:
    return [parse_route(s) for s in specs]


def test_valid_route_sets() -> None:
    assert len(validate_routes(_routes("churn@champion"))) == 1
    three = _routes("a/1:33.3", "a/2:33.3:canary", "a/3:33.4:canary", "a@x:5:shadow")
    assert validate_routes(three) == tuple(three)
    assert validate_routes(iter(_routes("a/1:50", "a/2:50"))) == tuple(_routes("a/1:50", "a/2:50"))


@pytest.mark.parametrize(
    ("routes", "match"),
    [
        ([], r"must include at least one primary or canary route.*; got \[\]\. Fix: add a"),
        (
            _routes("churn@champion::shadow"),
            r"at least one primary or canary route .*got \['churn@champion:100:shadow'\]",
        ),
        (
            _routes("churn@champion", "churn@challenger:10:canary"),
            r"^weights of the primary and canary routes must sum to 100 \(percent of the live "
            r"traffic\); got 100 \(churn@champion\) \+ 10 \(churn@challenger\) = 110\. Fix: give "
            r"every route its share, e\.g\. 'churn@champion:90' and 'churn@challenger:10:canary'",
        ),
        (
            [Route("a", "1", 50, arm="x"), Route("a", "2", 50, arm="x")],
            r"^deployment routes must not repeat an arm; got 'x'",
        ),
        (
            [Route("a", "1", 50), Route("a", "1", 50, arm="other")],
            r"must not repeat a model and target; got 'a/1'",
        ),
        ("a/1", r"^deployment routes must be a list of Route; got 'a/1'"),
        (["a/1"], r"^deployment route must be a loopml Route; got 'a/1'"),
        (None, r"must be a list of Route\. Fix"),
    ],
)
def test_route_set_refusals(routes: object, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        validate_routes(routes)


@given(st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=12))
def test_weights_summing_to_100_in_floats_are_accepted(parts: list[int]) -> None:
    """Percentages from any split of 100 (float sums a hair off 100) make a deployment."""
    total = sum(parts)
    weights = [100 * p / total for p in parts]
    routes = [Route("m", str(i + 1), w, "canary") for i, w in enumerate(weights)]
    assert validate_routes(routes) == tuple(routes)


def test_entities_are_frozen_and_json_ready() -> None:
    route = parse_route("churn@champion:90")
    deployment = Deployment("web", [route, parse_route("churn/2:10:canary")], "", 3, 1, 2, {})
    assert isinstance(deployment.routes, tuple)
    assert deployment.route("churn/2").mode == "canary"
    with pytest.raises(KeyError):
        deployment.route("nope")
    assert deployment.to_dict()["routes"][0] == {
        "arm": "churn@champion",
        "model": "churn",
        "target": "@champion",
        "weight": 90.0,
        "mode": "primary",
    }
    with pytest.raises(AttributeError):
        route.weight = 5  # type: ignore[misc]
    resolved = ResolvedDeployment(
        "web", 3, (ResolvedRoute("churn@champion", "churn", "@champion", 4, 90.0, "primary"),)
    )
    assert resolved.routes[0].model_uri == "models:/churn/4"
    assert resolved.fingerprint.routes == (
        ("churn@champion", "churn", "@champion", 90.0, "primary", 4),
    )
