"""The model registry contract as named checks (see :class:`loopml.store.registry.RegistryStore`).

Run it from a test over every backend::

    @pytest.mark.parametrize("name", [name for name, _ in check_registry_store(make_store)])
    def test_registry_store(name):
        dict(check_registry_store(make_store))[name]()

Each check calls ``make_store`` for a fresh, empty, schema-ready store when it runs (never when it
is yielded), and raises :class:`AssertionError` with a message naming what broke. Names, aliases
and versions are built with ``loopml.core.registry``'s validators, as the SDK builds them.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from loopml.core.entities import ArtifactInfo, Page
from loopml.core.errors import Conflict, InvalidInput, NotFound
from loopml.core.ids import now_ms
from loopml.core.registry import (
    MAX_MODEL_NAME_LENGTH,
    AuditEvent,
    Lineage,
    ModelVersion,
    validate_alias,
    validate_model_name,
)
from loopml.store.conformance._support import (
    THREADS,
    expect,
    expect_equal,
    expect_raises,
    fail,
    named_checks,
    run_threads,
)
from loopml.store.registry import RegistryStore

__all__ = ["check_registry_store"]

StoreFactory = Callable[[], RegistryStore]
_T = TypeVar("_T")

_PER_THREAD = 5
_RUN_ID = "0123456789abcdef0123456789abcdef"
_OTHER_RUN_ID = "fedcba9876543210fedcba9876543210"
_ALL = 10_000  # max_results large enough to read every row a check writes


# -- helpers --------------------------------------------------------------------------------------


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _files(*paths: str) -> list[tuple[str, str, int]]:
    return [(p, _sha(p), len(p)) for p in paths]


def _register(
    store: RegistryStore,
    name: str = "churn",
    files: Sequence[tuple[str, str, int]] | None = None,
    lineage: Lineage | None = None,
    actor: str = "",
    **kwargs: object,
) -> ModelVersion:
    return store.create_model_version(
        validate_model_name(name),
        f"runs:/{_RUN_ID}/model",
        "sklearn",
        _files("MLmodel", "model.pkl") if files is None else files,
        lineage or Lineage(run_id=_RUN_ID),
        actor=actor,
        **kwargs,  # type: ignore[arg-type]
    )


def _numbers(store: RegistryStore, name: str) -> list[int]:
    """Every version number of ``name``, ascending."""
    return sorted(v.version for v in store.search_model_versions(name=name, max_results=_ALL))


def _actions(events: Sequence[AuditEvent]) -> list[str]:
    return [e.action for e in events]


def _events(store: RegistryStore) -> list[AuditEvent]:
    return store.list_audit_events(max_results=_ALL)


def _all_pages(search: Callable[[str | None], Page[_T]], what: str) -> list[Page[_T]]:
    """The pages ``search(page_token)`` returns from the first to the one without a token;
    fails after 20 pages."""
    pages = [search(None)]
    while pages[-1].token is not None:
        expect(len(pages) < 20, f"paging through {what} does not end")
        pages.append(search(pages[-1].token))
    return pages


# -- registered models ----------------------------------------------------------------------------


def _check_registered_model_create_and_get(make_store: StoreFactory) -> None:
    """create_registered_model returns the model; get returns the same, with no versions yet."""
    store = make_store()
    before = now_ms()
    created = store.create_registered_model("churn", "predicts churn", {"team": "growth"}, "ana")
    after = now_ms()
    got = store.get_registered_model("churn")
    expect_equal(got, created, "get_registered_model of a new model vs what create returned")
    expect_equal(got.name, "churn", "name")
    expect_equal(got.description, "predicts churn", "description")
    expect_equal(dict(got.tags), {"team": "growth"}, "tags")
    expect_equal(dict(got.aliases), {}, "aliases of a new model")
    expect_equal(got.latest_version, None, "latest_version of a model without versions")
    expect(
        before <= got.creation_time <= after and got.creation_time <= got.last_updated_time,
        f"creation_time {got.creation_time} should lie in [{before}, {after}]",
    )
    expect_equal(_numbers(store, "churn"), [], "versions of a new model")


def _check_registered_model_duplicate_conflict(make_store: StoreFactory) -> None:
    """A taken name is a Conflict that changes nothing; names are case-sensitive."""
    store = make_store()
    first = store.create_registered_model("churn", "first")
    error = expect_raises(
        Conflict, lambda: store.create_registered_model("churn", "second"), "create taken name"
    )
    expect("already exists" in str(error), f"the Conflict should say so; got {error}")
    expect_equal(store.get_registered_model("churn"), first, "the model after the refusal")
    expect_equal(store.create_registered_model("Churn").name, "Churn", "a name differing in case")


def _check_registered_model_unknown_not_found(make_store: StoreFactory) -> None:
    """Every operation on an unknown model is NotFound with a message naming it."""
    store = make_store()
    store.create_registered_model("known")
    calls: dict[str, Callable[[], object]] = {
        "get_registered_model": lambda: store.get_registered_model("ghost"),
        "update_registered_model": lambda: store.update_registered_model("ghost", "d"),
        "delete_registered_model": lambda: store.delete_registered_model("ghost"),
        "set_registered_model_tag": lambda: store.set_registered_model_tag("ghost", "k", "v"),
        "delete_registered_model_tag": lambda: store.delete_registered_model_tag("ghost", "k"),
        "get_latest_version": lambda: store.get_latest_version("ghost"),
        "get_model_version": lambda: store.get_model_version("ghost", 1),
        "get_version_by_alias": lambda: store.get_version_by_alias("ghost", "champion"),
        "set_alias": lambda: store.set_alias("ghost", "champion", 1),
        "delete_alias": lambda: store.delete_alias("ghost", "champion"),
    }
    for method, call in calls.items():
        error = expect_raises(NotFound, call, f"{method} of an unknown model")
        expect("'ghost'" in str(error), f"{method}: the message should name 'ghost': {error}")
    expect_equal(len(store.search_model_versions(name="ghost")), 0, "versions of 'ghost'")


def _check_registered_model_update_description(make_store: StoreFactory) -> None:
    """update_registered_model replaces the description and moves last_updated_time."""
    store = make_store()
    created = store.create_registered_model("churn", "old")
    updated = store.update_registered_model("churn", "new ✓")
    expect_equal(updated.description, "new ✓", "returned description")
    expect_equal(store.get_registered_model("churn").description, "new ✓", "stored description")
    expect(
        updated.last_updated_time >= created.last_updated_time,
        "last_updated_time must not go back",
    )
    expect_equal(store.update_registered_model("churn", "").description, "", "empty description")


def _check_registered_model_tags(make_store: StoreFactory) -> None:
    """Model tags are set, overwritten and deleted; deleting an absent tag is NotFound."""
    store = make_store()
    store.create_registered_model("churn", tags={"a": "1"})
    store.set_registered_model_tag("churn", "b", "2")
    store.set_registered_model_tag("churn", "a", "one")
    expect_equal(dict(store.get_registered_model("churn").tags), {"a": "one", "b": "2"}, "tags")
    store.delete_registered_model_tag("churn", "a")
    expect_equal(dict(store.get_registered_model("churn").tags), {"b": "2"}, "after delete")
    expect_raises(
        NotFound, lambda: store.delete_registered_model_tag("churn", "a"), "delete absent tag"
    )


def _check_registered_model_delete(make_store: StoreFactory) -> None:
    """Deleting a model deletes its versions, files and tags; the name is free again."""
    store = make_store()
    _register(store, "churn")
    _register(store, "churn")
    _register(store, "other")
    store.set_registered_model_tag("churn", "team", "growth")
    store.delete_registered_model("churn")
    expect_raises(NotFound, lambda: store.get_registered_model("churn"), "get deleted model")
    expect_raises(NotFound, lambda: store.get_model_version("churn", 1), "get its version")
    expect_raises(NotFound, lambda: store.model_version_files("churn", 2), "files of its version")
    expect_equal(len(store.search_model_versions(name="churn")), 0, "versions after delete")
    expect_equal(_numbers(store, "other"), [1], "versions of another model")
    again = store.create_registered_model("churn")
    expect_equal(dict(again.tags), {}, "tags of a re-created model")
    expect_equal(again.latest_version, None, "latest_version of a re-created model")


def _check_registered_model_delete_with_alias_conflict(make_store: StoreFactory) -> None:
    """A model cannot be deleted while an alias is set; the Conflict names the alias."""
    store = make_store()
    _register(store)
    store.set_alias("churn", "champion", 1)
    error = expect_raises(
        Conflict, lambda: store.delete_registered_model("churn"), "delete a model with an alias"
    )
    expect("'champion'" in str(error), f"the Conflict should name the alias: {error}")
    expect_equal(_numbers(store, "churn"), [1], "versions after the refused delete")
    store.delete_alias("churn", "champion")
    store.delete_registered_model("churn")
    expect_raises(NotFound, lambda: store.get_registered_model("churn"), "get after delete")


# -- versions -------------------------------------------------------------------------------------


def _check_version_numbering(make_store: StoreFactory) -> None:
    """Versions are numbered 1, 2, 3 per model; registering creates the model if needed."""
    store = make_store()
    got = [_register(store, "churn").version for _ in range(3)]
    expect_equal(got, [1, 2, 3], "numbers of three registrations")
    expect_equal(_register(store, "fraud").version, 1, "first version of another model")
    expect_equal(store.get_registered_model("churn").latest_version, 3, "latest_version")
    store.create_registered_model("explicit")
    expect_equal(_register(store, "explicit").version, 1, "first version of a created model")


def _check_version_numbers_not_reused(make_store: StoreFactory) -> None:
    """A deleted number is never given again, even when it was the highest."""
    store = make_store()
    for _ in range(3):
        _register(store)
    store.delete_model_version("churn", 3)
    store.delete_model_version("churn", 2)
    expect_equal(store.get_registered_model("churn").latest_version, 1, "latest after deletes")
    expect_equal(_register(store).version, 4, "the number after deleting 2 and 3")
    store.delete_model_version("churn", 1)
    store.delete_model_version("churn", 4)
    expect_equal(store.get_registered_model("churn").latest_version, None, "latest of none")
    expect_equal(_register(store).version, 5, "the number after deleting every version")


def _check_version_create_round_trip(make_store: StoreFactory) -> None:
    """Every field of a version reads back as registered, and as create returned it."""
    store = make_store()
    before = now_ms()
    lineage = Lineage(_RUN_ID, ("ds-2", "ds-1"), "a" * 40, None)
    created = store.create_model_version(
        "churn",
        f"runs:/{_RUN_ID}/model",
        "sklearn",
        _files("MLmodel"),
        lineage,
        description="first",
        tags={"stage": "candidate"},
        actor="ana",
    )
    after = now_ms()
    got = store.get_model_version("churn", 1)
    expect_equal(got, created, "get_model_version vs what create_model_version returned")
    expect_equal(
        (got.name, got.version, got.source, got.flavor, got.user_id, got.description, got.status),
        ("churn", 1, f"runs:/{_RUN_ID}/model", "sklearn", "ana", "first", "READY"),
        "fields of the version",
    )
    expect_equal(got.lineage, lineage, "lineage")
    expect_equal(got.run_id, _RUN_ID, "run_id")
    expect_equal(dict(got.tags), {"stage": "candidate"}, "tags")
    expect_equal(got.aliases, (), "aliases of a new version")
    expect(
        before <= got.creation_time <= after and got.creation_time <= got.last_updated_time,
        f"creation_time {got.creation_time} should lie in [{before}, {after}]",
    )
    expect_equal(store.get_latest_version("churn"), got, "get_latest_version")


def _check_version_lineage_round_trip(make_store: StoreFactory) -> None:
    """Empty and full lineages round-trip; dataset ids keep their order; replaces must exist."""
    store = make_store()
    empty = _register(store, lineage=Lineage())
    expect_equal(store.get_model_version("churn", 1).lineage, Lineage(), "an empty lineage")
    expect_equal(empty.run_id, None, "run_id of a version without a run")
    full = Lineage(_OTHER_RUN_ID, ("z", "a", "m"), "0" * 40, 1)
    _register(store, lineage=full)
    expect_equal(store.get_model_version("churn", 2).lineage, full, "a full lineage")
    expect_equal(
        store.get_model_version("churn", 2).lineage.replaces_version, 1, "replaces_version"
    )


def _check_version_replaces_missing_not_found(make_store: StoreFactory) -> None:
    """replaces_version must exist; the refusal writes nothing and leaves no gap in numbers."""
    store = make_store()
    events = _events(store)
    error = expect_raises(
        NotFound,
        lambda: _register(store, "fresh", lineage=Lineage(replaces_version=7)),
        "register with replaces_version of a version that does not exist",
    )
    expect("7" in str(error), f"the NotFound should name version 7: {error}")
    expect_raises(NotFound, lambda: store.get_registered_model("fresh"), "the model it created")
    expect_equal(_events(store), events, "audit events after the refused registration")
    _register(store)
    expect_raises(
        NotFound,
        lambda: _register(store, lineage=Lineage(replaces_version=2)),
        "replaces_version of the number being assigned",
    )
    expect_equal(_register(store, lineage=Lineage(replaces_version=1)).version, 2, "next number")


def _check_version_files_listing(make_store: StoreFactory) -> None:
    """model_version_files lists each file once, sorted by path, with its sha256 and size."""
    store = make_store()
    files = [
        ("model/weights.bin", _sha("w"), 1024),
        ("MLmodel", _sha("m"), 12),
        ("model/config.json", _sha("c"), 0),
    ]
    _register(store, files=files)
    got = store.model_version_files("churn", 1)
    want = [ArtifactInfo(p, False, s, d) for p, d, s in sorted(files)]
    expect_equal(got, want, "files of the version")
    _register(store, files=[])
    expect_equal(store.model_version_files("churn", 2), [], "files of a version without files")


def _check_version_files_immutable(make_store: StoreFactory) -> None:
    """Later registrations (same paths, other bytes) never change an earlier version's files."""
    store = make_store()
    _register(store, files=[("model.pkl", _sha("v1"), 10)])
    first = store.model_version_files("churn", 1)
    _register(store, files=[("model.pkl", _sha("v2"), 20), ("extra.txt", _sha("e"), 1)])
    _register(store, "other", files=[("model.pkl", _sha("v3"), 30)])
    expect_equal(store.model_version_files("churn", 1), first, "version 1 after later versions")
    expect_equal(
        [(f.path, f.digest) for f in store.model_version_files("churn", 2)],
        [("extra.txt", _sha("e")), ("model.pkl", _sha("v2"))],
        "files of version 2",
    )


