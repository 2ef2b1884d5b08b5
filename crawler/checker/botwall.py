"""Tell a bot wall (a challenge or captcha page) from a real 403/429/503.

A link behind a bot wall is not dead: the server refused a robot. The signs are few and
documented in the README; each one is specific to bot-wall products, so a plain 403 page
is not mistaken for one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from scrapy.http import Response

BOT_WALL_STATUSES: Final = frozenset({403, 429, 503})
"""Only these statuses can be a bot wall."""

BOT_WALL_HEADERS: Final = (b"cf-mitigated", b"x-amzn-waf-action", b"x-datadome")
"""Cloudflare's challenge, AWS WAF's captcha/challenge and DataDome's block headers."""

BOT_WALL_MARKERS: Final = (
    b"captcha",
    b"<title>just a moment...</title>",
    b"attention required! | cloudflare",
    b"/cdn-cgi/challenge-platform/",
)
"""Body markers (lower case) of captcha and challenge pages."""

BODY_PREFIX: Final = 1024
"""How much of the body is searched for :data:`BOT_WALL_MARKERS`."""
SIGN_CHARS: Final = 100
"""How much of a bot-wall header's value the sign (and the row's ``error``) shows."""


def bot_wall_sign(response: Response) -> str | None:
    """What shows that ``response`` is a bot wall (``"cf-mitigated: challenge"``), or ``None``."""
    if response.status not in BOT_WALL_STATUSES:
        return None
    for name in BOT_WALL_HEADERS:
        value = response.headers.get(name)
        if value is not None:
            text = value.decode("latin-1")
            cut = text[:SIGN_CHARS] + ("…" if len(text) > SIGN_CHARS else "")
            return f"{name.decode()}: {cut}"
    head = response.body[:BODY_PREFIX].lower()
    for marker in BOT_WALL_MARKERS:
        if marker in head:
            return f"{marker.decode()!r} in the body"
    return None
