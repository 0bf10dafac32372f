"""The deployment store contract as named checks (see
:class:`loopml.store.deployments.DeploymentStore`).

Run it from a test over every backend::

    @pytest.mark.parametrize("name", [name for name, _ in check_deployment_store(make_stores)])
    def test_deployment_store(name):
        dict(check_deployment_store(make_stores))[name]()

``make_stores`` returns a fresh, empty, schema-ready deployment store and the registry store of
the same metadata store (fingerprints read the registry's aliases; the checks register versions
and move aliases through it). Each check calls it once, when it runs (never when it is yielded),
and raises :class:`AssertionError` with a message naming what broke. Routes are built with
``loopml.core.deployments``, as the SDK builds them.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator, Sequence

from loopml.core.deployments import (
    MAX_DEPLOYMENT_NAME_LENGTH,
    Deployment,
    Route,
    parse_route,
)
from loopml.core.entities import Page
from loopml.core.errors import Conflict, InvalidInput, NotFound
from loopml.core.ids import now_ms
from loopml.core.registry import MAX_ALIAS_LENGTH, MAX_MODEL_NAME_LENGTH, AuditEvent, Lineage
from loopml.store.conformance._support import (
    THREADS,
    expect,
    expect_equal,
    expect_raises,
    fail,
    named_checks,
    run_threads,
)
from loopml.store.deployments import DeploymentStore
from loopml.store.registry import RegistryStore

__all__ = ["check_deployment_store"]

StoresFactory = Callable[[], tuple[DeploymentStore, RegistryStore]]

_ALL = 10_000  # max_results large enough to read every row a check writes
_SHA = "0" * 64


# -- helpers --------------------------------------------------------------------------------------


def _routes(*specs: str) -> list[Route]:
    return [parse_route(spec) for spec in specs]


def _store(make_stores: StoresFactory) -> DeploymentStore:
    return make_stores()[0]


def _register(registry: RegistryStore, name: str, count: int) -> None:
    """Register ``count`` versions of ``name`` (made-up files: nothing is loaded)."""
    for _ in range(count):
        registry.create_model_version(name, "src", "sklearn", [("MLmodel", _SHA, 1)], Lineage())


def _events(store: DeploymentStore) -> list[AuditEvent]:
    return store.list_audit_events(max_results=_ALL)


def _specs(deployment: Deployment) -> list[str]:
    return [r.spec for r in deployment.routes]


def _all_pages(search: Callable[[str | None], Page[Deployment]]) -> list[Page[Deployment]]:
    pages = [search(None)]
    while pages[-1].token is not None:
        expect(len(pages) < 20, "paging through deployments does not end")
        pages.append(search(pages[-1].token))
    return pages


# -- create and read ------------------------------------------------------------------------------


def _check_create_and_get(make_stores: StoresFactory) -> None:
    """create_deployment returns the deployment at revision 1; get returns the same."""
    store = _store(make_stores)
    routes = _routes("churn@champion:90", "churn/3:10:canary", "churn@challenger:25:shadow")
    before = now_ms()
    created = store.create_deployment("web", routes, "delay API", {"team": "ops"}, "ana")
    after = now_ms()
    got = store.get_deployment("web")
    expect_equal(got, created, "get_deployment of a new deployment vs what create returned")
    expect_equal(got.name, "web", "name")
    expect_equal(got.routes, tuple(routes), "routes")
    expect_equal(got.description, "delay API", "description")
    expect_equal(dict(got.tags), {"team": "ops"}, "tags")
    expect_equal(got.revision, 1, "revision of a new deployment")
    expect(
        before <= got.created_time <= after and got.created_time == got.updated_time,
        f"created_time {got.created_time} should lie in [{before}, {after}] and equal "
        f"updated_time {got.updated_time}",
    )
    expect_equal(store.get_revision("web"), 1, "get_revision of a new deployment")


def _check_create_duplicate_conflict(make_stores: StoresFactory) -> None:
    """A taken name is a Conflict that changes nothing; names are case-sensitive."""
    store = _store(make_stores)
    first = store.create_deployment("web", _routes("churn@champion"))
    error = expect_raises(
        Conflict,
        lambda: store.create_deployment("web", _routes("fraud@champion")),
        "create of a taken name",
    )
    expect("already exists" in str(error), f"the Conflict should say so; got {error}")
    expect_equal(store.get_deployment("web"), first, "the deployment after the refusal")
    other = store.create_deployment("Web", _routes("fraud/1"))
    expect_equal(other.name, "Web", "a name differing in case")


def _check_unknown_not_found(make_stores: StoresFactory) -> None:
    """Every operation on an unknown deployment is NotFound with a message naming it."""
    store = _store(make_stores)
    store.create_deployment("known", _routes("churn@champion"))
    calls: dict[str, Callable[[], object]] = {
        "get_deployment": lambda: store.get_deployment("ghost"),
        "get_revision": lambda: store.get_revision("ghost"),
        "get_fingerprint": lambda: store.get_fingerprint("ghost"),
        "update_routes": lambda: store.update_routes("ghost", _routes("churn@champion")),
        "delete_deployment": lambda: store.delete_deployment("ghost"),
    }
    for method, call in calls.items():
        error = expect_raises(NotFound, call, f"{method} of an unknown deployment")
        expect("'ghost'" in str(error), f"{method}: the message should name 'ghost': {error}")
    expect_equal(store.list_audit_events("ghost"), [], "events of 'ghost'")


def _check_not_found_suggests_a_close_name(make_stores: StoresFactory) -> None:
    """A misspelt name's NotFound suggests the existing name closest to it."""
    store = _store(make_stores)
    store.create_deployment("web-delay", _routes("churn@champion"))
    error = expect_raises(NotFound, lambda: store.get_revision("web-dealy"), "a misspelt name")
    expect("did you mean 'web-delay'" in str(error), f"the NotFound should suggest it: {error}")


