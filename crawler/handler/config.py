"""``CRAWLER_*`` handler settings, read and checked once into a frozen dataclass."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import AsyncResolver
from aiohttp.abc import AbstractResolver
from scrapy.exceptions import NotConfigured
from scrapy.utils.misc import load_object

from crawler.names import SETTINGS

if TYPE_CHECKING:
    from typing import Self

    from scrapy.settings import BaseSettings


TLS_VERSIONS: dict[str, ssl.TLSVersion] = {
    "TLSv1.0": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


def _non_negative(settings: BaseSettings, name: str, default: float) -> float:
    value = settings.getfloat(name, default)
    if value < 0:
        raise ValueError(f"{name} must be >= 0 (0 disables it), got {value!r}")
    return value


def _positive_int(settings: BaseSettings, name: str) -> int:
    value = settings.getint(name)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value


def _tls_version(settings: BaseSettings, name: str) -> ssl.TLSVersion | None:
    value: str | None = settings.get(name)
    if value is None:
        return None
    try:
        return TLS_VERSIONS[value]
    except KeyError:
        raise ValueError(
            f"Unknown {name} value: {value} (expected one of {', '.join(TLS_VERSIONS)})"
        ) from None


def _bind_address(value: object) -> tuple[str, int] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return (value, 0)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return (str(value[0]), int(value[1]))
    raise ValueError(f"DOWNLOAD_BIND_ADDRESS must be a host or a (host, port) pair, got {value!r}")


_RESOLVER_HINT = "use 'threaded', 'aiodns' or the import path of an aiohttp.abc.AbstractResolver"


def _resolver_class(name: object) -> type[AbstractResolver] | None:
    """The resolver class ``CRAWLER_DNS_RESOLVER`` names (imported and checked here)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"CRAWLER_DNS_RESOLVER must be a name, got {name!r}; {_RESOLVER_HINT}")
    if name == "threaded":
        return None
    if name == "aiodns":
        try:
            import aiodns  # noqa: F401
        except ImportError as e:
            raise NotConfigured(
                "CRAWLER_DNS_RESOLVER='aiodns' needs the aiodns package: "
                "pip install aiodns, or set CRAWLER_DNS_RESOLVER='threaded'"
            ) from e
        return AsyncResolver
    try:
        resolver_cls = load_object(name)
    except (ImportError, NameError, ValueError) as e:
        raise ValueError(
            f"CRAWLER_DNS_RESOLVER={name!r} cannot be imported: {e}; {_RESOLVER_HINT}"
        ) from e
    if not (isinstance(resolver_cls, type) and issubclass(resolver_cls, AbstractResolver)):
        raise ValueError(
            f"CRAWLER_DNS_RESOLVER={name!r} is not an aiohttp.abc.AbstractResolver subclass"
        )
    return resolver_cls


@dataclass(frozen=True, slots=True)
class HandlerConfig:
    """Everything the download handler reads from the settings, checked."""

    timing_enabled: bool
    connect_timeout: float | None
    dns_cache_ttl: int | None
    dns_resolver: str
    """"threaded", "aiodns", or the import path of an ``aiohttp.abc.AbstractResolver``."""
    resolver_class: type[AbstractResolver] | None
    """The class ``dns_resolver`` names; ``None`` for aiohttp's default (threaded)."""
    keepalive_timeout: float
    pool_size: int
    pool_size_per_host: int
    bind_address: tuple[str, int] | None
    download_timeout: float
    maxsize: int
    warnsize: int
    fail_on_dataloss: bool
    verify_certificates: bool
    tls_min_version: ssl.TLSVersion | None
    tls_max_version: ssl.TLSVersion | None
    tls_ciphers: str | None
    tls_verbose_logging: bool
    proxy_auth_encoding: str
    exclude_private: bool = False
    """Connect only to public addresses (``CRAWLER_EXCLUDE_PRIVATE``)."""

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Self:
        """Read and validate the settings; raise ``ValueError`` naming the bad one."""
        resolver = settings.get("CRAWLER_DNS_RESOLVER", SETTINGS["CRAWLER_DNS_RESOLVER"])
        connect_timeout = _non_negative(
            settings, "CRAWLER_CONNECT_TIMEOUT", SETTINGS["CRAWLER_CONNECT_TIMEOUT"]
        )
        dns_cache_ttl = settings.getint("CRAWLER_DNS_CACHE_TTL", SETTINGS["CRAWLER_DNS_CACHE_TTL"])
        if dns_cache_ttl < 0:
            raise ValueError(
                f"CRAWLER_DNS_CACHE_TTL must be >= 0 seconds (0 disables the cache), "
                f"got {dns_cache_ttl!r}"
            )
        download_timeout = settings.getfloat("DOWNLOAD_TIMEOUT")
        if download_timeout <= 0:
            raise ValueError(f"DOWNLOAD_TIMEOUT must be > 0, got {download_timeout!r}")
        return cls(
            timing_enabled=settings.getbool(
                "CRAWLER_TIMING_ENABLED", SETTINGS["CRAWLER_TIMING_ENABLED"]
            ),
            connect_timeout=connect_timeout or None,
            dns_cache_ttl=dns_cache_ttl or None,
            dns_resolver=resolver,
            resolver_class=_resolver_class(resolver),
            keepalive_timeout=_non_negative(
                settings, "CRAWLER_KEEPALIVE_TIMEOUT", SETTINGS["CRAWLER_KEEPALIVE_TIMEOUT"]
            ),
            pool_size=_positive_int(settings, "CONCURRENT_REQUESTS"),
            pool_size_per_host=_positive_int(settings, "CONCURRENT_REQUESTS_PER_DOMAIN"),
            bind_address=_bind_address(settings.get("DOWNLOAD_BIND_ADDRESS")),
            download_timeout=download_timeout,
            maxsize=settings.getint("DOWNLOAD_MAXSIZE"),
            warnsize=settings.getint("DOWNLOAD_WARNSIZE"),
            fail_on_dataloss=settings.getbool("DOWNLOAD_FAIL_ON_DATALOSS"),
            verify_certificates=settings.getbool("DOWNLOAD_VERIFY_CERTIFICATES"),
            tls_min_version=_tls_version(settings, "DOWNLOAD_TLS_MIN_VERSION"),
            tls_max_version=_tls_version(settings, "DOWNLOAD_TLS_MAX_VERSION"),
            tls_ciphers=settings.get("DOWNLOADER_CLIENT_TLS_CIPHERS") or None,
            tls_verbose_logging=settings.getbool("DOWNLOADER_CLIENT_TLS_VERBOSE_LOGGING"),
            proxy_auth_encoding=settings.get("HTTPPROXY_AUTH_ENCODING", "latin-1"),
            exclude_private=settings.getbool(
                "CRAWLER_EXCLUDE_PRIVATE", SETTINGS["CRAWLER_EXCLUDE_PRIVATE"]
            ),
        )


def normalize_bind_address(value: object) -> tuple[str, int] | None:
    """``"1.2.3.4"`` or ``("1.2.3.4", 0)`` as a ``(host, port)`` pair; ``None`` when unset."""
    return _bind_address(value)
