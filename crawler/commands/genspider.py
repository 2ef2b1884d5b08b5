"""``scrapy genspider``: Scrapy's templates (``basic``, ``crawl``…) and the project's
(``urlcheck``: a URL checker spider) side by side."""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path

import scrapy
from scrapy.commands.genspider import Command as ScrapyGenspiderCommand

PROJECT_TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "spiders"


class Command(ScrapyGenspiderCommand):
    """Scrapy's ``genspider``, finding templates in Scrapy's folder and the project's."""

    _merged: Path | None = None

    @property
    def templates_dir(self) -> str:
        """One folder holding both sets of templates (Scrapy reads a single folder)."""
        if self._merged is None:
            merged = Path(tempfile.mkdtemp(prefix="genspider-templates-"))
            weakref.finalize(self, shutil.rmtree, merged, ignore_errors=True)
            assert self.settings is not None
            scrapys = Path(self.settings["TEMPLATES_DIR"] or Path(scrapy.__path__[0], "templates"))
            for folder in (scrapys / "spiders", PROJECT_TEMPLATES):
                for template in folder.glob("*.tmpl"):
                    shutil.copy(template, merged / template.name)
            self._merged = merged
        return str(self._merged)
