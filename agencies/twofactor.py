"""Second factors of staff sign-in (django-otp): who needs one, enrolment, verification,
recovery codes and an administrator's reset, each with its audit event.

The one writer of OTP devices. Supervisors, administrators (staff/superusers) and viewers whom
their agency lets read 要配慮 sections always need a second factor; counselors and intake staff
need one when their agency's policy says so (Agency.two_factor_policy), and may enrol anyway.
API keys are unaffected: they never pass through a session.
"""

from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass
from typing import Any

import qrcode
import qrcode.image.svg
from django.db import transaction
from django_otp import devices_for_user, user_has_device
from django_otp.models import Device
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from agencies.models import Role, TwoFactorPolicy, membership_of
from audit.context import Actor, ActorKind
from audit.models import AuditAction
from audit.services import audit_record

RECOVERY_CODE_COUNT = 10
TOTP_NAME = "authenticator"
RECOVERY_NAME = "recovery"


def _membership(user: Any) -> Any:
    return membership_of(user)


def two_factor_required(user: Any) -> bool:
    """Must this person sign in with a second factor? (Whether they have one is separate.)"""
    if user is None or not getattr(user, "pk", None):
        return False
    if user.is_staff or user.is_superuser:
        return True
    membership = _membership(user)
    if membership is None:
        return False
    if membership.role == Role.SUPERVISOR:
        return True
    agency = membership.agency
    if membership.role == Role.VIEWER and agency.viewers_see_special_care:
        return True
    return bool(agency.two_factor_policy == TwoFactorPolicy.REQUIRED)


def has_second_factor(user: Any) -> bool:
    """Has the person a confirmed authenticator (recovery codes alone do not count)?"""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def second_step_needed(user: Any) -> bool:
    """After the password: does sign-in go on to a code (enrolled, or enrolment required)?"""
    return two_factor_required(user) or user_has_device(user, confirmed=True)


def user_actor(user: Any, *, anonymous: bool = False) -> Actor:
    membership = _membership(user)
    return Actor(
        kind=ActorKind.ANONYMOUS if anonymous else ActorKind.USER,
        user_id=None if anonymous else user.pk,
        agency_id=membership.agency_id if membership is not None else None,
        label=user.get_username(),
    )


# --- enrolment -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment screen shows: the secret (base32, for typing) and its QR code."""

    device: TOTPDevice
    secret: str
    config_url: str

    def qr_svg(self) -> str:
        """The otpauth:// URI as an inline SVG (no image request, no Pillow)."""
        image = qrcode.make(
            self.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2
        )
        out = io.BytesIO()
        image.save(out)
        svg = out.getvalue().decode("utf-8")
        return svg[svg.index("<svg") :]


def totp_secret(device: TOTPDevice) -> str:
    """The base32 secret an authenticator app takes (and the demo prints)."""
    return base64.b32encode(device.bin_key).decode("ascii").rstrip("=")


