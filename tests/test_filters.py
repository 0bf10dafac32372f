"""Tests for ``loopml.core.filters``: MLflow's filter and order_by grammar into the search AST."""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopml.core import filters
from loopml.core.errors import InvalidInput
from loopml.core.filters import parse_filter, parse_order_by
from loopml.core.search_ast import (
    DATASET_FIELDS,
    NUMERIC_ATTRIBUTES,
    STRING_ATTRIBUTES,
    Comparison,
    Entity,
    Op,
    OrderBy,
)

M, P, T, A, D = Entity.METRIC, Entity.PARAM, Entity.TAG, Entity.ATTRIBUTE, Entity.DATASET

# -- valid filters ---------------------------------------------------------------------------

PREFIX_ALIASES = [
    ("metric.x > 1", M),
    ("metrics.x > 1", M),
    ("m.x > 1", M),
    ("METRICS.x > 1", M),
    ("Metric.x > 1", M),
    ("param.x = '1'", P),
    ("params.x = '1'", P),
    ("parameter.x = '1'", P),
    ("parameters.x = '1'", P),
    ("p.x = '1'", P),
    ("PARAMS.x = '1'", P),
    ("tag.x = '1'", T),
    ("tags.x = '1'", T),
    ("t.x = '1'", T),
    ("Tags.x = '1'", T),
]


@pytest.mark.parametrize(("text", "entity"), PREFIX_ALIASES)
def test_every_prefix_alias_names_its_entity(text: str, entity: Entity) -> None:
    (comparison,) = parse_filter(text)
    assert comparison.entity is entity
    assert comparison.key == "x"