def _check_routes_round_trip_in_order(make_stores: StoresFactory) -> None:
    """Routes come back in the order given, with targets, weights, modes and arms exact."""
    store = _store(make_stores)
    routes = [
        Route("churn", "@champion", 33.3, "primary"),
        Route("churn", "7", 33.3, "canary", arm="seven"),
        Route("fraud detector", "@champion", 33.4, "canary"),
        Route("churn", "@shadowed", 0.5, "shadow"),
        Route("churn.v2", "12", 100.0, "shadow"),
    ]
    store.create_deployment("mixed", routes)
    got = store.get_deployment("mixed").routes
    expect_equal(got, tuple(routes), "routes read back")
    expect_equal(
        [(r.version, r.alias) for r in got],
        [(None, "champion"), (7, None), (None, "champion"), (None, "shadowed"), (12, None)],
        "versions and aliases of the routes",
    )
    reordered = list(reversed(routes))
    store.update_routes("mixed", reordered)
    expect_equal(store.get_deployment("mixed").routes, tuple(reordered), "routes reordered")


def _check_single_route_defaults_to_all_traffic(make_stores: StoresFactory) -> None:
    """A single primary route given without a weight takes 100% of the traffic."""
    store = _store(make_stores)
    created = store.create_deployment("web", [Route("churn", "@champion")])
    expect_equal(created.routes[0].weight, 100.0, "weight of a single route without one")
    expect_equal(_specs(store.get_deployment("web")), ["churn@champion:100:primary"], "stored")


def _check_invalid_routes_rejected(make_stores: StoresFactory) -> None:
    """Route sets that do not make a deployment are InvalidInput, and write nothing."""
    store = _store(make_stores)
    store.create_deployment("web", _routes("churn@champion"))
    events = _events(store)
    bad_sets: dict[str, object] = {
        "no routes": [],
        "only shadow routes": _routes("churn@champion::shadow"),
        "weights summing to 90": _routes("churn@champion:80", "churn/2:10:canary"),
        "weights summing to 110": _routes("churn@champion", "churn/2:10:canary"),
        "a repeated arm": [Route("churn", "1", 50, arm="a"), Route("churn", "2", 50, arm="a")],
        "a repeated model and target": _routes("churn/2:50", "churn/2:50:canary"),
        "a repeated target across modes": _routes("churn/2", "churn/2::shadow"),
        "a string": "churn@champion",
        "a list of strings": ["churn@champion"],
        "None": None,
    }
    for what, routes in bad_sets.items():
        expect_raises(
            InvalidInput,
            lambda routes=routes: store.create_deployment("new", routes),  # type: ignore[misc]
            f"create with {what}",
        )
        expect_raises(
            InvalidInput,
            lambda routes=routes: store.update_routes("web", routes),  # type: ignore[misc]
            f"update_routes with {what}",
        )
    expect_raises(NotFound, lambda: store.get_deployment("new"), "the refused deployment")
    expect_equal(store.get_revision("web"), 1, "revision after the refusals")
    expect_equal(_events(store), events, "audit events after the refusals")


