"""`studyhub moderation`: the word filter from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import text

from core.db.sharding import ShardRouter
from core.settings import get_settings
from domain.moderation import lexicon
from domain.moderation.evaluate import EvaluationError, evaluate, read_rows
from domain.moderation.rules import compiled

app = typer.Typer(help="Moderation: the chat's word filter.", no_args_is_help=True)


CsvPath = Annotated[
    Path,
    typer.Option("--csv", exists=True, dir_okay=False, readable=True, help="A labelled CSV file."),
]
TextColumn = Annotated[str, typer.Option("--text-column", help="The column with the text.")]
LabelColumn = Annotated[str, typer.Option("--label-column", help="The column with the label.")]
Positive = Annotated[
    str, typer.Option("--positive", help="The label value(s) that mean abusive, comma-separated.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]
Mistakes = Annotated[int, typer.Option("--mistakes", min=0, help="Misclassified rows to show.")]


@app.command("evaluate")
def evaluate_command(
    csv_path: CsvPath,
    text_column: TextColumn,
    label_column: LabelColumn,
    positive: Positive,
    as_json: AsJson = False,
    mistakes: Mistakes = 10,
) -> None:
    """Score the chat's word filter (the same code and rules as the live chat) on a labelled
    CSV: precision, recall, F1, the confusion counts and the cost per message."""
    positives = {value.strip() for value in positive.split(",") if value.strip()}
    if not positives:
        raise typer.BadParameter("give at least one label value", param_hint="--positive")
    settings = get_settings()
    word_filter = compiled(
        tuple(settings.moderation_extra_words), tuple(settings.moderation_allow_words)
    )
    try:
        rows = read_rows(csv_path, text_column, label_column)
        report = evaluate(word_filter, rows, positives).to_dict(mistakes=mistakes)
    except EvaluationError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    confusion = report["confusion"]
    cost = report["cost_us"]
    typer.echo(f"{csv_path}: {report['rows']} rows, {len(word_filter)} rules")
    typer.echo(
        f"precision {report['precision']:.4f}  recall {report['recall']:.4f}  F1 {report['f1']:.4f}"
    )
    typer.echo(
        f"true positives {confusion['true_positives']}  false positives "
        f"{confusion['false_positives']}  true negatives {confusion['true_negatives']}  "
        f"false negatives {confusion['false_negatives']}"
    )
    typer.echo(
        f"cost per message: mean {cost['mean']} us, p50 {cost['p50']} us, p99 {cost['p99']} us"
    )
    for mistake in report["mistakes"]:
        rules = ", ".join(f"{hit['rule']} on {hit['original']!r}" for hit in mistake["hits"])
        typer.echo(f"  {mistake['kind']}: {mistake['text']!r}" + (f" ({rules})" if rules else ""))


Username = Annotated[str, typer.Argument(help="The user's username.")]
Role = Annotated[str, typer.Argument(help="member, moderator (acts on every queue item) or admin.")]


@app.command("lexicon")
def lexicon_command(
    top: Annotated[
        int,
        typer.Option("--top", min=1, help="How many of wordfreq's most frequent English words."),
    ] = lexicon.DEFAULT_TOP,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 if lexicon.txt is not what it would write.")
    ] = False,
) -> None:
    """Rewrite the Scunthorpe lexicon (domain/moderation/lexicon.txt) from wordfreq: words
    that contain a banned root and are not abuse. Needs the dev extra (wordfreq)."""
    try:
        words = lexicon.build(top)
    except ModuleNotFoundError:
        typer.echo("lexicon: wordfreq is not installed; it is in the dev extra", err=True)
        raise typer.Exit(2) from None
    content = lexicon.render(words, top)
    path = lexicon.LEXICON_FILE
    if check:
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            typer.echo(f"lexicon: {path} is stale; rerun without --check", err=True)
            raise typer.Exit(1)
        typer.echo(f"lexicon: {len(words)} words, up to date")
        return
    path.write_text(content, encoding="utf-8")
    typer.echo(f"lexicon: wrote {len(words)} words to {path}")


@app.command("set-role")
def set_role(username: Username, role: Role) -> None:
    """Give a user global moderation rights (moderator, admin) or take them (member)."""
    if role not in ("member", "moderator", "admin"):
        typer.echo(f"error: unknown role {role!r}; one of member, moderator, admin", err=True)
        raise typer.Exit(2)
    router = ShardRouter(get_settings())
    try:
        with router.directory_engine().begin() as connection:
            found = connection.execute(
                text("SELECT role FROM users WHERE username = :username"), {"username": username}
            ).first()
            if found is None:
                typer.echo(f"error: no user is named {username!r}", err=True)
                raise typer.Exit(1)
            connection.execute(
                text("UPDATE users SET role = :role WHERE username = :username"),
                {"role": role, "username": username},
            )
    finally:
        router.dispose()
    typer.echo(f"{username}: {found[0]} -> {role}")
