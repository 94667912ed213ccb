"""The `studyhub` command: the stack manager (`stack`), the migrations (`db`) and the graph
jobs' evaluation (`graph`) and the word filter's (`moderation`).

It lives here, above core, because it imports the stack manager; core imports nothing above it.
"""

from __future__ import annotations

import logging

import typer

from core.db.cli import app as db_app
from domain.moderation.cli import app as moderation_app
from graph_jobs.cli import app as graph_app
from stack.cli import app as stack_app

app = typer.Typer(
    pretty_exceptions_show_locals=False,
    help="studyhub: the community platform of a study app.",
    no_args_is_help=True,
)
app.add_typer(stack_app, name="stack")
app.add_typer(db_app, name="db")
app.add_typer(graph_app, name="graph")
app.add_typer(moderation_app, name="moderation")


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