def _check_invalid_input_rejected(make_stores: StoresFactory) -> None:
    """Bad names, descriptions, tags and expected revisions are InvalidInput, writing nothing."""
    store = _store(make_stores)
    store.create_deployment("web", _routes("churn@champion"))
    routes = _routes("churn/1")
    refusals: dict[str, Callable[[], object]] = {
        "empty name": lambda: store.create_deployment("", routes),
        "name with '@'": lambda: store.create_deployment("web@prod", routes),
        "name with '/'": lambda: store.create_deployment("web/prod", routes),
        "name with a trailing space": lambda: store.create_deployment("web ", routes),
        "name too long": lambda: store.create_deployment("w" * 257, routes),
        "NUL in the description": lambda: store.create_deployment("new", routes, "a\x00b"),
        "an empty tag key": lambda: store.create_deployment("new", routes, tags={"": "v"}),
        "expected revision 0": lambda: store.update_routes("web", routes, expected_revision=0),
        "expected revision True": lambda: store.update_routes(
            "web", routes, expected_revision=True
        ),
        "expected revision '1'": lambda: store.update_routes(
            "web",
            routes,
            expected_revision="1",  # type: ignore[arg-type]
        ),
    }
    events = _events(store)
    for what, refusal in refusals.items():
        expect_raises(InvalidInput, refusal, what)
    expect_equal(_events(store), events, "audit events after the refusals")
    expect_equal(_specs(store.get_deployment("web")), ["churn@champion:100:primary"], "routes")


# -- changing routes ------------------------------------------------------------------------------


def _check_update_routes_increments_revision(make_stores: StoresFactory) -> None:
    """Each change of the routes increments the revision by one and moves updated_time."""
    store = _store(make_stores)
    created = store.create_deployment("web", _routes("churn@champion"))
    first = store.update_routes("web", _routes("churn@champion:90", "churn@challenger:10:canary"))
    expect_equal(first.revision, 2, "revision after one change")
    second = store.update_routes("web", _routes("churn@challenger"))
    expect_equal(second.revision, 3, "revision after two changes")
    got = store.get_deployment("web")
    expect_equal(got, second, "get_deployment vs what update_routes returned")
    expect_equal(_specs(got), ["churn@challenger:100:primary"], "routes after two changes")
    expect_equal(got.created_time, created.created_time, "created_time never changes")
    expect(got.updated_time >= created.updated_time, "updated_time must not go back")
    expect_equal(
        (got.description, dict(got.tags)),
        (created.description, dict(created.tags)),
        "description and tags are kept",
    )


def _check_update_routes_unchanged_changes_nothing(make_stores: StoresFactory) -> None:
    """Routes equal to the stored ones keep the revision and write no audit event."""
    store = _store(make_stores)
    routes = _routes("churn@champion:90", "churn/4:10:canary")
    store.create_deployment("web", routes)
    events = _events(store)
    again = store.update_routes("web", _routes("churn@champion:90.0", "churn/04:10:canary"))
    expect_equal(again.revision, 1, "revision after re-setting the same routes")
    expect_equal(_events(store), events, "audit events after re-setting the same routes")
    moved = store.update_routes("web", list(reversed(routes)))
    expect_equal(moved.revision, 2, "revision after reordering the routes (a change)")


