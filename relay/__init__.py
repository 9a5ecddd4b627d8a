"""Tsunagu's project package and the relay domain (sheets, handoffs, workflow)."""

from relay.celery import app as celery_app

__all__ = ["celery_app"]