VALID = [
    # keys: dotted, bare punctuation, quoted with backticks or double quotes
    ("metrics.val.auc > 0.5", [Comparison(M, "val.auc", Op.GT, 0.5)]),
    ("tags.mlflow.runName = 'r'", [Comparison(T, "mlflow.runName", Op.EQ, "r")]),
    ("params.a-b/c:d_1 = 'x'", [Comparison(P, "a-b/c:d_1", Op.EQ, "x")]),
    ("metrics.1st >= 0", [Comparison(M, "1st", Op.GE, 0.0)]),
    ("metrics.`my metric` < 1", [Comparison(M, "my metric", Op.LT, 1.0)]),
    ("metrics.`a >= b AND c` <= 1", [Comparison(M, "a >= b AND c", Op.LE, 1.0)]),
    ("tags.\"team name\" = 'ml'", [Comparison(T, "team name", Op.EQ, "ml")]),
    ('tags."say ""hi""" = \'x\'', [Comparison(T, 'say "hi"', Op.EQ, "x")]),
    ('tags."a\\"b" = \'x\'', [Comparison(T, 'a"b', Op.EQ, "x")]),
    ("params.`x.y` = 'z'", [Comparison(P, "x.y", Op.EQ, "z")]),
    ("params.ключ = 'значение'", [Comparison(P, "ключ", Op.EQ, "значение")]),
    # numbers: always floats; sign, decimal point, exponent
    ("metrics.a = 1", [Comparison(M, "a", Op.EQ, 1.0)]),
    ("metrics.a = -1", [Comparison(M, "a", Op.EQ, -1.0)]),
    ("metrics.a = +2", [Comparison(M, "a", Op.EQ, 2.0)]),
    ("metrics.a = .5", [Comparison(M, "a", Op.EQ, 0.5)]),
    ("metrics.a = 5.", [Comparison(M, "a", Op.EQ, 5.0)]),
    ("metrics.a = 1e3", [Comparison(M, "a", Op.EQ, 1000.0)]),
    ("metrics.a = -1.5E-3", [Comparison(M, "a", Op.EQ, -0.0015)]),
    ("metrics.a>-2", [Comparison(M, "a", Op.GT, -2.0)]),
    # every numeric operator
    ("metrics.a != 1", [Comparison(M, "a", Op.NE, 1.0)]),
    ("metrics.a <= 1", [Comparison(M, "a", Op.LE, 1.0)]),
    ("metrics.a >= 1", [Comparison(M, "a", Op.GE, 1.0)]),
    ("metrics.a<1", [Comparison(M, "a", Op.LT, 1.0)]),
    # strings: both quotes, doubled quotes, backslash escapes, other backslashes kept
    ('params.a = "rf"', [Comparison(P, "a", Op.EQ, "rf")]),
    ("params.a = ''", [Comparison(P, "a", Op.EQ, "")]),
    ("params.a = 'it''s'", [Comparison(P, "a", Op.EQ, "it's")]),
    ("params.a = 'it\\'s'", [Comparison(P, "a", Op.EQ, "it's")]),
    ('params.a = "say ""hi"""', [Comparison(P, "a", Op.EQ, 'say "hi"')]),
    ("params.a = 'c:\\\\data'", [Comparison(P, "a", Op.EQ, "c:\\data")]),
    ("params.a LIKE '50\\%'", [Comparison(P, "a", Op.LIKE, "50\\%")]),
    ("params.a = 'x AND y = 1'", [Comparison(P, "a", Op.EQ, "x AND y = 1")]),
    ("params.a != 'b'", [Comparison(P, "a", Op.NE, "b")]),
    # keywords in any case
    ("params.a like 'x%'", [Comparison(P, "a", Op.LIKE, "x%")]),
    ("params.a ILike '%X'", [Comparison(P, "a", Op.ILIKE, "%X")]),
    ("tags.a in ('x')", [Comparison(T, "a", Op.IN, ("x",))]),
    ("tags.a Not In ('x', 'y')", [Comparison(T, "a", Op.NOT_IN, ("x", "y"))]),
    ("metrics.a is null", [Comparison(M, "a", Op.IS_NULL, None)]),
    ("params.a IS NOT NULL", [Comparison(P, "a", Op.IS_NOT_NULL, None)]),
    ("tags.a Is Not Null", [Comparison(T, "a", Op.IS_NOT_NULL, None)]),
    # IN lists
    (
        "attributes.run_id IN ('a', \"b\",'c''d')",
        [Comparison(A, "run_id", Op.IN, ("a", "b", "c'd"))],
    ),
    ("params.a IN('x','y')", [Comparison(P, "a", Op.IN, ("x", "y"))]),
    # attributes: every prefix alias, canonical names and aliases
    ("attributes.status = 'FINISHED'", [Comparison(A, "status", Op.EQ, "FINISHED")]),
    ("attribute.status = 'X'", [Comparison(A, "status", Op.EQ, "X")]),
    ("attr.status = 'X'", [Comparison(A, "status", Op.EQ, "X")]),
    ("run.status = 'X'", [Comparison(A, "status", Op.EQ, "X")]),
    ("ATTRIBUTES.status = 'X'", [Comparison(A, "status", Op.EQ, "X")]),
    ("attributes.run_uuid = 'r1'", [Comparison(A, "run_id", Op.EQ, "r1")]),
    ("attributes.name LIKE 'exp%'", [Comparison(A, "run_name", Op.LIKE, "exp%")]),
    ("attributes.created > 5", [Comparison(A, "start_time", Op.GT, 5.0)]),
    ("attributes.Created > 5", [Comparison(A, "start_time", Op.GT, 5.0)]),
    ("attributes.user = 'ann'", [Comparison(A, "user_id", Op.EQ, "ann")]),
    ("attributes.end_time <= 1e12", [Comparison(A, "end_time", Op.LE, 1e12)]),
    ("attributes.`run_name` = 'x'", [Comparison(A, "run_name", Op.EQ, "x")]),
    ("attributes.artifact_uri ILIKE 's3://%'", [Comparison(A, "artifact_uri", Op.ILIKE, "s3://%")]),
    # datasets
    ("datasets.name = 'iris'", [Comparison(D, "name", Op.EQ, "iris")]),
    ("dataset.digest IN ('d1')", [Comparison(D, "digest", Op.IN, ("d1",))]),
    ("DATASETS.context != 'train'", [Comparison(D, "context", Op.NE, "train")]),
    ("datasets.source LIKE '%csv'", [Comparison(D, "source", Op.LIKE, "%csv")]),
    # conjunctions and whitespace
    (
        "metrics.auc > 0.9 AND params.model = 'rf' and tags.team = 'ml'",
        [
            Comparison(M, "auc", Op.GT, 0.9),
            Comparison(P, "model", Op.EQ, "rf"),
            Comparison(T, "team", Op.EQ, "ml"),
        ],
    ),
    (
        "\n  metrics.a>1\tAnD\n params.b='c'  ",
        [Comparison(M, "a", Op.GT, 1.0), Comparison(P, "b", Op.EQ, "c")],
    ),
    (
        "metrics.a > 1 AND metrics.a > 1",
        [Comparison(M, "a", Op.GT, 1.0), Comparison(M, "a", Op.GT, 1.0)],
    ),
]