def _check_update_routes_expected_revision(make_stores: StoresFactory) -> None:
    """With expected_revision, a deployment that moved on is a Conflict naming both revisions
    and changing nothing; the current revision is accepted."""
    store = _store(make_stores)
    store.create_deployment("web", _routes("churn@champion"))
    store.update_routes("web", _routes("churn/1"), expected_revision=1)
    events = _events(store)
    error = expect_raises(
        Conflict,
        lambda: store.update_routes("web", _routes("churn/2"), expected_revision=1),
        "update_routes expecting a stale revision",
    )
    expect("revision 2" in str(error) and "1" in str(error), f"the Conflict names them: {error}")
    expect_equal(_specs(store.get_deployment("web")), ["churn/1:100:primary"], "routes")
    expect_equal(_events(store), events, "audit events after the refusal")
    stale_same = expect_raises(
        Conflict,
        lambda: store.update_routes("web", _routes("churn/1"), expected_revision=1),
        "update_routes expecting a stale revision, with the stored routes",
    )
    expect("revision 2" in str(stale_same), f"the Conflict names the revision: {stale_same}")
    done = store.update_routes("web", _routes("churn/2"), expected_revision=2)
    expect_equal(done.revision, 3, "revision after an update expecting the current one")


def _check_revision_tracks_changes(make_stores: StoresFactory) -> None:
    """get_revision equals the revision get_deployment reports, after every kind of change."""
    store = _store(make_stores)
    store.create_deployment("web", _routes("churn@champion"))
    for specs in (("churn/1",), ("churn/1",), ("churn/1:50", "churn/2:50:canary"), ("churn/3",)):
        store.update_routes("web", _routes(*specs))
        expect_equal(
            store.get_revision("web"), store.get_deployment("web").revision, f"after {specs}"
        )
    expect_equal(store.get_revision("web"), 4, "revision after three changes and one no-op")


def _check_delete(make_stores: StoresFactory) -> None:
    """Deleting a deployment removes it and its routes; the name is free again, from revision 1,
    without the old routes."""
    store = _store(make_stores)
    store.create_deployment("web", _routes("churn@champion:50", "churn/1:50:canary"))
    store.update_routes("web", _routes("churn@champion:60", "churn/1:40:canary"))
    store.create_deployment("api", _routes("fraud/1"))
    store.delete_deployment("web")
    expect_raises(NotFound, lambda: store.get_deployment("web"), "get of a deleted deployment")
    expect_raises(NotFound, lambda: store.get_revision("web"), "revision of a deleted one")
    expect_raises(NotFound, lambda: store.delete_deployment("web"), "deleting it again")
    expect_equal([d.name for d in store.search_deployments()], ["api"], "deployments left")
    again = store.create_deployment("web", _routes("churn/2"))
    expect_equal((again.revision, _specs(again)), (1, ["churn/2:100:primary"]), "recreated")
    expect_equal(store.get_deployment("web"), again, "the recreated deployment read back")
    expect_equal(_specs(store.get_deployment("api")), ["fraud/1:100:primary"], "the other one")


def _check_routes_belong_to_one_deployment(make_stores: StoresFactory) -> None:
    """Deployments with the same arms keep their own routes through changes and deletion."""
    store = _store(make_stores)
    store.create_deployment("a", _routes("churn@champion"))
    store.create_deployment("b", _routes("churn@champion"))
    store.update_routes("a", _routes("churn@champion:70", "churn/1:30:canary"))
    expect_equal(_specs(store.get_deployment("b")), ["churn@champion:100:primary"], "b")
    store.delete_deployment("b")
    expect_equal(len(store.get_deployment("a").routes), 2, "routes of a after deleting b")


# -- listing --------------------------------------------------------------------------------------


def _check_search_order_and_paging(make_stores: StoresFactory) -> None:
    """Deployments come ordered by name (code point) with their routes; tokens page through
    all of them without repeats."""
    store = _store(make_stores)
    wanted = sorted(f"{prefix}{i:02d}" for i in range(12) for prefix in ("d", "D"))
    for i, name in enumerate(reversed(wanted)):
        store.create_deployment(name, _routes(f"churn/{i + 1}"))
    pages = _all_pages(lambda token: store.search_deployments(max_results=5, page_token=token))
    for page in pages:
        expect(len(page) <= 5, f"a page of max_results=5 held {len(page)} deployments")
    seen = [d for page in pages for d in page]
    expect_equal([d.name for d in seen], wanted, "names over all pages (no repeats, code point)")
    for deployment in seen:
        expect_equal(deployment, store.get_deployment(deployment.name), "a listed deployment")
    exact = store.search_deployments(max_results=len(wanted))
    expect_equal(exact.token, None, "token of a page holding the last deployment")
    expect_raises(
        InvalidInput, lambda: store.search_deployments(page_token="not a token"), "bad page token"
    )


