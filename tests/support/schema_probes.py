"""Requests built from the schema alone: every id argument of every root field, probed.

The isolation tests walk the graphql-core schema behind the strawberry schema (introspection
is off for ordinary callers, so the schema object is read directly). For a root field and
one of its id slots (an ``ID`` argument, an ``ID`` in a list, or one nested in input
objects), ``ProbeCall`` builds the arguments: the slot gets the probed id, every other
required argument a generated valid value (or one from the caller's table of particular
values), and every other required id an object of the caller's own tenant. The selection
set is generated too: every argument-free leaf to a bounded depth, unions and interfaces
through inline fragments. ``answers_of`` splits a response into one answer per alias, with
the probed ids written out, so that answers to different ids compare with ``==``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    is_non_null_type,
)
from graphql.language import Lexer, Source, TokenKind

# Valid values for scalars nobody asked for in particular: a fixed, past instant so that
# nothing depends on the clock.
SCALAR_VALUES: dict[str, Any] = {
    "String": "probe",
    "Int": 1,
    "Float": 1.0,
    "Boolean": False,
    "Date": "2026-08-10",
    "DateTime": "2026-08-10T09:00:00+00:00",
    "Decimal": "3.5",
    "JSON": {},
}


@dataclass(frozen=True)
class IdSlot:
    """Where an id goes in a root field's arguments: ``input.skills.skillId`` (lists implied)."""

    root: str
    field: str
    path: tuple[str, ...]
    in_list: bool

    @property
    def key(self) -> str:
        return f"{self.field}.{'.'.join(self.path)}"

    def __str__(self) -> str:
        return f"{self.root}.{self.key}"


@dataclass(frozen=True)
class Own:
    """An object of the caller's own tenant, of a node type, optionally of a variant
    (``Own("WorkItem", "bug")``): a placeholder in a table of particular values."""

    type_name: str
    variant: str | None = None


def id_slots(schema: GraphQLSchema, root: str) -> list[IdSlot]:
    """Every id slot of every field of the root type ``root`` (Query, Mutation, ...)."""
    root_type = schema.get_type(root)
    assert isinstance(root_type, GraphQLObjectType), root
    slots: list[IdSlot] = []
    for name, graphql_field in root_type.fields.items():
        for arg_name, argument in graphql_field.args.items():
            for path, in_list in _id_paths(argument.type, (arg_name,), False, frozenset()):
                slots.append(IdSlot(root, name, path, in_list))
    return slots


def _id_paths(
    graphql_type: GraphQLInputType, path: tuple[str, ...], in_list: bool, seen: frozenset[str]
) -> Iterator[tuple[tuple[str, ...], bool]]:
    nullable = get_nullable_type(graphql_type)
    if isinstance(nullable, GraphQLList):
        yield from _id_paths(nullable.of_type, path, True, seen)
        return
    if isinstance(nullable, GraphQLScalarType) and nullable.name == "ID":
        yield path, in_list
    elif isinstance(nullable, GraphQLInputObjectType) and nullable.name not in seen:
        for name, input_field in nullable.fields.items():
            yield from _id_paths(input_field.type, (*path, name), in_list, seen | {nullable.name})


def _required(graphql_type: GraphQLInputType, default: Any) -> bool:
    return is_non_null_type(graphql_type) and default is Undefined


