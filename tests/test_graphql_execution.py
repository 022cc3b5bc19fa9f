"""The plain-field executor gives exactly what graphql-core's default path gives, faster.

Pure: a small Strawberry schema, no database. Each case runs the same document through
Strawberry's default execution context and through ``PlainFieldExecutionContext``.
"""

from __future__ import annotations

import gc
import uuid
from enum import Enum
from typing import Any

import pytest
import strawberry
from graphql import GraphQLResolveInfo
from strawberry.extensions import SchemaExtension
from strawberry.scalars import JSON
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from service.config import Settings
from service.graphql.execution import PlainFieldExecutionContext
from service.graphql.schema import build_schema


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Leaf:
    value: float
    label: str | None
    colour: Colour
    data: JSON
    tags: list[str]


CALLS: list[str] = []


@strawberry.type
class Branch:
    id: uuid.UUID
    name: str
    leaves: list[Leaf]
    best: Leaf | None
    must: str  # non-null: a None here is an error, located at its path

    @strawberry.field
    def shout(self, times: int = 1) -> str:
        CALLS.append(self.name)
        return self.name.upper() * times


async def later(value: Any) -> Any:
    return value


@strawberry.type
class Lazy:
    """Plain fields holding awaitables: the default path awaits them."""

    data: JSON
    ids: list[uuid.UUID]
    leaf: Leaf


@strawberry.type
class Query:
    @strawberry.field
    def lazy(self) -> Lazy:
        leaf = Leaf(value=1.5, label="l", colour=Colour.RED, data=None, tags=[])
        return Lazy(
            data=later({"a": 1}),  # type: ignore[arg-type]
            ids=[later(uuid.UUID(int=7))],  # type: ignore[list-item]
            leaf=later(leaf),  # type: ignore[arg-type]
        )

    @strawberry.field
    def branches(self, broken: bool = False) -> list[Branch]:
        return [
            Branch(
                id=uuid.UUID(int=i),
                name=f"b{i}",
                leaves=[
                    Leaf(
                        value=i + j / 10,
                        label=None if j else "first",
                        colour=Colour.RED if j % 2 else Colour.BLUE,
                        data={"i": i, "j": [j, None]},
                        tags=["x", str(j)],
                    )
                    for j in range(3)
                ],
                best=None,
                must=None if broken and i == 1 else "ok",  # type: ignore[arg-type]
            )
            for i in range(3)
        ]


class WatchedLeaf:
    """A ``Leaf`` source that notes whether the collector runs while its value is read."""

    collector_enabled: list[bool] = []
    label, colour, data, tags = None, Colour.RED, None, []

    @property
    def value(self) -> float:
        self.collector_enabled.append(gc.isenabled())
        return 2.5


@strawberry.type
class Bundle:
    leaves: list[Leaf]  # plain: completed by the fast path, items and all


@strawberry.type
class Watching:
    @strawberry.field
    def bundle(self) -> Bundle:
        return Bundle(leaves=[WatchedLeaf(), WatchedLeaf()])  # type: ignore[list-item]


class Counting(PlainFieldExecutionContext):
    infos = 0

    def build_resolve_info(self, *args: Any, **kwargs: Any) -> GraphQLResolveInfo:
        type(self).infos += 1
        return super().build_resolve_info(*args, **kwargs)


class Shouting(SchemaExtension):
    """A middleware: every field's value passes through ``resolve``."""

    seen = 0

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        type(self).seen += 1
        return _next(root, info, *args, **kwargs)


def run(document: str, fast: bool, **schema: Any) -> Any:
    context_class = Counting if fast else StrawberryGraphQLCoreExecutionContext
    built = strawberry.Schema(query=Query, execution_context_class=context_class, **schema)
    result = built.execute_sync(document)
    errors = [(e.message, e.path) for e in result.errors or []]
    return result.data, errors


DOCUMENTS = [
    "{ branches { id name must leaves { value label colour data tags } best { value } } }",
    """query { branches { ...B renamed: name shout(times: 2)
                         leaves { v: value colour @skip(if: true) tags @include(if: true) } } }
       fragment B on Branch { id leaves { label } }""",
    "{ branches(broken: true) { name must leaves { value } } }",
]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_same_data_and_errors_as_the_default_path(document: str) -> None:
    assert run(document, fast=True) == run(document, fast=False)


def test_a_null_in_a_non_null_field_is_the_usual_located_error() -> None:
    data, errors = run("{ branches(broken: true) { name must } }", fast=True)
    assert data is None
    message = "Cannot return null for non-nullable field Branch.must."
    assert errors == [(message, ["branches", 1, "must"])]


def test_plain_subtrees_skip_the_per_field_machinery() -> None:
    Counting.infos = 0
    run("{ branches { id name leaves { value label colour data tags } } }", fast=True)
    # Only the root field has a resolver; 3 branches x (2 + 3 leaves x 5) plain fields do not.
    assert Counting.infos == 1


def test_fields_with_resolvers_inside_still_run_their_resolver() -> None:
    CALLS.clear()
    data, _ = run("{ branches { shout(times: 2) leaves { value } } }", fast=True)
    assert CALLS == ["b0", "b1", "b2"]
    assert data["branches"][1]["shout"] == "B1B1"


async def test_awaitable_values_take_the_default_path() -> None:
    document = "{ lazy { data ids leaf { value colour } } }"
    built = strawberry.Schema(query=Query, execution_context_class=Counting)
    result = await built.execute(document)
    assert result.errors is None
    assert result.data == {
        "lazy": {
            "data": {"a": 1},
            "ids": [str(uuid.UUID(int=7))],
            "leaf": {"value": 1.5, "colour": "RED"},
        }
    }


def test_plain_subtrees_are_completed_with_the_collector_paused() -> None:
    """What the fast path builds is the result, alive until encoded: collections it
    triggered would scan it again and again. The default path leaves the collector be."""
    for context_class, paused in ((Counting, True), (StrawberryGraphQLCoreExecutionContext, False)):
        WatchedLeaf.collector_enabled.clear()
        built = strawberry.Schema(query=Watching, execution_context_class=context_class)
        result = built.execute_sync("{ bundle { leaves { value label } } }")
        assert result.errors is None and result.data == {
            "bundle": {"leaves": [{"value": 2.5, "label": None}] * 2}
        }
        assert WatchedLeaf.collector_enabled == [not paused] * 2
    assert gc.isenabled()


def test_a_middleware_sees_every_field() -> None:
    Shouting.seen = 0
    run("{ branches { name leaves { value } } }", fast=True, extensions=[Shouting])
    assert Shouting.seen == 1 + 3 * (1 + 1 + 3)


def test_the_app_schema_uses_it_and_no_extension_wraps_every_field() -> None:
    schema = build_schema(Settings())
    assert schema.execution_context_class is PlainFieldExecutionContext
    extensions = [factory() for factory in schema.extensions]  # type: ignore[operator]
    assert not [e for e in extensions if e._implements_resolve()]