def _check_search_name_contains(make_stores: StoresFactory) -> None:
    """name_contains is a case-insensitive substring; % and _ are literal characters."""
    store = _store(make_stores)
    for name in ("Web-EU", "web_us", "batch", "webXus", "100 web"):
        store.create_deployment(name, _routes("churn@champion"))

    def names(needle: str | None) -> list[str]:
        return [d.name for d in store.search_deployments(needle, max_results=_ALL)]

    expect_equal(names("WEB"), ["100 web", "Web-EU", "webXus", "web_us"], "name_contains 'WEB'")
    expect_equal(names("b_u"), ["web_us"], "'_' is literal")
    expect_equal(names("0%w"), [], "'%' is literal (as a wildcard it would match '100 web')")
    expect_equal(len(names(None)), 5, "no filter lists every deployment")


def _check_search_max_results_bounds(make_stores: StoresFactory) -> None:
    """max_results must be an integer from 1 to the search limit."""
    store = _store(make_stores)
    for bad in (0, -1, True, 1.5, 10**9):
        expect_raises(
            InvalidInput,
            lambda bad=bad: store.search_deployments(max_results=bad),  # type: ignore[misc]
            f"max_results={bad!r}",
        )
    for bad in (0, 10**9):
        expect_raises(
            InvalidInput,
            lambda bad=bad: store.list_audit_events(max_results=bad),  # type: ignore[misc]
            f"list_audit_events max_results={bad!r}",
        )


# -- audit ----------------------------------------------------------------------------------------


def _check_audit_one_event_per_change(make_stores: StoresFactory) -> None:
    """Create, each route change and delete write exactly one event each, with the actor."""
    store = _store(make_stores)
    store.create_deployment("web", _routes("churn@champion"), actor="ana")
    store.update_routes("web", _routes("churn@champion:90", "churn/2:10:canary"), actor="ana")
    store.update_routes("web", _routes("churn@champion:90", "churn/2:10:canary"), actor="ana")
    store.update_routes("web", _routes("churn/2"), actor="ana")
    store.delete_deployment("web", actor="ana")
    events = _events(store)
    want = [
        ("deployment.create", "deployment", "web"),
        ("deployment.update_routes", "deployment", "web"),
        ("deployment.update_routes", "deployment", "web"),
        ("deployment.delete", "deployment", "web"),
    ]
    expect_equal([(e.action, e.object_type, e.object_id) for e in events], want, "audit trail")
    expect_equal({e.actor for e in events}, {"ana"}, "actors")
    ids = [e.event_id for e in events]
    times = [e.time for e in events]
    expect(ids == sorted(set(ids)) and times == sorted(times), f"not oldest first: {ids}")


def _check_audit_route_change_before_and_after(make_stores: StoresFactory) -> None:
    """A route change records the revision and routes before and after; creation records what
    was created, deletion what was deleted."""
    store = _store(make_stores)
    store.create_deployment("web", _routes("churn@champion"), "api", {"team": "ops"})
    store.update_routes("web", _routes("churn@champion:80", "churn/3:20:canary"))
    store.delete_deployment("web")
    created, changed, deleted = _events(store)
    champion = {
        "arm": "churn@champion",
        "model": "churn",
        "target": "@champion",
        "weight": 100.0,
        "mode": "primary",
    }
    expect_equal(created.before, None, "before of a creation")
    expect_equal(
        created.after,
        {"description": "api", "tags": {"team": "ops"}, "revision": 1, "routes": [champion]},
        "after of a creation",
    )
    new_routes = [
        {**champion, "weight": 80.0},
        {"arm": "churn/3", "model": "churn", "target": "3", "weight": 20.0, "mode": "canary"},
    ]
    expect_equal(
        (changed.before, changed.after),
        ({"revision": 1, "routes": [champion]}, {"revision": 2, "routes": new_routes}),
        "before/after of a route change",
    )
    expect_equal(
        deleted.before,
        {"description": "api", "tags": {"team": "ops"}, "revision": 2, "routes": new_routes},
        "before of a deletion",
    )
    expect_equal(deleted.after, None, "after of a deletion")


