"""Keep each user's agency group equal to their membership, whatever path saved it.

Group membership is derived state (what guardian checks against); the audited change is the
Membership itself, written by agencies.services.
"""

from typing import Any

from django.contrib.auth.models import Group
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from agencies.models import Membership


def _agency_groups() -> Any:
    return Group.objects.filter(name__startswith="agency:")


@receiver(post_save, sender=Membership, dispatch_uid="membership_group_sync_save")
def sync_group_on_save(sender: type[Membership], instance: Membership, **kwargs: Any) -> None:
    user = instance.user
    stale = user.groups.filter(pk__in=_agency_groups()).exclude(pk=instance.agency.group_id)
    user.groups.remove(*stale)
    user.groups.add(instance.agency.group_id)


@receiver(post_delete, sender=Membership, dispatch_uid="membership_group_sync_delete")
def sync_group_on_delete(sender: type[Membership], instance: Membership, **kwargs: Any) -> None:
    instance.user.groups.remove(instance.agency.group_id)