def _check_version_unknown_not_found(make_store: StoreFactory) -> None:
    """Every operation on a missing version of an existing model is NotFound naming it."""
    store = make_store()
    _register(store)
    calls: dict[str, Callable[[], object]] = {
        "get_model_version": lambda: store.get_model_version("churn", 9),
        "update_model_version": lambda: store.update_model_version("churn", 9, "d"),
        "delete_model_version": lambda: store.delete_model_version("churn", 9),
        "set_model_version_tag": lambda: store.set_model_version_tag("churn", 9, "k", "v"),
        "delete_model_version_tag": lambda: store.delete_model_version_tag("churn", 9, "k"),
        "model_version_files": lambda: store.model_version_files("churn", 9),
        "get_model_card": lambda: store.get_model_card("churn", 9),
        "set_model_card": lambda: store.set_model_card("churn", 9, "card"),
    }
    for method, call in calls.items():
        error = expect_raises(NotFound, call, f"{method} of version 9")
        expect(
            "version 9" in str(error) and "'churn'" in str(error),
            f"{method}: the message should name version 9 of 'churn': {error}",
        )


def _check_version_update_description(make_store: StoreFactory) -> None:
    """update_model_version replaces the description and returns the updated version."""
    store = make_store()
    created = _register(store, description="old")
    updated = store.update_model_version("churn", 1, "new")
    expect_equal(updated.description, "new", "returned description")
    expect_equal(store.get_model_version("churn", 1), updated, "stored vs returned version")
    expect(updated.last_updated_time >= created.last_updated_time, "last_updated_time went back")
    expect_equal(
        (updated.source, updated.lineage), (created.source, created.lineage), "other fields"
    )


