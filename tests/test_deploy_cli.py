"""``loopml deploy`` as a new user tries it: create, list, show, route (replace, set, remove),
history, delete, and one-line errors for every mistake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from loopml.core.registry import Lineage
from loopml.registry import Deployments


@pytest.fixture
def churn(isolated_home: Path) -> Deployments:
    """Versions 1-3 of 'churn' (made-up files: nothing here loads them); champion -> 2,
    challenger -> 3."""
    deployments = Deployments()
    for _ in range(3):
        deployments.registry.create_model_version(
            "churn", "src", "sklearn", [("MLmodel", "ef" * 32, 1)], Lineage()
        )
    deployments.registry.set_alias("churn", "champion", 2)
    deployments.registry.set_alias("churn", "challenger", 3)
    return deployments


def test_create_list_show(capsys: pytest.CaptureFixture[str], churn: Deployments) -> None:
    code, out, err = run_cli(
        capsys, "deploy", "create", "web", "--route", "churn@champion:90",
        "-r", "churn/1:10:canary", "--description", "delay API",
    )  # fmt: skip
    assert code == 0, err
    assert "Created deployment web (revision 1)." in out
    assert "churn@champion" in out
    assert "90%" in out
    code, out, _ = run_cli(capsys, "deploy", "list")
    assert code == 0
    assert "churn@champion 90% primary, churn/1 10% canary" in out
    code, out, _ = run_cli(capsys, "deploy", "list", "--json")
    assert [d["name"] for d in json.loads(out)] == ["web"]
    code, out, _ = run_cli(capsys, "deploy", "show", "web", "--json")
    shown = json.loads(out)
    assert shown["revision"] == 1
    assert [(r["arm"], r["serves"]) for r in shown["routes"]] == [
        ("churn@champion", 2),
        ("churn/1", 1),
    ]
    code, out, _ = run_cli(capsys, "deploy", "show", "web")
    assert code == 0
    assert "revision 1" in out
    assert "delay API" in out
    assert "v2" in out


def test_show_warns_when_an_alias_is_not_set(
    capsys: pytest.CaptureFixture[str], churn: Deployments
) -> None:
    churn.create("web", ["churn@challenger"])
    churn.registry.delete_alias("churn", "challenger")
    code, out, _ = run_cli(capsys, "deploy", "show", "web")
    assert code == 0
    assert "alias not set" in out
    assert "servers cannot serve this deployment until it is" in out


def test_route_set_remove_replace_and_history(
    capsys: pytest.CaptureFixture[str], churn: Deployments
) -> None:
    churn.create("web", ["churn@champion"])
    code, out, err = run_cli(
        capsys, "deploy", "route", "web", "--set", "churn@challenger:10:canary"
    )
    assert code == 0, err
    assert "web: revision 1 → 2" in out
    assert "+ churn@challenger 10% canary" in out
    assert "~ churn@champion: weight 100% → 90%" in out
    code, out, _ = run_cli(capsys, "deploy", "route", "web", "--set", "control=churn/1:5:shadow")
    assert code == 2  # an arm is named in the SDK (Route(..., arm=)), not in a route spec
    code, out, _ = run_cli(capsys, "deploy", "route", "web", "--remove", "churn@challenger")
    assert code == 0
    assert "- churn@challenger" in out
    assert "weight 90% → 100%" in out
    code, out, _ = run_cli(
        capsys, "deploy", "route", "web", "--route", "churn/3", "--expected-revision", "3"
    )
    assert code == 0
    assert "revision 3 → 4" in out
    code, out, _ = run_cli(capsys, "deploy", "route", "web", "--route", "churn/3")
    assert "the routes are already these (revision 4)" in out
    code, _, err = run_cli(
        capsys, "deploy", "route", "web", "--route", "churn/1", "--expected-revision", "3"
    )
    assert code == 1
    assert "is at revision 4, not the expected 3" in err
    code, out, _ = run_cli(capsys, "deploy", "history", "web", "--json")
    history = json.loads(out)
    assert [e["action"] for e in history] == ["deployment.create"] + [
        "deployment.update_routes"
    ] * 3
    assert history[1]["after"]["routes"][1]["arm"] == "churn@challenger"
    code, out, _ = run_cli(capsys, "deploy", "history", "web")
    assert code == 0
    assert "update_routes" in out


def test_delete(capsys: pytest.CaptureFixture[str], churn: Deployments) -> None:
    churn.create("web", ["churn@champion"])
    code, out, _ = run_cli(capsys, "deploy", "delete", "web")
    assert (code, out.strip()) == (0, "Deleted deployment web.")
    code, out, _ = run_cli(capsys, "deploy", "list")
    assert "No deployments yet" in out
    code, out, _ = run_cli(capsys, "deploy", "history", "web")
    assert "deleted" in out


def test_user_errors_are_one_line(capsys: pytest.CaptureFixture[str], churn: Deployments) -> None:
    churn.create("web", ["churn@champion"])
    cases = [
        (("deploy", "create", "api", "--route", "churn"), 2, "must name a model and a version"),
        (("deploy", "create", "api", "-r", "churn@champion:60"), 2, "must sum to 100"),
        (("deploy", "create", "api", "-r", "chrun@champion"), 3, "did you mean 'churn'"),
        (("deploy", "create", "api", "-r", "churn/7"), 3, "its latest version is 3"),
        (("deploy", "create", "web", "-r", "churn/1"), 1, "deployment 'web' already exists"),
        (("deploy", "create", "a/b", "-r", "churn/1"), 2, "deployment name must"),
        (("deploy", "show", "wbe"), 3, "did you mean 'web'"),
        (("deploy", "route", "web"), 2, "takes exactly one of --route"),
        (("deploy", "route", "web", "--set", "churn/1", "--remove", "x"), 2, "exactly one"),
        (("deploy", "route", "web", "--set", "churn/1:5", "--expected-revision", "1"), 2, "goes"),
        (("deploy", "route", "web", "--remove", "churn@champoin"), 3, "did you mean"),
        (("deploy", "route", "web", "--set", "churn@champion:50:canry"), 2, "did you mean"),
        (("deploy", "delete", "ghost"), 3, "deployment 'ghost' does not exist"),
    ]
    for argv, expected, message in cases:
        code, _, err = run_cli(capsys, *argv)
        assert code == expected, (argv, err)
        assert err.startswith("Error:"), argv
        assert message in err, (argv, err)
        assert "Traceback" not in err, argv
        assert len(err.strip().splitlines()) == 1, (argv, err)
    assert churn.revision("web") == 1