def _check_audit_failed_operation_writes_nothing(make_stores: StoresFactory) -> None:
    """A refused change leaves no audit event (the event shares the change's transaction)."""
    store = _store(make_stores)
    store.create_deployment("web", _routes("churn@champion"))
    events = _events(store)
    refusals: dict[str, Callable[[], object]] = {
        "create taken name": lambda: store.create_deployment("web", _routes("churn/1")),
        "stale revision": lambda: store.update_routes("web", _routes("churn/1"), 7),
        "update unknown": lambda: store.update_routes("ghost", _routes("churn/1")),
        "delete unknown": lambda: store.delete_deployment("ghost"),
    }
    for what, refusal in refusals.items():
        try:
            refusal()
        except (Conflict, NotFound):
            pass
        else:
            fail(f"{what} should be refused")
        expect_equal(_events(store), events, f"audit events after the refused {what!r}")
    expect_equal(store.get_revision("web"), 1, "revision after the refusals")


def _check_audit_filter_and_limit(make_stores: StoresFactory) -> None:
    """list_audit_events lists deployment events only, of one deployment when named (exactly:
    no prefix matching), and returns the NEWEST max_results, oldest first."""
    store, registry = make_stores()
    _register(registry, "churn", 1)
    store.create_deployment("web", _routes("churn@champion"))
    store.create_deployment("web_2", _routes("churn/1"))
    store.update_routes("web", _routes("churn/1"))
    registry.set_alias("churn", "champion", 1)
    everything = _events(store)
    expect_equal(
        [(e.action, e.object_id) for e in everything],
        [
            ("deployment.create", "web"),
            ("deployment.create", "web_2"),
            ("deployment.update_routes", "web"),
        ],
        "deployment events (registry events excluded)",
    )
    expect_equal(
        [e.action for e in store.list_audit_events("web", _ALL)],
        ["deployment.create", "deployment.update_routes"],
        "events of 'web'",
    )
    expect_equal(store.list_audit_events(max_results=1), everything[-1:], "the newest one")
    expect_equal(store.list_audit_events("we", _ALL), [], "a prefix of a name matches nothing")


# -- fingerprints ---------------------------------------------------------------------------------


def _check_fingerprint_lists_served_versions(make_stores: StoresFactory) -> None:
    """A fingerprint holds the revision and each route with the version it serves now: the
    pinned one, or the one its alias points at (None while the alias is not set)."""
    store, registry = make_stores()
    _register(registry, "churn", 3)
    registry.set_alias("churn", "champion", 2)
    store.create_deployment(
        "web", _routes("churn@champion:90", "churn/3:10:canary", "churn@challenger::shadow")
    )
    got = store.get_fingerprint("web")
    expect_equal(got.revision, 1, "revision in the fingerprint")
    expect_equal(
        got.routes,
        (
            ("churn@champion", "churn", "@champion", 90.0, "primary", 2),
            ("churn/3", "churn", "3", 10.0, "canary", 3),
            ("churn@challenger", "churn", "@challenger", 100.0, "shadow", None),
        ),
        "routes in the fingerprint",
    )
    expect_equal(store.get_fingerprint("web"), got, "a second read with nothing changed")


def _check_fingerprint_follows_alias_moves(make_stores: StoresFactory) -> None:
    """Moving an alias a route follows changes the fingerprint (not the revision); moving it
    back restores it; aliases of other models, and other aliases, change nothing."""
    store, registry = make_stores()
    _register(registry, "churn", 3)
    _register(registry, "fraud", 2)
    registry.set_alias("churn", "champion", 1)
    registry.set_alias("fraud", "champion", 1)
    store.create_deployment("web", _routes("churn@champion"))
    first = store.get_fingerprint("web")
    registry.set_alias("churn", "champion", 3)
    moved = store.get_fingerprint("web")
    expect(moved != first, "the fingerprint should change when the followed alias moves")
    expect_equal(moved.revision, first.revision, "revision after an alias move")
    expect_equal(moved.routes[0][-1], 3, "the version the moved alias serves")
    registry.set_alias("fraud", "champion", 2)
    registry.set_alias("churn", "challenger", 2)
    expect_equal(store.get_fingerprint("web"), moved, "after moving unrelated aliases")
    registry.set_alias("churn", "champion", 1)
    expect_equal(store.get_fingerprint("web"), first, "after moving the alias back")
    registry.delete_alias("churn", "champion")
    gone = store.get_fingerprint("web")
    expect_equal(gone.routes[0][-1], None, "the version of a deleted alias")