def _check_version_tags(make_store: StoreFactory) -> None:
    """Version tags are set, overwritten, deleted, and kept apart per version."""
    store = make_store()
    _register(store, tags={"a": "1"})
    _register(store)
    store.set_model_version_tag("churn", 1, "b", "2")
    store.set_model_version_tag("churn", 1, "a", "one")
    store.set_model_version_tag("churn", 2, "a", "two")
    expect_equal(dict(store.get_model_version("churn", 1).tags), {"a": "one", "b": "2"}, "v1")
    expect_equal(dict(store.get_model_version("churn", 2).tags), {"a": "two"}, "tags of v2")
    store.delete_model_version_tag("churn", 1, "a")
    expect_equal(dict(store.get_model_version("churn", 1).tags), {"b": "2"}, "v1 after delete")
    expect_raises(
        NotFound, lambda: store.delete_model_version_tag("churn", 1, "a"), "delete absent tag"
    )


def _check_version_delete(make_store: StoreFactory) -> None:
    """A deleted version is gone from get, files, search and latest; others stay."""
    store = make_store()
    for _ in range(3):
        _register(store)
    store.delete_model_version("churn", 3)
    expect_raises(NotFound, lambda: store.get_model_version("churn", 3), "get deleted version")
    expect_raises(NotFound, lambda: store.model_version_files("churn", 3), "its files")
    expect_equal(_numbers(store, "churn"), [1, 2], "versions after deleting 3")
    expect_equal(store.get_latest_version("churn").version, 2, "latest after deleting 3")
    expect_equal(len(store.model_version_files("churn", 2)), 2, "files of version 2")
    expect_raises(NotFound, lambda: store.delete_model_version("churn", 3), "delete it again")


