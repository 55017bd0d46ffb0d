"""Login compatibility with the original DESC TOM.

Existing scripts POST `username`/`password` to /accounts/login/ and look for
the text "Please enter a correct" on failure (Django's classic wording), while
TOM Toolkit 3 logs in through django-allauth, whose form field is `login`.
"""

from allauth.account.forms import LoginForm
from tom_common.accounts.adapters import TomAccountAdapter

BAD_LOGIN_MESSAGE = (
    "Please enter a correct username and password. Note that both fields may be case-sensitive."
)


class DescAccountAdapter(TomAccountAdapter):
    error_messages = {
        **TomAccountAdapter.error_messages,
        "username_password_mismatch": BAD_LOGIN_MESSAGE,
        "email_password_mismatch": BAD_LOGIN_MESSAGE,
    }


class DescLoginForm(LoginForm):
    """allauth's login form that also accepts the classic `username` field."""

    def __init__(self, *args, **kwargs):
        data = kwargs.get("data")
        if data is not None and "login" not in data and "username" in data:
            data = data.copy()
            data["login"] = data["username"]
            kwargs["data"] = data
        super().__init__(*args, **kwargs)
