"""Demo data: the real agencies of the seed documents, staff for every role, a living network.

Idempotent: agencies upsert by slug, users by username; running it twice changes nothing.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction

from agencies import twofactor
from agencies.import_files import read_rows
from agencies.importing import apply_records, validate_rows
from agencies.models import Agency, Membership, Role
from agencies.services import membership_set
from audit.context import Actor
from relay.demo_desk import build_demo_desk
from relay.demo_network import build_demo_network

FIXTURE = Path(__file__).resolve().parent.parent / "agencies" / "fixtures" / "demo_agencies.json"
DEMO_PASSWORD = "tsunagu-demo"  # noqa: S105  (demo mode only; printed by load_demo)

# (username, agency slug, role): a referring ward desk, receivers of each kind, and an NPO.
DEMO_STAFF: list[tuple[str, str, Role]] = [
    ("adachi-counselor", "adachi-fukushi-marugoto-soudan", Role.COUNSELOR),
    ("adachi-supervisor", "adachi-fukushi-marugoto-soudan", Role.SUPERVISOR),
    ("adachi-viewer", "adachi-fukushi-marugoto-soudan", Role.VIEWER),
    ("safetynet-intake", "adachi-safety-net-adachi", Role.INTAKE),
    ("safetynet-supervisor", "adachi-safety-net-adachi", Role.SUPERVISOR),
    ("yokohama-intake", "yokohama-education-support-center", Role.INTAKE),
    ("yokohama-supervisor", "yokohama-education-support-center", Role.SUPERVISOR),
    ("akashi-counselor", "akashi-student-support-division", Role.COUNSELOR),
    ("akashi-supervisor", "akashi-student-support-division", Role.SUPERVISOR),
    ("kodomo-intake", "akashi-kodomo-center", Role.INTAKE),
    ("kodomo-supervisor", "akashi-kodomo-center", Role.SUPERVISOR),
    ("torokko-intake", "akashi-free-space-torokko", Role.INTAKE),
    ("shinjuku-intake", "shinjuku-hikikomori-consultation", Role.INTAKE),
    ("shinjuku-supervisor", "shinjuku-hikikomori-consultation", Role.SUPERVISOR),
    ("freespace-intake", "shinagawa-kodomo-wakamono-free-space", Role.INTAKE),
    ("tokyo-dd-intake", "tokyo-developmental-disabilities-support-center", Role.INTAKE),
    # Komae's routing desk (福祉のつながりシート) and the youth consultation it routes to.
    ("komae-desk-counselor", "komae-fukushi-tsunagari-sheet", Role.COUNSELOR),
    ("komae-desk-intake", "komae-fukushi-tsunagari-sheet", Role.INTAKE),
    ("komae-desk-supervisor", "komae-fukushi-tsunagari-sheet", Role.SUPERVISOR),
    ("komae-youth-intake", "komae-youth-consultation", Role.INTAKE),
    ("komae-csw-supervisor", "komae-flat-nanbu", Role.SUPERVISOR),
]
ADMIN_USERNAME = "admin"
# Fictional names (family, given), so that printed forms and the approval queue show a person.
DEMO_NAMES: dict[str, tuple[str, str]] = {
    "adachi-counselor": ("佐藤", "美咲"),
    "adachi-supervisor": ("高橋", "健一"),
    "adachi-viewer": ("伊藤", "真理"),
    "safetynet-intake": ("渡辺", "直子"),
    "safetynet-supervisor": ("山本", "浩二"),
    "yokohama-intake": ("中村", "彩"),
    "yokohama-supervisor": ("小林", "誠"),
    "akashi-counselor": ("加藤", "由美"),
    "akashi-supervisor": ("吉田", "修"),
    "kodomo-intake": ("山田", "恵"),
    "kodomo-supervisor": ("松本", "隆"),
    "torokko-intake": ("井上", "陽子"),
    "shinjuku-intake": ("木村", "翔太"),
    "shinjuku-supervisor": ("林", "久美子"),
    "freespace-intake": ("斎藤", "千尋"),
    "tokyo-dd-intake": ("清水", "大輔"),
    "komae-desk-counselor": ("石川", "葵"),
    "komae-desk-intake": ("森", "大輔"),
    "komae-desk-supervisor": ("池田", "典子"),
    "komae-youth-intake": ("橋本", "悠"),
    "komae-csw-supervisor": ("阿部", "千尋"),
}

# Direct lines of the staff who send (shown to the receiving agency on the hop's page).
DEMO_PHONES: dict[str, str] = {
    "adachi-counselor": "内線 2315",
    "akashi-counselor": "078-918-1340(直通)",
}


@dataclass
class DemoResult:
    agencies: int
    services: int
    # (username, agency name, role label, TOTP secret or ""): supervisors and the admin sign
    # in with a second factor, as everywhere; `manage.py demo_totp USERNAME` prints the code.
    users: list[tuple[str, str, str, str]]
    sheets: int = 0


def load_agencies() -> tuple[int, int]:
    records, errors, _bad = validate_rows(read_rows(FIXTURE).rows)
    if errors:
        raise ValueError("demo fixture is invalid: " + "; ".join(map(str, errors)))
    result = apply_records(records)
    return result.created + result.updated, result.services


def _demo_totp_secret(user: object) -> str:
    """Enrol the demo user's authenticator once (kept across re-runs); its base32 secret."""
    if not twofactor.second_step_needed(user):
        return ""
    device = twofactor.confirmed_totp(user) or twofactor.totp_enrol_directly(user=user)
    return twofactor.totp_secret(device)