def _check_version_delete_aliased_conflict(make_store: StoreFactory) -> None:
    """A version an alias points at cannot be deleted; the Conflict names the aliases and the
    fix; after moving the alias it can."""
    store = make_store()
    _register(store)
    _register(store)
    store.set_alias("churn", "champion", 1)
    store.set_alias("churn", "baseline", 1)
    error = expect_raises(
        Conflict, lambda: store.delete_model_version("churn", 1), "delete an aliased version"
    )
    text = str(error)
    expect(
        "'champion'" in text and "'baseline'" in text and "Fix:" in text,
        f"the Conflict should name both aliases and a fix: {text}",
    )
    expect_equal(store.get_model_version("churn", 1).version, 1, "the version after the refusal")
    store.set_alias("churn", "champion", 2)
    store.delete_alias("churn", "baseline")
    store.delete_model_version("churn", 1)
    expect_equal(_numbers(store, "churn"), [2], "versions after moving the aliases")


def _check_latest_version(make_store: StoreFactory) -> None:
    """get_latest_version is the highest existing number; NotFound for a model without any."""
    store = make_store()
    store.create_registered_model("empty")
    error = expect_raises(NotFound, lambda: store.get_latest_version("empty"), "latest of none")
    expect("'empty'" in str(error), f"the NotFound should name the model: {error}")
    for _ in range(3):
        _register(store)
    expect_equal(store.get_latest_version("churn").version, 3, "latest of three")
    store.delete_model_version("churn", 3)
    expect_equal(store.get_latest_version("churn").version, 2, "latest after deleting 3")


# -- aliases --------------------------------------------------------------------------------------


def _check_alias_set_move_delete(make_store: StoreFactory) -> None:
    """An alias resolves to its version, moves when set again, and is gone once deleted."""
    store = make_store()
    for _ in range(3):
        _register(store)
    champion = validate_alias("champion")
    store.set_alias("churn", champion, 2)
    got = store.get_version_by_alias("churn", champion)
    expect_equal((got.version, got.aliases), (2, ("champion",)), "resolved version")
    expect_equal(got, store.get_model_version("churn", 2), "alias vs number resolution")
    store.set_alias("churn", champion, 1)  # roll back
    expect_equal(store.get_version_by_alias("churn", champion).version, 1, "after the move")
    expect_equal(store.get_model_version("churn", 2).aliases, (), "aliases of the old version")
    store.delete_alias("churn", champion)
    expect_raises(
        NotFound, lambda: store.get_version_by_alias("churn", champion), "resolve deleted alias"
    )
    expect_equal(dict(store.get_registered_model("churn").aliases), {}, "aliases after delete")


def _check_alias_listed_on_model_and_version(make_store: StoreFactory) -> None:
    """The model maps every alias to its version; a version lists its aliases sorted."""
    store = make_store()
    _register(store)
    _register(store)
    for alias, version in (("prod", 2), ("champion", 2), ("baseline", 1)):
        store.set_alias("churn", alias, version)
    model = store.get_registered_model("churn")
    expect_equal(
        dict(model.aliases), {"prod": 2, "champion": 2, "baseline": 1}, "aliases of the model"
    )
    expect_equal(store.get_model_version("churn", 2).aliases, ("champion", "prod"), "v2 aliases")
    listed = {v.version: v.aliases for v in store.search_model_versions(name="churn")}
    expect_equal(listed, {2: ("champion", "prod"), 1: ("baseline",)}, "aliases in search")
    found = store.search_registered_models("churn")
    expect_equal(dict(found[0].aliases), dict(model.aliases), "aliases in model search")


def _check_alias_missing_version_not_found(make_store: StoreFactory) -> None:
    """set_alias on a version that does not exist (or was deleted) is NotFound, sets nothing."""
    store = make_store()
    _register(store)
    _register(store)
    store.delete_model_version("churn", 2)
    for version in (2, 3):
        error = expect_raises(
            NotFound,
            functools.partial(store.set_alias, "churn", "champion", version),
            f"set_alias to missing version {version}",
        )
        expect(f"version {version}" in str(error), f"the NotFound should name it: {error}")
    expect_equal(dict(store.get_registered_model("churn").aliases), {}, "aliases after refusal")


def _check_alias_unknown_not_found(make_store: StoreFactory) -> None:
    """Resolving or deleting an alias that is not set is NotFound naming the alias."""
    store = make_store()
    _register(store)
    store.set_alias("churn", "champion", 1)
    for method, call in (
        ("get_version_by_alias", lambda: store.get_version_by_alias("churn", "challenger")),
        ("delete_alias", lambda: store.delete_alias("churn", "challenger")),
    ):
        error = expect_raises(NotFound, call, f"{method} of an unset alias")
        expect("'challenger'" in str(error), f"{method}: the message should name it: {error}")


def _check_alias_scoped_to_model(make_store: StoreFactory) -> None:
    """The same alias on two models points at each model's own version."""
    store = make_store()
    _register(store, "churn")
    _register(store, "churn")
    _register(store, "fraud")
    store.set_alias("churn", "champion", 2)
    store.set_alias("fraud", "champion", 1)
    expect_equal(store.get_version_by_alias("churn", "champion").version, 2, "churn@champion")
    got = store.get_version_by_alias("fraud", "champion")
    expect_equal((got.name, got.version), ("fraud", 1), "fraud@champion")
    store.delete_alias("fraud", "champion")
    expect_equal(store.get_version_by_alias("churn", "champion").version, 2, "churn@champion")


