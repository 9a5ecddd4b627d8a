"""Signed checkpoints of the chain heads, kept in the database and outside it.

An anchor is canonical JSON {"v", "at", "count", "last_id", "heads": {chain: [id, hash, n]}}
signed with HMAC-SHA256 under AUDIT_ANCHOR_KEY, a key that is not in the database (nor in its
backups). Each anchor is appended to AUDIT_ANCHOR_PATH/anchors-YYYY-MM.jsonl (O_APPEND, never
rewritten; make the directory append-only with `chattr +a`), optionally sent to syslog, and
stored in audit_auditanchor. A tail deleted by the owner, or a restore of an older backup,
leaves the database behind the newest external anchor, which verification reports.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging.handlers
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from audit import chain


class AnchorError(Exception):
    """An anchor that cannot be trusted: unreadable, or signed with another key."""


def _key() -> bytes:
    key = getattr(settings, "AUDIT_ANCHOR_KEY", "")
    if not key:
        raise ImproperlyConfigured("AUDIT_ANCHOR_KEY is not set: checkpoints cannot be signed")
    return key.encode()


def key_id() -> str:
    """Names the key (not secret): tells a rotated key from a forged signature."""
    return hashlib.sha256(b"tsunagu-anchor:" + _key()).hexdigest()[:16]


def canonical(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def sign(text: str) -> str:
    return hmac.new(_key(), text.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Anchor:
    """A checkpoint whose signature verified: heads by chain, total count, where it was read."""

    at: str
    count: int
    last_id: int | None
    heads: dict[int, chain.Head]
    source: str

    def label(self) -> str:
        return f"{self.source} ({self.at})"


def payload_for(heads: dict[int, chain.Head], at: datetime) -> dict[str, Any]:
    ids = [h.last_id for h in heads.values() if h.last_id is not None]
    return {
        "v": 1,
        "at": at.isoformat(),
        "count": sum(h.count for h in heads.values()),
        "last_id": max(ids) if ids else None,
        "heads": chain.heads_as_json({k: h for k, h in heads.items() if h.count}),
    }


def line_for(text: str, signature: str) -> str:
    return json.dumps({"anchor": text, "sig": signature, "key": key_id()}) + "\n"


def parse_line(line: str, source: str) -> Anchor:
    """Read one line of an anchor file; raises AnchorError unless its signature verifies."""
    try:
        record = json.loads(line)
        text, signature = record["anchor"], record["sig"]
        payload = json.loads(text)
    except (ValueError, KeyError, TypeError) as exc:
        raise AnchorError(f"{source}: unreadable anchor") from exc
    if not hmac.compare_digest(sign(text), str(signature)):
        raise AnchorError(f"{source}: signature does not verify (forged, or another key)")
    return Anchor(
        at=payload["at"],
        count=payload["count"],
        last_id=payload["last_id"],
        heads=chain.heads_from_json(payload["heads"]),
        source=source,
    )


def anchor_dir() -> Path:
    return Path(settings.AUDIT_ANCHOR_PATH)


def append_external(text: str, signature: str, at: datetime) -> Path:
    """Append the anchor to this month's file (created 0640, never truncated) and syslog."""
    directory = anchor_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"anchors-{at:%Y-%m}.jsonl"
    line = line_for(text, signature).encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    target = getattr(settings, "AUDIT_ANCHOR_SYSLOG", "")
    if target:
        _syslog(target, line.decode().strip())
    return path


def _syslog(target: str, message: str) -> None:
    address: str | tuple[str, int] = target
    if ":" in target and not target.startswith("/"):
        host, port = target.rsplit(":", 1)
        address = (host, int(port))
    handler = logging.handlers.SysLogHandler(address=address)
    try:
        handler.emit(logging.makeLogRecord({"msg": f"tsunagu-audit-anchor {message}"}))
    finally:
        handler.close()


def _files() -> list[Path]:
    directory = anchor_dir()
    return sorted(directory.glob("anchors-*.jsonl")) if directory.is_dir() else []


def _last_line(path: Path) -> str | None:
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 65536))
        lines = [x for x in handle.read().splitlines() if x.strip()]
    return lines[-1].decode() if lines else None


def latest_external() -> Anchor | None:
    """The newest anchor outside the database (the last line of the newest file)."""
    for path in reversed(_files()):
        line = _last_line(path)
        if line:
            return parse_line(line, f"{path.name}:last")
    return None


def external_anchors(*, every_line: bool) -> list[Anchor]:
    """The last anchor of each monthly file, oldest first. With every_line, every line's
    signature is checked on the way (one line in memory at a time)."""
    found = []
    for path in _files():
        if not every_line:
            if line := _last_line(path):
                found.append(parse_line(line, f"{path.name}:last"))
            continue
        last = None
        with path.open() as handle:
            for number, text in enumerate(handle, start=1):
                if text.strip():
                    last = parse_line(text, f"{path.name}:{number}")
        if last is not None:
            found.append(last)
    return found
