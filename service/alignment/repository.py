"""SQL for the alignment graph: links, linked KPIs, and trees read in one statement.

Trees go around the ORM (the asyncpg connection under the request's session, as readings
do): a forest can hold 100,000 objectives, and one recursive statement returns every node
with what its roll-up, pace and health need, so nothing is read level by level.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from service.common.driver import driver_of
from service.common.repository import serialize_in_organization
from service.models import ObjectiveKpi, ObjectiveLink


class Seed(StrEnum):
    UP = "up"
    FOREST = "forest"
    IDS = "ids"


_SHOWN = {
    # $2 root, $3 depth: the root and what it aligns to, at most $3 levels up.
    Seed.UP: """
    shown(id, depth) AS (
        SELECT o.id, 0 FROM objectives o WHERE o.organization_id = $1 AND o.id = $2
        UNION
        SELECT l.parent_id, s.depth + 1 FROM shown s
        JOIN objective_links l ON l.child_id = s.id AND l.organization_id = $1
        WHERE s.depth < $3
    )""",
    # $2 cycle (or null), $3 team (or null): every objective matching, at depth null.
    Seed.FOREST: """
    shown(id, depth) AS (
        SELECT o.id, NULL::int FROM objectives o
        WHERE o.organization_id = $1
          AND ($2::uuid IS NULL OR o.cycle_id = $2)
          AND ($3::uuid IS NULL OR o.team_id = $3)
    )""",
    # $2 ids: exactly these objectives (their roll-ups, pace and health).
    Seed.IDS: """
    shown(id, depth) AS (
        SELECT o.id, NULL::int FROM objectives o
        WHERE o.organization_id = $1 AND o.id = ANY($2::uuid[])
    )""",
}

# The linked KPIs' alert states of the objectives in ``{nodes}`` (a CTE of ids), aggregated
# per objective once for all of them, not looked up per node.
_LINKED_KPIS = """
kpis AS (
    SELECT ok.objective_id, array_agg(ok.kpi_id) AS ids,
           array_agg(coalesce(st.state, 'ok')) AS states, array_agg(st.severity) AS severities
    FROM objective_kpis ok
    LEFT JOIN alert_states st ON st.kpi_id = ok.kpi_id AND st.organization_id = $1
    WHERE ok.organization_id = $1 AND ok.objective_id IN (SELECT id FROM {nodes})
    GROUP BY ok.objective_id
)"""

# Roll-ups need every contributing descendant of what is shown, however deep the view (but
# nothing below an objective that rolls up its key results only). Each node comes with its
# key-result weight (kept on the row, migration 0009), its child links, and its linked KPIs'
# alert states (aggregated once for the nodes read, not looked up per node).
_TREE = """
WITH RECURSIVE {shown},
shown_once AS ({shown_once}),
{below},
{kpis}
SELECT o.id, o.title, o.cycle_id, o.team_id, o.owner_id, o.status, o.rollup,
       o.progress_value, o.progress_raw, o.last_check_in_at IS NOT NULL AS started,
       c.start_date, c.end_date,
       s.id IS NOT NULL AS shown, s.depth, o.kr_weight,
       ch.ids AS child_ids, ch.weights AS child_weights, ch.kinds AS child_kinds,
       k.ids AS kpi_ids, k.states AS kpi_states, k.severities AS kpi_severities
