"""Wallet passes for tickets: Apple Wallet (.pkpass + PassKit web service) and Google Wallet.

`passes/` is the pure-Python library (no Django); this app adds the models, the services that
decide who may have which pass, and the update flow that makes installed passes follow the
ticket (transfer, refund, upgrade).
"""
