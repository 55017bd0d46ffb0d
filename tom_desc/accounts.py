"""Login compatibility with the original DESC TOM, and the user list.

Existing scripts POST `username`/`password` to /accounts/login/ and look for
the text "Please enter a correct" on failure (Django's classic wording), while
TOM Toolkit 3 logs in through django-allauth, whose form field is `login`.
"""

from typing import Any

from allauth.account.forms import LoginForm
from allauth.core.internal import ratelimit
from django.contrib.auth.mixins import UserPassesTestMixin
from django.http import HttpRequest
from tom_common.accounts.adapters import TomAccountAdapter
from tom_common.views import UserListView

BAD_LOGIN_MESSAGE = "Please enter a correct username and password. Note that both fields may be case-sensitive."


class DescAccountAdapter(TomAccountAdapter):
    error_messages = {
        **TomAccountAdapter.error_messages,
        "username_password_mismatch": BAD_LOGIN_MESSAGE,
        "email_password_mismatch": BAD_LOGIN_MESSAGE,
    }

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        """allauth's `login_failed` limit, on GET requests too: allauth skips its
        limits on GET (its login form is a POST), but HTTP Basic checks a
        password on every API GET (tom_desc.api.auth). Otherwise as allauth's
        own, whose usage `authenticate` gives back on success."""
        self._login_failed_rl_usage = ratelimit.consume(
            request,
            app="allauth.account",
            action="login_failed",
            key=self._get_login_attempts_cache_key(request, **credentials),
            limit_get=True,
        )
        if not self._login_failed_rl_usage:
            raise self.validation_error("too_many_login_attempts")


class DescLoginForm(LoginForm):
    """allauth's login form that also accepts the classic `username` field."""

    def __init__(self, *args, **kwargs):
        data = kwargs.get("data")
        if data is not None and "login" not in data and "username" in data:
            data = data.copy()
            data["login"] = data["username"]
            kwargs["data"] = data
        super().__init__(*args, **kwargs)


class StaffUserListView(UserPassesTestMixin, UserListView):
    """TOM Toolkit's /users/ for staff only: it lists every username and who
    is in which group (so who is a challenge admin), which a broker team has
    no business knowing. Others get TOM's 403 (a login page with a message)."""

    def test_func(self) -> bool:
        return self.request.user.is_staff
