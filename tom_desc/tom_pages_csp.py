"""A Content-Security-Policy for TOM Toolkit's own pages that lets their inline scripts run.

The site's policy (settings.CONTENT_SECURITY_POLICY) runs inline <script>
only with the per-response nonce, which our templates carry. TOM Toolkit's
target, observation and data-product pages and their partials (airmass plot,
photometry, target groups, HTMX refreshes) have inline scripts and handlers
without it, so under the site's policy they do nothing. On those paths the
script policy allows inline script instead (a nonce would disable
'unsafe-inline', so it is left out); everything else, including "this site
only" for every asset, stays as it is. Their external viewers (Aladin, JS9)
are replaced by templates in tom_desc/templates.
"""

from collections.abc import Callable

from csp.constants import SELF, UNSAFE_EVAL, UNSAFE_INLINE
from django.http import HttpRequest, HttpResponse

TOM_PAGE_PREFIXES = ("/targets/", "/observations/", "/dataproducts/")


class TomPagesCspMiddleware:
    """Goes after django-csp's CSPMiddleware, so it marks the response before that builds the header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(TOM_PAGE_PREFIXES):
            response._csp_replace = {"script-src": [SELF, UNSAFE_INLINE, UNSAFE_EVAL]}
        return response
