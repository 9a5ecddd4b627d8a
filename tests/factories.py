"""factory_boy factories, named after what they make."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from agencies.models import Agency, AgencyKind, Membership, Role


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    # Hashed before the save: a post-generation set_password is never saved (see Meta), and an
    # unsaved password hash makes every session of the user invalid on its next request.
    password = factory.django.Password("pw-for-tests-only")


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency

    slug = factory.Sequence(lambda n: f"agency-{n}")
    name = factory.Sequence(lambda n: f"テスト機関{n}")
    kind = AgencyKind.WARD_DESK
    municipality = "足立区"
    intake_email = factory.LazyAttribute(lambda a: f"intake@{a.slug}.example.invalid")
    requires_supervisor_approval = False


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    agency = factory.SubFactory(AgencyFactory)
    role = Role.COUNSELOR
