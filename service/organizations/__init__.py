"""The caller's organization and its settings."""
