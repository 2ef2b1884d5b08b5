"""Project settings of the URL checker (``scrapy.cfg`` points here)."""

from __future__ import annotations

from importlib.util import find_spec

from crawler.items import FIELDS

BOT_NAME = "crawler"
# The checker's spiders ship in the package; a project's own go in `spiders` (NEWSPIDER_MODULE),
# listed when there is one (an installed wheel brings none).
SPIDER_MODULES = ["crawler.spiders", *(["spiders"] if find_spec("spiders") else [])]
NEWSPIDER_MODULE = "spiders"
# `scrapy crawl urls` imports the urls spider's module, not the site spider's as well.
SPIDER_LOADER_CLASS = "crawler.tuning.OwnSpiderLoader"
COMMANDS_MODULE = "crawler.commands"

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
# uvloop (a dependency except on Windows) runs the event loop for less CPU per request.
ASYNCIO_EVENT_LOOP = "uvloop.Loop" if find_spec("uvloop") else None
# Scrapy 2.19's stats collector pays a deprecation shim on every call: ~10 % of the CPU time.
STATS_CLASS = "crawler.tuning.LeanStatsCollector"
# No per-URL "Crawled"/"Scraped" DEBUG records unless LOG_LEVEL shows them (~3 % of the CPU).
LOG_FORMATTER = "crawler.tuning.QuietLogFormatter"
DOWNLOAD_HANDLERS = {
    "http": "crawler.handler.AiohttpDownloadHandler",
    "https": "crawler.handler.AiohttpDownloadHandler",
}
# A lean stack: every middleware costs CPU on every request. A checker follows no links, so
# Scrapy's link-following middlewares go (offsite, depth, URL length: the spider checks
# URLLENGTH_LIMIT itself, meta-copy warnings). The referer middleware stays: the redirect
# middlewares rely on it to drop or rewrite the Referer header on redirects.
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    # Scrapy's robots.txt middleware lets waiting requests through (see middlewares/robots.py)
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "middlewares.robots.RobotsTxtMiddleware": 100,
    "middlewares.politeness.PoliteRetryMiddleware": 550,
    "middlewares.methods.CheckMethodMiddleware": 540,
    "middlewares.tracking.UrlTrackingMiddleware": 950,
}
SPIDER_MIDDLEWARES = {
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
    "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
}
ITEM_PIPELINES = {
    "crawler.checker.pipeline.ResultPipeline": 300,
    "crawler.checker.cache.CachePipeline": 310,
    # last: counts the rows for the run summary (a project's pipeline must come before 1000)
    "crawler.output.run_summary.RunSummaryPipeline": 1000,
}
EXTENSIONS = {"crawler.redact.RedactCredentials": 0}
FEED_EXPORTERS = {
    "csv": "crawler.output.exporters.FlatCsvItemExporter",
    "json": "crawler.output.exporters.FlushingJsonItemExporter",
    "jsonlines": "crawler.output.exporters.FlushingJsonLinesItemExporter",
    "jsonl": "crawler.output.exporters.FlushingJsonLinesItemExporter",
}
FEED_EXPORT_FIELDS = list(FIELDS)
FEED_EXPORT_ENCODING = "utf-8"

# A checker asks each URL once, politely but in parallel.
CONCURRENT_REQUESTS = 64
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_TIMEOUT = 30
# A checker reports bad certificates (outcome "tls") instead of trusting everything.
DOWNLOAD_VERIFY_CERTIFICATES = True
RETRY_TIMES = 2
# Retry only what a second try can change: timeouts, resets, truncated bodies, gateway errors.
# A DNS failure, a refused port, a bad certificate or an invalid response are reported at once;
# 429 is rate limiting (reported as rate_limited), 500 is usually the page itself.
RETRY_EXCEPTIONS = [
    "scrapy.exceptions.DownloadTimeoutError",
    "scrapy.exceptions.ResponseDataLossError",
    "crawler.exceptions.DownloadConnectionResetError",
    "twisted.internet.error.ConnectionDone",
    "twisted.internet.error.ConnectionLost",
    "twisted.internet.error.TimeoutError",
]
RETRY_HTTP_CODES = [502, 503, 504, 522, 524, 408]
# A retry goes ahead of the entries queued by read-ahead (Scrapy's -1 puts it behind them all):
# behind up to CRAWLER_READ_AHEAD requests, its total_ms would count our queue, not the site.
RETRY_PRIORITY_ADJUST = 1
# Giving up on a URL is a designed outcome, reported in its row and on the console list of
# failures: not an ERROR line (ERROR is for the run's own failures; Scrapy logs it at ERROR).
RETRY_GIVE_UP_LOG_LEVEL = "DEBUG"
ROBOTSTXT_OBEY = False
COOKIES_ENABLED = False
# No way in for other local processes: Scrapy's telnet console and its remote-control HTTP
# server (2.19) both run Python code sent to them; the latter also leaves a job file per run.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
# One row per response: Scrapy's default of 100 starts 100 tasks per response to process it.
CONCURRENT_ITEMS = 1
LOG_LEVEL = "INFO"
# The CRAWLER_* settings keep their defaults, which live in crawler.names.SETTINGS.

# Progress while it runs; a summary when it ends (logged; written to files on request).
EXTENSIONS["crawler.output.progress.ProgressExtension"] = 500
EXTENSIONS["crawler.output.run_summary.RunSummaryExtension"] = 500
