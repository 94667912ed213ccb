"""The chat's word filter (pure logic): normalisation, match kinds, the allow-list, and its
quality on the project's own labelled set."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from domain.moderation import lexicon, normalize
from domain.moderation.evaluate import EvaluationError, evaluate, read_rows
from domain.moderation.filter import Rule, WordFilter
from domain.moderation.rules import compiled, load_rules
from stack.main import app

DATA = Path(__file__).resolve().parents[2] / "bench" / "data"


@pytest.fixture(scope="module")
def small() -> WordFilter:
    rules = [
        Rule("word:ass", "ass"),
        Rule("word:fuck", "fuck", "anywhere"),
        Rule("word:cock", "cock", "prefix"),
        Rule("word:hole", "hole", "suffix"),
        Rule("word:kill-yourself", "kill yourself"),
    ]
    return WordFilter(rules, allow=["cocktail"])


def caught(word_filter: WordFilter, text: str) -> list[tuple[str, str]]:
    return [(hit.rule.id, hit.original) for hit in word_filter.scan(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("you ass", [("word:ass", "ass")]),
        ("the assassin passed the class", []),  # whole word: no ass inside other words
        ("motherfucker", [("word:fuck", "fuck")]),  # anywhere
        ("what a cockhead", [("word:cock", "cock")]),  # prefix
        ("a peacock", []),  # prefix: not at the end of a word
        ("cocktail party", []),  # allow-listed
        ("arsehole", [("word:hole", "hole")]),  # suffix
        ("holes in it", []),  # suffix: not at the start of a word
        ("go kill yourself", [("word:kill-yourself", "kill yourself")]),  # a phrase
    ],
)
def test_match_kinds_and_the_allow_list(
    small: WordFilter, text: str, expected: list[tuple[str, str]]
) -> None:
    assert caught(small, text) == expected


@pytest.mark.parametrize(
    ("text", "original", "steps"),
    [
        ("sh1t happens", "sh1t", ["leetspeak"]),
        ("a$$", "a$$", ["leetspeak"]),
        ("f.u.c.k you", "f.u.c.k", ["separators"]),
        ("what a b-e-l-l-e-n-d", "b-e-l-l-e-n-d", ["separators"]),
        ("fuuuuuck", "fuuuuuck", ["repeats"]),
        ("asssss", "asssss", ["repeats"]),
        ("\uff46\uff55\uff43\uff4b off", "\uff46\uff55\uff43\uff4b", ["unicode"]),  # fullwidth
        ("f\u200bu\u200bc\u200bk", "f\u200bu\u200bc\u200bk", ["unicode"]),  # zero-width
        ("\u0430ss", "\u0430ss", ["confusables"]),  # a Cyrillic a
        ("F\u00dcCK", "F\u00dcCK", ["unicode", "case"]),
        ("SH!T!", "SH!T", ["case", "leetspeak"]),
    ],
)
def test_obfuscations_are_undone_and_explained(text: str, original: str, steps: list[str]) -> None:
    hits = compiled().scan(text)
    assert [hit.original for hit in hits] == [original]
    assert [step for step, _ in hits[0].steps] == steps
    assert hits[0].steps[-1][1] in {"shit", "ass", "fuck", "bellend"}


def test_an_asterisk_for_a_vowel_and_a_doubled_vowel(small: WordFilter) -> None:
    assert caught(small, "what the f*ck") == [("word:fuck", "f*ck")]
    assert caught(small, "fuuck") == [("word:fuck", "fuuck")]


def test_ids_and_hashes_are_not_words() -> None:
    # Hex folds to letters (8 -> b, 0 -> o): "800be611..." would be "boobe...".
    assert compiled().scan("fault run 800be6112a1449d9a6b5d899b97e83fc") == []
    assert compiled().scan("commit b00b1e214f124d0a8565fed2e913561e") == []
    assert [hit.original for hit in compiled().scan("b00bs")] == ["b00bs"]


def test_numbers_are_not_words() -> None:
    # 455 folds to "ass" and 5h1t to "shit": a span of digits alone is a number.
    assert compiled().scan("room 455 at 5, call 555 0134") == []
    assert [hit.original for hit in compiled().scan("5h1t")] == ["5h1t"]


def test_an_apostrophe_starts_no_separated_run() -> None:
    hits = compiled().scan("he's a f_a_g_g_o_t")
    assert [hit.original for hit in hits] == ["f_a_g_g_o_t"]


def test_mask_keeps_the_spaces_and_the_rest(small: WordFilter) -> None:
    text = "go kill yourself, ass"
    assert small.mask(text, small.scan(text)) == "go **** ********, ***"


def test_hits_map_back_to_the_original_text_through_every_transformation() -> None:
    text = "ok \uff46\uff55\uff55\uff55\uff55\uff43\uff4b and s h i t!"
    hits = compiled().scan(text)
    assert [text[hit.start : hit.end] for hit in hits] == [hit.original for hit in hits]
    assert [hit.original for hit in hits] == [
        "\uff46\uff55\uff55\uff55\uff55\uff43\uff4b",
        "s h i t",
    ]


def test_the_fold_keeps_positions() -> None:
    for text in ["Sh1t @ $5", "\u0430\u0435\u043e x", "plain words"]:
        assert len(normalize.fold(text)) == len(text)


def test_rules_come_from_the_packages_minus_the_exclusions_plus_settings() -> None:
    rules, allow = load_rules(extra=["blorp"], allow=["flubber"])
    by_pattern = {rule.pattern: rule for rule in rules}
    assert by_pattern["shit"].source == "better-profanity"
    assert by_pattern["shit"].kind == "anywhere"
    assert by_pattern["kys"].source == "studyhub"
    assert by_pattern["blorp"].source == "settings"
    for excluded in ("penis", "hitler", "god", "hell", "kill"):
        assert excluded not in by_pattern
    assert "scunthorpe" in allow
    assert "flubber" in allow


def test_an_unknown_match_kind_in_the_rules_file_is_named(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[kinds]\nsomewhere = ["x"]\n')
    with pytest.raises(ValueError, match="unknown match kind 'somewhere'"):
        load_rules(rules)


@pytest.mark.parametrize("half", ["tune", "test"])
def test_quality_on_the_projects_labelled_set(half: str) -> None:
    rows = read_rows(DATA / f"moderation-{half}.csv", "text", "label")
    report = evaluate(compiled(), rows, {"abusive"}, repeat=1)
    assert report.precision >= 0.97
    assert report.recall >= 0.90
    with (DATA / f"moderation-{half}.csv").open(encoding="utf-8") as handle:
        scunthorpe = [row["text"] for row in csv.DictReader(handle) if row["kind"] == "scunthorpe"]
    assert len(scunthorpe) >= 20
    assert [text for text in scunthorpe if compiled().scan(text)] == []


@pytest.mark.parametrize("held", ["holdout", "holdout2", "holdout3"])
def test_the_held_out_sets_mistakes_stay_fixed(held: str) -> None:
    """Each was scored once before any rule looked at it (docs/moderation.md has those
    numbers); its mistakes were fixed after, and must not come back."""
    rows = read_rows(DATA / f"moderation-{held}.csv", "text", "label")
    report = evaluate(compiled(), rows, {"abusive"}, repeat=1)
    assert (report.false_positives, report.false_negatives) == (0, 0)


@pytest.mark.parametrize(
    "text",
    [
        "the saltwater tank",
        "my smartwatch died",
        "the trip to Phuket",
        "Fukuyama's end of history",
        "Yamashita's theorem",
        "a Dickensian orphanage",
        "the fire retardant",
        "the cockatiel sings",
        "Dick Turpin was a highwayman",
        "Philip K. Dick wrote it",
        "we ate spotted dick",
    ],
)
def test_the_scunthorpe_lexicon_and_names_let_words_through(text: str) -> None:
    assert compiled().scan(text) == []


@pytest.mark.parametrize(
    ("text", "caught"),
    [
        ("you fucking idiot", ["fucking", "idiot"]),
        ("what bullshit", ["bullshit"]),
        ("dickhead", ["dickhead"]),
        ("you motherfucker", ["motherfucker"]),
        ("you dick", ["dick"]),
        ("You Dick", ["Dick"]),
        ("DICK TURPIN", ["DICK"]),
        ("a twat", ["twat"]),
    ],
)
def test_abuse_built_on_the_same_roots_is_still_caught(text: str, caught: list[str]) -> None:
    assert [hit.original for hit in compiled().scan(text)] == caught


@pytest.mark.parametrize(
    ("word", "verdict"),
    [
        ("saltwater", True),
        ("cocktail", True),
        ("phuket", True),
        ("fucking", False),
        ("bullshit", False),
        ("motherfuckers", False),
        ("shitheads", False),
        ("fuckk", False),
        ("niggaz", False),
        ("hello", None),
        ("hancock", None),  # cock only matches as a prefix: nothing to allow
    ],
)
def test_the_lexicon_rule(word: str, verdict: bool | None) -> None:
    assert lexicon.innocent(word, lexicon.roots()) is verdict


def test_the_committed_lexicon_is_what_the_generator_writes() -> None:
    pytest.importorskip("wordfreq", reason="wordfreq is in the dev extra")
    assert lexicon.is_current()


def test_the_evaluate_command_prints_json_and_names_a_missing_column() -> None:
    runner = CliRunner()
    path = str(DATA / "moderation-tune.csv")
    args = ["moderation", "evaluate", "--csv", path, "--text-column", "text"]
    result = runner.invoke(
        app, [*args, "--label-column", "label", "--positive", "abusive", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["confusion"]["true_positives"] + report["confusion"]["false_negatives"] > 100
    assert report["cost_us"]["mean"] > 0
    missing = runner.invoke(app, [*args, "--label-column", "verdict", "--positive", "abusive"])
    assert missing.exit_code == 2
    assert "no column 'verdict'" in missing.output


def test_no_positive_label_is_an_error() -> None:
    with pytest.raises(EvaluationError, match="no row has a positive label"):
        evaluate(compiled(), [("hello", "clean")], {"abusive"})
