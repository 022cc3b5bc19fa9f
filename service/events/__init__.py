"""The events outbox: what happened, written in the transaction that made it happen."""