# -- model cards ----------------------------------------------------------------------------------


def _check_model_card(make_store: StoreFactory) -> None:
    """A card is None until set, then reads back exactly; each version has its own."""
    store = make_store()
    _register(store)
    _register(store)
    expect_equal(store.get_model_card("churn", 1), None, "card of a new version")
    text = "# Churn model\n\n| metric | value |\n|---|---|\n| auc | 0.91 |\n\nÉté 🚀\n"
    store.set_model_card("churn", 1, text)
    expect_equal(store.get_model_card("churn", 1), text, "card after set")
    store.set_model_card("churn", 1, "v2 of the card")
    expect_equal(store.get_model_card("churn", 1), "v2 of the card", "card after overwrite")
    expect_equal(store.get_model_card("churn", 2), None, "card of another version")
    store.set_model_card("churn", 2, "")
    expect_equal(store.get_model_card("churn", 2), "", "an edited, empty card is not None")


# -- audit ----------------------------------------------------------------------------------------


def _check_audit_one_event_per_change(make_store: StoreFactory) -> None:
    """Each change writes exactly one event, with its action, object and actor, oldest first."""
    store = make_store()
    store.create_registered_model("churn", actor="ana")
    _register(store, actor="ana")
    store.update_registered_model("churn", "d", actor="ana")
    store.set_registered_model_tag("churn", "k", "v", actor="ana")
    store.delete_registered_model_tag("churn", "k", actor="ana")
    store.update_model_version("churn", 1, "d", actor="ana")
    store.set_model_version_tag("churn", 1, "k", "v", actor="ana")
    store.delete_model_version_tag("churn", 1, "k", actor="ana")
    store.set_model_card("churn", 1, "card", actor="ana")
    store.set_alias("churn", "champion", 1, actor="ana")
    store.delete_alias("churn", "champion", actor="ana")
    _register(store, actor="ana")
    store.delete_model_version("churn", 2, actor="ana")
    store.delete_registered_model("churn", actor="ana")
    events = _events(store)
    want = [
        ("registered_model.create", "registered_model", "churn"),
        ("model_version.create", "model_version", "churn/1"),
        ("registered_model.update", "registered_model", "churn"),
        ("registered_model.set_tag", "registered_model", "churn"),
        ("registered_model.delete_tag", "registered_model", "churn"),
        ("model_version.update", "model_version", "churn/1"),
        ("model_version.set_tag", "model_version", "churn/1"),
        ("model_version.delete_tag", "model_version", "churn/1"),
        ("model_version.set_card", "model_version", "churn/1"),
        ("alias.set", "registered_model", "churn"),
        ("alias.delete", "registered_model", "churn"),
        ("model_version.create", "model_version", "churn/2"),
        ("model_version.delete", "model_version", "churn/2"),
        ("registered_model.delete", "registered_model", "churn"),
    ]
    expect_equal([(e.action, e.object_type, e.object_id) for e in events], want, "audit trail")
    expect_equal({e.actor for e in events}, {"ana"}, "actors")
    ids = [e.event_id for e in events]
    times = [e.time for e in events]
    expect(ids == sorted(set(ids)) and times == sorted(times), f"not oldest first: {ids}")


def _check_audit_implicit_model_creation(make_store: StoreFactory) -> None:
    """Registering the first version of a new name records the model's creation, once."""
    store = make_store()
    _register(store, actor="bob")
    _register(store, actor="bob")
    expect_equal(
        _actions(_events(store)),
        ["registered_model.create", "model_version.create", "model_version.create"],
        "events of two registrations of a new name",
    )
    created = _events(store)[1]
    expect_equal(created.before, None, "before of a version's creation")
    expect(
        isinstance(created.after, dict) and created.after.get("source") == f"runs:/{_RUN_ID}/model",
        f"after of a version's creation should record its source; got {created.after!r}",
    )


def _check_audit_alias_move_records_previous_version(make_store: StoreFactory) -> None:
    """alias.set records the version the alias pointed at before, so a rollback is traceable."""
    store = make_store()
    for _ in range(3):
        _register(store)
    store.set_alias("churn", "champion", 1)
    store.set_alias("churn", "champion", 3)
    store.set_alias("churn", "champion", 2)
    store.delete_alias("churn", "champion")
    moves = [
        (e.before, e.after)
        for e in store.list_audit_events("registered_model", "churn", _ALL)
        if e.action.startswith("alias.")
    ]
    want = [
        ({"alias": "champion", "version": None}, {"alias": "champion", "version": 1}),
        ({"alias": "champion", "version": 1}, {"alias": "champion", "version": 3}),
        ({"alias": "champion", "version": 3}, {"alias": "champion", "version": 2}),
        ({"alias": "champion", "version": 2}, None),
    ]
    expect_equal(moves, want, "before/after of the alias events")


