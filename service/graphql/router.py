"""The /graphql route (placeholder until the schema lands)."""

from __future__ import annotations

import strawberry
from strawberry.fastapi import GraphQLRouter


@strawberry.type
class Query:
    @strawberry.field(description="The service version.")
    def version(self) -> str:
        from service import __version__

        return __version__


schema = strawberry.Schema(query=Query)


def graphql_router() -> GraphQLRouter[object, None]:
    return GraphQLRouter(schema)
