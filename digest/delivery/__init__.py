"""Delivery: the per-recipient ledger of an edition, the worker that works through it, and
what carries a message out (the MIME message, DKIM, the outbox or a pooled, rate-limited SMTP)."""