@pytest.mark.parametrize(("text", "expected"), VALID, ids=[text for text, _ in VALID])
def test_valid_filter_parses_to_exact_ast(text: str, expected: list[Comparison]) -> None:
    assert parse_filter(text) == tuple(expected)


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t"])
def test_empty_filter_means_no_comparisons(text: str | None) -> None:
    assert parse_filter(text) == ()


def test_numbers_are_floats() -> None:
    (comparison,) = parse_filter("metrics.a = 3")
    assert type(comparison.value) is float


# -- invalid filters --------------------------------------------------------------------------


def _pattern(*fragments: str) -> str:
    """A regex matching the literal fragments in order (messages are one line)."""
    return ".*".join(re.escape(fragment) for fragment in fragments)


INVALID = [
    # keys
    ("metricz.auc > 1", ["position 0", "expected a key prefix", "got 'metricz'", "'metrics.'"]),
    ("parms.a = 'x'", ["position 0", "got 'parms'", "did you mean 'params.'? Write 'params.a'"]),
    ("zzz.a = 'x'", ["got 'zzz'", "start the key with one of metrics., params."]),
    ("metrics. > 1", ["position 9", "expected a key right after 'metrics.'", "got '>'"]),
    ("metrics.", ["position 8", "got <end of filter>", "metrics.`my key`"]),
    ("metrics.@x > 1", ["position 8", "got '@'"]),
    ("tags.'x' = 'a'", ["position 5", "expected a key right after 'tags.'", "got \"'x'\""]),
    ("tags.`` = 'a'", ["position 5", "empty quoted key", "between the quotes"]),
    ("metrics > 1", ["position 0", "expected '.' and a key after 'metrics'", "metrics.<key>"]),
    ("auc > 1", ["position 0", "needs its prefix", "got 'auc'", "metrics.auc, params.auc"]),
    ("status = 'x'", ["position 0", "got 'status'", "write attributes.status"]),
    ("(metrics.a > 1)", ["position 0", "got '('", "without parentheses"]),
    ("= 1", ["position 0", "expected a key", "got '='"]),
    (
        "attributes.stauts = 'x'",
        ["position 11", "expected a run attribute (artifact_uri,", "got 'stauts'", "'status'"],
    ),
    ("attributes.foo = 'x'", ["position 11", "got 'foo'", "metrics.<key>, params.<key>"]),
    ("datasets.nam = 'x'", ["position 9", "expected a dataset field (context, digest, name"]),
    ("datasets.run_id = 'x'", ["got 'run_id'", "use one of the names listed"]),
    # operators
    ("metrics.auc 0.9", ["position 12", "expected an operator after 'metrics.auc'", "got '0.9'"]),
    ("metrics.auc", ["position 11", "expected an operator", "got <end of filter>"]),
    ("metrics.auc >> 1", ["position 12", "unknown operator", "got '>>'", "use '>'"]),
    ("metrics.auc == 1", ["position 12", "unknown operator", "got '=='", "use '='"]),
    ("params.a <> 'x'", ["position 9", "got '<>'", "use '!='"]),
    ("metrics.a => 1", ["got '=>'", "use '>='"]),
    ("metrics.a =!= 1", ["got '=!='", "use one of =, !=, <, <=, >, >="]),
    ("params.a NOT LIKE 'x'", ["position 13", "expected IN after NOT", "NOT LIKE is not"]),
    ("params.a IS 'x'", ["position 12", "expected NULL or NOT NULL after IS", "got \"'x'\""]),
    ("params.a IS NOT", ["position 15", "got <end of filter>"]),
    ("metrics.auc LIKE 'a%'", ["position 12", "LIKE to metric 'auc', which is a number"]),
    ("metrics.auc ILIKE 'a%'", ["ILIKE to metric 'auc'", "expected one of =, !=, <, <=, >, >="]),
    ("metrics.a IN (1)", ["position 10", "IN to metric 'a'", "got 'IN'"]),
    ("attributes.start_time LIKE '1%'", ["LIKE to attribute 'start_time', which is a number"]),
    ("params.a < 'b'", ["position 9", "< to param 'a', which is a string", "got '<'"]),
    ("tags.a >= 'b'", [">= to tag 'a'", "expected one of =, !=, LIKE, ILIKE, IN, NOT IN"]),
    ("attributes.status > 'A'", ["> to attribute 'status', which is a string"]),
    ("datasets.name < 'a'", ["< to dataset field 'name'"]),
    ("attributes.status IS NULL", ["position 18", "IS [NOT] NULL only applies to metrics"]),
    ("datasets.name IS NOT NULL", ["dataset field 'name' for NULL"]),
    # values
    ("metrics.auc >", ["position 13", "expected a number after >", "got <end of filter>"]),
    ("params.a =", ["position 10", "expected a quoted string", "write params.a = 'value'"]),
    (
        "metrics.auc > 'high'",
        ["position 14", "metrics compare to numbers", "got \"'high'\"", "metrics.auc > 0.5"],
    ),
    ("metrics.auc > '0.5'", ["position 14", "drop the quotes: metrics.auc > 0.5"]),
    ("metrics.auc > high", ["position 14", "expected a number after >", "got 'high'"]),
    ("metrics.a > 1e999", ["position 12", "expected a finite number", "got '1e999'"]),
    ("attributes.start_time > '2024'", ["start_time", "drop the quotes"]),
    ("attributes.end_time > 'x'", ["milliseconds since the epoch"]),
    ("params.model = 5", ["position 15", "got '5'", "quote it: params.model = '5'"]),
    ("tags.team = ml", ["position 12", "got 'ml'", "quote it: tags.team = 'ml'"]),
    ("tags.a = NULL", ["got 'NULL'", "tags.a IS NULL"]),
    ("params.x = ('a')", ["position 11", "got '('", "use IN for a list"]),
    ("params.a = 'abc", ["position 11", "never closed", 'got "\'abc"', "close the string"]),
    ('params.a = "abc', ["position 11", 'expected a closing "', "got '\"abc'"]),
    ("params.a = 'it\\'", ["position 11", "never closed"]),
    ("metrics.`abc > 1", ["position 8", "never closed", "expected a closing `"]),
    # IN lists
    ("attributes.run_id IN ('a', 'b'", ["position 30", "',' or ')'", "opened at position 21"]),
    ("attributes.run_id IN ('a' 'b')", ["position 26", "got \"'b'\"", "close the list with ')'"]),
    ("params.a IN 'x'", ["position 12", "expected '(' to open the list after IN"]),
    ("params.a IN ()", ["position 13", "empty IN list", "params.a IN ('a', 'b')"]),
    ("params.a NOT IN ()", ["empty NOT IN list"]),
    ("params.a IN ('a',)", ["position 17", "got ')'", "remove the trailing comma"]),
    ("params.a IN (1, 2)", ["position 13", "got '1'", "quote it: params.a IN ('1')"]),
    ("params.a IN ('a'", ["position 16", "got <end of filter>"]),
    # conjunctions
    ("metrics.a > 1 OR metrics.b > 2", ["position 14", "OR", "run one search per alternative"]),
    ("metrics.a > 1 or metrics.b > 2", ["position 14", "not supported", "got 'or'"]),
    ("metrics.a > 1 foo", ["position 14", "expected AND or the end", "got 'foo'"]),
    ("metrics.a > 1 ; drop table", ["position 14", "got ';'"]),
    ("params.a = 'x' 'y'", ["position 15", "got \"'y'\"", "join comparisons with AND"]),
    ("metrics.a > 1)", ["position 13", "got ')'"]),
    ("metrics.a > 1 AND", ["position 14", "ends with AND", "remove the trailing AND"]),
    ("metrics.a > 1 AND ", ["position 14", "got 'AND'"]),
    ("AND metrics.a > 1", ["position 0", "expected a comparison", "remove the stray AND"]),
    ("metrics.a > 1 AND AND metrics.b > 1", ["position 18", "got 'AND'"]),
]


