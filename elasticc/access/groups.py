"""The Django groups that decide what a DESC TOM user may see and do.

- `elasticc_admin`: sees the simulation truth (REST, pages, the admin SQL role).
- `elasticc_broker`: may submit broker messages.
Everyone else who is logged in reads the public tables.
"""

from django.conf import settings

ADMIN_GROUP = "elasticc_admin"
BROKER_GROUP = "elasticc_broker"
GROUPS: tuple[str, ...] = (ADMIN_GROUP, BROKER_GROUP)


def is_member(user, group: str) -> bool:
    """Whether `user` is logged in and a member of `group` (one indexed query)."""
    return bool(user and user.is_authenticated and user.groups.filter(name=group).exists())


def is_elasticc_admin(user) -> bool:
    """Whether `user` may see truth and the admin pages."""
    return is_member(user, ADMIN_GROUP)


def may_see_truth(user) -> bool:
    """Whether `user` may see what the pages derive from truth (confusion
    matrices, probability of the true class, the truth summary, an object's
    true class). During a challenge only elasticc_admin members may: a broker
    could otherwise classify one object under a fresh classifier and read its
    true class off the metrics. `ELASTICC_TRUTH_PUBLIC` opens it to every
    logged-in user once the challenge is over."""
    return bool(user and user.is_authenticated) and (settings.ELASTICC_TRUTH_PUBLIC or is_elasticc_admin(user))
