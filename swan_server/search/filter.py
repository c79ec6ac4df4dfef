"""MLflow's search filter grammar: comparisons joined by AND, with no OR, NOT or parentheses.

    filter     := comparison (AND comparison)*
    comparison := identifier op value | identifier IS [NOT] NULL
    identifier := [entity "."] key          key: bare, `backticked` or "double-quoted"
    value      := number | 'string' | "string" | "(" string ("," string)* ")"

`parse_run_filter` and `parse_experiment_filter` check each comparison against what that search
accepts and raise `SwanError(INVALID_PARAMETER_VALUE)` with MLflow's messages otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from swan_server.errors import invalid

METRIC, PARAM, TAG, ATTRIBUTE, DATASET = "metric", "param", "tag", "attribute", "dataset"

ENTITY_ALIASES = {
    "metric": METRIC, "metrics": METRIC,
    "param": PARAM, "params": PARAM, "parameter": PARAM, "parameters": PARAM,
    "tag": TAG, "tags": TAG,
    "attribute": ATTRIBUTE, "attributes": ATTRIBUTE, "attr": ATTRIBUTE, "run": ATTRIBUTE,
    "dataset": DATASET, "datasets": DATASET,
}

RUN_STRING_ATTRIBUTES = {"run_id", "run_name", "status", "user_id", "artifact_uri", "lifecycle_stage"}
RUN_NUMERIC_ATTRIBUTES = {"start_time", "end_time", "created"}
ATTRIBUTE_ALIASES = {"run name": "run_name", "created": "start_time", "run_uuid": "run_id"}
DATASET_KEYS = {"name", "digest", "context"}

NUMERIC_OPS = {"=", "!=", ">", ">=", "<", "<="}
STRING_OPS = {"=", "!=", "LIKE", "ILIKE"}
NULL_OPS = {"IS NULL", "IS NOT NULL"}
SET_OPS = {"IN", "NOT IN"}


@dataclass(frozen=True)
class Comparison:
    entity: str
    key: str
    op: str
    value: object = None  # float, str, or tuple of str for IN


_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<number>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?))(?![\w.])
     |(?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")
     |(?P<backtick>`[^`]*`)
     |(?P<op>!=|<>|>=|<=|=|<|>)
     |(?P<lparen>\()
     |(?P<rparen>\))
     |(?P<comma>,)
     |(?P<word>[A-Za-z_][\w:/\-]*(?:\.(?:[\w:/\-]+|`[^`]*`|"[^"]*"))*)
    )""",
    re.VERBOSE,
)


@dataclass
class _Tok:
    kind: str
    text: str


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos, n = 0, len(text)
    while pos < n:
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise invalid(f"Invalid filter string '{text}': unexpected character at position {pos}")
        kind = m.lastgroup
        toks.append(_Tok(kind, m.group(kind)))
        pos = m.end()
    return toks


def _unquote(s: str) -> str:
    q = s[0]
    body = s[1:-1]
    return body.replace(q + q, q).replace("\\" + q, q)


