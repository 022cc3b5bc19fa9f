"""The alignment graph's pure rules: cycle and depth checks, roll-ups, health."""

from __future__ import annotations

import gc
import itertools
import uuid

import pytest

from service.alignment.graph import (
    Edge,
    HealthStatus,
    KpiSignal,
    LinkKind,
    NodeInput,
    Rollup,
    cycle_if_linked,
    depth_if_linked,
    health,
    own,
    path_between,
    roll_up,
)
from service.common.gc import collector_paused
from service.goals.pace import PaceStatus

A, B, C, D, E = (uuid.UUID(int=i) for i in range(1, 6))


def test_path_between_finds_a_downward_path() -> None:
    children = {A: [B], B: [C, D], D: [E]}
    assert path_between(children, A, E) == [A, B, D, E]
    assert path_between(children, E, A) == []
    assert path_between(children, C, C) == [C]


def test_a_direct_loop_is_a_cycle() -> None:
    # B is below A; linking A under B closes B -> A -> B.
    assert cycle_if_linked({A: [B]}, child=A, parent=B) == [B, A, B]


def test_a_long_loop_is_named_whole() -> None:
    children = {A: [B], B: [C], C: [D], D: [E]}
    assert cycle_if_linked(children, child=A, parent=E) == [E, A, B, C, D, E]


def test_a_diamond_is_not_a_cycle() -> None:
    children = {A: [B, C], B: [D]}
    assert cycle_if_linked(children, child=D, parent=C) == []


def test_depth_counts_the_longest_path_through_the_link() -> None:
    parents = {B: [A], C: [B]}
    children = {D: [E]}
    # A -> B -> C (2 above C) + the link C -> D + D -> E (1 below D).
    assert depth_if_linked(parents, children, child=D, parent=C) == 4


def node(ident: uuid.UUID, rollup: Rollup, value: float = 0.0, weight: float = 1.0) -> NodeInput:
    return NodeInput(ident, rollup, value, value, weight, value > 0)


def test_children_roll_up_as_a_weighted_mean() -> None:
    nodes = {
        A: node(A, Rollup.CHILDREN),
        B: node(B, Rollup.KEY_RESULTS, 0.5),
        C: node(C, Rollup.KEY_RESULTS, 1.0),
    }
    edges = [Edge(A, B, 3, LinkKind.CONTRIBUTES), Edge(A, C, 1, LinkKind.CONTRIBUTES)]
    rolled = roll_up(nodes, edges)[A]
    assert rolled.progress.value == pytest.approx((3 * 0.5 + 1 * 1.0) / 4)
    assert rolled.progress.formula.startswith("sum(weight_c * value_c)")
    assert rolled.progress.inputs["children"][0] == {
        "id": str(B),
        "weight": 3,
        "value": 0.5,
        "raw": 0.5,
    }
    assert rolled.started


def test_children_are_explained_in_id_order_whatever_the_links_order() -> None:
    """Trees read links as they walk, the forest as it groups them: the explanation of one
    objective must not depend on which read made it."""
    nodes = {
        A: node(A, Rollup.CHILDREN),
        **{k: node(k, Rollup.KEY_RESULTS, 0.1 * i) for i, k in enumerate((B, C, D, E), 1)},
    }
    explained = set()
    for order in itertools.permutations((B, C, D, E)):
        edges = [Edge(A, k, 1, LinkKind.CONTRIBUTES) for k in order]
        children = roll_up(nodes, edges)[A].progress.inputs["children"]
        explained.add(tuple(child["id"] for child in children))
    assert explained == {tuple(str(k) for k in (B, C, D, E))}


def test_supports_links_do_not_count() -> None:
    nodes = {
        A: node(A, Rollup.CHILDREN),
        B: node(B, Rollup.KEY_RESULTS, 0.2),
        C: node(C, Rollup.KEY_RESULTS, 1.0),
    }
    edges = [Edge(A, B, 1, LinkKind.CONTRIBUTES), Edge(A, C, 5, LinkKind.SUPPORTS)]
    assert roll_up(nodes, edges)[A].progress.value == pytest.approx(0.2)


def test_both_mixes_key_results_and_children_by_weight() -> None:
    nodes = {A: node(A, Rollup.BOTH, 0.9, weight=2), B: node(B, Rollup.KEY_RESULTS, 0.3)}
    rolled = roll_up(nodes, [Edge(A, B, 1, LinkKind.CONTRIBUTES)])[A]
    assert rolled.progress.value == pytest.approx((2 * 0.9 + 1 * 0.3) / 3)
    assert rolled.progress.inputs["key_results"] == {"value": 0.9, "raw": 0.9, "weight": 2}


def test_key_results_mode_ignores_children() -> None:
    nodes = {A: node(A, Rollup.KEY_RESULTS, 0.4), B: node(B, Rollup.KEY_RESULTS, 1.0)}
    assert roll_up(nodes, [Edge(A, B, 1, LinkKind.CONTRIBUTES)])[A].progress.value == 0.4