@pytest.mark.parametrize(("text", "fragments"), INVALID, ids=[text for text, _ in INVALID])
def test_invalid_filter_explains_itself(text: str, fragments: list[str]) -> None:
    with pytest.raises(InvalidInput, match=_pattern(f"filter {text!r} is invalid", *fragments)):
        parse_filter(text)


def test_error_message_has_the_house_shape() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_filter("params.model = 5")
    assert str(caught.value) == (
        "filter 'params.model = 5' is invalid at position 15: compares param 'model', a string; "
        "expected a quoted string; got '5'. Fix: quote it: params.model = '5'."
    )


def test_invalid_input_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="position"):
        parse_filter("metrics.a >")


# -- order_by ---------------------------------------------------------------------------------

ORDER_BY = [
    (None, []),
    ([], []),
    ("", []),
    ("metrics.auc", [OrderBy(M, "auc")]),
    ("metrics.auc DESC", [OrderBy(M, "auc", ascending=False)]),
    (["metrics.auc desc", "params.lr ASC"], [OrderBy(M, "auc", False), OrderBy(P, "lr", True)]),
    (("tags.t Desc",), [OrderBy(T, "t", False)]),
    (["m.val.auc", "p.x", "t.y"], [OrderBy(M, "val.auc"), OrderBy(P, "x"), OrderBy(T, "y")]),
    (["metrics.`my metric` DESC"], [OrderBy(M, "my metric", False)]),
    (['tags."team name"'], [OrderBy(T, "team name")]),
    (["  metrics.a   DESC  "], [OrderBy(M, "a", False)]),
    (["start_time DESC"], [OrderBy(A, "start_time", False)]),
    (["run_name"], [OrderBy(A, "run_name")]),
    (["name", "created desc"], [OrderBy(A, "run_name"), OrderBy(A, "start_time", False)]),
    (
        ["Created", "run_uuid", "user"],
        [OrderBy(A, "start_time"), OrderBy(A, "run_id"), OrderBy(A, "user_id")],
    ),
    (["attributes.end_time asc"], [OrderBy(A, "end_time")]),
    (["attr.status", "run.run_id"], [OrderBy(A, "status"), OrderBy(A, "run_id")]),
]


