"""``loopml.registry.Deployments`` on a real store (SQLite, and PostgreSQL when configured):
writes check that routes can be served, ``resolve`` turns aliases into versions, ``fingerprint``
tells a poller when to resolve again, and ``set_route``/``remove_route`` keep weights at 100."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import loopml
from loopml.core.deployments import Route
from loopml.core.errors import Conflict, InvalidInput, NotFound
from loopml.core.registry import Lineage
from loopml.registry import Deployments, ModelRegistry

SHA = "cd" * 32


@pytest.fixture
def deployments(tracking_uri: str) -> Deployments:
    return Deployments(tracking_uri)


def _register(deployments: Deployments, name: str, count: int) -> None:
    """``count`` versions of ``name`` with made-up files (nothing here loads them)."""
    for _ in range(count):
        deployments.registry.create_model_version(
            name, "src", "sklearn", [("MLmodel", SHA, 1)], Lineage()
        )


@pytest.fixture
def churn(deployments: Deployments) -> Deployments:
    """Versions 1-3 of 'churn' and 1 of 'fraud'; churn@champion -> 2, churn@challenger -> 3."""
    _register(deployments, "churn", 3)
    _register(deployments, "fraud", 1)
    deployments.registry.set_alias("churn", "champion", 2)
    deployments.registry.set_alias("churn", "challenger", 3)
    return deployments


def _specs(deployments: Deployments, name: str) -> list[str]:
    return [r.spec for r in deployments.get(name).routes]


# ---- writing -----------------------------------------------------------------------------------


def test_create_get_list_delete(churn: Deployments) -> None:
    created = churn.create(
        "web", ["churn@champion:90", "churn/3:10:canary"], description="api", tags={"n": 1}
    )
    assert (created.revision, created.description, dict(created.tags)) == (1, "api", {"n": "1"})
    assert churn.get("web") == created
    churn.create("batch", "fraud/1")  # one spec is a list of one route
    assert [d.name for d in churn.list()] == ["batch", "web"]
    assert [d.name for d in churn.list("WE")] == ["web"]
    churn.delete("web")
    with pytest.raises(NotFound, match=r"^deployment 'web' does not exist"):
        churn.get("web")
    events = churn.audit_events("web")
    assert [e.action for e in events] == ["deployment.create", "deployment.delete"]
    assert {e.actor for e in events} == {churn.client._user()}


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        (
            "chrun@champion",
            r"^route 'chrun@champion' of deployment 'web' names registered model 'chrun', which "
            r"does not exist\. Fix: did you mean 'churn'\.$",
        ),
        (
            "nothing-like-it/1",
            r"names registered model 'nothing-like-it', which does not exist\. Fix: register the "
            r"model first, or check the name: `loopml models list`\.$",
        ),
        (
            "churn/9",
            r"^route 'churn/9' of deployment 'web' names version 9 of registered model 'churn', "
            r"which does not exist\. Fix: its latest version is 3; `loopml models versions churn` "
            r"lists them\.$",
        ),
        (
            "churn@prod",
            r"^route 'churn@prod' of deployment 'web' follows alias 'prod' of registered model "
            r"'churn', which is not set\. Fix: its aliases are 'challenger' -> 3, 'champion' -> 2; "
            r"point it at a version with `loopml models alias set churn prod <version>`, or "
            r"change the route with `loopml deploy route web \.\.\.`\.$",
        ),
    ],
)
def test_routes_must_be_servable_when_written(churn: Deployments, spec: str, match: str) -> None:
    with pytest.raises(NotFound, match=match):
        churn.create("web", [spec])
    with pytest.raises(NotFound, match=r"^deployment 'web' does not exist"):
        churn.get("web")
    churn.create("web", ["churn@champion"])
    with pytest.raises(NotFound, match=match):
        churn.update_routes("web", ["churn@champion:50", f"{spec}:50:canary"])
    assert churn.revision("web") == 1


def test_bad_input_is_invalid_input(churn: Deployments) -> None:
    with pytest.raises(InvalidInput, match=r"^deployment name must start"):
        churn.create("web/prod", ["churn@champion"])
    with pytest.raises(InvalidInput, match=r"must sum to 100"):
        churn.create("web", ["churn@champion", "churn@challenger:10:canary"])
    with pytest.raises(InvalidInput, match=r"^deployment routes must be a list of Route"):
        churn.create("web", 3)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"^tag key"):
        churn.create("web", ["churn@champion"], tags={"": "x"})
    assert list(churn.list()) == []


def test_update_routes_with_expected_revision(churn: Deployments) -> None:
    churn.create("web", ["churn@champion"])
    updated = churn.update_routes(
        "web", [Route("churn", "@champion", 80), Route("churn", "3", 20, "canary")]
    )
    assert updated.revision == 2
    with pytest.raises(Conflict, match=r"is at revision 2, not the expected 1"):
        churn.update_routes("web", ["churn/1"], expected_revision=1)
    assert churn.update_routes("web", ["churn/1"], expected_revision=2).revision == 3


def test_kept_routes_are_not_checked_again(churn: Deployments) -> None:
    """A route whose alias was removed does not block changing weights (only routes to targets
    the deployment did not route to before must be servable)."""
    churn.create("web", ["churn@champion:90", "churn/3:10:canary"])
    churn.registry.delete_alias("churn", "champion")
    changed = churn.set_route("web", "churn/3:20:canary")
    assert [r.spec for r in changed.routes] == ["churn@champion:80:primary", "churn/3:20:canary"]
    with pytest.raises(NotFound, match=r"follows alias 'prod'"):
        churn.update_routes("web", ["churn@champion:70", "churn@prod:30:canary"])
    assert churn.update_routes("web", ["churn@champion:70", "churn/1:30:canary"]).revision == 3
    with pytest.raises(NotFound, match=r"^route 'churn@champion' of deployment 'web' follows"):
        churn.resolve("web")


def test_set_route_and_remove_route_keep_weights_at_100(churn: Deployments) -> None:
    churn.create("web", ["churn@champion"])
    churn.set_route("web", "churn@challenger:10:canary")
    assert _specs(churn, "web") == ["churn@champion:90:primary", "churn@challenger:10:canary"]
    churn.set_route("web", "churn@challenger:30:canary")  # replaced in place
    assert _specs(churn, "web") == ["churn@champion:70:primary", "churn@challenger:30:canary"]
    churn.set_route("web", "churn/1:5:shadow")  # shadows take no live traffic
    assert _specs(churn, "web")[0] == "churn@champion:70:primary"
    churn.set_route("web", Route("churn", "1", 50, "shadow", arm="churn/1"))
    assert _specs(churn, "web")[2] == "churn/1:50:shadow"
    churn.remove_route("web", "churn@challenger")
    assert _specs(churn, "web") == ["churn@champion:100:primary", "churn/1:50:shadow"]
    assert churn.revision("web") == 6
    with pytest.raises(NotFound, match=r"^route 'churn/2' of deployment 'web' does not exist\. "):
        churn.remove_route("web", "churn/2")
    with pytest.raises(NotFound, match=r"Fix: did you mean 'churn@champion'\.$"):
        churn.remove_route("web", "churn@champoin")


def test_set_route_without_a_single_primary_to_rebalance_is_refused(churn: Deployments) -> None:
    churn.create("web", ["churn@champion:50", "churn/1:50"])
    with pytest.raises(InvalidInput, match=r"got 50 \(churn@champion\) \+ 50 \(churn/1\) \+ 10"):
        churn.set_route("web", "churn@challenger:10:canary")
    assert churn.revision("web") == 1


def test_concurrent_set_route_calls_all_apply(churn: Deployments) -> None:
    """Editors racing on one deployment re-read and retry: every edit lands, none is lost."""
    churn.create("web", ["churn@champion"])
    _register(churn, "shadowed", 8)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def edit(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            for step in range(2):
                churn.set_route("web", f"shadowed/{index * 2 + step + 1}:5:shadow")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=edit, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    shadows = sorted(r.arm for r in churn.get("web").routes if r.mode == "shadow")
    assert shadows == [f"shadowed/{i}" for i in range(1, 9)]
    assert churn.revision("web") == 9


# ---- resolving and polling ---------------------------------------------------------------------


def test_resolve_gives_every_route_its_version(churn: Deployments) -> None:
    churn.create("web", ["churn@champion:90", "churn/1:10:canary", "churn@challenger::shadow"])
    resolved = churn.resolve("web")
    assert resolved.revision == 1
    assert [(r.arm, r.version, r.weight, r.mode) for r in resolved.routes] == [
        ("churn@champion", 2, 90.0, "primary"),
        ("churn/1", 1, 10.0, "canary"),
        ("churn@challenger", 3, 100.0, "shadow"),
    ]
    assert [r.model_uri for r in resolved.routes] == [
        "models:/churn/2",
        "models:/churn/1",
        "models:/churn/3",
    ]


def test_fingerprint_tells_a_poller_when_to_resolve_again(churn: Deployments) -> None:
    churn.create("web", ["churn@champion:90", "churn/1:10:canary"])
    served = churn.resolve("web")
    assert churn.fingerprint("web") == served.fingerprint
    churn.registry.set_alias("churn", "challenger", 1)  # an alias no route follows
    assert churn.fingerprint("web") == served.fingerprint
    churn.registry.set_alias("churn", "champion", 3)  # promotion
    moved = churn.fingerprint("web")
    assert moved != served.fingerprint
    assert moved.revision == served.revision
    served = churn.resolve("web")
    assert (served.routes[0].version, churn.fingerprint("web")) == (3, served.fingerprint)
    churn.set_route("web", "churn/1:20:canary")
    assert churn.fingerprint("web") != served.fingerprint
    assert churn.resolve("web").fingerprint == churn.fingerprint("web")


def test_resolve_names_the_route_that_cannot_be_served(churn: Deployments) -> None:
    churn.create("web", ["churn@champion:90", "churn/1:10:canary"])
    churn.registry.delete_alias("churn", "champion")
    with pytest.raises(NotFound, match=r"^route 'churn@champion' of deployment 'web' follows"):
        churn.resolve("web")
    churn.registry.set_alias("churn", "champion", 2)
    churn.registry.delete_model_version("churn", 1)
    with pytest.raises(NotFound, match=r"^route 'churn/1' of deployment 'web' names version 1"):
        churn.resolve("web")
    with pytest.raises(NotFound, match=r"^deployment 'wbe' does not exist\. Fix: did you mean"):
        churn.fingerprint("wbe")


def test_a_resolved_route_loads_the_version_it_names(one_thread: None) -> None:
    """End to end with real models: promote, resolve, load, predict; promote again, and the
    next resolution serves the new version."""
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    y = (X["a"] > 0).astype(int)
    registry = ModelRegistry()
    models = [LogisticRegression().fit(X, labels) for labels in (y, 1 - y)]
    for model in models:
        loopml.log_model(model, "model", input_example=X.head(3), registered_model_name="churn")
    registry.set_alias("churn", "champion", 1)
    deployments = Deployments(client=registry.client)
    deployments.create("web", ["churn@champion"])
    served = deployments.resolve("web")
    first = registry.load_model(served.routes[0].model_uri, trust=True)
    assert np.array_equal(first.predict(X), models[0].predict(X))
    registry.set_alias("churn", "champion", 2)
    assert deployments.fingerprint("web") != served.fingerprint
    second = registry.load_model(deployments.resolve("web").routes[0].model_uri, trust=True)
    assert np.array_equal(second.predict(X), models[1].predict(X))
    assert not np.array_equal(models[0].predict(X), models[1].predict(X))
