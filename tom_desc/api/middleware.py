"""TOM Toolkit's Raise403Middleware, made to leave JSON 403s alone.

TOM Toolkit turns every 403 outside /api/ into a redirect to the login page,
which suits HTML pages but breaks API clients of /elasticc/ and /db/: a
script must get the 403 JSON error the spec promises, not a login form.
JSON 403 responses pass through, and so do HTML pages that mark their 403
with `keep_403 = True` (the ELAsTiCC admin-only pages: a logged-in user without
the right group gets a plain 403, not a login form); everything else keeps
TOM's behaviour.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from tom_common.middleware import Raise403Middleware as TomRaise403Middleware


class Raise403Middleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 403 and (
            response.get("Content-Type", "").startswith("application/json") or getattr(response, "keep_403", False)
        ):
            return response
        return TomRaise403Middleware(lambda _request: response)(request)