@pytest.mark.parametrize(("clauses", "expected"), ORDER_BY)
def test_valid_order_by(clauses: list[str] | str | None, expected: list[OrderBy]) -> None:
    assert parse_order_by(clauses) == tuple(expected)


INVALID_ORDER_BY = [
    ("metrics.auc DOWN", ["position 12", "expected ASC, DESC", "got 'DOWN'", "metrics.auc DESC"]),
    ("metrics.a DESC, params.b", ["position 14", "got ','", "its own list item"]),
    ("name asc extra", ["position 9", "got 'extra'", "remove the extra text"]),
    ("datasets.name", ["position 0", "orders by a dataset field"]),
    ("dataset.digest DESC", ["dataset field"]),
    ("foo", ["position 0", "expected a run attribute", "got 'foo'"]),
    ("strt_time DESC", ["got 'strt_time'", "did you mean 'start_time'? Write 'start_time'"]),
    ("attributes.nme", ["position 11", "did you mean 'run_name'"]),
    ("metricz.auc", ["position 0", "got 'metricz'", "'metrics.'"]),
    ("metrics.", ["position 8", "expected a key right after 'metrics.'"]),
    ("", ["position 0", "expected a key", "got <end of order_by clause>"]),
    ("DESC", ["position 0", "got 'DESC'"]),
    ("metrics.`a DESC", ["position 8", "never closed"]),
]


