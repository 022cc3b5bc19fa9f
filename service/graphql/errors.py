"""Service errors as GraphQL: typed mutation results, and coded errors for queries.

Mutations return a union of their payload and these error types, so a client handles
failures with ``... on MutationError { code message }`` rather than by parsing ``errors``.
Each mutation runs in a SAVEPOINT: a failed one leaves nothing behind while the other
mutations of the same document still commit.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import asyncpg
import pydantic
import strawberry
from graphql import GraphQLError
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError
from strawberry.extensions import SchemaExtension

from service.auth.keys import Principal
from service.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    ServiceError,
    ValidationFailed,
)
from service.graphql.context import Info

logger = logging.getLogger("meridian.graphql")
T = TypeVar("T")


@strawberry.interface(description="Why a mutation changed nothing.")
class MutationError:
    code: str = strawberry.field(description="Machine-readable code, as in REST problems.")
    message: str = strawberry.field(description="What went wrong, for humans.")


@strawberry.type(description="The object does not exist (or is another organization's).")
class NotFoundError(MutationError):
    pass


@strawberry.type(description="One invalid input field.")
class FieldError:
    field: str = strawberry.field(description="Dotted path of the input field, e.g. `target`.")
    message: str = strawberry.field(description="Why the value is refused.")


@strawberry.type(description="The input is well-formed but breaks a rule.")
class ValidationError(MutationError):
    fields: list[FieldError] = strawberry.field(description="The offending fields.")


@strawberry.type(description="The change conflicts with the current state.")
class ConflictError(MutationError):
    pass


@strawberry.type(description="The API key lacks the scope this needs.")
class ForbiddenError(MutationError):
    pass


@strawberry.type(description="`ifMatch` names an old version; read again and retry.")
class PreconditionFailedError(MutationError):
    pass


Error = NotFoundError | ValidationError | ConflictError | ForbiddenError | PreconditionFailedError


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _fields(errors: list[dict[str, Any]]) -> list[FieldError]:
    result = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ()) if p != "body"]
        message = str(error.get("msg") or error.get("detail") or "Invalid value.")
        result.append(FieldError(field=".".join(_camel(p) for p in loc), message=message))
    return result


def error_of(exc: ServiceError) -> Error:
    """The typed result for a service error; unmapped errors are re-raised."""
    if isinstance(exc, NotFound):
        return NotFoundError(code=exc.code, message=exc.detail)
    if isinstance(exc, ValidationFailed | BadRequest):
        return ValidationError(code=exc.code, message=exc.detail, fields=_fields(exc.errors))
    if isinstance(exc, Conflict):
        return ConflictError(code=exc.code, message=exc.detail)
    if isinstance(exc, Forbidden):
        return ForbiddenError(code=exc.code, message=exc.detail)
    if isinstance(exc, PreconditionFailed):
        return PreconditionFailedError(code=exc.code, message=exc.detail)
    raise exc


def _database_error(exc: DBAPIError | StaleDataError | asyncpg.PostgresError) -> ServiceError:
    """The same mapping REST applies in ``service.api.problems``, for errors wrapped by
    SQLAlchemy or raised by asyncpg itself on the hot paths (``kpis/readings_repository.py``)."""
    if isinstance(exc, StaleDataError):
        return Conflict("The resource was changed by another request; read it again and retry.")
    orig = getattr(exc, "orig", None)
    sqlstate = str(getattr(exc, "sqlstate", None) or getattr(orig, "sqlstate", None) or "")
    if sqlstate == "23505":
        return Conflict("A resource with these unique values already exists.")
    if isinstance(exc, IntegrityError) or sqlstate.startswith("23"):
        return ValidationFailed("The change breaks a data constraint (a reference or a bound).")
    if sqlstate.startswith("22"):
        return ValidationFailed("A value is out of the range the store accepts.")
    raise exc


def _pydantic_error(exc: pydantic.ValidationError) -> ServiceError:
    errors = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
    summary = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
    return ValidationFailed(summary, errors=errors)


async def run_mutation(
    info: Info, call: Callable[[AsyncSession, Principal], Awaitable[T]]
) -> T | Error:
    """Run one service call in a SAVEPOINT under the request lock; map its failure."""
    ctx = info.context
    try:
        async with ctx.db_lock, ctx.session.begin_nested():
            result = await call(ctx.session, ctx.principal)
    except ServiceError as exc:
        return error_of(exc)
    except pydantic.ValidationError as exc:
        return error_of(_pydantic_error(exc))
    except (DBAPIError, StaleDataError, asyncpg.PostgresError) as exc:
        return error_of(_database_error(exc))
    finally:
        # Rows changed (or rolled back): what the loaders cached may be stale now.
        ctx.loaders.clear_all()
    return result


class ErrorCodes(SchemaExtension):
    """Give every error ``extensions.code``; hide unexpected exceptions' messages."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [_coded(error) for error in errors]


def _coded(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return error
    if isinstance(original, ServiceError) and original.status < 500:
        code, message = original.code, original.detail
    else:
        logger.error("graphql resolver failed", exc_info=original)
        code, message = "internal_error", "An unexpected error occurred; it has been logged."
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={**(error.extensions or {}), "code": code},
    )
