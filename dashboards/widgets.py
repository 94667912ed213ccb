"""Small pieces every page uses: cursor paging over the API's lists."""

from __future__ import annotations

from collections.abc import Hashable

import streamlit as st


def page_cursor(key: str, filters: Hashable) -> str | None:
    """The cursor of the page to show for list ``key``; back to the first page whenever the
    filters change (an old cursor means nothing under new filters)."""
    if st.session_state.get(f"{key}:filters") != filters:
        st.session_state[f"{key}:filters"] = filters
        st.session_state[f"{key}:cursors"] = [None]
    cursors: list[str | None] = st.session_state[f"{key}:cursors"]
    return cursors[-1]


def pager(key: str, next_cursor: str | None) -> None:
    """Previous and next buttons under a list fetched with ``page_cursor``."""
    cursors: list[str | None] = st.session_state[f"{key}:cursors"]
    back, where, forward = st.columns([1, 3, 1])
    if back.button("Previous", key=f"{key}:back", disabled=len(cursors) == 1):
        cursors.pop()
        st.rerun()
    where.caption(f"page {len(cursors)}")
    if forward.button("Next", key=f"{key}:next", disabled=next_cursor is None):
        cursors.append(next_cursor)
        st.rerun()


def id_input(label: str, key: str, *, help: str | None = None) -> int | None:
    """An id typed in, or None when empty. A text field, not a number field: our ids are
    64-bit Snowflakes, past the 2^53 a browser's number field holds exactly."""
    typed = st.text_input(label, key=key, help=help, placeholder="any").strip()
    if not typed:
        return None
    if not typed.isdigit() or not 0 < int(typed) < 2**63:
        st.error(f"{label}: {typed!r} is not an id (a positive whole number).")
        return None
    return int(typed)


_MARKDOWN_PUNCTUATION = frozenset("\\`*_{}[]()#+-.!|<>~:$=\"'&")


def plain(text: object) -> str:
    """``text`` shown as itself inside Streamlit markdown: every ASCII punctuation character
    a markdown construct could start with backslash-escaped (CommonMark allows it for all of
    them). For what people typed (messages, report reasons, room names): a body of
    ``![x](http://elsewhere/pixel)`` must not load an image in a moderator's browser, nor
    ``:red[...]`` or ``$...$`` restyle the page."""
    return "".join("\\" + c if c in _MARKDOWN_PUNCTUATION else c for c in str(text))
