"""The committed schemas in openapi/ are exactly what the code renders."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from service.schemas_export import render_graphql, render_openapi

ROOT = Path(__file__).resolve().parent.parent
FIX = "The committed schema is out of date: run `meridian export-schemas` and commit the result."


def drift(committed: str, rendered: str, name: str) -> str:
    lines = difflib.unified_diff(
        committed.splitlines(),
        rendered.splitlines(),
        fromfile=f"openapi/{name} (committed)",
        tofile=f"openapi/{name} (rendered)",
        lineterm="",
        n=2,
    )
    return "\n".join(list(lines)[:60])


@pytest.mark.parametrize(
    ("name", "render"), [("openapi.json", render_openapi), ("schema.graphql", render_graphql)]
)
def test_committed_schema_matches_the_code(name: str, render: object) -> None:
    path = ROOT / "openapi" / name
    assert path.exists(), f"openapi/{name} is missing. {FIX}"
    committed = path.read_text(encoding="utf-8")
    rendered = render()  # type: ignore[operator]
    if committed != rendered:
        pytest.fail(f"openapi/{name}: {FIX}\n{drift(committed, rendered, name)}", pytrace=False)


def test_rendering_is_deterministic() -> None:
    assert render_openapi() == render_openapi()
    assert render_graphql() == render_graphql()


def test_openapi_document_is_3_1_and_describes_problems() -> None:
    import json

    document = json.loads(render_openapi())
    assert document["openapi"].startswith("3.1")
    assert "Problem" in document["components"]["schemas"]
    operations = [
        (method, path, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if path.startswith("/v1/")
    ]
    assert operations
    for method, path, op in operations:
        assert op.get("operationId"), f"{method.upper()} {path} has no operationId"
        responses = op["responses"]
        assert "404" in responses, f"{method.upper()} {path} does not document 404"
        assert "application/problem+json" in responses["404"]["content"]
    ids = [op["operationId"] for _, _, op in operations]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