def _check_audit_before_and_after(make_store: StoreFactory) -> None:
    """Updates record the old and new values; a deletion records what was deleted."""
    store = make_store()
    store.create_registered_model("churn", "old")
    store.update_registered_model("churn", "new")
    _register(store, description="v1")
    store.update_model_version("churn", 1, "v1 edited")
    store.set_model_version_tag("churn", 1, "k", "a")
    store.set_model_version_tag("churn", 1, "k", "b")
    store.set_model_card("churn", 1, "card one")
    store.set_model_card("churn", 1, "card two")
    _register(store)
    store.delete_model_version("churn", 2)
    by_action: dict[str, list[AuditEvent]] = {}
    for event in _events(store):
        by_action.setdefault(event.action, []).append(event)
    (update,) = by_action["registered_model.update"]
    expect_equal(
        (update.before, update.after),
        ({"description": "old"}, {"description": "new"}),
        "registered_model.update",
    )
    (version_update,) = by_action["model_version.update"]
    expect_equal(
        (version_update.before, version_update.after),
        ({"description": "v1"}, {"description": "v1 edited"}),
        "model_version.update",
    )
    tags = [(e.before, e.after) for e in by_action["model_version.set_tag"]]
    expect_equal(
        tags,
        [
            ({"key": "k", "value": None}, {"key": "k", "value": "a"}),
            ({"key": "k", "value": "a"}, {"key": "k", "value": "b"}),
        ],
        "model_version.set_tag",
    )
    cards = [(e.before, e.after) for e in by_action["model_version.set_card"]]
    expect_equal(
        cards,
        [({"card": None}, {"card": "card one"}), ({"card": "card one"}, {"card": "card two"})],
        "model_version.set_card",
    )
    (deleted,) = by_action["model_version.delete"]
    expect(
        isinstance(deleted.before, dict) and deleted.before.get("version") == 2,
        f"model_version.delete should record the deleted version; got {deleted.before!r}",
    )
    expect_equal(deleted.after, None, "after of a deletion")


def _check_audit_failed_operation_writes_nothing(make_store: StoreFactory) -> None:
    """A refused change leaves no audit event (the event shares the change's transaction)."""
    store = make_store()
    _register(store)
    store.set_alias("churn", "champion", 1)
    events = _events(store)
    refusals: dict[str, Callable[[], object]] = {
        "delete aliased version": lambda: store.delete_model_version("churn", 1),
        "delete model with alias": lambda: store.delete_registered_model("churn"),
        "create taken model": lambda: store.create_registered_model("churn"),
        "alias to missing version": lambda: store.set_alias("churn", "challenger", 5),
        "missing replaced version": lambda: _register(store, lineage=Lineage(replaces_version=9)),
        "delete absent tag": lambda: store.delete_model_version_tag("churn", 1, "nope"),
        "card of missing version": lambda: store.set_model_card("churn", 4, "x"),
    }
    for what, refusal in refusals.items():
        try:
            refusal()
        except (Conflict, NotFound):
            pass
        else:
            fail(f"{what} should be refused")
        expect_equal(_events(store), events, f"audit events after the refused {what!r}")
    expect_equal(_register(store).version, 2, "the number after the refusals")


def _check_audit_filter_and_limit(make_store: StoreFactory) -> None:
    """list_audit_events filters by object type, by id and by model (the model and all its
    versions), and returns the NEWEST max_results events, oldest first."""
    store = make_store()
    _register(store, "churn")
    _register(store, "fraud")
    _register(store, "churn")
    versions = store.list_audit_events(object_type="model_version", max_results=_ALL)
    expect_equal([e.object_id for e in versions], ["churn/1", "fraud/1", "churn/2"], "versions")
    one = store.list_audit_events("model_version", "churn/2", _ALL)
    expect_equal(
        [(e.action, e.object_id) for e in one],
        [("model_version.create", "churn/2")],
        "events of churn/2",
    )
    models = store.list_audit_events(object_type="registered_model", max_results=_ALL)
    expect_equal([e.object_id for e in models], ["churn", "fraud"], "model events")
    last_two = store.list_audit_events(max_results=2)
    expect_equal(last_two, _events(store)[-2:], "max_results=2 keeps the newest two")
    churn = store.list_audit_events(model_name="churn", max_results=_ALL)
    expect_equal(
        [(e.object_type, e.object_id) for e in churn],
        [
            ("registered_model", "churn"),
            ("model_version", "churn/1"),
            ("model_version", "churn/2"),
        ],
        "events of model churn and its versions",
    )
    store.create_registered_model("churn_x")
    _register(store, "churn_x")
    expect_equal(
        len(store.list_audit_events(model_name="churn", max_results=_ALL)),
        3,
        "another model whose name starts with 'churn' ('_' must be literal) is not included",
    )
    expect_equal(store.list_audit_events(object_id="nothing"), [], "events of an unknown object")


# -- search ---------------------------------------------------------------------------------------


def _check_search_registered_models_name_contains(make_store: StoreFactory) -> None:
    """name_contains is a case-insensitive substring; % and _ are literal characters."""
    store = make_store()
    for name in ("Churn-EU", "churn_us", "fraud", "churnXus", "100 model"):
        store.create_registered_model(name)

    def names(needle: str | None) -> list[str]:
        return [m.name for m in store.search_registered_models(needle, max_results=_ALL)]

    expect_equal(names("CHURN"), ["Churn-EU", "churnXus", "churn_us"], "name_contains 'CHURN'")
    expect_equal(names("n_u"), ["churn_us"], "'_' is literal")
    expect_equal(names("0%m"), [], "'%' is literal (as a wildcard it would match '100 model')")
    expect_equal(names("É"), [], "a non-ASCII needle matching nothing")
    expect_equal(names(None), sorted(names("")), "no filter lists every model")
    expect_equal(len(names(None)), 5, "number of models")


def _check_search_registered_models_order_and_paging(make_store: StoreFactory) -> None:
    """Models come ordered by name (code point); tokens page through all without repeats."""
    store = make_store()
    wanted = sorted(f"{prefix}{i:02d}" for i in range(12) for prefix in ("m", "M"))
    for name in reversed(wanted):
        store.create_registered_model(name)
    pages = _all_pages(
        lambda token: store.search_registered_models(max_results=5, page_token=token),
        "24 models 5 at a time",
    )
    for page in pages:
        expect(len(page) <= 5, f"a page of max_results=5 held {len(page)} models")
    seen = [m.name for page in pages for m in page]
    expect_equal(seen, wanted, "models over all pages (no repeats, by code point)")
    exact = store.search_registered_models(max_results=len(wanted))
    expect_equal(exact.token, None, "token of a page holding the last model")
    expect_raises(
        InvalidInput,
        lambda: store.search_registered_models(page_token="not a token"),
        "search_registered_models(page_token='not a token')",
    )


