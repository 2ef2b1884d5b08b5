"""Static sites written to disk for nginx to serve, with what a site check must find on them.

:func:`plant_site` writes a small site where every kind of link is planted once (nested pages,
relative and absolute links, ``<base href>``, ``srcset``, a loop, broken internal and external
links, missing fragments, redirects in and out of the scope, ``rel=nofollow``, assets) and
returns the exact broken links and missing fragments. :func:`big_site` writes a large site
quickly (a tree for reach, pseudo-random links for fan-in) and returns every distinct URL on it.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 2000


def page(*body: str, head: str = "") -> str:
    lines = "\n".join(body)
    return f"<!doctype html>\n<html><head>{head}</head><body>\n{lines}\n</body></html>\n"


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for path, content in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)


@dataclass
class Planted:
    """What a check of the planted site must report, and the nginx configuration it needs."""

    broken: set[tuple[str, str]] = field(default_factory=set)
    """Every not-ok link as ``(url, first page linking to it)``, missing fragments included."""
    missing_fragments: set[tuple[str, str]] = field(default_factory=set)
    """The links ``page#fragment`` whose page has no such anchor, as ``(url, page)``."""
    rows: set[str] = field(default_factory=set)
    """Every URL that gets a row: the seed, each distinct link, each missing fragment."""
    not_found: set[str] = field(default_factory=set)
    """Links that must not be reached at all (behind nofollow, or past a redirect out)."""
    sitemap: str = ""
    """The robots.txt whose ``Sitemap:`` line names the sitemap index."""
    orphans: set[tuple[str, str]] = field(default_factory=set)
    """Rows only a crawl with the sitemap has, as ``(url, found_on)``: a page no page links to
    (found in the ``.xml.gz`` part) and the broken link on it."""
    site_config: str = ""
    outside_config: str = ""


def plant_site(root: Path, outside: Path, base: str, ext: str) -> Planted:
    """Write the site at ``root`` (served at ``base``) and the outside host's files at
    ``outside`` (served at ``ext``, another host: out of the scope, and 404 but for ``/fine``)."""
    home = f"{base}/"
    write(
        root,
        {
            "/index.html": page(
                '<a href="docs/">a directory index</a>',
                '<a href="/docs/a.html">absolute path</a>',
                f'<a href="{base}/about.html">absolute URL</a>',
                '<a href="missing.html">broken internal</a>',
                f'<a href="{ext}/gone">broken external</a>',
                f'<a href="{ext}/fine">fine external</a>',
                '<a href="hidden.html" rel="nofollow">not followed</a>',
                '<img src="img/logo.png" srcset="img/logo.png 1x, img/logo-2x.png 2x, '
                'img/logo-3x.png 3x">',
                '<a href="old.html">redirected inside</a>',
                '<a href="old-broken.html">redirected inside to nothing</a>',
                '<a href="leave.html">redirected outside</a>',
                '<a href="leave-broken.html">redirected outside to nothing</a>',
                '<a href="#intro">missing fragment on the page itself</a>',
                '<a href="javascript:void(0)">not a link</a>',
                '<a href="private/secret.html">disallowed by robots.txt</a>',
                head='<link rel="stylesheet" href="css/site.css">',
            ),
            "/docs/index.html": page(
                '<a href="a.html">A</a>', '<a href="deep/c.html#named">a named anchor</a>'
            ),
            "/docs/a.html": page(
                '<a href="b.html">loop to B</a>',
                '<a href="b.html#nosuch">missing fragment</a>',
                '<a href="b.html#sec">an id</a>',
                '<a href="../index.html">home by name</a>',
                '<a href="/docs/gone.html">broken internal</a>',
            ),
            "/docs/b.html": page(
                '<h2 id="sec">B</h2>',
                '<a href="a.html">loop to A</a>',
                '<a href="a.html#top">t</a>',
            ),
            "/docs/deep/c.html": page(
                '<a href="d.html">through base</a>',
                '<a href="x.html">broken through base</a>',
                '<a name="named">named</a>',
                head='<base href="/other/">',
            ),
            "/other/d.html": page(
                f'<a href="{ext}/gone">the broken external again</a>',
                '<img srcset="pic.png 1x, pic-missing.png 2x" alt="">',
            ),
            "/other/pic.png": PNG,
            "/about.html": page(
                '<a href="about-child.html">checked, not followed</a>',
                head='<meta name="robots" content="noindex, nofollow">',
            ),
            "/about-child.html": page('<a href="about-broken.html">behind nofollow</a>'),
            "/hidden.html": page('<a href="hidden-broken.html">behind nofollow</a>'),
            "/css/site.css": "body { color: black }\n",
            "/robots.txt": f"User-agent: *\nDisallow: /private/\nSitemap: {base}/sitemap-index.xml\n",
            "/private/secret.html": page("<p>never fetched</p>"),
            "/sitemap-index.xml": _sitemap_index(
                f"{base}/sitemap-a.xml", f"{base}/sitemap-b.xml.gz"
            ),
            "/sitemap-a.xml": _urlset(home, f"{base}/docs/a.html"),
            "/sitemap-b.xml.gz": gzip.compress(_urlset(f"{base}/orphan.html").encode()),
            "/orphan.html": page(
                '<a href="orphan-broken.html">broken, on a page only the sitemap names</a>'
            ),
            "/img/logo.png": PNG,
            "/img/logo-2x.png": PNG,
        },
    )
    write(outside, {"/fine": page('<a href="/never-crawled">outside: not parsed</a>')})
    fine = {
        *(f"{base}/{path}" for path in ("docs/", "docs/a.html", "docs/b.html", "docs/deep/c.html")),
        *(f"{base}/{path}" for path in ("index.html", "about.html", "about-child.html")),
        *(f"{base}/{path}" for path in ("hidden.html", "css/site.css", "img/logo.png")),
        *(f"{base}/{path}" for path in ("img/logo-2x.png", "old.html", "leave.html")),
        *(f"{base}/{path}" for path in ("other/d.html", "other/pic.png")),
        home,
        f"{ext}/fine",
    }
    missing = {
        (f"{base}/#intro", home),
        (f"{base}/docs/b.html#nosuch", f"{base}/docs/a.html"),
        # the home page by name is another page, parsed again, with the same missing anchor
        (f"{base}/index.html#intro", f"{base}/index.html"),
    }
    broken = {
        (f"{base}/missing.html", home),
        (f"{ext}/gone", home),
        (f"{base}/img/logo-3x.png", home),
        (f"{base}/old-broken.html", home),
        (f"{base}/leave-broken.html", home),
        (f"{base}/docs/gone.html", f"{base}/docs/a.html"),
        (f"{base}/other/x.html", f"{base}/docs/deep/c.html"),
        (f"{base}/other/pic-missing.png", f"{base}/other/d.html"),
        (f"{base}/private/secret.html", home),  # a robots row: disallowed, never requested
        *missing,
    }
    return Planted(
        broken=broken,
        missing_fragments=missing,
        rows=fine | {url for url, _ in broken},
        not_found={
            f"{base}/hidden-broken.html",
            f"{base}/about-broken.html",
            f"{ext}/never-crawled",
        },
        sitemap=f"{base}/robots.txt",
        orphans={
            (f"{base}/orphan.html", f"{base}/sitemap-b.xml.gz"),
            (f"{base}/orphan-broken.html", f"{base}/orphan.html"),
        },
        site_config=f"""
        location = /old.html {{ return 301 /docs/b.html; }}
        location = /old-broken.html {{ return 301 /nowhere.html; }}
        location = /leave.html {{ return 301 {ext}/fine; }}
        location = /leave-broken.html {{ return 301 {ext}/gone-too; }}
""",
        outside_config="        location = /fine { default_type text/html; }\n",
    )


