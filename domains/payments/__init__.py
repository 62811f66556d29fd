"""Payments kernel: the Stripe gateway, webhook verification and a local Stripe for tests.

Framework-light on purpose: nothing here imports Django models, so the gateway and the
webhook verifier can be tested (and reused by workers) without a database. Orders and
their state machine live in ``domains.orders``; they call into this package.
"""