@pytest.mark.parametrize(("clause", "fragments"), INVALID_ORDER_BY)
def test_invalid_order_by_explains_itself(clause: str, fragments: list[str]) -> None:
    pattern = _pattern(f"order_by clause {clause!r} is invalid", *fragments)
    with pytest.raises(InvalidInput, match=pattern):
        parse_order_by([clause])


def test_order_by_rejects_non_string_clause() -> None:
    with pytest.raises(InvalidInput, match="must be a string; got 3"):
        parse_order_by(["metrics.a", 3])  # type: ignore[list-item]


# -- properties -------------------------------------------------------------------------------

_ALIASES = {
    M: ["metric", "metrics", "m"],
    P: ["param", "params", "parameter", "parameters", "p"],
    T: ["tag", "tags", "t"],
    A: ["attribute", "attributes", "attr", "run"],
    D: ["dataset", "datasets"],
}
_BARE_KEY = re.compile(r"[\w.\-/:]+")
_CASES = st.sampled_from([str.lower, str.upper, str.title])
_SPACE = st.sampled_from([" ", "  ", "\t", "\n", " \r\n "])
_NUMERIC_OPS = [Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE]
_STRING_OPS = [Op.EQ, Op.NE, Op.LIKE, Op.ILIKE, Op.IN, Op.NOT_IN]


def _is_numeric(entity: Entity, key: str) -> bool:
    return entity is M or (entity is A and key in NUMERIC_ATTRIBUTES)


@st.composite
def _keys(draw: st.DrawFn, entity: Entity) -> str:
    if entity is A:
        return draw(st.sampled_from(sorted(STRING_ATTRIBUTES | NUMERIC_ATTRIBUTES)))
    if entity is D:
        return draw(st.sampled_from(sorted(DATASET_FIELDS)))
    return draw(st.text(min_size=1, max_size=12))


@st.composite
def _comparisons(draw: st.DrawFn) -> Comparison:
    entity = draw(st.sampled_from(list(Entity)))
    key = draw(_keys(entity))
    ops = _NUMERIC_OPS if _is_numeric(entity, key) else _STRING_OPS
    if entity in (M, P, T):
        ops = [*ops, Op.IS_NULL, Op.IS_NOT_NULL]
    op = draw(st.sampled_from(ops))
    value: float | str | tuple[str, ...] | None
    if op in (Op.IS_NULL, Op.IS_NOT_NULL):
        value = None
    elif op in (Op.IN, Op.NOT_IN):
        value = tuple(draw(st.lists(st.text(max_size=8), min_size=1, max_size=4)))
    elif _is_numeric(entity, key):
        value = draw(st.floats(allow_nan=False, allow_infinity=False))
    else:
        value = draw(st.text(max_size=12))
    return Comparison(entity, key, op, value)


@st.composite
def _render_key(draw: st.DrawFn, entity: Entity, key: str) -> str:
    prefix = draw(_CASES)(draw(st.sampled_from(_ALIASES[entity])))
    style = draw(st.sampled_from(["bare", "backtick", "double"]))
    if style == "bare" and _BARE_KEY.fullmatch(key):
        return f"{prefix}.{key}"
    if style == "backtick" and "`" not in key:
        return f"{prefix}.`{key}`"
    return f'{prefix}."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def _render_string(draw: st.DrawFn, value: str) -> str:
    quote = draw(st.sampled_from(["'", '"']))
    escaped_quote = draw(st.sampled_from([quote * 2, "\\" + quote]))
    return quote + value.replace("\\", "\\\\").replace(quote, escaped_quote) + quote


