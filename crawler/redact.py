"""Keep passwords in URLs out of rows and logs: ``http://user:secret@host`` → ``user:***@``."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from scrapy import signals

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

MASK = "***"
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^/@:\s]*):[^/@\s]*@")


def redact(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` replaced by ``***``."""
    if "@" not in text:
        return text
    return _USERINFO.sub(rf"\g<scheme>\g<user>:{MASK}@", text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts URL passwords in every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class RedactCredentials:
    """Extension: installs :class:`RedactingFilter` on the root log handlers while crawling."""

    def __init__(self) -> None:
        self.filter = RedactingFilter()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the extension and hook it to the spider's opening and closing."""
        extension = cls()
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
