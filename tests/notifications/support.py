"""Real things the notification tests talk to: an HTTP receiver, a Celery worker process, a
private redis-server, and the e-mail files the worker writes. Nothing here is a mock."""

from __future__ import annotations

import base64
import contextlib
import email
import email.policy
import hashlib
import hmac
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import kombu.pools
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate: Callable[[], Any], *, timeout: float = 30.0, what: str = "") -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or predicate}")
        time.sleep(0.05)


# --- an independent Standard Webhooks verifier (the receiver's side, not our code) --------


def independent_verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Verify as a partner would from the spec alone: HMAC-SHA256 over `id.timestamp.body`
    with the base64-decoded secret after `whsec_`, compared with any `v1,` signature."""
    key = base64.b64decode(secret.split("_", 1)[1])
    to_sign = b".".join(
        [headers["webhook-id"].encode(), headers["webhook-timestamp"].encode(), body]
    )
    expected = base64.b64encode(hmac.new(key, to_sign, hashlib.sha256).digest())
    for item in headers["webhook-signature"].split(" "):
        version, _, signature = item.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected):
            return True
    return False


# --- the receiving agency's HTTP endpoint ---------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 that records every request.

    `plan` holds the status codes of the next answers (then 200); `retry_after` adds that
    header to non-2xx answers; `hang` makes the next request wait until `release()`.
    A receiver that dedups accepts each webhook-id once (`accepted`), as the spec asks.
    """

    plan: list[int] = field(default_factory=list)
    retry_after: str | None = None
    hang: bool = False
    requests: list[Received] = field(default_factory=list)
    accepted: dict[str, bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _released: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}/hooks/tsunagu"

    def release(self) -> None:
        self._released.set()

    def webhooks(self) -> list[Received]:
        with self._lock:
            return list(self.requests)

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length", "0"))
        body = handler.rfile.read(length)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self._lock:
            hang, self.hang = self.hang, False
            status = self.plan.pop(0) if self.plan else 200
            self.requests.append(Received(handler.path, headers, body, status))
            if 200 <= status < 300:
                self.accepted.setdefault(headers.get("webhook-id", ""), body)
        if hang:
            self._released.wait(timeout=60)
        handler.send_response(status)
        if status >= 300 and self.retry_after:
            handler.send_header("Retry-After", self.retry_after)
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.write(b"ok")

    @contextlib.contextmanager
    def running(self) -> Iterator[Receiver]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                with contextlib.suppress(OSError):  # the sender may have died meanwhile
                    receiver._answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.release()
            self._server.shutdown()
            self._server.server_close()
            thread.join(timeout=5)


# --- e-mail written by the file backend -----------------------------------------------------


def read_mail(directory: Path) -> list[email.message.EmailMessage]:
    """Every message Django's file backend wrote under `directory`."""
    messages = []
    for path in sorted(directory.glob("*.log")) if directory.exists() else []:
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                messages.append(email.message_from_bytes(chunk, policy=email.policy.default))
    return messages


def mail_text(message: email.message.EmailMessage) -> str:
    return f"{message['subject']}\n{message.get_body(('plain',)).get_content()}"


# --- processes: redis-server and the Celery worker ------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RedisServer:
    """A private redis-server on its own port, which a test may stop and start again."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, timeout=15, what="redis-server to start")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


def database_env() -> dict[str, str]:
    """Environment that makes a child process's settings resolve to this test database."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return {"TSUNAGU_DATABASE_PATH": str(db["NAME"]), "DATABASE_URL": ""}
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return {"DATABASE_URL": f"postgres://{auth}{host}{port}/{db['NAME']}"}


@dataclass
class ChildProcess:
    """A process a test starts (a server, a worker): its output goes to a log file, `launch`
    waits until `ready()` says so and fails with the log's tail if the process exits first,
    `stop` sends SIGTERM and kills it after `grace` seconds."""

    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None
    _log_from: int = 0

    name: ClassVar[str] = "process"
    grace: ClassVar[float] = 10.0

    def launch(self, argv: list[str], *, timeout: float, what: str) -> None:
        log = self.log_path.open("ab")
        self._log_from = log.tell()
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        wait_for(self._ready_or_fail, timeout=timeout, what=what)

    def ready(self) -> bool:
        raise NotImplementedError

    def _ready_or_fail(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited early:\n{self.log()}")
        return self.ready()

    def new_output(self) -> bytes:
        """What the process wrote since this start (the log file may hold earlier runs)."""
        return self.log_path.read_bytes()[self._log_from :]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no ack, no cleanup."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self.process = None
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=self.grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@dataclass
class Worker(ChildProcess):
    """`celery -A tsunagu worker -P solo` in a subprocess, on the test's database and broker
    (or another pool: `-P threads -c 4`, as compose runs it)."""

    pool: str = "solo"
    concurrency: int = 1

    name: ClassVar[str] = "worker"
    # A warm shutdown takes seconds (the consumer loop notices late); by the time a test
    # ends its work is done, so after a short grace the process is simply killed.
    grace: ClassVar[float] = 1.0

    def start(self, timeout: float = 60) -> Worker:
        queue = settings.CELERY_TASK_DEFAULT_QUEUE
        name = f"test-{uuid.uuid4().hex[:8]}@%h"
        argv = [sys.executable, "-m", "celery", "-A", "tsunagu", "worker", "-P", self.pool]
        argv += ["-c", str(self.concurrency)]
        argv += ["-Q", queue, "-n", name, "--without-heartbeat", "--without-gossip"]
        argv += ["--without-mingle", "-l", "INFO"]
        self.launch(argv, timeout=timeout, what="the Celery worker to be ready")
        return self

    def ready(self) -> bool:
        return b" ready." in self.new_output()


# --- the broker this test process publishes to ----------------------------------------------


def filesystem_broker_options(var_dir: Path) -> dict[str, Any]:
    """kombu filesystem transport folders under `var_dir`, laid out as settings.py does."""
    queue, processed = var_dir / "celery" / "queue", var_dir / "celery" / "processed"
    control = var_dir / "celery" / "control"
    for folder in (queue, processed, control):
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "control_folder": str(control),
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "processed_folder": str(processed),
        "store_processed": False,
    }


@contextlib.contextmanager
def publishing_to(url: str, transport_options: dict[str, Any]) -> Iterator[None]:
    """Make this process's Celery app publish to `url` (the worker gets the same by env)."""
    from tsunagu.celery import app

    def reset() -> None:
        # kombu keeps pools in global registries keyed by broker: close and forget them all,
        # so no closed pool is handed out again for the same broker later.
        kombu.pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    before = (app.conf.broker_url, app.conf.broker_transport_options)
    # Celery reads CELERY_BROKER_URL from the environment before its configuration.
    env_before = os.environ.get("CELERY_BROKER_URL")
    reset()
    os.environ["CELERY_BROKER_URL"] = url
    app.conf.broker_url = url
    app.conf.broker_transport_options = transport_options
    try:
        yield
    finally:
        reset()
        app.conf.broker_url, app.conf.broker_transport_options = before
        if env_before is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = env_before


def purge_queue() -> None:
    """Drop messages left in our queue by earlier runs (their rows no longer exist)."""
    from tsunagu.celery import app

    # suppress: a queue that was never declared.
    with app.connection_for_write() as conn, contextlib.suppress(Exception):
        conn.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)
