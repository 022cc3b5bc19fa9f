"""Webhook endpoints and at-least-once delivery of the events outbox (Standard Webhooks)."""
