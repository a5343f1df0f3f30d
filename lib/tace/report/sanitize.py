"""The article's HTML, cleaned once before any format is written: only the markup an article
needs survives, so that nothing a user, a cohort or a shared bundle wrote can run in the
reader's browser or make pandoc or Typst read a file.

User text is escaped where it enters the article (:mod:`tace.io.text`); this is the second
line, applied at one place (:func:`tace.report.render.build_article`), to everything the
notebooks and the article source produced. It uses nh3, the Python binding of the Rust
sanitiser ammonia (an allowlist parser built on html5ever, the HTML5 parsing algorithm the
browsers use), with:

- an allowlist of tags and attributes; ``<script>``, ``<style>`` and their content are
  dropped, as is every event handler (``on...``) and ``style`` attribute;
- links only to the article's own anchors (``#...``), files inside the run folder (relative
  paths without ``..``) and ``http``/``https``/``mailto`` addresses;
- control and direction-override characters (a right-to-left override from a shared bundle's
  text, say) shown as ``[U+XXXX]`` wherever they stand;
- images only from the run's own figure files (``figures/<id>.png`` or ``.svg``) or a PNG
  data URI (the HTML inlines its figures): an ``<img>`` with any other source is removed,
  so that pandoc (DOCX) cannot embed a local file and Typst (PDF) cannot fail on one.

References
----------
OWASP Cross Site Scripting Prevention Cheat Sheet, rule 6 ("Sanitize HTML markup with a
library designed for the job").
"""

from __future__ import annotations

import re

import nh3

from ..io.text import show_hidden

__all__ = ["clean_article_html"]

_TAGS = {"a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "div", "dl", "dt",
         "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre",
         "section", "small", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
         "u", "ul"}
_ATTRIBUTES = {"*": {"id", "class", "title", "data-key", "data-value", "data-cell"},
               "a": {"href"}, "img": {"src", "alt", "width"}, "td": {"colspan", "rowspan"},
               "th": {"colspan", "rowspan", "scope"}, "ol": {"start"}, "code": {"class"}}
_FIGURE_FILE = re.compile(r"^figures/[A-Za-z0-9_-]+\.(png|svg)$")
_PNG_DATA = re.compile(r"^data:image/png;base64,[A-Za-z0-9+/=\s]+$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_NO_SOURCE = re.compile(r"<img(?![^>]*\ssrc=)[^>]*>")


def _link(value: str) -> bool:
    if value.startswith("#"):
        return True
    if _SCHEME.match(value):
        return value.lower().startswith(("http://", "https://", "mailto:"))
    return not value.startswith(("/", "\\")) and ".." not in value.split("/") and "\\" not in value


def _attribute(tag: str, name: str, value: str) -> str | None:
    if tag == "img" and name == "src":
        return value if _FIGURE_FILE.match(value) or _PNG_DATA.match(value) else None
    if name == "href":
        return value if _link(value) else None
    return value


def clean_article_html(fragment: str) -> str:
    """The article's HTML ``fragment`` with only the allowed markup (see the module).

    >>> clean_article_html('<p onclick="x()">a<script>alert(1)</script></p><img src="/etc/passwd" alt="n">')
    '<p>a</p>'
    >>> clean_article_html('<img src="figures/fig-roc.svg" alt="ROC"> <a href="javascript:x()">j</a>')
    '<img src="figures/fig-roc.svg" alt="ROC"> <a>j</a>'
    """
    cleaned = nh3.clean(fragment, tags=_TAGS, clean_content_tags={"script", "style"}, attributes=_ATTRIBUTES,
                        attribute_filter=_attribute, link_rel=None,
                        url_schemes={"http", "https", "mailto", "data"}, strip_comments=True)
    return show_hidden(_NO_SOURCE.sub("", cleaned))
