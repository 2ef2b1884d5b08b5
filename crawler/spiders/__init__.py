"""The checker's spiders, shipped in the package (``SPIDER_MODULES``), so that an installed
``crawler`` brings ``scrapy crawl urls`` along without a top-level ``spiders`` package."""
