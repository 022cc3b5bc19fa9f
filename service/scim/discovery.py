"""What the server publishes at ``/ServiceProviderConfig``, ``/ResourceTypes`` and ``/Schemas``.

The schemas list exactly the attributes we keep, so a client (and the conformance suite)
generates only what round-trips.
"""

from __future__ import annotations

from typing import Any

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SERVICE_PROVIDER_CONFIG = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"

MAX_RESULTS = 200


def _attr(
    name: str,
    kind: str = "string",
    *,
    required: bool = False,
    multi: bool = False,
    mutability: str = "readWrite",
    uniqueness: str = "none",
    case_exact: bool = False,
    sub: list[dict[str, Any]] | None = None,
    references: list[str] | None = None,
    canonical: list[str] | None = None,
    description: str = "",
) -> dict[str, Any]:
    attr: dict[str, Any] = {
        "name": name,
        "type": kind,
        "multiValued": multi,
        "description": description or name,
        "required": required,
        "caseExact": case_exact,
        "mutability": mutability,
        "returned": "default",
        "uniqueness": uniqueness,
    }
    if sub is not None:
        attr["subAttributes"] = sub
    if references is not None:
        attr["referenceTypes"] = references
    if canonical is not None:
        attr["canonicalValues"] = canonical
    return attr


def _multi_valued(name: str, types: list[str]) -> dict[str, Any]:
    return _attr(
        name,
        "complex",
        multi=True,
        sub=[
            _attr("value", description=f"The {name[:-1]}."),
            _attr("type", canonical=types, description="A label: " + ", ".join(types) + "."),
            _attr("primary", "boolean", description="The primary one; at most one is."),
        ],
    )


USER_SCHEMA: dict[str, Any] = {
    "schemas": [SCHEMA],
    "id": CORE_USER,
    "name": "User",
    "description": "A person: an owner of objectives, key results and KPIs.",
    "attributes": [
        _attr("userName", required=True, uniqueness="server", description="Unique, any case."),
        _attr(
            "name",
            "complex",
            sub=[
                _attr("formatted", description="The full name."),
                _attr("familyName", description="The family name."),
                _attr("givenName", description="The given name."),
                _attr("middleName", description="The middle name."),
            ],
            description="The components of the person's name.",
        ),
        _attr("displayName", description="The name to show."),
        _attr("nickName", description="A casual name."),
        _attr("title", description="The job title."),
        _attr("userType", description="E.g. Employee, Contractor."),
        _attr("preferredLanguage", description="E.g. en-US."),
        _attr("locale", description="E.g. en-US."),
        _attr("timezone", description="E.g. Europe/Paris."),
        _attr("active", "boolean", description="False once deactivated; never deleted."),
        _multi_valued("emails", ["work", "home", "other"]),
        _multi_valued("phoneNumbers", ["work", "mobile", "home", "other"]),
    ],
    "meta": {"resourceType": "Schema", "location": f"/Schemas/{CORE_USER}"},
}

ENTERPRISE_SCHEMA: dict[str, Any] = {
    "schemas": [SCHEMA],
    "id": ENTERPRISE_USER,
    "name": "EnterpriseUser",
    "description": "Enterprise attributes: the employee number, department and manager.",
    "attributes": [
        _attr("employeeNumber", description="The id in the HR system."),
        _attr("costCenter", description="The cost center."),
        _attr("organization", description="The organization."),
        _attr("division", description="The division."),
        _attr("department", description="The department."),
        _attr(
            "manager",
            "complex",
            sub=[
                _attr("value", description="The manager's id."),
                _attr("$ref", "reference", references=["User"], description="The manager."),
            ],
            description="The person's manager.",
        ),
    ],
    "meta": {"resourceType": "Schema", "location": f"/Schemas/{ENTERPRISE_USER}"},
}

GROUP_SCHEMA: dict[str, Any] = {
    "schemas": [SCHEMA],
    "id": CORE_GROUP,
    "name": "Group",
    "description": "A team and its members.",
    "attributes": [
        _attr("displayName", required=True, uniqueness="server", description="The team name."),
        _attr(
            "members",
            "complex",
            multi=True,
            sub=[
                _attr("value", mutability="immutable", description="The member's id."),
                _attr(
                    "$ref",
                    "reference",
                    mutability="immutable",
                    references=["User"],
                    description="The member.",
                ),
            ],
            description="The people in the team.",
        ),
    ],
    "meta": {"resourceType": "Schema", "location": f"/Schemas/{CORE_GROUP}"},
}

SCHEMAS = {s["id"]: s for s in (USER_SCHEMA, ENTERPRISE_SCHEMA, GROUP_SCHEMA)}

RESOURCE_TYPES: dict[str, dict[str, Any]] = {
    "User": {
        "schemas": [RESOURCE_TYPE],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "People",
        "schema": CORE_USER,
        "schemaExtensions": [{"schema": ENTERPRISE_USER, "required": False}],
        "meta": {"resourceType": "ResourceType", "location": "/ResourceTypes/User"},
    },
    "Group": {
        "schemas": [RESOURCE_TYPE],
        "id": "Group",
        "name": "Group",
        "endpoint": "/Groups",
        "description": "Teams",
        "schema": CORE_GROUP,
        "schemaExtensions": [],
        "meta": {"resourceType": "ResourceType", "location": "/ResourceTypes/Group"},
    },
}

SERVICE_PROVIDER: dict[str, Any] = {
    "schemas": [SERVICE_PROVIDER_CONFIG],
    "documentationUri": "https://meridian.dev/docs/scim",
    "patch": {"supported": True},
    "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
    "filter": {"supported": True, "maxResults": MAX_RESULTS},
    "changePassword": {"supported": False},
    "sort": {"supported": False},
    "etag": {"supported": False},
    "authenticationSchemes": [
        {
            "type": "oauthbearertoken",
            "name": "API key",
            "description": "A Meridian API key with the `scim` scope, sent as a bearer token.",
            "primary": True,
        }
    ],
    "meta": {"resourceType": "ServiceProviderConfig", "location": "/ServiceProviderConfig"},
}


def with_base(document: dict[str, Any], base: str) -> dict[str, Any]:
    """The document with its ``meta.location`` made absolute under ``base``."""
    meta = {**document["meta"], "location": base + document["meta"]["location"]}
    return {**document, "meta": meta}