FROM below b
JOIN objectives o ON o.id = b.id AND o.organization_id = $1
JOIN cycles c ON c.id = o.cycle_id AND c.organization_id = $1
LEFT JOIN shown_once s ON s.id = b.id
{children}
LEFT JOIN kpis k ON k.objective_id = o.id
"""

# Every contributing descendant of the shown nodes.
_BELOW_ALL = """
below(id) AS (
    SELECT id FROM shown_once
    UNION
    SELECT l.child_id FROM below b
    JOIN objectives p ON p.id = b.id AND p.organization_id = $1 AND p.rollup <> 'key_results'
    JOIN objective_links l
      ON l.parent_id = b.id AND l.organization_id = $1 AND l.kind = 'contributes'
)"""

# A tree: a few thousand nodes, each one probe of the covering link index.
_CHILDREN_PER_NODE = """
LEFT JOIN LATERAL (
    SELECT array_agg(child_id) AS ids, array_agg(weight) AS weights, array_agg(kind) AS kinds
    FROM objective_links WHERE parent_id = o.id AND organization_id = $1
) ch ON true"""

# A forest: most of the organization's links, grouped in one pass instead of 100,000 probes.
_CHILDREN_GROUPED = """
LEFT JOIN (
    SELECT parent_id, array_agg(child_id) AS ids, array_agg(weight) AS weights,
           array_agg(kind) AS kinds
    FROM objective_links
    WHERE organization_id = $1 AND parent_id IN (SELECT id FROM below)
    GROUP BY parent_id
) ch ON ch.parent_id = o.id"""

_CHILDREN = {Seed.FOREST: _CHILDREN_GROUPED}

_ONCE = {
    # A walk may reach a node along several paths: keep its shallowest depth.
    "walk": "SELECT id, min(depth) AS depth FROM shown GROUP BY id",
    # Seeds by filter or id list hold each objective once already.
    "unique": "SELECT id, depth FROM shown",
}

# The tree statement's columns, in order: ``build.read_rows`` unpacks each row positionally
# (a tenth of the cost of reading 17 columns by name from 1,000 records); a test checks.
TREE_COLUMNS = (
    "id", "title", "cycle_id", "team_id", "owner_id", "status", "rollup", "progress_value",
    "progress_raw", "started", "start_date", "end_date", "shown", "depth", "kr_weight",
    "child_ids", "child_weights", "child_kinds", "kpi_ids", "kpi_states", "kpi_severities",
)  # fmt: skip

TREE_SQL = {
    seed: _TREE.format(
        shown=shown,
        shown_once=_ONCE["walk" if seed is Seed.UP else "unique"],
        below=_BELOW_ALL,
        children=_CHILDREN.get(seed, _CHILDREN_PER_NODE),
        kpis=_LINKED_KPIS.format(nodes="below"),
    )
    for seed, shown in _SHOWN.items()
}


# A tree walked down, as the walk went: one row per link walked (and one for the root),
# the child's objective on it. The nodes and edges are the rows themselves, so nothing is
# grouped: no shallowest depth per node, no child links gathered into arrays per parent
# (which took a third of a 1,146-node tree's 8 ms). A node reached along several links
# comes once per link, each with its depth (the shallowest counts); a link walked from a
# node reached at two depths comes twice. ``build.read_walk`` sorts that out.
#
# $2 root, $3 depth. ``shown`` walks every link below the root down to the depth limit;
# ``deeper`` goes on from the nodes at the limit along the links their roll-ups count
# (contributing children of nodes that roll up children), which are not shown; and the
# links from the limit to nodes shown through other paths come as edges.
WALK_SQL = """
WITH RECURSIVE shown(id, depth, parent_id, weight, kind) AS (
    SELECT o.id, 0, NULL::uuid, NULL::float8, NULL::varchar
    FROM objectives o WHERE o.organization_id = $1 AND o.id = $2
    UNION
    SELECT l.child_id, s.depth + 1, l.parent_id, l.weight, l.kind FROM shown s
    JOIN objective_links l ON l.parent_id = s.id AND l.organization_id = $1
    WHERE s.depth < $3
),
deeper(id, parent_id, weight, kind) AS (
    SELECT l.child_id, l.parent_id, l.weight, l.kind FROM shown s
    JOIN objectives p ON p.id = s.id AND p.organization_id = $1 AND p.rollup <> 'key_results'
    JOIN objective_links l
      ON l.parent_id = s.id AND l.organization_id = $1 AND l.kind = 'contributes'
    WHERE s.depth = $3
    UNION
    SELECT l.child_id, l.parent_id, l.weight, l.kind FROM deeper b
    JOIN objectives p ON p.id = b.id AND p.organization_id = $1 AND p.rollup <> 'key_results'
    JOIN objective_links l
      ON l.parent_id = b.id AND l.organization_id = $1 AND l.kind = 'contributes'
),
walked AS (
    SELECT id, depth, parent_id, weight, kind FROM shown
    UNION ALL
    SELECT id, NULL, parent_id, weight, kind FROM deeper
    UNION ALL
    -- Links out of the nodes at the limit to nodes shown anyway (through another path):
    -- edges between shown nodes, which the walk does not follow from the limit, nor
    -- ``deeper`` when roll-ups do not count them (``supports``, a parent of key results).
    SELECT l.child_id, NULL, l.parent_id, l.weight, l.kind FROM shown s
    JOIN objective_links l ON l.parent_id = s.id AND l.organization_id = $1
    WHERE s.depth = $3 AND l.child_id IN (SELECT id FROM shown)
),
{kpis}
SELECT o.id, o.title, o.cycle_id, o.team_id, o.owner_id, o.status, o.rollup,
       o.progress_value, o.progress_raw, o.last_check_in_at IS NOT NULL AS started,
       c.start_date, c.end_date, w.depth, o.kr_weight, w.parent_id, w.weight, w.kind,
       k.ids AS kpi_ids, k.states AS kpi_states, k.severities AS kpi_severities
