"""GraphQL for alignment: the ``alignment`` query (a tree or the forest, flat).

The resolver calls the same service functions as ``GET /v1/objectives/{id}/tree`` and
``GET /v1/alignment``; the nodes carry the same rolled-up progress, pace and health.
"""

from __future__ import annotations

import uuid
from typing import Annotated, cast

import strawberry

from service.alignment import service
from service.alignment.build import as_graph
from service.alignment.graph import LinkKind, Rollup
from service.alignment.schemas import Direction
from service.config import get_settings
from service.errors import ValidationFailed
from service.goals.graphql import HealthNode, PaceNode, ProgressNode
from service.goals.schemas import ObjectiveStatus
from service.graphql.context import Info
from service.graphql.types import arg
from service.models.base import utcnow

strawberry.enum(Direction, name="TreeDirection", description="Down to children or up.")


@strawberry.type(description="One objective in a tree or forest, with its roll-up.")
class AlignmentNode:
    """Served from ``build.Node`` objects (ids as strings, ``status`` as its value)."""

    id: uuid.UUID = strawberry.field(description="The objective's id.")
    title: str = strawberry.field(description="What the objective is.")
    cycle_id: uuid.UUID = strawberry.field(description="Its cycle.")
    team_id: uuid.UUID | None = strawberry.field(description="Its team, if any.")
    owner_id: uuid.UUID | None = strawberry.field(description="Its owner, if any.")
    status: ObjectiveStatus = strawberry.field(description="Draft, active, closed or archived.")
    rollup: Rollup = strawberry.field(description="Where its progress comes from.")
    depth: int | None = strawberry.field(description="Levels from the root; null in a forest.")
    progress: ProgressNode = strawberry.field(description="Rolled-up progress, explained.")
    pace: PaceNode = strawberry.field(description="Rolled-up progress against the time.")
    health: HealthNode = strawberry.field(description="Pace combined with linked KPIs.")


@strawberry.type(description="A link between two objectives shown.")
class AlignmentEdge:
    parent_id: uuid.UUID = strawberry.field(description="The objective aligned to.")
    child_id: uuid.UUID = strawberry.field(description="The objective that aligns.")
    weight: float = strawberry.field(description="Weight in the parent's roll-up.")
    kind: LinkKind = strawberry.field(description="Contributes (counts) or supports.")


@strawberry.type(description="Flat nodes and the edges between them.")
class AlignmentGraph:
    nodes: list[AlignmentNode] = strawberry.field(description="The objectives shown.")
    edges: list[AlignmentEdge] = strawberry.field(description="Links between them.")


@strawberry.type
class AlignmentQuery:
    @strawberry.field(
        description="A tree from `rootId` (down or up, `depth` levels) or, without it, the "
        "forest of a cycle and/or team; like GET /v1/objectives/{id}/tree and /v1/alignment. "
        "At most `MERIDIAN_GRAPHQL_ALIGNMENT_MAX_NODES` nodes (20,000 by default): a larger "
        "graph is a `validation_failed` error; read it from REST, or narrow it."
    )
    async def alignment(
        self,
        info: Info,
        cycle_id: Annotated[uuid.UUID | None, arg("The forest of this cycle.")] = None,
        team_id: Annotated[uuid.UUID | None, arg("The forest of this team.")] = None,
        root_id: Annotated[uuid.UUID | None, arg("A tree from this objective.")] = None,
        direction: Annotated[
            Direction | None, arg("With `rootId`: down to children (the default) or up.")
        ] = None,
        depth: Annotated[int | None, arg("With `rootId`: levels to show from the root.")] = None,
    ) -> AlignmentGraph:
        ctx = info.context
        _refuse_mixed_arguments(root_id, cycle_id, team_id, direction, depth)
        async with ctx.db_lock:
            if root_id is not None:
                graph = await service.tree(
                    ctx.session,
                    ctx.principal,
                    root_id,
                    direction or Direction.DOWN,
                    depth,
                    utcnow(),
                    as_graph,
                )
            else:
                graph = await service.alignment(
                    ctx.session, ctx.principal, cycle_id, team_id, utcnow(), as_graph
                )
        cap = get_settings().graphql_alignment_max_nodes
        if len(graph.nodes) > cap:
            raise ValidationFailed(
                f"The graph has {len(graph.nodes)} nodes; GraphQL `alignment` returns at most "
                f"{cap}. Narrow it (`depth`, `teamId`) or read it from GET /v1/alignment or "
                "GET /v1/objectives/{id}/tree."
            )
        # Strawberry reads fields without resolvers with getattr, and these types have no
        # interfaces (no isinstance check): the service's objects carry exactly their fields
        # (Node/Progress/Pace/Health/Edge; tests/test_graphql_alignment.py checks the names),
        # so 11,000 nodes are served as they are instead of copied into 55,000 objects.
        return AlignmentGraph(
            nodes=cast(list[AlignmentNode], graph.nodes),
            edges=cast(list[AlignmentEdge], graph.edges),
        )


def _refuse_mixed_arguments(
    root_id: uuid.UUID | None,
    cycle_id: uuid.UUID | None,
    team_id: uuid.UUID | None,
    direction: Direction | None,
    depth: int | None,
) -> None:
    """A tree (``rootId``, ``direction``, ``depth``) or a forest (``cycleId``, ``teamId``):
    an argument of the other kind would be ignored, and the caller answered something else
    than asked without knowing it."""
    if root_id is not None and (cycle_id is not None or team_id is not None):
        raise ValidationFailed.on(
            "rootId", "A tree (`rootId`) takes no `cycleId` or `teamId`: those filter the forest."
        )
    if root_id is None and (direction is not None or depth is not None):
        raise ValidationFailed.on(
            "rootId", "`direction` and `depth` shape a tree: give its `rootId`."
        )