def load_staff(actor: Actor) -> list[tuple[str, str, str, str]]:
    user_model = get_user_model()
    admin, created = user_model.objects.get_or_create(
        username=ADMIN_USERNAME, defaults={"is_staff": True, "is_superuser": True}
    )
    if created:
        admin.set_password(DEMO_PASSWORD)
        admin.save(update_fields=["password"])
    users = [(ADMIN_USERNAME, "-", "superuser", _demo_totp_secret(admin))]
    for username, slug, role in DEMO_STAFF:
        agency = Agency.objects.get(slug=slug)
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"email": f"{username}@demo.tsunagu.invalid"}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        if not (user.last_name or user.first_name) and username in DEMO_NAMES:
            user.last_name, user.first_name = DEMO_NAMES[username]
            user.save(update_fields=["last_name", "first_name"])
        held = Membership.objects.filter(user=user).values_list("phone", flat=True).first()
        phone = None if held else DEMO_PHONES.get(username)
        membership_set(user=user, agency=agency, role=role, actor=actor, phone=phone)
        user.refresh_from_db()
        users.append((username, agency.name, str(role.label), _demo_totp_secret(user)))
    return users


def load_demo() -> DemoResult:
    actor = Actor.system("load_demo")
    with transaction.atomic():
        agencies, services = load_agencies()
        users = load_staff(actor)
    sheets = load_demo_network()
    return DemoResult(agencies=agencies, services=services, users=users, sheets=sheets)


def load_demo_network() -> int:
    """Sheets, consents and handoffs in every state; skipped if the demo sheets exist. Then
    the Komae routing desk with its intake records."""
    sheets = build_demo_network()
    build_demo_desk()
    return sheets


def display_width(text: str) -> int:
    """Columns a terminal gives `text`: East Asian wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def users_table(users: list[tuple[str, str, str, str]], *, password: str = DEMO_PASSWORD) -> str:
    """The demo users as an aligned table (the agency names are Japanese: padded by width),
    with the TOTP secret of those who sign in with a second factor."""
    header = ("ユーザー名 user", "役割 role", "2段階認証の設定キー TOTP secret", "機関 agency")
    rows = [
        header,
        *[(username, role, secret or "-", agency) for username, agency, role, secret in users],
    ]
    widths = [max(display_width(row[col]) for row in rows) for col in range(3)]

    def line(row: tuple[str, str, str, str]) -> str:
        cells = [cell + " " * (widths[i] - display_width(cell)) for i, cell in enumerate(row[:3])]
        return "  ".join([*cells, row[3]]).rstrip()

    rule = "-" * (sum(widths) + 6 + max(display_width(row[3]) for row in rows))
    return "\n".join(
        [
            f"デモ用ユーザー(パスワードはすべて {password}) / demo users (password: {password})",
            "設定キーのある人は、認証アプリに登録するか `manage.py demo_totp ユーザー名` の"
            "確認コードでログインします / users with a TOTP secret sign in with a code: add the "
            "secret to an authenticator app, or run `manage.py demo_totp USERNAME`",
            line(header),
            rule,
            *(line(row) for row in rows[1:]),
        ]
    )
