"""The handler's SSL context, built from Scrapy's TLS settings."""

from __future__ import annotations

import logging
import os
import ssl
import sys
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler.handler.timing import TimedSSLContext

if TYPE_CHECKING:
    from crawler.handler.config import HandlerConfig

logger = logging.getLogger(__name__)


def _keylog_filename() -> str | None:
    """``SSLKEYLOGFILE`` when it is set and writable (a warning otherwise), as Scrapy does."""
    if sys.flags.ignore_environment:
        return None
    filename = os.environ.get("SSLKEYLOGFILE")
    if not filename:
        return None
    try:
        with Path(filename).open("ab"):
            pass
    except OSError as e:
        logger.warning("Cannot write TLS session keys to %s: %s", filename, e)
        return None
    return filename


class HandlerSSLContext(TimedSSLContext):
    """The handler's context: with verification on, it reads the default CA certificates
    when first needed (:meth:`load_pending_certs`), not when built, so a crawl of ``http://``
    URLs alone never reads them."""

    _certs_pending = False

    def defer_default_certs(self) -> None:
        """Read the default CA certificates when first needed."""
        self._certs_pending = True

    def load_pending_certs(self) -> None:
        """Read the default CA certificates, unless done already. The handler calls it before
        the clock of an ``https://`` download starts, so no phase counts the reading."""
        if self._certs_pending:
            self._certs_pending = False
            self.load_default_certs()

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        self.load_pending_certs()  # a handshake the handler did not foresee (an https proxy)
        return super().wrap_bio(*args, **kwargs)


def make_ssl_context(config: HandlerConfig) -> HandlerSSLContext:
    """An SSL context honouring ``DOWNLOAD_VERIFY_CERTIFICATES``, TLS versions and ciphers.

    Handlers with the same TLS settings (the ``http`` and ``https`` ones of a crawl) share one,
    so the default certificates, when needed, are read once.
    """
    return _ssl_context(
        config.verify_certificates,
        config.tls_min_version,
        config.tls_max_version,
        config.tls_ciphers,
        _keylog_filename(),
        ssl.get_default_verify_paths() if config.verify_certificates else None,
    )


@lru_cache(maxsize=8)
def _ssl_context(
    verify_certificates: bool,
    min_version: ssl.TLSVersion | None,
    max_version: ssl.TLSVersion | None,
    ciphers: str | None,
    keylog: str | None,
    _certificates: ssl.DefaultVerifyPaths | None,
) -> HandlerSSLContext:
    """The context of these settings; ``_certificates`` (where the default certificates are
    read from: ``SSL_CERT_FILE``, ``SSL_CERT_DIR``) is part of the key only."""
    context = HandlerSSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify_certificates:
        context.check_hostname = True
        context.verify_mode = ssl.CERT_REQUIRED
        context.defer_default_certs()
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if min_version is not None:
        context.minimum_version = min_version
    if max_version is not None:
        context.maximum_version = max_version
    if ciphers:
        context.set_ciphers(ciphers)
    if keylog:
        context.keylog_filename = keylog
    return context


def log_tls_details(ssl_object: ssl.SSLObject) -> None:
    """Log the protocol, cipher and certificate of a connection (verbose TLS logging)."""
    cipher = ssl_object.cipher()
    logger.debug(
        "SSL connection to %s using protocol %s, cipher %s",
        ssl_object.server_hostname,
        ssl_object.version(),
        cipher[0] if cipher else None,
    )
    if cert := ssl_object.getpeercert():
        logger.debug(
            'SSL connection certificate: issuer "%s", subject "%s"',
            cert["issuer"],
            cert["subject"],
        )
