"""GraphQL at /graphql: schema assembly, per-request context and DataLoaders."""