@dataclass
class ProbeCall:
    """One aliased call of a root field, its id slot filled by ``ids``.

    ``ids(slot_key, element)`` gives the id for an id slot (``element`` counts the elements
    of a list on the probed slot's path); ``particular`` holds argument values the field
    needs, merged over the generated ones, possibly with ``Own`` placeholders, which
    ``own`` turns into ids. ``elements`` is how many list elements the probed slot gets.
    """

    schema: GraphQLSchema
    slot: IdSlot
    alias: str
    ids: Callable[[str, int], str]
    own: Callable[[Own], str]
    particular: Mapping[str, Any] = field(default_factory=dict)
    elements: int = 1
    depth: int = 3

    @property
    def graphql_field(self) -> GraphQLField:
        root_type = self.schema.get_type(self.slot.root)
        assert isinstance(root_type, GraphQLObjectType)
        graphql_field: GraphQLField = root_type.fields[self.slot.field]
        return graphql_field

    def arguments(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, argument in self.graphql_field.args.items():
            probed = self.slot.path[0] == name
            if probed or _required(argument.type, argument.default_value):
                values[name] = self._fill(argument, (name,), self.slot.path[1:] if probed else None)
        resolved: dict[str, Any] = _resolve(_merge(values, self.particular), self.ids, self.own)
        return resolved

    def _fill(
        self,
        typed: GraphQLArgument | GraphQLInputField,
        path: tuple[str, ...],
        rest: tuple[str, ...] | None,
    ) -> Any:
        return self._value(typed.type, path, rest, 0)

    def _value(
        self,
        graphql_type: GraphQLInputType,
        path: tuple[str, ...],
        rest: tuple[str, ...] | None,
        element: int,
    ) -> Any:
        nullable = get_nullable_type(graphql_type)
        if isinstance(nullable, GraphQLList):
            count = self.elements if rest is not None else 1
            return [self._value(nullable.of_type, path, rest, i) for i in range(count)]
        if isinstance(nullable, GraphQLInputObjectType):
            values: dict[str, Any] = {}
            for name, input_field in nullable.fields.items():
                probed = rest is not None and bool(rest) and rest[0] == name
                if probed or _required(input_field.type, input_field.default_value):
                    below = rest[1:] if probed and rest is not None else None
                    values[name] = self._value(input_field.type, (*path, name), below, element)
            return values
        if isinstance(nullable, GraphQLEnumType):
            return next(iter(nullable.values))
        assert isinstance(nullable, GraphQLScalarType)
        if nullable.name == "ID":
            key = f"{self.slot.field}.{'.'.join(path)}"
            return _IdLeaf(key, element, probed=key == self.slot.key)
        return SCALAR_VALUES[nullable.name]

    def text(self, variables: dict[str, Any]) -> tuple[str, list[str]]:
        """The call's text, adding its variables to ``variables``; and its declarations."""
        declarations: list[str] = []
        arguments: list[str] = []
        args = self.graphql_field.args
        for name, value in self.arguments().items():
            variable = f"{self.alias}_{name}"
            variables[variable] = value
            declarations.append(f"${variable}: {args[name].type}")
            arguments.append(f"{name}: ${variable}")
        call = f"{self.alias}: {self.slot.field}"
        if arguments:
            call += f"({', '.join(arguments)})"
        return call + selection(self.graphql_field.type, self.depth), declarations


def operation(kind: str, calls: Sequence[ProbeCall]) -> tuple[str, dict[str, Any]]:
    """One operation with every call aliased: its text and its variables."""
    variables: dict[str, Any] = {}
    bodies: list[str] = []
    declarations: list[str] = []
    for call in calls:
        body, declared = call.text(variables)
        bodies.append(body)
        declarations.extend(declared)
    head = f"{kind} Probe({', '.join(declarations)})" if declarations else f"{kind} Probe"
    return head + " { " + " ".join(bodies) + " }", variables


def selection(graphql_type: GraphQLOutputType, depth: int) -> str:
    """Every leaf without required arguments, ``depth`` object levels deep."""
    named = get_named_type(graphql_type)
    if is_leaf_type(named):
        return ""
    return " { " + _selection_body(named, depth) + " }"


def _selection_body(named: Any, depth: int) -> str:
    parts = ["__typename"]
    if isinstance(named, GraphQLUnionType):
        for member in named.types:
            parts.append(f"... on {member.name} {{ {_selection_body(member, depth)} }}")
        return " ".join(parts)
    assert isinstance(named, GraphQLObjectType | GraphQLInterfaceType)
    for name, graphql_field in named.fields.items():
        if any(_required(a.type, a.default_value) for a in graphql_field.args.values()):
            continue
        inner = get_named_type(graphql_field.type)
        if is_leaf_type(inner):
            parts.append(name)
        elif depth > 1:
            parts.append(name + " { " + _selection_body(inner, depth - 1) + " }")
    return " ".join(parts)


def token_count(text: str) -> int:
    lexer = Lexer(Source(text))
    count = 0
    while lexer.advance().kind != TokenKind.EOF:
        count += 1
    return count


def answers_of(
    body: Mapping[str, Any], aliases: Mapping[str, Sequence[str]]
) -> dict[str, dict[str, Any]]:
    """Each alias's data and errors, its probed ids (``aliases[alias]``) written as ``<id>``.

    Error paths lose the alias and locations are dropped (they differ between calls of one
    document by construction); a masked error's request id is written as ``<request>``.
    """
    stray = [e for e in body.get("errors") or [] if not e.get("path")]
    assert not stray, f"errors of the whole operation: {stray}"
    data = body.get("data") or {}
    answers: dict[str, dict[str, Any]] = {}
    for alias, probed in aliases.items():
        errors = [
            {
                **{k: v for k, v in error.items() if k not in ("locations", "path")},
                "path": error["path"][1:],
            }
            for error in body.get("errors") or []
            if error["path"][0] == alias
        ]
        answer = {"data": data.get(alias), "errors": errors}
        text = json.dumps(answer, sort_keys=True, ensure_ascii=False)
        for probe in probed:
            for written in _spellings(probe):
                text = text.replace(written, "<id>")
        answers[alias] = _without_request_ids(json.loads(text))
    return answers


def _spellings(global_id: str) -> list[str]:
    """A global id as a message may quote it: itself, ``Type:uuid``, the bare uuid."""
    try:
        decoded = base64.b64decode(global_id, validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return [global_id]
    return [global_id, decoded, decoded.partition(":")[2]]


def _without_request_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: "<request>" if k == "requestId" else _without_request_ids(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_without_request_ids(v) for v in value]
    return value


@dataclass(frozen=True)
class _IdLeaf:
    """An id in generated arguments, until ``ids`` fills it; a particular value never
    replaces the probed one."""

    key: str
    element: int
    probed: bool


def _merge(generated: Any, particular: Any) -> Any:
    """``particular`` over ``generated``: mappings key by key, lists element by element
    (a particular list's last element stands for the generated elements beyond it)."""
    if isinstance(generated, _IdLeaf) and generated.probed:
        return generated
    if isinstance(particular, Mapping):
        merged = dict(generated) if isinstance(generated, dict) else {}
        for key, value in particular.items():
            merged[key] = _merge(merged.get(key), value)
        return merged
    if isinstance(generated, list) and isinstance(particular, list) and particular:
        extra = [_merge(None, p) for p in particular[len(generated) :]]
        return [
            _merge(g, particular[min(i, len(particular) - 1)]) for i, g in enumerate(generated)
        ] + extra
    if callable(particular):
        return particular()
    return particular


def _resolve(value: Any, ids: Callable[[str, int], str], own: Callable[[Own], str]) -> Any:
    if isinstance(value, _IdLeaf):
        return ids(value.key, value.element)
    if isinstance(value, Own):
        return own(value)
    if isinstance(value, dict):
        return {k: _resolve(v, ids, own) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, ids, own) for v in value]
    return value
