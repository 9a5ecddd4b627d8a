"""The fixed vocabulary of API key scopes: what a partner system may do with its key."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models
from django.utils.translation import gettext_lazy as _


class Scope(models.TextChoices):
    HANDOFFS_READ = "handoffs:read", _("引き継ぎの閲覧")
    HANDOFFS_WRITE = "handoffs:write", _("引き継ぎの操作(受領確認・受け入れ・辞退・結果記録)")
    SHEETS_READ = "sheets:read", _("共有されたシートの閲覧")
    UPDATES_READ = "updates:read", _("受け入れ後の経過の閲覧(同意の範囲内)")
    UPDATES_WRITE = "updates:write", _("受け入れ後の経過の報告")
    CONSENTS_WRITE = "consents:write", _("同意の記録と撤回(自機関が保有するシート)")
    DIRECTORY_READ = "directory:read", _("機関名簿の閲覧")
    INTAKE_READ = "intake:read", _("相談フォームの受付の閲覧(振り分け窓口)")
    WEBHOOKS_MANAGE = "webhooks:manage", _("Webhookの設定")
    MEETINGS_READ = "meetings:read", _("参加しているケース会議の記録の閲覧")


ALL_SCOPES: frozenset[str] = frozenset(Scope.values)


class UnknownScope(ValueError):
    """A scope that is not in the vocabulary (a typo would otherwise grant nothing silently)."""


def scopes_clean(scopes: Iterable[str]) -> list[str]:
    """Validate scopes against the vocabulary; return them sorted and without duplicates."""
    cleaned = {str(scope).strip() for scope in scopes} - {""}
    unknown = cleaned - ALL_SCOPES
    if unknown:
        raise UnknownScope(
            f"unknown scope(s): {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(ALL_SCOPES))}"
        )
    return sorted(cleaned)
