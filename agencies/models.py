"""The directory: agencies, what they offer, and who works there in which role."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from agencies.grades import Grade
from security.validators import guard_text_fields


class AgencyKind(models.TextChoices):
    SCHOOL = "school", _("学校")
    EDUCATION_SUPPORT = "education_support", _("教育委員会・教育支援センター")
    NPO_FREE_SCHOOL = "npo_free_school", _("NPO・フリースクール")
    CHILD_GUIDANCE = "child_guidance", _("児童相談所")
    WELFARE_OFFICE = "welfare_office", _("福祉事務所・福祉相談")
    HEALTH_CENTER = "health_center", _("保健所・保健センター")
    HIKIKOMORI_SUPPORT = "hikikomori_support", _("ひきこもり支援")
    WARD_DESK = "ward_desk", _("区市町村の相談窓口")
    OTHER = "other", _("その他")


class Role(models.TextChoices):
    COUNSELOR = "counselor", _("相談員")
    SUPERVISOR = "supervisor", _("管理職")
    INTAKE = "intake", _("受付担当")
    VIEWER = "viewer", _("閲覧のみ")


class TwoFactorPolicy(models.TextChoices):
    """Who must sign in with a second factor, beyond those who always must (supervisors,
    administrators, and viewers allowed to read 要配慮 sections)."""

    OPTIONAL = "optional", _("管理職などは必須、その他の職員は任意")
    REQUIRED = "required", _("全職員に必須")


class Category(models.Model):
    """A kind of need an agency serves (school refusal, hikikomori, ...): a small taxonomy."""

    code = models.SlugField(max_length=40, primary_key=True)
    label_ja = models.CharField(max_length=80)
    label_en = models.CharField(max_length=80)

    class Meta:
        ordering = ["code"]
        verbose_name = _("支援分野")
        verbose_name_plural = _("支援分野")

    def __str__(self) -> str:
        return self.label_ja


class Agency(models.Model):
    """A node of the network: an agency that refers people or takes referrals."""

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(_("名称"), max_length=200)
    name_en = models.CharField(_("英語名"), max_length=200, blank=True)
    kind = models.CharField(_("種別"), max_length=32, choices=AgencyKind.choices)
    prefecture = models.CharField(_("都道府県"), max_length=20, blank=True)
    municipality = models.CharField(_("市区町村"), max_length=60, db_index=True)
    address = models.CharField(_("所在地"), max_length=300, blank=True)
    phone = models.CharField(_("電話番号"), max_length=40, blank=True)
    hours = models.CharField(_("受付時間"), max_length=300, blank=True)
    description = models.TextField(_("説明"), blank=True)
    website = models.URLField(_("ウェブサイト"), blank=True)
    categories = models.ManyToManyField(Category, blank=True, related_name="agencies")
    age_min = models.PositiveSmallIntegerField(
        _("対象年齢(下限)"), null=True, blank=True, validators=[MaxValueValidator(120)]
    )
    age_max = models.PositiveSmallIntegerField(
        _("対象年齢(上限)"), null=True, blank=True, validators=[MaxValueValidator(120)]
    )
    grades = models.CharField(_("対象学年"), max_length=100, blank=True)
    accepts_referrals = models.BooleanField(_("引き継ぎを受け付ける"), default=True)
    intake_email = models.EmailField(_("受付メールアドレス"), blank=True)
    ack_sla_hours = models.PositiveSmallIntegerField(
        _("受領確認の期限(営業時間)"),
        default=16,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 30)],
        help_text=_("送付から受領確認までの期限。土日祝日と休業日は数えません。"),
    )
    requires_supervisor_approval = models.BooleanField(
        _("送付前に管理職の承認が必要"), default=True
    )
    closed_days = models.JSONField(
        _("休業日"),
        default=list,
        blank=True,
        help_text=_("ISO形式の日付(例: 2026-12-29)のリスト。期限の計算で除外します。"),
    )
    escalation_policy = models.JSONField(
        _("エスカレーションの設定"),
        default=dict,
        blank=True,
        help_text=_("空欄なら既定の設定を使います。送付時の設定が引き継ぎごとに保存されます。"),
    )
    two_factor_policy = models.CharField(
        _("2段階認証"),
        max_length=16,
        choices=TwoFactorPolicy.choices,
        default=TwoFactorPolicy.OPTIONAL,
        help_text=_(
            "管理職は常に必須です。「全職員に必須」にすると相談員・受付担当も必須になります。"
        ),
    )
    viewers_see_special_care = models.BooleanField(
        _("閲覧のみの職員に要配慮情報(健康・虐待)を表示する"),
        default=False,
        help_text=_("許可すると、閲覧のみの職員にも2段階認証が必須になります。"),
    )
    group = models.OneToOneField(
        Group, on_delete=models.PROTECT, editable=False, related_name="agency"
    )
    source = models.CharField(_("出典"), max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["municipality", "name"]
        verbose_name = _("機関")
        verbose_name_plural = _("機関")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(age_min__isnull=True)
                | models.Q(age_max__isnull=True)
                | models.Q(age_min__lte=models.F("age_max")),
                name="agency_age_range_ordered",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Every agency has exactly one group; object permissions are granted to it.
        if self.group_id is None:
            self.group, _created = Group.objects.get_or_create(name=f"agency:{self.slug}")
        elif self.group.name != f"agency:{self.slug}":
            self.group.name = f"agency:{self.slug}"
            self.group.save(update_fields=["name"])
        super().save(*args, **kwargs)


class Service(models.Model):
    """Something an agency offers (a drop-in space, home-visit learning support, ...)."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="services")
    slug = models.SlugField(max_length=80)
    name = models.CharField(_("名称"), max_length=200)
    description = models.TextField(_("説明"), blank=True)
    eligibility = models.TextField(
        _("対象(補足)"), blank=True, help_text=_("下の条件で書ききれないことを文章で。")
    )
    schedule = models.CharField(_("日時"), max_length=300, blank=True)
    categories = models.ManyToManyField(Category, blank=True, related_name="services")
    # Structured eligibility (agencies/eligibility.py checks a sheet against it on send).
    age_min = models.PositiveSmallIntegerField(
        _("対象年齢(下限)"), null=True, blank=True, validators=[MaxValueValidator(120)]
    )
    age_max = models.PositiveSmallIntegerField(
        _("対象年齢(上限)"), null=True, blank=True, validators=[MaxValueValidator(120)]
    )
    grades = models.JSONField(
        _("対象学年"),
        default=list,
        blank=True,
        help_text=_("学年コードのリスト(例: e1, j3)。空欄なら学年を問いません。"),
    )
    municipalities = models.JSONField(
        _("対象の居住地"),
        default=list,
        blank=True,
        help_text=_("市区町村名のリスト(例: 横浜市)。空欄ならどこに住む人も対象です。"),
    )
    requires_child_wish = models.BooleanField(_("本人の希望が必要"), default=False)
    apply_through_school = models.BooleanField(_("申込は学校経由"), default=False)
    active = models.BooleanField(_("受付中"), default=True)

    class Meta:
        ordering = ["agency", "name"]
        verbose_name = _("支援メニュー")
        verbose_name_plural = _("支援メニュー")
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "slug"], name="service_slug_unique_per_agency"
            ),
            models.CheckConstraint(
                condition=models.Q(age_min__isnull=True)
                | models.Q(age_max__isnull=True)
                | models.Q(age_min__lte=models.F("age_max")),
                name="service_age_range_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """The same rules for the admin, the importer and the API: known grades, a list of
        place names, an ordered age range."""
        errors: dict[str, Any] = {}
        if not isinstance(self.grades, list) or not set(self.grades) <= set(Grade.values):
            errors["grades"] = _("学年は次のコードのリストで入力してください: %(codes)s") % {
                "codes": ", ".join(Grade.values)
            }
        if not isinstance(self.municipalities, list) or not all(
            isinstance(m, str) and m.strip() and len(m) <= 60 for m in self.municipalities
        ):
            errors["municipalities"] = _("市区町村名のリストで入力してください。")
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            errors["age_max"] = _("上限は下限以上にしてください。")
        if errors:
            raise ValidationError(errors)

    @property
    def has_eligibility(self) -> bool:
        return bool(
            self.age_min is not None
            or self.age_max is not None
            or self.grades
            or self.municipalities
            or self.requires_child_wish
        )


class Membership(models.Model):
    """A staff member's place in one agency, with the role that decides what they may do."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(_("役割"), max_length=16, choices=Role.choices)
    # Shown to the agencies a staff member sends to, as the contact for the hop; the agency's
    # own number is shown next to it, so this is optional.
    phone = models.CharField(
        _("直通電話・内線"),
        max_length=40,
        blank=True,
        help_text=_("引き継ぎの送付先に、担当者の連絡先として表示されます(例: 内線 123)。"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["agency", "user__username"]
        verbose_name = _("所属")
        verbose_name_plural = _("所属")
        indexes = [models.Index(fields=["agency", "role"], name="membership_agency_role_idx")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.agency} ({self.get_role_display()})"

    @property
    def is_supervisor(self) -> bool:
        return self.role == Role.SUPERVISOR


class RoutingDesk(models.Model):
    """An agency that routes for a municipality: it takes a sheet when the sender does not
    know where to send it (Komae's 福祉のつながりシート), and chooses the agency among the
    kinds it may route to. It also has a public intake form for people outside the network."""

    agency = models.OneToOneField(
        Agency, on_delete=models.PROTECT, related_name="routing_desk", verbose_name=_("機関")
    )
    prefecture = models.CharField(_("都道府県"), max_length=20, blank=True)
    municipality = models.CharField(_("担当する市区町村"), max_length=60)
    routable_kinds = models.JSONField(
        _("つなぐことのできる機関の種別"),
        default=list,
        help_text=_("同意で選べる種別は、この中からだけです。"),
    )
    public_intake = models.BooleanField(_("公開の相談フォームを使う"), default=True)
    intake_intro = models.TextField(
        _("相談フォームの案内文"), blank=True, help_text=_("やさしい言葉で短く。")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("振り分け窓口")
        verbose_name_plural = _("振り分け窓口")

    def __str__(self) -> str:
        return f"{self.agency} ({self.municipality})"

    def clean(self) -> None:
        kinds = self.routable_kinds
        if not isinstance(kinds, list) or not kinds or not set(kinds) <= set(AgencyKind.values):
            raise ValidationError({"routable_kinds": _("機関の種別を1つ以上選んでください。")})


# The shared rules of every write path (security/validators.py): no control characters in
# text, links http(s) only.
guard_text_fields(Category, Agency, Service, Membership, RoutingDesk)


def membership_of(user: Any) -> Membership | None:
    """A signed-in user's membership with its agency, and whether that agency is a routing
    desk (the menu asks on every page), in one query; cached on the user for the rest of the
    request, so the sign-in checks, the view and the templates share it."""
    if user is None or not getattr(user, "pk", None):
        return None
    # user.__class__, not type(user): request.user is a lazy proxy that reports its target's.
    accessor = getattr(user.__class__, "membership", None)
    if accessor is not None and accessor.related.is_cached(user):
        return getattr(user, "membership", None)  # a cached absence raises AttributeError
    membership = (
        Membership.objects.select_related("agency", "agency__routing_desk")
        .filter(user_id=user.pk)
        .first()
    )
    if membership is not None:
        user.membership = membership
    return membership
