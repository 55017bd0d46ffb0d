"""The last URL pattern of the site: a URL without its trailing slash."""

from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from rest_framework import status

from tom_desc.api.errors import json_error


# CSRF-exempt: a token or Basic client sends no CSRF token, and the CSRF middleware
# would reject its POST/PUT (a 403 that TOM turns into a redirect to the login
# page) before this view could give the 400. The view changes nothing.
@csrf_exempt
def missing_trailing_slash(request: HttpRequest, path: str) -> HttpResponse:
    """A URL without its trailing slash: GET/HEAD are redirected to the slashed
    URL when that exists (as APPEND_SLASH does), other methods get a 400 JSON
    error rather than Django's DEBUG-only RuntimeError or a 301 that turns a
    POST into a GET."""
    slashed = f"/{path}/"
    try:
        resolve(slashed)
    except Resolver404:
        raise Http404(f"no page at /{path}") from None
    if request.method in ("GET", "HEAD"):
        query = request.META.get("QUERY_STRING", "")
        return HttpResponsePermanentRedirect(slashed + (f"?{query}" if query else ""))
    return json_error(
        f"URLs of this API end with '/': send {request.method} to {slashed}", status=status.HTTP_400_BAD_REQUEST
    )