def _check_fingerprint_changes_with_routes(make_stores: StoresFactory) -> None:
    """Changing the routes changes the fingerprint, and so does deleting and recreating the
    deployment with other routes (its revision restarts at 1)."""
    store, registry = make_stores()
    _register(registry, "churn", 2)
    store.create_deployment("web", _routes("churn/1"))
    first = store.get_fingerprint("web")
    store.update_routes("web", _routes("churn/1:50", "churn/2:50:canary"))
    second = store.get_fingerprint("web")
    expect(second != first, "the fingerprint should change with the routes")
    expect_equal(second.revision, 2, "revision in the fingerprint after a change")
    store.delete_deployment("web")
    expect_raises(NotFound, lambda: store.get_fingerprint("web"), "fingerprint of a deleted one")
    store.create_deployment("web", _routes("churn/2"))
    recreated = store.get_fingerprint("web")
    expect_equal(recreated.revision, first.revision, "revision of the recreated deployment")
    expect(recreated != first, "a recreated deployment with other routes has another fingerprint")


# -- concurrency ----------------------------------------------------------------------------------


def _check_concurrent_updates_expecting_one_revision(make_stores: StoresFactory) -> None:
    """Writers racing from the same revision, each expecting it: exactly one wins, the others
    get a Conflict, and the revision moves by one."""
    store = _store(make_stores)
    store.create_deployment("web", _routes("churn@champion"))
    won: list[int] = []
    lock = threading.Lock()

    def update(index: int) -> None:
        try:
            store.update_routes("web", _routes(f"churn/{index + 1}"), expected_revision=1)
        except Conflict:
            return
        with lock:
            won.append(index)

    errors = run_threads(update)
    expect(not errors, f"racing updates raised: {errors!r:.600}")
    expect_equal(len(won), 1, f"winners among {THREADS} writers expecting revision 1")
    got = store.get_deployment("web")
    expect_equal(got.revision, 2, "revision after the race")
    expect_equal(_specs(got), [f"churn/{won[0] + 1}:100:primary"], "the winner's routes")
    expect_equal(len(_events(store)), 2, "events: the creation and the one winning change")


def _check_concurrent_updates_serialise(make_stores: StoresFactory) -> None:
    """Racing updates without an expected revision all apply, one after the other: the revision
    counts them, and each event's 'before' is the previous event's 'after'."""
    store = _store(make_stores)
    store.create_deployment("web", _routes("churn@champion"))

    def update(index: int) -> None:
        for step in range(3):
            store.update_routes("web", _routes(f"churn/{index * 3 + step + 1}"))

    errors = run_threads(update)
    expect(not errors, f"racing updates raised: {errors!r:.600}")
    total = THREADS * 3
    expect_equal(store.get_revision("web"), 1 + total, "revision after the race")
    changes = [e for e in _events(store) if e.action == "deployment.update_routes"]
    expect_equal(len(changes), total, "route change events")
    previous = _events(store)[0].after
    for event in changes:
        before, after = event.before, event.after
        expect(
            isinstance(before, dict)
            and isinstance(previous, dict)
            and before["routes"] == previous["routes"]
            and before["revision"] == previous["revision"],
            f"an event's before {before!r:.200} is not the previous after {previous!r:.200}",
        )
        previous = after
    final = [r.to_dict() for r in store.get_deployment("web").routes]
    expect(isinstance(previous, dict) and previous["routes"] == final, "last event vs routes")


def _check_concurrent_create_one_name(make_stores: StoresFactory) -> None:
    """Racing creations of one name: one wins, the others get a Conflict."""
    store = _store(make_stores)
    created: list[int] = []
    lock = threading.Lock()

    def create(index: int) -> None:
        try:
            store.create_deployment("web", _routes(f"churn/{index + 1}"))
        except Conflict:
            return
        with lock:
            created.append(index)

    errors = run_threads(create)
    expect(not errors, f"racing creations raised: {errors!r:.600}")
    expect_equal(len(created), 1, "creations that succeeded")
    expect_equal(
        _specs(store.get_deployment("web")), [f"churn/{created[0] + 1}:100:primary"], "routes"
    )
    expect_equal(len(_events(store)), 1, "creation events")


