"""Screens for people: server-rendered Django views over the relay services.

Views parse a form, call one service (every write goes through relay.services) and render.
Modules: auth (login, lockout, audited sign-in), home, sheets, consents, send, handoffs,
supervisor (approvals, audit log, provision records, metrics), notifications.
"""
