"""Helpers every layer may use: errors, environment parsing, SSRF-safe outbound
calls, the doorbell, leases, append-only models, pagination, routers, UI bits.

They import no app of ours (tests/test_layers.py holds them to it)."""
