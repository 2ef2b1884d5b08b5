"""Keep secrets in URLs out of rows, logs, reports and the cache.

``http://user:secret@host`` shows as ``user:***@``, a user name alone (often a token, as in
``https://TOKEN@host``) as ``***@``, and the values of the query (or fragment) parameters named
in ``CRAWLER_REDACT_PARAMS`` as ``***``. The user info is read as the request reads it (up to
the last ``@`` before the first ``/``, ``\\``, ``?`` or ``#``), so what is masked is what is
sent as credentials.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Final

from scrapy import signals

from crawler.urls import exportable, request_parts

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

MASK = "***"
SETTING: Final = "CRAWLER_REDACT_PARAMS"
DEFAULT_PARAMS: Final = (
    "access_token",
    "api_key",
    "apikey",
    "auth",
    "client_secret",
    "key",
    "password",
    "refresh_token",
    "secret",
    "sig",
    "signature",
    "token",
    "x-amz-credential",
    "x-amz-security-token",
    "x-amz-signature",
    "x-goog-credential",
    "x-goog-signature",
)
"""Query parameters whose values are masked unless ``CRAWLER_REDACT_PARAMS`` says otherwise."""

_OPAQUE_SCHEMES = frozenset({"mailto", "tel", "sms", "xmpp", "sip", "sips", "data", "urn", "news"})
"""Schemes whose ``x:y@z`` is an address, not user info."""
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:")
_AUTHORITY_END = re.compile(r"[/\\?#]")
_STOP = r"\s<>\"'`"
_TEXT_USERINFO = re.compile(
    # scheme://, //, or (after a space or quote) a scheme-less user:password@
    rf"(?P<slashes>(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?[/\\]{{2}})?"
    rf"(?P<userinfo>(?(slashes)|(?<![^{_STOP}(\[=,;])(?=[^{_STOP}/\\?#@:]+:))[^{_STOP}/\\?#]*)@"
)


def _masked_userinfo(userinfo: str) -> str:
    user, colon, _ = userinfo.partition(":")
    return f"{user}:{MASK}" if colon else MASK


@lru_cache(maxsize=16)
def _param_pattern(params: tuple[str, ...], stop: str) -> re.Pattern[str] | None:
    if not params:
        return None
    names = "|".join(re.escape(name) for name in params)
    return re.compile(rf"(?i)(?P<lead>[?&#;](?:{names})=)[^&#;{stop}]+")


@dataclass(frozen=True, slots=True)
class Redactor:
    """Masks credentials in one URL (:meth:`url`) or in free text (:meth:`text`)."""

    params: tuple[str, ...] = DEFAULT_PARAMS
    """Query parameter names (any case) whose values are masked."""

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Self:
        """Read ``CRAWLER_REDACT_PARAMS`` (a list, or comma-separated names); ``ValueError``
        for a name that cannot be a parameter's."""
        names = settings.getlist(SETTING, list(DEFAULT_PARAMS))
        return cls(tuple(_checked_names(names)))

    def url(self, url: str) -> str:
        """``url`` as rows show it: secrets masked, lone surrogates escaped."""
        url = exportable(url)
        if "@" not in url and "?" not in url and "#" not in url:
            return url
        scheme = _SCHEME.match(url)
        start = scheme.end() if scheme else 0
        while start < len(url) and url[start] in "/\\":
            start += 1
        found = _AUTHORITY_END.search(url, start)
        end = found.start() if found else len(url)
        at = url.rfind("@", start, end)
        address = scheme is not None and start == scheme.end()  # mailto:x@y, not x:y@host
        if at > start and not (address and url[: start - 1].lower() in _OPAQUE_SCHEMES):
            masked = _masked_userinfo(url[start:at])
            url = f"{url[:start]}{masked}{url[at:]}"
            end += len(masked) - (at - start)
        params = _param_pattern(self.params, "")
        if params is None or end == len(url):
            return url
        return url[:end] + params.sub(_masked_value, url[end:])

    def text(self, text: str) -> str:
        """``text`` (a log line, an error) with the secrets of every URL in it masked."""
        if "@" in text:
            text = _TEXT_USERINFO.sub(_text_userinfo, text)
        params = _param_pattern(self.params, _STOP)
        if params is not None and ("?" in text or "#" in text):
            text = params.sub(_masked_value, text)
        return text

    def hides(self, url: str) -> bool:
        """Whether ``url`` holds something to mask (user info, or a parameter named in
        :attr:`params`), or held it and shows it masked."""
        parts = request_parts(url)
        if parts is None or parts.username is not None or parts.password is not None:
            return True
        params = _param_pattern(self.params, "")
        return params is not None and params.search(url) is not None


def _masked_value(match: re.Match[str]) -> str:
    return f"{match.group('lead')}{MASK}"


def _text_userinfo(match: re.Match[str]) -> str:
    slashes, userinfo = match.group("slashes"), match.group("userinfo")
    if slashes is None and userinfo.partition(":")[0].lower() in _OPAQUE_SCHEMES:
        return match.group()
    return f"{slashes or ''}{_masked_userinfo(userinfo)}@"


def _checked_names(names: Iterable[object]) -> Iterable[str]:
    for name in names:
        if not isinstance(name, str) or not name.strip() or re.search(r"[\s=&#?]", name.strip()):
            raise ValueError(
                f"{SETTING} must list query parameter names like 'token,api_key', got {name!r}"
            )
        yield name.strip()


DEFAULT: Final = Redactor()


def redact(text: str) -> str:
    """``text`` with the credentials of every URL in it masked (the default parameter list)."""
    return DEFAULT.text(text)


class RedactingFilter(logging.Filter):
    """A logging filter that masks URL secrets in every record it passes, tracebacks too."""

    def __init__(self, redactor: Redactor = DEFAULT) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redactor.text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.text(record.exc_text)
        return True


class RedactCredentials:
    """Extension: installs :class:`RedactingFilter` on the root log handlers while crawling."""

    def __init__(self, redactor: Redactor = DEFAULT) -> None:
        self.filter = RedactingFilter(redactor)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the extension and hook it to the spider's opening and closing."""
        extension = cls(Redactor.from_settings(crawler.settings))
        crawler.signals.connect(extension.install, signal=signals.engine_started)
        crawler.signals.connect(extension.remove, signal=signals.engine_stopped)
        extension.install()
        return extension

    def install(self) -> None:
        """Add the filter to every root handler (again, for handlers added since)."""
        for handler in logging.getLogger().handlers:
            if self.filter not in handler.filters:
                handler.addFilter(self.filter)

    def remove(self) -> None:
        """Take the filter off again."""
        for handler in logging.getLogger().handlers:
            handler.removeFilter(self.filter)
