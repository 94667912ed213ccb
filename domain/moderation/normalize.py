"""Text normalisation for the word filter, with a map back to the original text.

The filter scans a *folded* copy of a message. Folding is one ``str.translate`` (lower case,
leetspeak, look-alike characters), so that for plain ASCII text, which is nearly all of it,
a position in the folded copy is the same position in the message: no map to build. The
rarer transformations change positions, and build a map only when a message needs them:

- Unicode: NFKD per character, combining marks and format characters (zero-width joiners,
  soft hyphens) dropped. Only for text that is not ASCII.
- Repeated letters: runs of three or more of a letter ("fuuuuck", "asssss") are collapsed to
  one and to two, and both copies are scanned. Only when such a run exists.
- Separators: three or more single letters with separators between them ("f.u.c.k",
  "f u c k", "f-u-c-k") are joined. Only when such a sequence exists.

``explain`` replays those steps on one caught span, so a moderator sees how ``sh1t`` became
``shit``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Final

# Digits and symbols that stand in for letters. A span made of digits alone is never a match
# ("455" is a room number, not a word); see filter.WordFilter._accept.
LEET: Final = {
    "0": "o",
    "1": "i",
    "3": "e",
    "4": "a",
    "5": "s",
    "7": "t",
    "8": "b",
    "9": "g",
    "@": "a",
    "$": "s",
    "!": "i",
    "|": "l",
    "+": "t",
    "€": "e",
}

# Three or more single letters, each followed by separators: f.u.c.k, f u c k.
# The same separator throughout, so that "a b-e-l-l-e-n-d" joins to "a bellend".
# Not after an apostrophe: the s of "he's" starts no run.
# Its end is checked on the text before folding: the "!" of "s h i t!" folds to a letter.
SPACED_RE: Final = re.compile(r"(?<![a-z'])[a-z]([ .\-_*,/\\~`\":;]+)(?:[a-z]\1)+[a-z]")
RUN3_RE: Final = re.compile(r"([a-z])\1{2,}")
# Either of the two, in one pass: nearly every message has neither.
OBFUSCATED_RE: Final = re.compile(
    r"([a-z])\1\1|(?<![a-z'])[a-z]([ .\-_*,/\\~`\":;]+)(?:[a-z]\2)+[a-z]"
)


@lru_cache(maxsize=1)
def _confusables() -> dict[str, str]:
    """Look-alike characters -> the ASCII letter or digit they imitate, from the Unicode
    confusables data that ``confusable-homoglyphs`` ships (MIT): the Cyrillic and Greek a and o,
    mathematical and fullwidth letters, and the rest."""
    path = metadata.distribution("confusable-homoglyphs").locate_file(
        "confusable_homoglyphs/confusables.json"
    )
    data: dict[str, list[dict[str, str]]] = json.loads(Path(str(path)).read_text("utf-8"))
    table: dict[str, str] = {}
    for target, glyphs in data.items():
        plain = target.lower()
        if len(plain) != 1 or not (plain.isascii() and plain.isalnum()):
            continue
        for glyph in glyphs:
            char = glyph["c"]
            if len(char) == 1 and not char.isascii() and char not in table:
                table[char] = plain
    return table


@lru_cache(maxsize=1)
def fold_table() -> dict[int, str]:
    """The ``str.translate`` table: every character to at most one, so positions hold."""
    table: dict[int, str] = {}
    for char, plain in _confusables().items():
        table[ord(char)] = LEET.get(plain, plain)
    for upper in range(ord("A"), ord("Z") + 1):
        table[upper] = chr(upper).lower()
    for char, plain in LEET.items():
        table[ord(char)] = plain
    return table


def fold(text: str) -> str:
    """Lower case, leetspeak and look-alikes, one character for one: ``len(fold(t)) == len(t)``."""
    return text.translate(fold_table())


@dataclass(frozen=True, slots=True)
class Mapped:
    """A transformed text and, for each of its characters, the index it came from."""

    text: str
    origin: list[int]


def unicode_plain(text: str) -> Mapped:
    """NFKD per character without combining marks or format characters (an umlaut dropped,
    fullwidth letters made plain, a zero-width space dropped), and where each came from."""
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if char.isascii():
            out.append(char)
            origin.append(index)
            continue
        if unicodedata.category(char) == "Cf":
            continue
        for part in unicodedata.normalize("NFKD", char):
            if unicodedata.combining(part) or unicodedata.category(part) in ("Mn", "Me", "Cf"):
                continue
            out.append(part)
            origin.append(index)
    return Mapped("".join(out), origin)


def collapse_runs(text: str, keep: int) -> Mapped:
    """Runs of three or more of one letter cut to ``keep`` (1 or 2) letters."""
    out: list[str] = []
    origin: list[int] = []
    position = 0
    for match in RUN3_RE.finditer(text):
        start, end = match.span()
        out.append(text[position:start])
        origin.extend(range(position, start))
        out.append(match.group(1) * keep)
        # The kept letters stand for the whole run: the last one maps to the run's end, so that
        # a span ending on it covers every repeated letter.
        origin.extend([start] * (keep - 1) + [end - 1])
        position = end
    out.append(text[position:])
    origin.extend(range(position, len(text)))
    return Mapped("".join(out), origin)


def join_spaced(text: str, plain: str | None = None) -> Mapped:
    """``text`` (folded) with each run of separated single letters (f.u.c.k) joined into one
    word. ``plain`` is the text before folding, position for position (default: ``text``)."""
    before = text if plain is None else plain
    out: list[str] = []
    origin: list[int] = []
    position = 0
    for match in SPACED_RE.finditer(text):
        start, end = match.span()
        if end < len(before) and before[end].isalnum():
            continue  # the last letter starts a word: "s h i tea" is no run
        out.append(text[position:start])
        origin.extend(range(position, start))
        for index in range(start, end):
            if "a" <= text[index] <= "z":
                out.append(text[index])
                origin.append(index)
        position = end
    out.append(text[position:])
    origin.extend(range(position, len(text)))
    return Mapped("".join(out), origin)


def explain(original: str, word: str | None = None) -> list[tuple[str, str]]:
    """The steps that turned a caught span into the word it matched, each with its result:
    e.g. ``[("leetspeak", "shit")]`` for ``sh1t``. Run on hits only, never per message."""
    steps: list[tuple[str, str]] = []
    current = original
    if not current.isascii():
        plain = unicode_plain(current).text
        confusables = plain.translate(
            {ord(char): plain_char for char, plain_char in _confusables().items()}
        )
        if plain != current:
            steps.append(("unicode", plain))
        if confusables != plain:
            steps.append(("confusables", confusables))
        current = confusables
    lowered = current.lower()
    if lowered != current:
        steps.append(("case", lowered))
    leet = lowered.translate({ord(char): plain for char, plain in LEET.items()})
    if leet != lowered:
        steps.append(("leetspeak", leet))
    joined = join_spaced(leet, lowered).text
    if joined != leet:
        steps.append(("separators", joined))
    collapsed = collapse_runs(joined, 1).text
    if word is not None and word not in collapsed and word in collapse_runs(joined, 2).text:
        collapsed = collapse_runs(joined, 2).text  # "asssss" was "ass", not "as"
    if collapsed != joined:
        steps.append(("repeats", collapsed))
    return steps