def test_multi_parent_diamond_rolls_up_through_both_paths() -> None:
    nodes = {
        A: node(A, Rollup.CHILDREN),
        B: node(B, Rollup.CHILDREN),
        C: node(C, Rollup.CHILDREN),
        D: node(D, Rollup.KEY_RESULTS, 0.6),
        E: node(E, Rollup.KEY_RESULTS, 0.0),
    }
    edges = [
        Edge(A, B, 1, LinkKind.CONTRIBUTES),
        Edge(A, C, 1, LinkKind.CONTRIBUTES),
        Edge(B, D, 1, LinkKind.CONTRIBUTES),
        Edge(C, D, 1, LinkKind.CONTRIBUTES),
        Edge(C, E, 2, LinkKind.CONTRIBUTES),
    ]
    rolled = roll_up(nodes, edges)
    assert rolled[C].progress.value == pytest.approx(0.2)
    assert rolled[A].progress.value == pytest.approx((0.6 + 0.2) / 2)


def test_leaves_rolled_up_while_read_count_as_present() -> None:
    """A reader rolls up the nodes that count their key results only as it reads them
    (``own``) and passes them as ``done``: the roll-up is the one of every node given."""
    nodes = {
        A: node(A, Rollup.BOTH, 0.9, 2),
        B: node(B, Rollup.CHILDREN),
        C: node(C, Rollup.KEY_RESULTS, 0.6),
        D: node(D, Rollup.KEY_RESULTS, 0.3, 3),
        E: node(E, Rollup.KEY_RESULTS, 0.0),
    }
    edges = [
        Edge(A, B, 2, LinkKind.CONTRIBUTES),
        Edge(A, C, 1, LinkKind.CONTRIBUTES),
        Edge(B, C, 1, LinkKind.CONTRIBUTES),
        Edge(B, D, 1, LinkKind.CONTRIBUTES),
        Edge(B, E, 1, LinkKind.SUPPORTS),
    ]
    leaves = {i: n for i, n in nodes.items() if n.rollup is Rollup.KEY_RESULTS}
    done = {i: own(n.kr_value, n.kr_raw, n.kr_weight, n.started) for i, n in leaves.items()}
    inner = {i: n for i, n in nodes.items() if i not in leaves}

    assert roll_up(inner, edges, done) == roll_up(nodes, edges)
    assert done[A].progress.value == pytest.approx((0.9 * 2 + 0.45 * 2 + 0.6) / 5)
    # Without the leaves, their parents have nothing to count.
    assert roll_up(inner, edges)[B].progress.value == 0.0


def test_nothing_to_roll_up_is_zero_and_not_started() -> None:
    rolled = roll_up({A: node(A, Rollup.CHILDREN)}, [])[A]
    assert (rolled.progress.value, rolled.progress.formula) == (0.0, "0 (nothing to measure yet)")
    assert not rolled.started


def test_raw_rolls_up_unclamped() -> None:
    nodes = {
        A: node(A, Rollup.CHILDREN),
        B: NodeInput(B, Rollup.KEY_RESULTS, 1.0, 1.5, 1, True),
    }
    rolled = roll_up(nodes, [Edge(A, B, 1, LinkKind.CONTRIBUTES)])[A]
    assert (rolled.progress.value, rolled.progress.raw) == (1.0, 1.5)


def test_a_deep_cascade_does_not_recurse() -> None:
    ids = [uuid.UUID(int=i) for i in range(1, 5002)]
    nodes = {i: node(i, Rollup.CHILDREN) for i in ids[:-1]}
    nodes[ids[-1]] = node(ids[-1], Rollup.KEY_RESULTS, 0.25)
    edges = [Edge(p, c, 1, LinkKind.CONTRIBUTES) for p, c in itertools.pairwise(ids)]
    assert roll_up(nodes, edges)[ids[0]].progress.value == 0.25


@pytest.mark.parametrize(
    ("pace", "kpis", "expected"),
    [
        (PaceStatus.ON_TRACK, [], HealthStatus.HEALTHY),
        (PaceStatus.NOT_STARTED, [], HealthStatus.UNKNOWN),
        (PaceStatus.AT_RISK, [], HealthStatus.WARNING),
        (PaceStatus.OFF_TRACK, [], HealthStatus.CRITICAL),
        (PaceStatus.ON_TRACK, [KpiSignal(A, "ok", None)], HealthStatus.HEALTHY),
        (PaceStatus.ON_TRACK, [KpiSignal(A, "firing", "critical")], HealthStatus.CRITICAL),
        (PaceStatus.NOT_STARTED, [KpiSignal(A, "firing", "warning")], HealthStatus.WARNING),
        (PaceStatus.ON_TRACK, [KpiSignal(A, "no_data", None)], HealthStatus.WARNING),
        (PaceStatus.OFF_TRACK, [KpiSignal(A, "pending", "warning")], HealthStatus.CRITICAL),
    ],
)
def test_health_is_the_worst_signal(
    pace: PaceStatus, kpis: list[KpiSignal], expected: HealthStatus
) -> None:
    result = health(pace, kpis)
    assert result.status is expected
    assert result.reasons[0] == f"pace {pace.value}"
    assert len(result.reasons) == 1 + sum(k.state != "ok" for k in kpis)


def test_collector_pause_restores_the_collector() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()
