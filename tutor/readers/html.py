"""HTML pages: the main content only, rewritten as Markdown for the general reader.

BeautifulSoup (``html.parser``, no compiled dependency) finds the page's ``<article>``/``<main>`` (the
largest, when a page has several), drops what is never answer text — scripts, styles, navigation,
forms, sidebars, cookie banners, comments, share and subscribe boxes, footers — and writes headings,
paragraphs, lists, code blocks and tables as Markdown.
"""

from __future__ import annotations

import re

_DROP_TAGS = ["script", "style", "noscript", "template", "svg", "iframe", "form", "button", "input", "select",
              "nav", "aside", "footer", "dialog", "object", "embed", "canvas", "video", "audio", "picture", "img"]
_DROP_MARKS = re.compile(
    r"cookie|consent|gdpr|banner|sidebar|side-bar|comment|share|social|newsletter|subscribe|related|advert|"
    r"\bads?\b|promo|breadcrumb|navbar|menu|popup|modal|footer|masthead|site-header|skip-link|author|tags?\b|"
    r"byline|\bmeta\b|post-meta|entry-meta|post-info|reading-time|pagination|toc\b",
    re.IGNORECASE,
)
_BLOCKS = {"p", "div", "section", "article", "main", "header", "blockquote", "ul", "ol", "li", "table", "tr",
           "dl", "dt", "dd", "figure", "figcaption", "details", "summary", "body", "hr", "br"}


def html_to_markdown(html: str) -> tuple[str | None, str]:
    """(page title, Markdown of the main content)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    page_title = soup.title.get_text(" ", strip=True) if soup.title else None
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    for tag in soup.find_all(_is_boilerplate):
        tag.decompose()
    candidates = soup.find_all(["article", "main"]) or soup.find_all(attrs={"role": "main"})
    root = max(candidates, key=lambda t: len(t.get_text(" ", strip=True))) if candidates else (soup.body or soup)
    heading = root.find("h1") or soup.find("h1")
    out: list[str] = []
    _write(root, out)
    markdown = re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()
    return (heading.get_text(" ", strip=True) if heading else page_title), markdown


def _is_boilerplate(tag) -> bool:
    if tag.name in ("html", "body", "article", "main") or tag.attrs is None:
        return False
    marks = " ".join([*tag.get("class", []), tag.get("id", ""), tag.get("role", ""), tag.get("aria-label", "")])
    return bool(marks.strip()) and bool(_DROP_MARKS.search(marks)) or tag.get("role") in ("navigation", "banner",
                                                                                           "contentinfo")


def _inline(tag) -> str:
    """A block's text on one line; inline code keeps its backticks."""
    from bs4 import NavigableString

    parts = []
    for node in tag.children:
        if isinstance(node, NavigableString):
            parts.append(str(node))
        elif node.name == "code":
            parts.append(f"`{node.get_text()}`")
        elif node.name in ("b", "strong"):
            parts.append(f"**{_inline(node).strip()}**")
        elif node.name == "br":
            parts.append("\n")
        else:
            parts.append(_inline(node))
    return re.sub(r"[ \t\r\f\v]+", " ", "".join(parts)).strip()


def _write(tag, out: list[str], depth: int = 0) -> None:
    """Append ``tag``'s blocks to ``out`` as Markdown lines."""
    from bs4 import NavigableString

    paragraph: list[str] = []

    def flush() -> None:
        text = re.sub(r"\s+", " ", "".join(paragraph)).strip()
        if text:
            out.extend([text, ""])
        paragraph.clear()

    for node in tag.children:
        if isinstance(node, NavigableString):
            if type(node).__name__ in ("Comment", "Doctype", "Declaration", "ProcessingInstruction"):
                continue
            paragraph.append(str(node))
        elif re.fullmatch(r"h[1-6]", node.name):
            flush()
            out.extend(["#" * int(node.name[1]) + " " + node.get_text(" ", strip=True), ""])
        elif node.name == "pre":
            flush()
            out.extend(["```", node.get_text().strip("\n"), "```", ""])
        elif node.name in ("ul", "ol"):
            flush()
            _write_list(node, out, depth)
            out.append("")
        elif node.name == "table":
            flush()
            for row in node.find_all("tr"):
                cells = [c.get_text(" ", strip=True) for c in row.find_all(["th", "td"])]
                out.append("- " + " | ".join(cells))
            out.append("")
        elif node.name == "p":
            flush()
            out.extend([_inline(node), ""])
        elif node.name in _BLOCKS:
            flush()
            _write(node, out, depth)
        else:
            paragraph.append(_inline(node) if node.name != "code" else f"`{node.get_text()}`")
    flush()


def _write_list(node, out: list[str], depth: int) -> None:
    """Items as ``-``/``1.`` lines, nested lists indented under their item."""
    import copy

    for n, item in enumerate(node.find_all("li", recursive=False), start=1):
        marker = f"{n}." if node.name == "ol" else "-"
        text = copy.copy(item)
        for nested in text.find_all(["ul", "ol"]):
            nested.decompose()
        out.append("  " * depth + f"{marker} {_inline(text)}")
        for nested in item.find_all(["ul", "ol"], recursive=False):
            _write_list(nested, out, depth + 1)