def _check_search_model_versions(make_store: StoreFactory) -> None:
    """Versions come newest first per model (models by name), filtered by name and/or run."""
    store = make_store()
    _register(store, "b-model", lineage=Lineage(run_id=_RUN_ID))
    _register(store, "a-model", lineage=Lineage(run_id=_OTHER_RUN_ID))
    _register(store, "b-model", lineage=Lineage(run_id=_OTHER_RUN_ID))
    _register(store, "a-model", lineage=Lineage())
    _register(store, "b-model", lineage=Lineage(run_id=_RUN_ID))

    def listed(name: str | None = None, run_id: str | None = None) -> list[tuple[str, int]]:
        page = store.search_model_versions(name, run_id, max_results=_ALL)
        return [(v.name, v.version) for v in page]

    expect_equal(
        listed(),
        [("a-model", 2), ("a-model", 1), ("b-model", 3), ("b-model", 2), ("b-model", 1)],
        "every version",
    )
    expect_equal(listed(name="b-model"), [("b-model", 3), ("b-model", 2), ("b-model", 1)], "b")
    expect_equal(listed(run_id=_RUN_ID), [("b-model", 3), ("b-model", 1)], "versions of a run")
    expect_equal(
        listed(name="a-model", run_id=_OTHER_RUN_ID), [("a-model", 1)], "a-model from a run"
    )
    expect_equal(listed(name="c-model"), [], "versions of an unknown model")
    full = store.search_model_versions(name="b-model")[0]
    expect_equal(full, store.get_model_version("b-model", 3), "a searched version is complete")


def _check_search_model_versions_paging(make_store: StoreFactory) -> None:
    """Version pages chain through every version once, newest first."""
    store = make_store()
    for _ in range(11):
        _register(store)
    pages = _all_pages(
        lambda token: store.search_model_versions(name="churn", max_results=3, page_token=token),
        "11 versions 3 at a time",
    )
    seen = [v.version for page in pages for v in page]
    expect_equal(seen, list(range(11, 0, -1)), "versions over all pages")


def _check_search_max_results_bounds(make_store: StoreFactory) -> None:
    """max_results below 1 or not an integer is InvalidInput in every listing."""
    store = make_store()
    _register(store)
    for bad in (0, -1, True, 2.5):
        for method, call in (
            ("search_registered_models", lambda b=bad: store.search_registered_models(None, b)),
            ("search_model_versions", lambda b=bad: store.search_model_versions(None, None, b)),
            ("list_audit_events", lambda b=bad: store.list_audit_events(None, None, b)),
        ):
            expect_raises(InvalidInput, call, f"{method}(max_results={bad!r})")


# -- concurrency ----------------------------------------------------------------------------------


def _check_concurrent_registration(make_store: StoreFactory) -> None:
    """Threads registering versions of one new name get 1..N exactly: no duplicate, no gap."""
    store = make_store()
    got: list[int] = []
    lock = threading.Lock()

    def register(index: int) -> None:
        for _ in range(_PER_THREAD):
            version = _register(store, "raced", actor=f"thread-{index}").version
            with lock:
                got.append(version)

    errors = run_threads(register)
    expect(not errors, f"concurrent registration failed: {errors!r:.600}")
    total = THREADS * _PER_THREAD
    expect_equal(sorted(got), list(range(1, total + 1)), "numbers returned to racing threads")
    expect_equal(_numbers(store, "raced"), list(range(1, total + 1)), "numbers stored")
    creations = [
        e
        for e in _events(store)
        if e.action == "registered_model.create" and e.object_id == "raced"
    ]
    expect_equal(len(creations), 1, "registered_model.create events of the raced name")
    expect_equal(
        len(store.list_audit_events("model_version", max_results=_ALL)), total, "version events"
    )


def _check_concurrent_alias_moves(make_store: StoreFactory) -> None:
    """Racing set_alias calls serialise: each event's 'before' is the previous event's 'after'."""
    store = make_store()
    for _ in range(THREADS):
        _register(store)

    def move(index: int) -> None:
        for _ in range(3):
            store.set_alias("churn", "champion", index + 1)
            store.set_alias("churn", "champion", (index + 1) % THREADS + 1)

    errors = run_threads(move)
    expect(not errors, f"concurrent set_alias failed: {errors!r:.600}")
    chain = [
        e
        for e in store.list_audit_events("registered_model", "churn", _ALL)
        if e.action == "alias.set"
    ]
    previous = None
    for event in chain:
        before = event.before["version"] if isinstance(event.before, dict) else "?"
        expect(before == previous, f"alias.set before={before!r} but it pointed at {previous!r}")
        previous = event.after["version"] if isinstance(event.after, dict) else "?"
    resolved = store.get_version_by_alias("churn", "champion").version
    expect_equal(resolved, previous, "the alias after the race vs the last event")


# -- values and rules -----------------------------------------------------------------------------


def _check_unicode_round_trip(make_store: StoreFactory) -> None:
    """Non-ASCII descriptions, tag keys and values, actors and sources round-trip exactly."""
    store = make_store()
    text = "Prévision des retards ✈️ — 遅延予測 \u00a0 tab\tnewline\n"
    store.create_registered_model("vols", text, {"équipe": "données 🚀"}, actor="zoë")
    version = store.create_model_version(
        "vols",
        "/données/modèle",
        "sklearn",
        [("modèle/poids.bin", _sha("p"), 3)],
        Lineage(dataset_ids=("jeu-été",)),
        description=text,
        tags={"clé": "valeur ü"},
        actor="zoë",
    )
    model = store.get_registered_model("vols")
    expect_equal((model.description, dict(model.tags)), (text, {"équipe": "données 🚀"}), "model")
    got = store.get_model_version("vols", version.version)
    expect_equal(
        (got.description, dict(got.tags), got.user_id, got.source, got.lineage.dataset_ids),
        (text, {"clé": "valeur ü"}, "zoë", "/données/modèle", ("jeu-été",)),
        "version",
    )
    expect_equal(
        [f.path for f in store.model_version_files("vols", 1)], ["modèle/poids.bin"], "file path"
    )
    expect_equal({e.actor for e in _events(store)}, {"zoë"}, "actors")
    expect_equal(
        [m.name for m in store.search_registered_models("VOLS")], ["vols"], "search by name"
    )