@transaction.atomic
def totp_enrolment_start(*, user: Any) -> Enrolment:
    """A new, unconfirmed authenticator for the user (replacing an unconfirmed one)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return Enrolment(device=device, secret=totp_secret(device), config_url=device.config_url)


def confirmed_totp(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def totp_enrolment_pending(*, user: Any, device_id: int) -> Enrolment | None:
    device = TOTPDevice.objects.filter(user=user, pk=device_id, confirmed=False).first()
    if device is None:
        return None
    return Enrolment(device=device, secret=totp_secret(device), config_url=device.config_url)


@transaction.atomic
def totp_enrolment_confirm(*, user: Any, device_id: int, token: str) -> list[str] | None:
    """Confirm the authenticator with its first code; returns new recovery codes (shown
    once), or None if the code is wrong (audited as a failed second factor)."""
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(user=user, pk=device_id, confirmed=False)
        .first()
    )
    if device is None or not device.verify_token(_digits(token)):
        _audit_failure(user=user, stage="enrolment")
        return None
    # One authenticator per person: enrolling again replaces the old one.
    TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit_record(
        action=AuditAction.SECOND_FACTOR_ENROLLED,
        actor=user_actor(user),
        object_type="user",
        object_id=user.pk,
        detail={"kind": "totp"},
    )
    return _issue_recovery_codes(user)


def _issue_recovery_codes(user: Any) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    static = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=static, token=c) for c in codes])
    audit_record(
        action=AuditAction.RECOVERY_CODES_ISSUED,
        actor=user_actor(user),
        object_type="user",
        object_id=user.pk,
        detail={"count": len(codes)},
    )
    return codes


@transaction.atomic
def recovery_codes_regenerate(*, user: Any) -> list[str]:
    """New recovery codes for an enrolled person; the old ones stop working."""
    if not has_second_factor(user):
        raise ValueError("no authenticator enrolled")
    return _issue_recovery_codes(user)


def recovery_codes_left(user: Any) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


# --- verification --------------------------------------------------------------------------


def _digits(token: str) -> str:
    return "".join((token or "").split())[:16]


@transaction.atomic
def second_factor_verify(*, user: Any, token: str) -> Device | None:
    """The device that accepts this code (authenticator, or a recovery code, used up), or
    None: then the failure is audited. django-otp throttles each device (a growing delay
    after each failure), and sign-in counts failures per IP as well."""
    token = _digits(token)
    if token:
        for device in devices_for_user(user, confirmed=True, for_verify=True):
            if device.verify_token(token):
                if isinstance(device, StaticDevice):
                    audit_record(
                        action=AuditAction.RECOVERY_CODE_USED,
                        actor=user_actor(user),
                        object_type="user",
                        object_id=user.pk,
                        detail={"left": recovery_codes_left(user)},
                    )
                return device
    _audit_failure(user=user, stage="sign_in")
    return None


def _audit_failure(*, user: Any, stage: str) -> None:
    audit_record(
        action=AuditAction.SECOND_FACTOR_FAILED,
        actor=user_actor(user, anonymous=True),
        object_type="user",
        object_id=user.pk,
        detail={"stage": stage, "user_id": user.pk},
    )


# --- reset by an administrator ---------------------------------------------------------------


@transaction.atomic
def second_factor_reset(*, user: Any, actor: Actor, reason: str = "") -> int:
    """Remove every factor of a person (lost phone): they enrol again at next sign-in if
    they must. Audited with who reset it; returns the number of devices removed."""
    removed = 0
    for model in (TOTPDevice, StaticDevice):
        removed += model.objects.filter(user=user).delete()[1].get(model._meta.label, 0)
    audit_record(
        action=AuditAction.SECOND_FACTOR_RESET,
        actor=actor,
        object_type="user",
        object_id=user.pk,
        detail={"devices_removed": removed, "reason": reason[:200]},
    )
    return removed


# --- the demo and the tests --------------------------------------------------------------


@transaction.atomic
def totp_enrol_directly(*, user: Any, key_hex: str | None = None) -> TOTPDevice:
    """A confirmed authenticator without the code round trip: the demo loader's supervisors
    and test fixtures only (the secret is then printed or computed by the caller)."""
    TOTPDevice.objects.filter(user=user).delete()
    kwargs: dict[str, Any] = {"user": user, "name": TOTP_NAME, "confirmed": True}
    if key_hex:
        kwargs["key"] = key_hex
    return TOTPDevice.objects.create(**kwargs)


def totp_code(device: TOTPDevice, *, at: float | None = None) -> str:
    """The code an authenticator app shows for this device now (or at `at`)."""
    moment = time.time() if at is None else at
    value = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    if at is not None:
        # oath.totp reads the clock itself; shift t0 to read the code at another moment.
        shift = int(time.time() - moment)
        value = totp(device.bin_key, device.step, device.t0 + shift, device.digits, device.drift)
    return f"{value:0{device.digits}d}"
