"""A real web server (gunicorn, as in production) on the test database, for fault tests."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import httpx

from tests.notifications.support import ChildProcess, database_env, free_port


def server_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a production process on this test's database (override with extra)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "EMAIL_URL")}
    env.update(database_env())
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tsunagu.settings",
            "TSUNAGU_VAR_DIR": str(var_dir),
            "EMAIL_FILE_PATH": str(var_dir / "mail"),
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "LOG_FORMAT": "json",
            **extra,
        }
    )
    if not env.get("DATABASE_URL"):
        env.pop("DATABASE_URL", None)
    return env


@dataclass
class WebServer(ChildProcess):
    """`gunicorn tsunagu.wsgi` with one worker process (a few threads) on a free port."""

    port: int = field(default_factory=free_port)
    name: ClassVar[str] = "gunicorn"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> WebServer:
        argv = [sys.executable, "-m", "gunicorn", "tsunagu.wsgi:application"]
        argv += ["--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--threads", "4"]
        argv += ["--timeout", "30", "--graceful-timeout", "2"]
        self.launch(argv, timeout=timeout, what="gunicorn to answer /healthz")
        return self

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def worker_pids(self) -> list[int]:
        """The gunicorn worker processes (children of the master)."""
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]
