"""GraphQL responses are encoded by orjson to the bytes pydantic-core wrote before."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from pydantic_core import to_json

from service.graphql.router import graphql_router


@dataclass
class Point:
    x: int


def test_results_encode_as_pydantic_core_would() -> None:
    router = graphql_router()
    result = {
        "data": {
            "alignment": {
                "nodes": [
                    {
                        "id": str(uuid.UUID(int=1)),
                        "title": 'Quotes " \\ \n \u2028 \U0001f680',
                        "progress": {"value": 1e-7, "raw": -0.0, "inputs": {"weight": 3.0}},
                        "depth": None,
                        "shown": True,
                    }
                ]
            },
            "when": datetime(2026, 11, 23, 8, 0, 0, 123456, tzinfo=UTC),
            "day": date(2026, 11, 23),
            "id": uuid.UUID(int=2),
            "point": Point(1),
            "keys": {1: "an integer key"},
        },
        "errors": [{"message": "x", "extensions": {"code": "NOT_FOUND"}}],
    }
    assert router.encode_json(result) == to_json(result)
    huge = {"data": {"n": 2**70}}  # past orjson's 64 bits: pydantic-core writes it whole
    assert router.encode_json(huge) == to_json(huge) == b'{"data":{"n":1180591620717411303424}}'