# -- values ---------------------------------------------------------------------------------------


def _check_long_names_round_trip(make_stores: StoresFactory) -> None:
    """The longest deployment, model and alias names round-trip and resolve in fingerprints."""
    store, registry = make_stores()
    name = "d" * MAX_DEPLOYMENT_NAME_LENGTH
    model = "m" * MAX_MODEL_NAME_LENGTH
    alias = "a" * MAX_ALIAS_LENGTH
    _register(registry, model, 1)
    registry.set_alias(model, alias, 1)
    routes = [Route(model, f"@{alias}"), Route(model, "1", 100.0, "shadow")]
    store.create_deployment(name, routes, actor="a" * 256)
    expect_equal(store.get_deployment(name).routes, tuple(routes), "routes with long names")
    expect_equal(store.get_fingerprint(name).routes[0][-1], 1, "version of the long alias")
    expect_equal(store.list_audit_events(name)[0].actor, "a" * 256, "a long actor")


def _check_unicode_round_trip(make_stores: StoresFactory) -> None:
    """Non-ASCII descriptions, tags and actors round-trip exactly."""
    store = _store(make_stores)
    store.create_deployment(
        "web", _routes("churn@champion"), "prédit les retards ✈", {"équipe": "données ✓"}, "zoë"
    )
    got = store.get_deployment("web")
    expect_equal(got.description, "prédit les retards ✈", "description")
    expect_equal(dict(got.tags), {"équipe": "données ✓"}, "tags")
    expect_equal(store.list_audit_events("web")[0].actor, "zoë", "actor")


def _check_names_are_exact(make_stores: StoresFactory) -> None:
    """Lookups match names exactly: no case folding, no prefix or LIKE matching."""
    store = _store(make_stores)
    store.create_deployment("web", _routes("churn@champion"))
    store.create_deployment("web_2", _routes("churn@champion"))
    for other in ("Web", "we", "web%", "web_"):
        get = functools.partial(store.get_revision, other)
        expect_raises(NotFound, get, f"get_revision({other!r})")
    store.update_routes("web", _routes("churn/1"))
    expect_equal(store.get_revision("web_2"), 1, "the other deployment's revision")


_CHECKS: Sequence[Callable[[StoresFactory], None]] = (
    _check_create_and_get,
    _check_create_duplicate_conflict,
    _check_unknown_not_found,
    _check_not_found_suggests_a_close_name,
    _check_routes_round_trip_in_order,
    _check_single_route_defaults_to_all_traffic,
    _check_invalid_routes_rejected,
    _check_invalid_input_rejected,
    _check_update_routes_increments_revision,
    _check_update_routes_unchanged_changes_nothing,
    _check_update_routes_expected_revision,
    _check_revision_tracks_changes,
    _check_delete,
    _check_routes_belong_to_one_deployment,
    _check_search_order_and_paging,
    _check_search_name_contains,
    _check_search_max_results_bounds,
    _check_audit_one_event_per_change,
    _check_audit_route_change_before_and_after,
    _check_audit_failed_operation_writes_nothing,
    _check_audit_filter_and_limit,
    _check_fingerprint_lists_served_versions,
    _check_fingerprint_follows_alias_moves,
    _check_fingerprint_changes_with_routes,
    _check_concurrent_updates_expecting_one_revision,
    _check_concurrent_updates_serialise,
    _check_concurrent_create_one_name,
    _check_long_names_round_trip,
    _check_unicode_round_trip,
    _check_names_are_exact,
)


def check_deployment_store(
    make_stores: StoresFactory,
) -> Iterator[tuple[str, Callable[[], None]]]:
    """Yield ``(name, check)`` for every rule of the :class:`DeploymentStore` contract.

    ``make_stores`` returns a fresh, empty deployment store and the registry store of the same
    metadata store; each check calls it once, when run. A check is a zero-argument callable that
    returns ``None`` or raises :class:`AssertionError`.
    """
    return named_checks(_CHECKS, make_stores)
