"""Reading responses that may stream (SQL endpoint, metrics downloads,
follow-up light curves) or come whole (their errors)."""

from __future__ import annotations

import json
import re
from typing import Any


def body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def json_body(response) -> Any:
    return json.loads(body(response))


def cdn_urls(html: str) -> list[str]:
    """Scripts, styles and links of a page that point at a CDN: a page should
    work offline, from the site's own static files. (Searching the page for
    the letters "cdn" also matched random tokens, e.g. the CSRF token.)"""
    urls = re.findall(r"""(?:src|href)\s*=\s*["']((?:https?:)?//[^"']+)["']""", html)
    return [url for url in urls if "cdn" in url.lower()]
