"""`studyhub db upgrade|downgrade|current`: Alembic over every shard."""

from __future__ import annotations

from typing import Annotated

import typer

from core.db.migrate import current_revisions, downgrade_all, upgrade_all
from core.settings import get_settings

app = typer.Typer(
    pretty_exceptions_show_locals=False,
    help="Schema migrations, applied to every MySQL shard.",
    no_args_is_help=True,
)


@app.command()
def upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Upgrade every shard to REVISION (default: head)."""
    upgrade_all(get_settings(), revision)


@app.command()
def downgrade(revision: Annotated[str, typer.Argument(help="Target, e.g. -1 or base.")]) -> None:
    """Downgrade every shard to REVISION."""
    downgrade_all(get_settings(), revision)


@app.command()
def current() -> None:
    """Show the revision of each shard."""
    for shard, revision in enumerate(current_revisions(get_settings())):
        typer.echo(f"shard {shard}: {revision or '(empty)'}")
