"""Group-based permissions of the REST API (checked server-side per request).

Truth tables are for `elasticc_admin` members only, so that during a
challenge the truth stays hidden from broker teams; broker messages may be
written by `elasticc_broker` members only. Membership is looked up once per
request and cached on the request.
"""

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from elasticc.access.groups import ADMIN_GROUP, BROKER_GROUP


def in_group(request: Request, group: str) -> bool:
    """Whether the authenticated user of `request` belongs to `group` (one query per request)."""
    user = request.user
    if not (user and user.is_authenticated):
        return False
    cache = getattr(request, "_elasticc_groups", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True))
        request._elasticc_groups = cache
    return group in cache


class IsElasticcAdmin(BasePermission):
    message = f"only members of the {ADMIN_GROUP} group may see the simulation truth"

    def has_permission(self, request: Request, view) -> bool:
        return in_group(request, ADMIN_GROUP)


class IsElasticcBrokerOrReadOnly(BasePermission):
    """Anyone logged in may read; only elasticc_broker members may write."""

    message = f"only members of the {BROKER_GROUP} group may submit broker messages"

    def has_permission(self, request: Request, view) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        return in_group(request, BROKER_GROUP)
