"""Product descriptions are markdown, rendered safely: raw HTML is escaped and only safe links survive.

markdown-it-py with ``html=False`` never passes HTML through, and its ``validateLink`` refuses
``javascript:``, ``vbscript:``, ``file:`` and non-image ``data:`` URLs. Links open in a new tab without
handing over the opener.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

MAX_SOURCE = 20_000


@cache
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("link_open", _link_open)
    return md


def _link_open(self: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    tokens[idx].attrSet("rel", "nofollow noopener noreferrer")
    tokens[idx].attrSet("target", "_blank")
    return self.renderToken(tokens, idx, options, env)


def render(source: str) -> str:
    """Safe HTML for a markdown description (longer sources are cut, never rejected here)."""
    return str(_parser().render(source[:MAX_SOURCE]))


def plain(source: str, limit: int = 160) -> str:
    """A one-line text summary, for cards and meta tags."""
    tokens: list[Any] = _parser().parse(source[:MAX_SOURCE])
    words = " ".join(
        child.content
        for token in tokens
        if token.type == "inline"
        for child in token.children or []
        if child.type in ("text", "code_inline")
    )
    return " ".join(words.split())[:limit]
