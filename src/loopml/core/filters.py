"""Parse MLflow's run-search ``filter_string`` and ``order_by`` clauses into the search AST.

The grammar is the one users already pass to ``mlflow.search_runs``::

    filter     := comparison (AND comparison)*          -- AND is the only connective
    comparison := key op value
    key        := prefix "." name                       -- metrics.auc, tags."team name"
    prefix     := metric(s) | m | param(s) | parameter(s) | p | tag(s) | t
                | attribute(s) | attr | run | dataset(s)
    name       := bare | `backticked` | "double quoted"  -- bare: letters, digits, _ . - / :
    op         := = | != | < | <= | > | >= | LIKE | ILIKE | IN | NOT IN | IS NULL | IS NOT NULL
    value      := number | 'string' | "string" | ( string, ... )
    order_by   := (key | attribute) [ASC | DESC]

Keywords and prefixes are case-insensitive; the name after the first dot is kept as written and
may itself contain dots (``metrics.val.auc`` is the metric ``val.auc``). Metrics and the numeric
attributes compare to numbers with ``= != < <= > >=``; params, tags, string attributes and
dataset fields compare to quoted strings with ``= != LIKE ILIKE IN NOT IN``. ``IS [NOT] NULL``
asks whether a run has a metric, param or tag at all. Inside a quoted string the quote itself is
written doubled (``'it''s'``) or backslash-escaped (``'it\\'s'``) and ``\\\\`` is one backslash;
any other backslash is kept as written, so LIKE patterns reach the store unchanged.

Every mistake is an :class:`~loopml.core.errors.InvalidInput` that quotes the input, names the
character position and the offending token, says what was expected and how to fix it.

>>> parse_filter("metrics.auc > 0.9 and params.model = 'rf'")[1]
Comparison(entity=<Entity.PARAM: 'param'>, key='model', op=<Op.EQ: '='>, value='rf')
>>> parse_filter("metrics.auc >> 0.9")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
loopml.core.errors.InvalidInput: filter 'metrics.auc >> 0.9' is invalid at position 12: ...
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from loopml.core.errors import InvalidInput, close_matches, user_message, verbatim
from loopml.core.search_ast import (
    DATASET_FIELDS,
    NUMERIC_ATTRIBUTES,
    STRING_ATTRIBUTES,
    Comparison,
    Entity,
    Op,
    OrderBy,
)

__all__ = ["parse_filter", "parse_order_by"]

_PREFIXES: dict[str, Entity] = {
    **dict.fromkeys(("metric", "metrics", "m"), Entity.METRIC),
    **dict.fromkeys(("param", "params", "parameter", "parameters", "p"), Entity.PARAM),
    **dict.fromkeys(("tag", "tags", "t"), Entity.TAG),
    **dict.fromkeys(("attribute", "attributes", "attr", "run"), Entity.ATTRIBUTE),
    **dict.fromkeys(("dataset", "datasets"), Entity.DATASET),
}
_CANONICAL_PREFIXES = ("metrics", "params", "tags", "attributes", "datasets")
_NOUNS = {
    Entity.METRIC: "metric",
    Entity.PARAM: "param",
    Entity.TAG: "tag",
    Entity.ATTRIBUTE: "attribute",
    Entity.DATASET: "dataset field",
}
_ATTRIBUTE_ALIASES = {
    "run_uuid": "run_id",
    "name": "run_name",
    "created": "start_time",
    "Created": "start_time",
    "user": "user_id",
}
_ATTRIBUTES = STRING_ATTRIBUTES | NUMERIC_ATTRIBUTES

_SYMBOL_OPS = {op.value: op for op in (Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE)}
_SYMBOL_TYPOS = {"==": "=", "===": "=", "<>": "!=", "!": "!=", "=!": "!=", "!==": "!="}
_SYMBOL_TYPOS |= {"=>": ">=", "=<": "<=", ">>": ">", "<<": "<", ">==": ">=", "<==": "<="}
_NUMERIC_OPS = (Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE)
_STRING_OPS = (Op.EQ, Op.NE, Op.LIKE, Op.ILIKE, Op.IN, Op.NOT_IN)
_NULL_OPS = (Op.IS_NULL, Op.IS_NOT_NULL)
_LIST_OPS = (Op.IN, Op.NOT_IN)
_NULLABLE = (Entity.METRIC, Entity.PARAM, Entity.TAG)
_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE", "ASC", "DESC"})
_ALL_OPS_TEXT = ", ".join(op.value for op in Op)

_TOKEN_RE = re.compile(
    r"""
      (?P<ws>\s+)
    | (?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")
    | (?P<backtick>`[^`]*`)
    | (?P<unterminated>['"`].*)
    | (?P<ident>[^\W\d][\w.\-/:]*)
    | (?P<symbol>[<>=!]+)
    | (?P<punct>[(),])
    | (?P<bad>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_UNESCAPE_RE = {
    "'": re.compile(r"\\(.)|''", re.DOTALL),
    '"': re.compile(r'\\(.)|""', re.DOTALL),
}


class _Token(NamedTuple):
    kind: str  # a group name of _TOKEN_RE, or "end"
    text: str
    pos: int

    @property
    def end(self) -> int:
        return self.pos + len(self.text)


@dataclass(frozen=True, slots=True)
class _Key:
    entity: Entity
    name: str
    source: str  # the key as the user wrote it, for messages

    @property
    def numeric(self) -> bool:
        return self.entity is Entity.METRIC or (
            self.entity is Entity.ATTRIBUTE and self.name in NUMERIC_ATTRIBUTES
        )

    def describe(self) -> str:
        return f"{_NOUNS[self.entity]} {self.name!r}"


def parse_filter(text: str | None) -> tuple[Comparison, ...]:
    """Parse an MLflow filter string into comparisons that must all hold.

    None, ``""`` and whitespace mean "no filter" and give ``()``.

    >>> parse_filter("metrics.`val auc` >= 1e-3")
    (Comparison(entity=<Entity.METRIC: 'metric'>, key='val auc', op=<Op.GE: '>='>, value=0.001),)
    >>> parse_filter("attributes.run_id IN ('a', 'b')")[0].value
    ('a', 'b')
    >>> parse_filter("  ")
    ()
    """
    if text is None or not text.strip():
        return ()
    return _Parser(text, "filter").parse_filter()


def parse_order_by(clauses: Sequence[str] | str | None) -> tuple[OrderBy, ...]:
    """Parse ``order_by`` clauses such as ``"metrics.auc DESC"`` (ascending unless ``DESC``).

    A single string is one clause. A name without a prefix is a run attribute, as in MLflow.

    >>> parse_order_by(["metrics.auc DESC", "start_time"])[0]
    OrderBy(entity=<Entity.METRIC: 'metric'>, key='auc', ascending=False)
    >>> parse_order_by("Created desc")
    (OrderBy(entity=<Entity.ATTRIBUTE: 'attribute'>, key='start_time', ascending=False),)
    """
    if clauses is None or (isinstance(clauses, str) and not clauses.strip()):
        return ()
    if isinstance(clauses, str):
        clauses = [clauses]
    result = []
    for clause in clauses:
        if not isinstance(clause, str):
            raise InvalidInput(
                user_message("an order_by clause", "must be a string", clause, "pass str clauses")
            )
        result.append(_Parser(clause, "order_by clause").parse_order_clause())
    return tuple(result)


class _Parser:
    """Recursive descent over the tokens of one filter or one order_by clause."""

    def __init__(self, source: str, what: str) -> None:
        self.source = source
        self.what = what
        self.tokens = self._tokenize()
        self.index = 0

    # -- tokens and errors -----------------------------------------------------------------

    def _tokenize(self) -> list[_Token]:
        tokens = []
        for match in _TOKEN_RE.finditer(self.source):
            kind = match.lastgroup or "bad"
            token = _Token(kind, match.group(), match.start())
            if kind == "unterminated":
                quote = token.text[0]
                raise self.error(
                    token,
                    f"opens a quoted string that is never closed; expected a closing {quote}",
                    f"close the string with {quote}; write a {quote} inside it doubled "
                    f"({quote * 2}) or as \\{quote}",
                )
            if kind != "ws":
                tokens.append(token)
        tokens.append(_Token("end", "", len(self.source)))
        return tokens

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def next(self) -> _Token:
        token = self.tokens[self.index]
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def error(self, token: _Token, expected: str, fix: str | None = None) -> InvalidInput:
        """The error for ``token``: quote the input, name the position, say what was expected."""
        shown = verbatim(f"<end of {self.what}>") if token.kind == "end" else token.text
        rule = f"is invalid at position {token.pos}: {expected}"
        return InvalidInput(user_message(f"{self.what} {self.source!r}", rule, shown, fix))

    # -- the two entry points --------------------------------------------------------------

    def parse_filter(self) -> tuple[Comparison, ...]:
        comparisons = [self.parse_comparison()]
        while (token := self.next()).kind != "end":
            if _is_word(token, "AND"):
                if self.peek().kind == "end":
                    raise self.error(
                        token,
                        "ends with AND; expected a comparison after it",
                        "remove the trailing AND or add a comparison after it",
                    )
                comparisons.append(self.parse_comparison())
            elif _is_word(token, "OR"):
                raise self.error(
                    token,
                    "uses OR, which is not supported (nor by MLflow); expected AND or the end",
                    "run one search per alternative and merge the results, "
                    "or use IN for alternatives of one key",
                )
            else:
                raise self.error(
                    token,
                    "expected AND or the end of the filter after a comparison",
                    "join comparisons with AND and remove any extra text",
                )
        return tuple(comparisons)

    def parse_order_clause(self) -> OrderBy:
        key = self.parse_key(bare_is_attribute=True)
        if key.entity is Entity.DATASET:
            raise self.error(
                self.tokens[0],
                "orders by a dataset field; expected a metric, param, tag or attribute",
                "order by metrics.<key>, params.<key>, tags.<key> or a run attribute",
            )
        token = self.next()
        ascending = True
        if _is_word(token, "ASC", "DESC"):
            ascending = token.text.upper() == "ASC"
            token = self.next()
        elif token.kind != "end":
            raise self.error(
                token,
                f"expected ASC, DESC or the end of the clause after {key.source!r}",
                f"write {key.source} ASC or {key.source} DESC",
            )
        if token.kind != "end":
            fix = "remove the extra text; a clause orders by one key"
            if token.text == ",":
                fix = "pass each clause as its own list item"
            raise self.error(token, "expected the end of the clause after the direction", fix)
        return OrderBy(key.entity, key.name, ascending)

    # -- keys ------------------------------------------------------------------------------

    def parse_key(self, *, bare_is_attribute: bool = False) -> _Key:
        token = self.next()
        if token.kind != "ident":
            fix = "filters are comparisons joined by AND, without parentheses"
            raise self.error(
                token,
                "expected a key such as metrics.auc or params.model",
                fix if token.text == "(" else "start with <prefix>.<key>, e.g. metrics.auc",
            )
        prefix, dot, name = token.text.partition(".")
        if not dot:
            if bare_is_attribute:
                return self._attribute_key(token, token.text, token.text)
            raise self._bare_key_error(token)
        entity = self._entity(token, prefix, name)
        end = token.end
        if not name:
            name, end = self._quoted_name(token)
        source = self.source[token.pos : end]
        if entity is Entity.ATTRIBUTE:
            return self._attribute_key(token, name, source)
        if entity is Entity.DATASET and name not in DATASET_FIELDS:
            raise self._unknown_name(token, name, "a dataset field", DATASET_FIELDS)
        return _Key(entity, name, source)

    def _entity(self, token: _Token, prefix: str, name: str) -> Entity:
        entity = _PREFIXES.get(prefix.lower())
        if entity is not None:
            return entity
        close = close_matches(prefix.lower(), _CANONICAL_PREFIXES)
        fix = (
            f"did you mean {close[0] + '.'!r}? Write {close[0] + '.' + name!r}"
            if close
            else f"start the key with one of {_prefix_list()}"
        )
        raise self.error(
            token._replace(text=prefix), f"expected a key prefix ({_prefix_list()})", fix
        )

    def _quoted_name(self, prefix_token: _Token) -> tuple[str, int]:
        token = self.peek()
        quoted = token.kind == "backtick" or token.text.startswith('"')
        if not quoted or token.pos != prefix_token.end:
            raise self.error(
                token,
                f"expected a key right after {prefix_token.text!r}",
                f"write the key after the dot, e.g. {prefix_token.text}auc, or quote it: "
                f"{prefix_token.text}`my key`",
            )
        self.next()
        name = _unquote(token.text)
        if not name:
            raise self.error(
                token,
                "has an empty quoted key; expected at least one character",
                "put the key's name between the quotes",
            )
        return name, token.end

    def _attribute_key(self, token: _Token, name: str, source: str) -> _Key:
        canonical = _ATTRIBUTE_ALIASES.get(name, name)
        if canonical not in _ATTRIBUTES:
            raise self._unknown_name(token, name, "a run attribute", _ATTRIBUTES)
        return _Key(Entity.ATTRIBUTE, canonical, source)

    def _unknown_name(
        self, token: _Token, name: str, what: str, valid: frozenset[str]
    ) -> InvalidInput:
        aliases = _ATTRIBUTE_ALIASES if valid is _ATTRIBUTES else {}
        spellings = {valid_name: valid_name for valid_name in valid} | aliases
        close = close_matches(name, spellings)
        listed = ", ".join(sorted(valid))
        prefix = token.text.partition(".")[0] + "." if "." in token.text else ""
        name_token = token._replace(text=name, pos=token.pos + len(prefix))
        if close:
            better = spellings[close[0]]
            fix = f"did you mean {better!r}? Write {prefix + better!r}"
        else:
            fix = f"use one of the names listed after {prefix!r}" if prefix else "use a listed name"
        if valid is _ATTRIBUTES:
            fix += "; logged values are metrics.<key>, params.<key> or tags.<key>"
        return self.error(name_token, f"expected {what} ({listed})", fix)

    def _bare_key_error(self, token: _Token) -> InvalidInput:
        word = token.text
        if word.upper() in _KEYWORDS:
            expected = "expected a comparison (<prefix>.<key> <operator> <value>)"
            fix = f"remove the stray {word}; write e.g. metrics.auc > 0.5"
        elif word.lower() in _PREFIXES:
            expected, fix = f"expected '.' and a key after {word!r}", f"write {word}.<key>"
        elif _ATTRIBUTE_ALIASES.get(word, word) in _ATTRIBUTES:
            expected, fix = "expected <prefix>.<key>", f"write attributes.{word}"
        else:
            expected = "expected <prefix>.<key>; a key needs its prefix"
            fix = f"write metrics.{word}, params.{word} or tags.{word}"
        return self.error(token, expected, fix)

    # -- comparisons -----------------------------------------------------------------------

    def parse_comparison(self) -> Comparison:
        key = self.parse_key()
        op, op_token = self.parse_operator(key)
        self._check_operator(key, op, op_token)
        value: float | str | tuple[str, ...] | None
        if op in _NULL_OPS:
            value = None
        elif op in _LIST_OPS:
            value = self.parse_list(key, op)
        elif key.numeric:
            value = self.parse_number(key, op)
        else:
            value = self.parse_string(key, op)
        return Comparison(key.entity, key.name, op, value)

    def parse_operator(self, key: _Key) -> tuple[Op, _Token]:
        token = self.next()
        if token.kind == "symbol":
            if token.text in _SYMBOL_OPS:
                return _SYMBOL_OPS[token.text], token
            better = _SYMBOL_TYPOS.get(token.text)
            fix = f"use {better!r}" if better else "use one of =, !=, <, <=, >, >="
            raise self.error(
                token, f"has an unknown operator; expected one of {_ALL_OPS_TEXT}", fix
            )
        if _is_word(token, "LIKE", "ILIKE", "IN"):
            return Op(token.text.upper()), token
        if _is_word(token, "NOT") and _is_word(self.peek(), "IN"):
            self.next()
            return Op.NOT_IN, token
        if _is_word(token, "IS"):
            negated = _is_word(self.peek(), "NOT")
            if negated:
                self.next()
            if _is_word(self.peek(), "NULL"):
                self.next()
                return (Op.IS_NOT_NULL if negated else Op.IS_NULL), token
            raise self.error(self.peek(), "expected NULL or NOT NULL after IS", "write IS NULL")
        if _is_word(token, "NOT"):
            raise self.error(
                self.peek(),
                "expected IN after NOT (NOT IN is the only negated operator)",
                "use NOT IN (...) for lists or != for one value; NOT LIKE is not supported",
            )
        example = "0.5" if key.numeric else "'value'"
        raise self.error(
            token,
            f"expected an operator after {key.source!r} (one of {_ALL_OPS_TEXT})",
            f"put an operator between the key and the value, e.g. {key.source} = {example}",
        )

    def _check_operator(self, key: _Key, op: Op, token: _Token) -> None:
        if op in _NULL_OPS:
            if key.entity not in _NULLABLE:
                raise self.error(
                    token,
                    f"tests {key.describe()} for NULL; IS [NOT] NULL only applies to metrics, "
                    "params and tags",
                    f"compare {key.source} with a value instead",
                )
            return
        if key.numeric and op not in _NUMERIC_OPS:
            ops = ", ".join(o.value for o in _NUMERIC_OPS)
            raise self.error(
                token,
                f"applies {op.value} to {key.describe()}, which is a number; expected one of {ops}",
                f"compare with a number, e.g. {key.source} >= 0.5; {op.value} works on params, "
                "tags and string attributes",
            )
        if not key.numeric and op not in _STRING_OPS:
            ops = ", ".join(o.value for o in _STRING_OPS)
            raise self.error(
                token,
                f"applies {op.value} to {key.describe()}, which is a string; expected one of {ops}",
                f"match strings with = or LIKE (e.g. {key.source} LIKE 'prefix%'); to compare "
                "numerically, log the value as a metric",
            )

    # -- values ----------------------------------------------------------------------------

    def parse_number(self, key: _Key, op: Op) -> float:
        token = self.next()
        if token.kind == "number":
            value = float(token.text)
            if not math.isfinite(value):
                raise self.error(
                    token, "expected a finite number", "use a number of smaller magnitude"
                )
            return value
        rule = f"compares {key.describe()}, a number; expected a number after {op.value}"
        if token.kind == "string" and _is_number(_unquote(token.text)):
            raise self.error(
                token, rule, f"drop the quotes: {key.source} {op.value} {token.text[1:-1]}"
            )
        if token.kind == "string":
            rule = f"compares {key.describe()} to a string; metrics compare to numbers only"
            if key.entity is Entity.ATTRIBUTE:
                rule = f"compares {key.describe()} to a string; it is milliseconds since the epoch"
        raise self.error(token, rule, f"compare to a number, e.g. {key.source} {op.value} 0.5")

    def parse_string(self, key: _Key, op: Op, *, in_list: bool = False) -> str:
        token = self.next()
        if token.kind == "string":
            return _unquote(token.text)
        rule = f"compares {key.describe()}, a string; expected a quoted string"
        example = f"{key.source} {op.value} ('{token.text}')" if in_list else None
        if token.kind == "end" or (in_list and token.text == ")"):
            fix = "remove the trailing comma" if in_list else f"write {key.source} = 'value'"
            raise self.error(token, rule, fix)
        if token.kind in ("number", "ident") and not _is_word(token, "NULL"):
            quoted = example or f"{key.source} {op.value} '{token.text}'"
            raise self.error(token, rule, f"quote it: {quoted}")
        if _is_word(token, "NULL"):
            raise self.error(token, rule, f"test for a missing value with {key.source} IS NULL")
        if token.text == "(":
            raise self.error(token, rule, f"use IN for a list: {key.source} IN ('a', 'b')")
        raise self.error(token, rule, f"write {key.source} {op.value} 'value'")

    def parse_list(self, key: _Key, op: Op) -> tuple[str, ...]:
        opening = self.next()
        example = f"{key.source} {op.value} ('a', 'b')"
        if opening.text != "(" or opening.kind != "punct":
            raise self.error(
                opening,
                f"expected '(' to open the list after {op.value}",
                f"write a parenthesised list, e.g. {example}",
            )
        if self.peek().text == ")":
            raise self.error(
                self.peek(),
                f"has an empty {op.value} list; expected at least one string",
                f"list one or more values, e.g. {example}",
            )
        items = [self.parse_string(key, op, in_list=True)]
        while (token := self.next()).text != ")" or token.kind != "punct":
            if token.text != "," or token.kind != "punct":
                raise self.error(
                    token,
                    f"expected ',' or ')' in the list opened at position {opening.pos}",
                    "separate values with ',' and close the list with ')'",
                )
            items.append(self.parse_string(key, op, in_list=True))
        return tuple(items)


def _is_word(token: _Token, *words: str) -> bool:
    return token.kind == "ident" and token.text.upper() in words


def _is_number(text: str) -> bool:
    match = _TOKEN_RE.fullmatch(text.strip())
    return match is not None and match.lastgroup == "number"


def _unquote(text: str) -> str:
    """The content of a quoted token: ``'it''s'`` and ``'it\\'s'`` are both ``it's``."""
    quote, inner = text[0], text[1:-1]
    if quote == "`":
        return inner

    def replace(match: re.Match[str]) -> str:
        escaped = match.group(1)
        if escaped is None:
            return quote
        return escaped if escaped in "\\'\"" else match.group()

    return _UNESCAPE_RE[quote].sub(replace, inner)


def _prefix_list() -> str:
    return ", ".join(f"{prefix}." for prefix in _CANONICAL_PREFIXES)