@st.composite
def _render_number(draw: st.DrawFn, value: float) -> str:
    if value.is_integer() and abs(value) < 1e15 and draw(st.booleans()):
        return str(int(value))
    return repr(value)


@st.composite
def _render_comparison(draw: st.DrawFn, comparison: Comparison) -> str:
    key = draw(_render_key(comparison.entity, comparison.key))
    op = draw(_CASES)(comparison.op.value).replace(" ", draw(_SPACE))
    value = comparison.value
    if value is None:
        rendered = ""
    elif isinstance(value, tuple):
        items = [draw(_render_string(item)) for item in value]
        rendered = "(" + (draw(_SPACE) + "," + draw(_SPACE)).join(items) + ")"
    elif isinstance(value, str):
        rendered = draw(_render_string(value))
    else:
        rendered = draw(_render_number(value))
    return f"{key}{draw(_SPACE)}{op}{draw(_SPACE)}{rendered}"


@st.composite
def _filters(draw: st.DrawFn) -> tuple[list[Comparison], str]:
    comparisons = draw(st.lists(_comparisons(), min_size=1, max_size=4))
    parts = [draw(_render_comparison(comparison)) for comparison in comparisons]
    joiner = draw(_SPACE) + draw(_CASES)("and") + draw(_SPACE)
    return comparisons, draw(_SPACE) + joiner.join(parts) + draw(_SPACE)


@given(_filters())
def test_render_then_parse_round_trips(case: tuple[list[Comparison], str]) -> None:
    comparisons, text = case
    assert parse_filter(text) == tuple(comparisons)


@st.composite
def _order_bys(draw: st.DrawFn) -> tuple[OrderBy, str]:
    entity = draw(st.sampled_from([M, P, T, A]))
    key = draw(_keys(entity))
    direction = draw(st.sampled_from([None, "asc", "desc"]))
    bare = entity is A and draw(st.booleans())
    rendered = key if bare else draw(_render_key(entity, key))
    if direction:
        rendered += draw(_SPACE) + draw(_CASES)(direction)
    return OrderBy(entity, key, direction != "desc"), rendered


@given(_order_bys())
def test_order_by_round_trips(case: tuple[OrderBy, str]) -> None:
    order_by, clause = case
    assert parse_order_by([clause]) == (order_by,)


_GRAMMAR_PIECES = [
    *"metrics.params.tags.attributes.run_id'\"`()<>=!,-+.1e5 ",
    *["AND ", "OR ", "IN ", "NOT ", "IS ", "NULL", "LIKE ", "\\", "start_time", "DESC"],
]
#: Text made of grammar pieces, to reach deeper into the parser than random characters do.
_GRAMMAR_TEXT = st.lists(st.sampled_from(_GRAMMAR_PIECES), max_size=25).map("".join)


def _parse_error(parse: Callable[[str], object], text: str) -> str | None:
    try:
        parse(text)
    except InvalidInput as error:
        return str(error)
    return None


@given(st.one_of(st.text(max_size=40), _GRAMMAR_TEXT))
def test_any_text_parses_or_raises_invalid_input(text: str) -> None:
    message = _parse_error(parse_filter, text)
    assert message is None or message.startswith(f"filter {text!r} is invalid at position ")


@given(st.one_of(st.text(max_size=30), _GRAMMAR_TEXT))
def test_any_order_by_parses_or_raises_invalid_input(clause: str) -> None:
    message = _parse_error(lambda text: parse_order_by([text]), clause)
    prefix = f"order_by clause {clause!r} is invalid at position "
    assert message is None or message.startswith(prefix)


# -- the module stays in the dependency-free core -----------------------------------------------


def test_filters_module_imports_only_the_standard_library_and_core() -> None:
    tree = ast.parse(Path(filters.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    outside = {
        name
        for name in imported
        if name.split(".")[0] not in sys.stdlib_module_names and not name.startswith("loopml.core")
    }
    assert outside == set()


def test_public_api() -> None:
    assert filters.__all__ == ["parse_filter", "parse_order_by"]
