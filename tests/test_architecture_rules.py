"""One writer per rule, checked on the source (an AST walk, so comments and strings do not
count): object permissions only in relay/access.py, hop writes only in relay/services/, audit
chain appends only in audit/, CSV only through csvexport/, sign-ins audited by a service and not
by auth signals, and no screen or endpoint filtering single objects by agency itself."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = (
    "tsunagu",
    "csvexport",
    "security",
    "agencies",
    "audit",
    "consent",
    "notifications",
    "duework",
    "relay",
    "conferences",
    "attendance",
    "api",
    "ops",
)

# Every append goes through audit/services.py (the escalation sweep moved onto duework,
# which writes its batches with audit_record_many).
CHAIN_APPENDERS_PENDING: set[str] = set()


def _sources(*packages: str) -> Iterator[tuple[str, ast.Module]]:
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if "/migrations/" in rel:
                continue
            yield rel, ast.parse(path.read_text(encoding="utf-8"), filename=rel)


def _dotted(node: ast.AST) -> str:
    """`a.b.c` for a chain of attributes (calls in between are skipped): Handoff.objects.x"""
    parts: list[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Name):
            parts.append(node.id)
            return ".".join(reversed(parts))
        else:
            return ".".join(reversed(parts))


def _calls(tree: ast.Module) -> Iterator[tuple[ast.Call, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node, _dotted(node.func)


def _imported_names(tree: ast.Module) -> Iterator[tuple[str, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                yield node.module or "", alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ""


def test_object_permissions_are_granted_and_revoked_only_in_relay_access() -> None:
    found = {
        rel
        for rel, tree in _sources(*APPS)
        for module, name in _imported_names(tree)
        if module.startswith("guardian") and name in {"assign_perm", "remove_perm", "shortcuts"}
    }
    found |= {
        rel
        for rel, tree in _sources(*APPS)
        for _call, name in _calls(tree)
        if name.split(".")[-1] in {"assign_perm", "remove_perm"}
    }
    assert found == {"relay/access.py"}


_WRITES = {"create", "bulk_create", "update", "bulk_update", "get_or_create", "update_or_create"}


def _handoff_writes(tree: ast.Module) -> list[str]:
    hits = []
    for call, name in _calls(tree):
        parts = name.split(".")
        if name == "Handoff":
            hits.append(f"line {call.lineno}: Handoff(...)")
        elif (parts[0] == "Handoff" and parts[-1] in _WRITES | {"delete"}) or (
            parts[-1] == "save" and len(parts) >= 2 and parts[-2] in {"handoff", "hop"}
        ):
            hits.append(f"line {call.lineno}: {name}")
    return hits


def test_hops_are_written_only_by_relay_services() -> None:
    offenders = {
        rel: hits
        for rel, tree in _sources(*APPS)
        if not rel.startswith("relay/services/") and (hits := _handoff_writes(tree))
    }
    assert offenders == {}


def test_the_rule_would_see_a_stray_hop_write() -> None:
    stray = ast.parse(
        "Handoff.objects.filter(pk=1).update(status='sent')\nhop.save()\nHandoff(sheet=s)\n"
    )
    assert len(_handoff_writes(stray)) == 3


def _chain_writes(tree: ast.Module) -> list[str]:
    hits = [
        f"line {call.lineno}: {name}"
        for call, name in _calls(tree)
        if name == "AuditEvent"
        or (name.startswith("AuditEvent.") and name.split(".")[-1] in _WRITES)
        or name.startswith("chain.")
    ]
    hits += [
        f"imports {module}.{name}"
        for module, name in _imported_names(tree)
        if module == "audit.chain" or (module == "audit" and name == "chain")
    ]
    return hits


def test_only_audit_appends_to_the_chain() -> None:
    offenders = {
        rel for rel, tree in _sources(*APPS) if not rel.startswith("audit/") and _chain_writes(tree)
    }
    assert offenders <= CHAIN_APPENDERS_PENDING, offenders - CHAIN_APPENDERS_PENDING


def test_the_rule_would_see_a_stray_chain_append() -> None:
    stray = ast.parse(
        "from audit import chain\nAuditEvent.objects.create(action='x')\nchain.lock_chain()\n"
    )
    assert len(_chain_writes(stray)) == 3


def test_every_csv_is_written_by_csvexport() -> None:
    writers = {
        rel
        for rel, tree in _sources(*APPS, "bench")
        for _call, name in _calls(tree)
        if name in {"csv.writer", "csv.DictWriter"}
    }
    assert writers == {"csvexport/__init__.py"}


def test_sign_ins_are_audited_by_a_service_not_by_auth_signals() -> None:
    receivers = {
        rel
        for rel, tree in _sources(*APPS)
        for module, name in _imported_names(tree)
        if module == "django.contrib.auth.signals"
        or name in {"user_logged_in", "user_logged_out", "user_login_failed"}
    }
    assert receivers == set()


_OWNERSHIP = {
    "agency",
    "agency_id",
    "from_agency",
    "from_agency_id",
    "to_agency",
    "to_agency_id",
    "owner_agency",
    "owner_agency_id",
}


@pytest.mark.parametrize("package", ["relay/views", "api"])
def test_screens_and_endpoints_fetch_single_objects_through_relay_access(package: str) -> None:
    """No `filter(pk=..., agency=...)` or get_object_or_404 in a view: relay.access decides."""
    offenders = []
    for rel, tree in _sources(package):
        for call, name in _calls(tree):
            keywords = {k.arg for k in call.keywords if k.arg is not None}
            if name.split(".")[-1] == "get_object_or_404":
                offenders.append(f"{rel}:{call.lineno} {name}")
            elif keywords & {"pk", "id"} and keywords & _OWNERSHIP:
                offenders.append(f"{rel}:{call.lineno} {name}({sorted(keywords)})")
            elif name == "Q" and keywords & _OWNERSHIP:
                offenders.append(f"{rel}:{call.lineno} Q({sorted(keywords)})")
    assert offenders == []


def test_no_template_carries_an_inline_style() -> None:
    """The Content-Security-Policy has no 'unsafe-inline' for styles: a style="" attribute or
    a <style> block in any app's template would be refused by the browser (issue 13). The
    pages the CSP test visits cover some templates; this covers every one."""
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for app in APPS
        for path in (ROOT / app).rglob("*.html")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\sstyle=\"|<style[\s>]", line) and "{#" not in line
    ]
    assert offenders == []
