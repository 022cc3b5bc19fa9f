"""A graphql-core executor that completes plain data subtrees without per-field machinery.

graphql-core resolves every field through the same path: a ``GraphQLResolveInfo`` and a
``Path`` per field, the middleware look-up, awaitable checks, and ``complete_value``'s type
dispatch. For an ``alignment`` of 11,000 nodes with 25 fields each that is 280,000 passes
at several microseconds, three times what REST spends on the whole document.

Most of those fields are *plain*: Strawberry fields without a resolver, arguments,
extensions or exception handlers, which Strawberry resolves with ``getattr`` and ignores
``info`` for (``_get_basic_result`` in ``strawberry/schema/schema_converter.py``). When a
field and everything selected below it are plain (objects without ``is_type_of``, lists,
scalars and enums; no ``@defer``/``@stream``), this executor compiles the selection once
into a plan and completes each value with ``getattr`` and the type's ``serialize``.

Soundness: the plan reads exactly what the default path reads and serializes with the
same functions; skip/include directives are already applied by ``collect_subfields``.
Anything unusual while completing (a null for a non-null type, a serializer refusing a
value, an awaitable) abandons the fast path for that field and runs the default one,
which re-reads the same side-effect-free attributes and reports the error as usual.
With middleware (a ``SchemaExtension`` that implements ``resolve``) nothing is compiled.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from functools import partial
from operator import attrgetter
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    is_specified_scalar_type,
)
from graphql.pyutils import Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from service.common.gc import collector_paused

Complete = Callable[[Any], Any]
# How to read a field from its source, complete the value, and whether to check it for an
# awaitable first (the default path awaits one; this path leaves it to the default path).
Plan = tuple[Callable[[Any], Any], Complete, bool]


class _Abandon(Exception):
    """The fast path cannot complete this value; the default path will."""


_NOT_PLAIN = object()  # plan cache marker for selections that must take the default path


class PlainFieldExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context with a compiled path for plain data subtrees."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        self._plain_allowed = manager is None or not manager.middlewares
        # id(field_details_list) -> (the list, kept alive so the id stays unique; plan)
        self._plans: dict[int, tuple[Any, Any]] = {}

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        if self._plain_allowed:
            plan = self._plan_for(parent_type, field_details_list)
            if plan is not _NOT_PLAIN:
                get, complete, _ = plan
                with suppress(Exception):  # the default path below reports it properly
                    value = get(source)
                    if not self.is_awaitable(value):
                        # Synchronous, and what it builds lives on as the result: collector
                        # runs triggered by its allocations would scan the growing result
                        # again and again (an 11,000-node ``alignment``: 20% of its CPU).
                        with collector_paused():
                            return complete(value)
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    # ---- compiling ------------------------------------------------------------------

    def _plan_for(self, parent_type: GraphQLObjectType, field_details_list: Any) -> Any:
        cached = self._plans.get(id(field_details_list))
        if cached is not None and cached[0] is field_details_list:
            return cached[1]
        try:
            plan: Any = self._compile_field(parent_type, field_details_list)
        except _Abandon:
            plan = _NOT_PLAIN
        self._plans[id(field_details_list)] = (field_details_list, plan)
        return plan

    def _compile_field(self, parent_type: GraphQLObjectType, field_details_list: Any) -> Plan:
        node = field_details_list[0].node
        field_def = self.schema.get_field(parent_type, node.name.value)
        if (
            field_def is None
            or field_def.args
            or any(d.node.arguments or d.node.directives for d in field_details_list)
        ):
            raise _Abandon
        resolve = field_def.resolve
        definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if not (
            isinstance(definition, StrawberryField)
            and definition.is_basic_field
            and resolve is not None
            and getattr(resolve, "_is_default", False)
            and getattr(resolve, "__name__", "") == "_get_basic_result"
        ):
            raise _Abandon
        if definition.default_resolver is getattr:  # what ``field.get_result`` calls then
            get: Callable[[Any], Any] = attrgetter(definition.python_name)
        else:
            get = partial(resolve, info=None)
        complete, rejects_awaitables = self._compile_type(field_def.type, field_details_list)
        return get, complete, not rejects_awaitables

    def _compile_type(
        self, return_type: GraphQLOutputType, field_details_list: Any
    ) -> tuple[Complete, bool]:
        """How to complete a value of this type, and whether that completion itself refuses
        an awaitable (built-in scalars and enums do: their serializers raise on one)."""
        if isinstance(return_type, GraphQLNonNull):
            inner = return_type.of_type
            if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
                return self._compile_leaf(inner, nullable=False)
            complete, rejects = self._compile_type(inner, field_details_list)
            return _non_null(complete), rejects
        if isinstance(return_type, GraphQLList):
            item, rejects = self._compile_type(return_type.of_type, field_details_list)
            return _list_of(item, None if rejects else self.is_awaitable), False
        if isinstance(return_type, GraphQLScalarType | GraphQLEnumType):
            return self._compile_leaf(return_type, nullable=True)
        if isinstance(return_type, GraphQLObjectType) and return_type.is_type_of is None:
            return self._compile_object(return_type, field_details_list), False
        raise _Abandon  # interfaces, unions, objects with is_type_of

    @staticmethod
    def _compile_leaf(
        leaf_type: GraphQLScalarType | GraphQLEnumType, nullable: bool
    ) -> tuple[Complete, bool]:
        if isinstance(leaf_type, GraphQLEnumType):
            return _enum(leaf_type.serialize, nullable), True
        return _leaf(leaf_type.serialize, nullable), is_specified_scalar_type(leaf_type)

    def _compile_object(self, object_type: GraphQLObjectType, field_details_list: Any) -> Complete:
        grouped, defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        if defer_usages:
            raise _Abandon
        fields = tuple(
            (name, *self._compile_field(object_type, details)) for name, details in grouped.items()
        )
        return _object(fields, self.is_awaitable)


# ---- completing: small closures, one per selected type ----------------------------------


def _non_null(inner: Complete) -> Complete:
    def complete(value: Any) -> Any:
        completed = inner(value)
        if completed is None:
            raise _Abandon
        return completed

    return complete


def _list_of(item: Complete, is_awaitable: Callable[[Any], bool] | None) -> Complete:
    def complete(value: Any) -> Any:
        if value is None:
            return None
        if type(value) not in (list, tuple):  # iterators are read once: the default path
            raise _Abandon
        if is_awaitable is not None and any(is_awaitable(v) for v in value):
            raise _Abandon
        return [item(v) for v in value]

    return complete


def _leaf(serialize: Callable[[Any], Any], nullable: bool) -> Complete:
    def complete(value: Any) -> Any:
        if value is None:
            if nullable:
                return None
            raise _Abandon
        serialized = serialize(value)
        if serialized is None or serialized is Undefined:
            raise _Abandon
        return serialized

    return complete


def _enum(serialize: Callable[[Any], Any], nullable: bool) -> Complete:
    """Strawberry's enum serializer scans the values; remember what it answered."""
    known: dict[Any, Any] = {}
    leaf = _leaf(serialize, nullable)

    def complete(value: Any) -> Any:
        try:
            return known[value]
        except (KeyError, TypeError):
            serialized = leaf(value)
            if value is not None:
                with suppress(TypeError):
                    known[value] = serialized
            return serialized

    return complete


def _object(fields: tuple[tuple[str, Any, Complete, bool], ...], is_awaitable: Any) -> Complete:
    def complete(value: Any) -> Any:
        if value is None:
            return None
        result = {}
        for name, get, finish, check in fields:
            raw = get(value)
            if check and is_awaitable(raw):
                raise _Abandon
            result[name] = finish(raw)
        return result

    return complete
