"""Render the OpenAPI document and the GraphQL SDL exactly as committed in ``openapi/``."""

from __future__ import annotations

import json
from pathlib import Path

from service.config import Settings


def render_openapi() -> str:
    from service.app import create_app

    app = create_app(Settings(database_url="postgresql+asyncpg://unused/unused"))
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"


def render_graphql() -> str:
    from service.graphql.router import schema

    return schema.as_str() + "\n"


def write_schemas(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in (("openapi.json", render_openapi()), ("schema.graphql", render_graphql())):
        path = out / name
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written