def _split_identifier(tok: _Tok) -> tuple[str | None, str]:
    """Return (entity, key) for an identifier token; entity None means a bare attribute name."""
    if tok.kind == "backtick":
        return None, tok.text[1:-1]
    if tok.kind == "string" and tok.text[0] == '"':
        return None, _unquote(tok.text)
    text = tok.text
    if "." not in text:
        return None, text
    entity, key = text.split(".", 1)
    if key[:1] in "`\"":
        key = key[1:-1]
    return entity, key


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0

    def peek(self, offset: int = 0) -> _Tok | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def next(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise invalid(f"Invalid filter string '{self.text}': unexpected end of filter")
        self.i += 1
        return tok

    def word_is(self, tok: _Tok | None, *words: str) -> bool:
        return tok is not None and tok.kind == "word" and tok.text.upper() in words

    def parse(self) -> list[tuple[str | None, str, str, object]]:
        out = []
        while True:
            out.append(self.comparison())
            tok = self.peek()
            if tok is None:
                return out
            if self.word_is(tok, "AND"):
                self.i += 1
                continue
            if self.word_is(tok, "OR"):
                raise invalid("Invalid clause(s) in filter string: 'OR'")
            raise invalid(f"Invalid clause(s) in filter string: '{tok.text}'")

    def comparison(self):
        ident = self.next()
        if ident.kind not in ("word", "backtick") and not (ident.kind == "string" and ident.text[0] == '"'):
            raise invalid(f"Invalid filter string '{self.text}': expected an identifier, got '{ident.text}'")
        if self.word_is(ident, "OR", "NOT", "AND"):
            raise invalid(f"Invalid clause(s) in filter string: '{ident.text.upper()}'")
        entity, key = _split_identifier(ident)
        # "run name" is accepted by MLflow as an attribute spelled with a space.
        op_tok = self.next()
        if op_tok.kind == "word" and entity is None and key.lower() == "run" and op_tok.text.lower() == "name":
            key = "run name"
            op_tok = self.next()
        if op_tok.kind == "op":
            op = "!=" if op_tok.text == "<>" else op_tok.text
        elif self.word_is(op_tok, "LIKE", "ILIKE", "IN"):
            op = op_tok.text.upper()
        elif self.word_is(op_tok, "NOT") and self.word_is(self.peek(), "IN"):
            self.i += 1
            op = "NOT IN"
        elif self.word_is(op_tok, "IS"):
            if self.word_is(self.peek(), "NOT") and self.word_is(self.peek(1), "NULL"):
                self.i += 2
                return entity, key, "IS NOT NULL", None
            if self.word_is(self.peek(), "NULL"):
                self.i += 1
                return entity, key, "IS NULL", None
            raise invalid(f"Invalid filter string '{self.text}': expected NULL or NOT NULL after IS")
        else:
            raise invalid(f"Invalid filter string '{self.text}': '{op_tok.text}' is not a comparison operator")
        if op in SET_OPS:
            return entity, key, op, self.value_list()
        val = self.next()
        if val.kind == "number":
            return entity, key, op, float(val.text)
        if val.kind == "string":
            return entity, key, op, _unquote(val.text)
        raise invalid(f"Invalid filter string '{self.text}': expected a value, got '{val.text}'")

    def value_list(self) -> tuple[str, ...]:
        if self.next().kind != "lparen":
            raise invalid(f"While parsing a list in the query, expected a non-empty list of string values, but got '{self.text}'")
        values = []
        while True:
            tok = self.next()
            if tok.kind != "string":
                raise invalid("While parsing a list in the query, expected string value, punctuation, or whitespace, but got different type in list: " + tok.text)
            values.append(_unquote(tok.text))
            tok = self.next()
            if tok.kind == "rparen":
                return tuple(values)
            if tok.kind != "comma":
                raise invalid(f"Invalid filter string '{self.text}': expected ',' or ')' in list")


def _resolve_entity(entity: str | None, key: str) -> tuple[str, str]:
    if entity is None:
        return ATTRIBUTE, key
    kind = ENTITY_ALIASES.get(entity.lower())
    if kind is None:
        raise invalid(
            f"Invalid entity type '{entity}'. Valid values are "
            "['metric', 'parameter', 'tag', 'attribute', 'dataset']"
        )
    return kind, key


def _check_run_comparison(kind: str, key: str, op: str, value) -> Comparison:
    if kind == METRIC:
        if op not in NUMERIC_OPS:
            raise invalid(f"Invalid comparator '{op}' not one of '{sorted(NUMERIC_OPS)}'")
        if not isinstance(value, float):
            raise invalid(f"Expected numeric value type for metric. Found {value!r}")
        return Comparison(METRIC, key, op, value)
    if kind in (PARAM, TAG):
        allowed = STRING_OPS | NULL_OPS
        if op not in allowed:
            raise invalid(f"Invalid comparator '{op}' not one of '{sorted(allowed)}'")
        if op not in NULL_OPS and not isinstance(value, str):
            raise invalid(f"Expected a quoted string value for {kind}s. Found {value!r}")
        return Comparison(kind, key, op, value)
    if kind == DATASET:
        if key not in DATASET_KEYS:
            raise invalid(f"Invalid dataset key '{key}'. Valid keys are {sorted(DATASET_KEYS)}")
        allowed = STRING_OPS | SET_OPS
        if op not in allowed:
            raise invalid(f"Invalid comparator '{op}' not one of '{sorted(allowed)}'")
        if op not in SET_OPS and not isinstance(value, str):
            raise invalid(f"Expected a quoted string value for dataset {key}. Found {value!r}")
        return Comparison(DATASET, key, op, value)
    # attributes
    key = ATTRIBUTE_ALIASES.get(key, key)
    if key in RUN_NUMERIC_ATTRIBUTES:
        if op not in NUMERIC_OPS:
            raise invalid(f"Invalid comparator '{op}' not one of '{sorted(NUMERIC_OPS)}'")
        if not isinstance(value, float):
            raise invalid(f"Expected numeric value type for attribute {key}. Found {value!r}")
        return Comparison(ATTRIBUTE, key, op, value)
    if key in RUN_STRING_ATTRIBUTES:
        allowed = STRING_OPS | SET_OPS
        if op not in allowed:
            raise invalid(f"Invalid comparator '{op}' not one of '{sorted(allowed)}'")
        if op not in SET_OPS and not isinstance(value, str):
            raise invalid(f"Expected a quoted string value for attributes. Found {value!r}")
        return Comparison(ATTRIBUTE, key, op, value)
    raise invalid(
        f"Invalid attribute key '{key}' specified. Valid keys are "
        f"'{sorted(RUN_STRING_ATTRIBUTES | RUN_NUMERIC_ATTRIBUTES)}'"
    )


def parse_run_filter(text: str | None) -> list[Comparison]:
    if not text or not text.strip():
        return []
    out = []
    for entity, key, op, value in _Parser(text).parse():
        kind, key = _resolve_entity(entity, key)
        out.append(_check_run_comparison(kind, key, op, value))
    return out


EXPERIMENT_STRING_ATTRIBUTES = {"name"}
EXPERIMENT_NUMERIC_ATTRIBUTES = {"creation_time", "last_update_time"}
EXPERIMENT_ID_OPS = {"=", "!=", "IN", "NOT IN"}


def _experiment_id_value(value) -> int:
    """`experiment_id = '3'`: MLflow's ids are strings on the wire and integers in SQL."""
    parsed = None
    if isinstance(value, float) and value.is_integer():
        parsed = int(value)
    elif isinstance(value, str):
        try:
            parsed = int(value.strip())
        except ValueError:
            pass
    if parsed is not None and -(2**63) <= parsed < 2**63:
        return parsed
    raise invalid(f"Invalid experiment ID '{value}'. Experiment ID must be a valid integer.")


def parse_experiment_filter(text: str | None) -> list[Comparison]:
    if not text or not text.strip():
        return []
    out = []
    for entity, key, op, value in _Parser(text).parse():
        if entity is not None and ENTITY_ALIASES.get(entity.lower()) == TAG:
            if op not in STRING_OPS | NULL_OPS:
                raise invalid(f"Invalid comparator '{op}' not one of '{sorted(STRING_OPS | NULL_OPS)}'")
            if op not in NULL_OPS and not isinstance(value, str):
                raise invalid(f"Expected a quoted string value for tags. Found {value!r}")
            out.append(Comparison(TAG, key, op, value))
            continue
        if entity is not None and ENTITY_ALIASES.get(entity.lower()) != ATTRIBUTE:
            raise invalid(f"Invalid entity type '{entity}'. Valid values are ['tag', 'attribute']")
        if key == "experiment_id":
            if op not in EXPERIMENT_ID_OPS:
                raise invalid(f"Invalid comparator for experiment_id: '{op}' not one of '{sorted(EXPERIMENT_ID_OPS)}'")
            if op in SET_OPS:
                value = tuple(_experiment_id_value(v) for v in value)
            else:
                value = _experiment_id_value(value)
        elif key in EXPERIMENT_STRING_ATTRIBUTES:
            if op not in STRING_OPS or not isinstance(value, str):
                raise invalid(f"Invalid comparator '{op}' or value for attribute '{key}'")
        elif key in EXPERIMENT_NUMERIC_ATTRIBUTES:
            if op not in NUMERIC_OPS or not isinstance(value, float):
                raise invalid(f"Invalid comparator '{op}' or value for attribute '{key}'")
        else:
            raise invalid(
                f"Invalid attribute key '{key}' specified. Valid keys are "
                f"'{sorted(EXPERIMENT_STRING_ATTRIBUTES | EXPERIMENT_NUMERIC_ATTRIBUTES | {'experiment_id'})}'"
            )
        out.append(Comparison(ATTRIBUTE, key, op, value))
    return out


@dataclass(frozen=True)
class OrderBy:
    entity: str
    key: str
    ascending: bool


_ORDER_RE = re.compile(r"^\s*(?P<ident>.+?)(?:\s+(?P<dir>ASC|DESC))?\s*$", re.IGNORECASE)


def _parse_order_clause(clause: str) -> tuple[str | None, str, bool]:
    m = _ORDER_RE.match(clause or "")
    if not m or not m.group("ident").strip():
        raise invalid(f"Invalid order_by clause '{clause}'.")
    ident = m.group("ident").strip()
    toks = _tokenize(ident)
    if len(toks) != 1 and not (len(toks) == 2 and ident.lower() == "run name"):
        raise invalid(f"Invalid order_by clause '{clause}'. Could not be parsed.")
    if len(toks) == 2:
        entity, key = None, "run name"
    else:
        entity, key = _split_identifier(toks[0])
    ascending = (m.group("dir") or "ASC").upper() == "ASC"
    return entity, key, ascending


def parse_run_order_by(clauses: list[str] | None) -> list[OrderBy]:
    out: list[OrderBy] = []
    seen = set()
    for clause in clauses or []:
        entity, key, ascending = _parse_order_clause(clause)
        kind, key = _resolve_entity(entity, key)
        if kind == DATASET:
            raise invalid(f"Invalid order_by entity 'datasets' in '{clause}'")
        if kind == ATTRIBUTE:
            key = ATTRIBUTE_ALIASES.get(key, key)
            if key not in RUN_STRING_ATTRIBUTES | RUN_NUMERIC_ATTRIBUTES:
                raise invalid(
                    f"Invalid attribute key '{key}' specified. Valid keys are "
                    f"'{sorted(RUN_STRING_ATTRIBUTES | RUN_NUMERIC_ATTRIBUTES)}'"
                )
        if (kind, key) in seen:
            raise invalid(f"`order_by` contains duplicate fields: {clauses}")
        seen.add((kind, key))
        out.append(OrderBy(kind, key, ascending))
    return out


EXPERIMENT_ORDER_KEYS = {"name", "experiment_id", "creation_time", "last_update_time"}


def parse_experiment_order_by(clauses: list[str] | None) -> list[OrderBy]:
    out = []
    seen = set()
    for clause in clauses or []:
        entity, key, ascending = _parse_order_clause(clause)
        if entity is not None and ENTITY_ALIASES.get(entity.lower()) != ATTRIBUTE:
            raise invalid(f"Invalid order_by entity '{entity}' in '{clause}'")
        if key not in EXPERIMENT_ORDER_KEYS:
            raise invalid(f"Invalid attribute key '{key}' specified. Valid keys are '{sorted(EXPERIMENT_ORDER_KEYS)}'")
        if key in seen:
            raise invalid(f"`order_by` contains duplicate fields: {clauses}")
        seen.add(key)
        out.append(OrderBy(ATTRIBUTE, key, ascending))
    return out
