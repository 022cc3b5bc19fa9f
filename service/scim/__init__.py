"""SCIM 2.0 (RFC 7643, RFC 7644) at ``/scim/v2``: identity providers provision people and teams."""
