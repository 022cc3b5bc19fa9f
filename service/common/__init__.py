"""Pieces every domain shares: schema types, pagination, ETags."""