def _sitemap_index(*sitemaps: str) -> str:
    entries = "".join(f"<sitemap><loc>{url}</loc></sitemap>" for url in sitemaps)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>\n'
    )


def _urlset(*pages: str) -> str:
    entries = "".join(f"<url><loc>{url}</loc></url>" for url in pages)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>\n'
    )


def big_page_path(index: int) -> str:
    """Page ``index``'s path: the home page, or one of 100 pages in a numbered directory."""
    return "/" if index == 0 else f"/p/{index // 100}/{index}.html"


@dataclass
class BigSite:
    urls: set[str]
    """Every distinct URL a check from the home page must give a row."""
    links: int
    """Links on the pages, repeats included."""


def big_site(root: Path, base: str, pages: int, links: int = 20) -> BigSite:
    """Write a site of ``pages`` pages of ``links`` links each (and one broken link on every
    50th page).

    Each page links to its ten children in a tree (every page within a few links of the home
    page) and to pseudo-random pages for the rest, so most pages are linked from many.
    """
    urls = {f"{base}/"}
    count = 0
    links = min(links, pages - 2)  # a link to every other page but the home page, at most
    for index in range(pages):
        targets = [child for child in range(10 * index + 1, 10 * index + 11) if child < pages]
        step = 0
        while len(targets) < links:
            step += 1
            target = (index * 7919 + step * 104729) % pages
            if target not in (0, index) and target not in targets:
                targets.append(target)
        body = [f'<p><a href="{big_page_path(t)}">page {t}</a></p>' for t in targets]
        if index % 50 == 0:
            body.append(f'<a href="/missing/{index}.html">broken</a>')
            urls.add(f"{base}/missing/{index}.html")
        count += len(body)
        path = "/index.html" if index == 0 else big_page_path(index)
        target_file = root / path.lstrip("/")
        target_file.parent.mkdir(parents=True, exist_ok=True)
        target_file.write_text(page(f"<h1>Page {index}</h1>", *body))
        if index:
            urls.add(f"{base}{path}")
    return BigSite(urls, count)
