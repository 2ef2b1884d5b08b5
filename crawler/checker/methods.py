"""How a URL is checked: ``get`` (default), ``head`` (falls back to GET) or ``headers``."""

from __future__ import annotations

from typing import Final, Literal

CheckMethod = Literal["get", "head", "headers"]

CHECK_METHODS: Final[tuple[CheckMethod, ...]] = ("get", "head", "headers")
"""``get``: a full GET. ``head``: HEAD, then GET when the server rejects or mishandles HEAD.
``headers``: a GET that stops once the response headers are in (no body is read)."""

CHECK_METHOD_META_KEY: Final = "check_method"
"""``request.meta`` key of the :data:`CheckMethod` a request checks with."""

WHOLE_HTML_META_KEY: Final = "whole_html_body"
"""``request.meta`` key: when true, a GET check whose response is HTML (by its
``Content-Type``) reads the whole body, up to ``DOWNLOAD_MAXSIZE``, to be parsed (the site
crawl's pages); other responses stop after their first bytes as usual."""

HTML_TYPES: Final = frozenset({"text/html", "application/xhtml+xml"})
"""Media types of the responses parsed for links."""


def is_html(content_type: bytes | str | None) -> bool:
    """Whether a ``Content-Type`` value names an HTML document."""
    if content_type is None:
        return False
    text = content_type.decode("latin-1") if isinstance(content_type, bytes) else content_type
    return text.split(";", 1)[0].strip().lower() in HTML_TYPES


HTTP_METHODS: Final[dict[CheckMethod, str]] = {"get": "GET", "head": "HEAD", "headers": "GET"}
"""The HTTP method each check method starts with."""


def check_method(value: object, *, name: str = "CRAWLER_METHOD") -> CheckMethod:
    """``value`` as a :data:`CheckMethod`; ``ValueError`` naming ``name`` and the choices."""
    text = value.strip().lower() if isinstance(value, str) else value
    for method in CHECK_METHODS:
        if text == method:
            return method
    raise ValueError(
        f"{name}={value!r} is not a check method; use one of {', '.join(CHECK_METHODS)}"
    )
