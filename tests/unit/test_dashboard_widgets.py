"""What people typed, shown by the dashboards as itself: no markdown construct survives."""

from __future__ import annotations

import re

from dashboards.widgets import plain


def test_markdown_in_a_message_is_shown_as_text() -> None:
    for typed in (
        "![pixel](http://elsewhere.example/p.png)",
        "[click me](javascript:alert(1))",
        ":red[alarm] **bold** _it_ `code` $x^2$ <b>html</b> # heading",
        "> quote\n- item\n1. first",
    ):
        escaped = plain(typed)
        # Every markdown-significant character is escaped, and escaping loses nothing.
        assert re.sub(r"\\(.)", r"\1", escaped) == typed
        assert not re.search(r"(?<!\\)[\[\]()*_`$:<>#!~|-]", escaped), escaped


def test_ordinary_text_is_left_alone() -> None:
    assert plain("see you at 5, ok?") == "see you at 5, ok?"
