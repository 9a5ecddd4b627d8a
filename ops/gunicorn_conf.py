"""gunicorn settings for production: `gunicorn -c python:ops.gunicorn_conf tsunagu.wsgi`.

Values come from the environment (GUNICORN_BIND, GUNICORN_WORKERS, GUNICORN_TIMEOUT). With
PROMETHEUS_MULTIPROC_DIR set, each worker writes its request metrics there and /metrics adds
them up; a dead worker's files are marked so its gauges do not linger.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from prometheus_client import multiprocess

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# Below IDEMPOTENCY_LEASE_SECONDS (60): a request killed by this timeout frees its key later.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
# Our own JSON request log (ops/middleware.py) replaces gunicorn's access log.
accesslog = None
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server: Any) -> None:
    """Start with an empty metrics folder: files of a previous run would be added up."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        Path(folder).mkdir(parents=True, exist_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    """A worker died or was replaced: its live gauges go with it."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