FROM walked w
JOIN objectives o ON o.id = w.id AND o.organization_id = $1
JOIN cycles c ON c.id = o.cycle_id AND c.organization_id = $1
LEFT JOIN kpis k ON k.objective_id = o.id
""".format(kpis=_LINKED_KPIS.format(nodes="walked"))  # noqa: S608 (constant parts)

# ``WALK_SQL``'s columns, in order (``build.read_walk`` unpacks them by position).
WALK_COLUMNS = (
    "id", "title", "cycle_id", "team_id", "owner_id", "status", "rollup", "progress_value",
    "progress_raw", "started", "start_date", "end_date", "depth", "kr_weight", "parent_id",
    "weight", "kind", "kpi_ids", "kpi_states", "kpi_severities",
)  # fmt: skip


async def tree_rows(
    session: AsyncSession, organization_id: uuid.UUID, seed: Seed, *params: Any
) -> list[Any]:
    """Shown nodes and their contributing descendants with child links and KPI states
    (``TREE_COLUMNS``)."""
    return await _fetch(session, TREE_SQL[seed], organization_id, *params)


async def walk_rows(
    session: AsyncSession, organization_id: uuid.UUID, root: uuid.UUID, depth: int
) -> list[Any]:
    """The tree below ``root``, one row per link walked (``WALK_COLUMNS``)."""
    return await _fetch(session, WALK_SQL, organization_id, root, depth)


async def _fetch(session: AsyncSession, sql: str, *params: Any) -> list[Any]:
    await session.flush()  # the raw connection must see this transaction's pending rows
    driver = await driver_of(session)
    rows: list[Any] = await driver.fetch(sql, *params)
    return rows


_NEIGHBOURHOOD = text("""
WITH RECURSIVE down(parent_id, child_id) AS (
    SELECT parent_id, child_id FROM objective_links
    WHERE organization_id = :org AND parent_id = :child
    UNION
    SELECT l.parent_id, l.child_id FROM down d
    JOIN objective_links l ON l.parent_id = d.child_id AND l.organization_id = :org
), up(parent_id, child_id) AS (
    SELECT parent_id, child_id FROM objective_links
    WHERE organization_id = :org AND child_id = :parent
    UNION
    SELECT l.parent_id, l.child_id FROM up u
    JOIN objective_links l ON l.child_id = u.parent_id AND l.organization_id = :org
)
SELECT parent_id, child_id FROM down UNION SELECT parent_id, child_id FROM up
""")


async def lock_graph(session: AsyncSession, organization_id: uuid.UUID) -> None:
    """Serialise link changes per organization until commit: two links checked at once
    could each keep the graph acyclic and together close a cycle."""
    await serialize_in_organization(session, "alignment", organization_id)


async def neighbourhood(
    session: AsyncSession, organization_id: uuid.UUID, child_id: uuid.UUID, parent_id: uuid.UUID
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Edges below ``child_id`` and above ``parent_id``: all a cycle or depth check needs."""
    result = await session.execute(
        _NEIGHBOURHOOD, {"org": organization_id, "child": child_id, "parent": parent_id}
    )
    return [(row.parent_id, row.child_id) for row in result]


async def get_link(
    session: AsyncSession, organization_id: uuid.UUID, child_id: uuid.UUID, parent_id: uuid.UUID
) -> ObjectiveLink | None:
    stmt = select(ObjectiveLink).where(
        ObjectiveLink.organization_id == organization_id,
        ObjectiveLink.child_id == child_id,
        ObjectiveLink.parent_id == parent_id,
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def links_of(
    session: AsyncSession,
    organization_id: uuid.UUID,
    objective_ids: Sequence[uuid.UUID],
    as_child: bool,
) -> list[ObjectiveLink]:
    """Links where the objectives are the child (their parents) or the parent (children)."""
    if not objective_ids:
        return []
    column = ObjectiveLink.child_id if as_child else ObjectiveLink.parent_id
    stmt = (
        select(ObjectiveLink)
        .where(ObjectiveLink.organization_id == organization_id, column.in_(objective_ids))
        .order_by(ObjectiveLink.created_at, ObjectiveLink.id)
    )
    return list((await session.scalars(stmt)).all())


async def get_kpi_link(
    session: AsyncSession, organization_id: uuid.UUID, objective_id: uuid.UUID, kpi_id: uuid.UUID
) -> ObjectiveKpi | None:
    stmt = select(ObjectiveKpi).where(
        ObjectiveKpi.organization_id == organization_id,
        ObjectiveKpi.objective_id == objective_id,
        ObjectiveKpi.kpi_id == kpi_id,
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def kpi_ids_of(
    session: AsyncSession, organization_id: uuid.UUID, objective_ids: Sequence[uuid.UUID]
) -> list[ObjectiveKpi]:
    if not objective_ids:
        return []
    stmt = (
        select(ObjectiveKpi)
        .where(
            ObjectiveKpi.organization_id == organization_id,
            ObjectiveKpi.objective_id.in_(objective_ids),
        )
        .order_by(ObjectiveKpi.created_at, ObjectiveKpi.id)
    )
    return list((await session.scalars(stmt)).all())


async def add(session: AsyncSession, row: object) -> None:
    session.add(row)
    await session.flush()


async def remove_link(session: AsyncSession, link: ObjectiveLink | ObjectiveKpi) -> None:
    await session.delete(link)
    await session.flush()