def _check_long_names_round_trip(make_store: StoreFactory) -> None:
    """A name of the maximum length works everywhere: versions, files, aliases, audit ids."""
    store = make_store()
    name = validate_model_name("m" + "x" * (MAX_MODEL_NAME_LENGTH - 1))
    alias = validate_alias("a" * 128)
    _register(store, name, files=_files("MLmodel", "d/" * 200 + "deep.bin"))
    store.set_alias(name, alias, 1)
    expect_equal(store.get_version_by_alias(name, alias).version, 1, "resolve a long alias")
    expect_equal(len(store.model_version_files(name, 1)), 2, "files of the long-named model")
    expect_equal(
        [e.object_id for e in store.list_audit_events("model_version", max_results=_ALL)],
        [f"{name}/1"],
        "object id of the version",
    )
    store.delete_alias(name, alias)
    store.delete_registered_model(name)


def _check_invalid_input_rejected(make_store: StoreFactory) -> None:
    """Malformed names, aliases, versions, files and lineages are InvalidInput and write
    nothing."""
    store = make_store()
    _register(store)
    events = _events(store)
    good = _files("MLmodel")
    refusals: dict[str, Callable[[], object]] = {
        "name with '/'": lambda: store.create_registered_model("a/b"),
        "name with '@'": lambda: store.create_model_version("a@b", "s", "f", good, Lineage()),
        "empty name": lambda: store.create_registered_model(""),
        "alias 'latest'": lambda: store.set_alias("churn", "latest", 1),
        "alias 'v1'": lambda: store.set_alias("churn", "v1", 1),
        "version 0": lambda: store.get_model_version("churn", 0),
        "version -1": lambda: store.set_alias("churn", "champion", -1),
        "absolute file path": lambda: _register(store, files=[("/etc/passwd", _sha("x"), 1)]),
        "file path with '..'": lambda: _register(store, files=[("a/../b", _sha("x"), 1)]),
        "bad sha256": lambda: _register(store, files=[("f", "abc", 1)]),
        "negative size": lambda: _register(store, files=[("f", _sha("x"), -1)]),
        "duplicate file": lambda: _register(store, files=good + good),
        "bad run id": lambda: _register(store, lineage=Lineage(run_id="nope")),
        "empty flavor": lambda: store.create_model_version("churn", "s", "", good, Lineage()),
        "NUL in description": lambda: store.update_registered_model("churn", "a\x00b"),
    }
    for what, refusal in refusals.items():
        expect_raises(InvalidInput, refusal, what)
    expect_equal(_events(store), events, "audit events after the refusals")
    expect_equal(_numbers(store, "churn"), [1], "versions after the refusals")


def _check_model_names_are_exact(make_store: StoreFactory) -> None:
    """Lookups match names exactly: no case folding, no prefix or LIKE matching."""
    store = make_store()
    _register(store, "churn")
    _register(store, "churn_v2")
    for other in ("Churn", "chur", "churn%", "churn_"):
        get = functools.partial(store.get_registered_model, other)
        expect_raises(NotFound, get, f"get_registered_model({other!r})")
        expect_equal(len(store.search_model_versions(name=other)), 0, f"versions of {other!r}")


_CHECKS: tuple[Callable[[StoreFactory], None], ...] = (
    _check_registered_model_create_and_get,
    _check_registered_model_duplicate_conflict,
    _check_registered_model_unknown_not_found,
    _check_registered_model_update_description,
    _check_registered_model_tags,
    _check_registered_model_delete,
    _check_registered_model_delete_with_alias_conflict,
    _check_version_numbering,
    _check_version_numbers_not_reused,
    _check_version_create_round_trip,
    _check_version_lineage_round_trip,
    _check_version_replaces_missing_not_found,
    _check_version_files_listing,
    _check_version_files_immutable,
    _check_version_unknown_not_found,
    _check_version_update_description,
    _check_version_tags,
    _check_version_delete,
    _check_version_delete_aliased_conflict,
    _check_latest_version,
    _check_alias_set_move_delete,
    _check_alias_listed_on_model_and_version,
    _check_alias_missing_version_not_found,
    _check_alias_unknown_not_found,
    _check_alias_scoped_to_model,
    _check_model_card,
    _check_audit_one_event_per_change,
    _check_audit_implicit_model_creation,
    _check_audit_alias_move_records_previous_version,
    _check_audit_before_and_after,
    _check_audit_failed_operation_writes_nothing,
    _check_audit_filter_and_limit,
    _check_search_registered_models_name_contains,
    _check_search_registered_models_order_and_paging,
    _check_search_model_versions,
    _check_search_model_versions_paging,
    _check_search_max_results_bounds,
    _check_concurrent_registration,
    _check_concurrent_alias_moves,
    _check_unicode_round_trip,
    _check_long_names_round_trip,
    _check_invalid_input_rejected,
    _check_model_names_are_exact,
)


def check_registry_store(
    make_store: Callable[[], RegistryStore],
) -> Iterator[tuple[str, Callable[[], None]]]:
    """Yield ``(name, check)`` for every rule of the :class:`RegistryStore` contract.

    ``make_store`` returns a fresh, empty store with its schema in place; each check calls it
    once, when run. A check is a zero-argument callable that returns ``None`` or raises
    :class:`AssertionError`.
    """
    return named_checks(_CHECKS, make_store)
