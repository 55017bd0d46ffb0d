"""Password checks of the API, under the login form's brute-force limit.

The login form is rate-limited by django-allauth (`login_failed`: failed
attempts per IP and per username), but HTTP Basic and /api/token-auth/ called
Django's `authenticate` directly, so a script could try passwords without
limit there. Both go through allauth's adapter instead, which consumes the
same `login_failed` limit (and gives it back on success), so the three ways
in share one budget. Over the limit the answer is a 429 JSON error.

The token view is in `token_auth` (it imports DRF's views, which import the
authentication classes named in the settings: this module).
"""

from allauth.account.adapter import get_adapter
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from rest_framework import exceptions
from rest_framework.authentication import BasicAuthentication
from rest_framework.request import Request

TOO_MANY_ATTEMPTS = "too_many_login_attempts"


def rate_limited_authenticate(
    request: HttpRequest | Request, *, username: str, password: str
) -> AbstractBaseUser | None:
    """The user with these credentials (None if wrong), counting a failure
    against allauth's `login_failed` limit; raises Throttled (429) when the
    limit is already used up, before the password is even checked."""
    django_request = request._request if isinstance(request, Request) else request
    try:
        return get_adapter(django_request).authenticate(django_request, username=username, password=password)
    except ValidationError as exc:
        if exc.code != TOO_MANY_ATTEMPTS:
            raise
        raise exceptions.Throttled(detail=exc.message) from None


class RateLimitedBasicAuthentication(BasicAuthentication):
    def authenticate_credentials(
        self, userid: str, password: str, request: Request | None = None
    ) -> tuple[AbstractBaseUser, None]:
        user = rate_limited_authenticate(request, username=userid, password=password)
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid username/password.")
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return (user, None)
