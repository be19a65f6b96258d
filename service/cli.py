"""The `civic` command: serve, migrate, export the OpenAPI document, manage keys."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer

from service.auth import service as auth_service
from service.auth.models import Role
from service.config import Settings, get_settings

app = typer.Typer(help="CIVIC service administration.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")


def _session(settings: Settings):
    from service.db import create_db_engine, make_sessionmaker

    return make_sessionmaker(create_db_engine(settings))()


def prepare(settings: Settings) -> str | None:
    """Migrate to head, load the built-in data, and make sure an admin key exists.
    Returns a newly generated admin key, to be shown once."""
    from service import migrate, seed

    migrate.upgrade(settings)
    with _session(settings) as session:
        seed.load_builtin(session=session)
        new_key = None
        if settings.admin_key is not None:
            auth_service.ensure_admin_key(
                session=session, key=settings.admin_key.get_secret_value()
            )
        elif settings.is_sqlite and not auth_service.any_key_exists(session=session):
            _, new_key = auth_service.create_key(
                session=session, name="bootstrap-admin", role=Role.admin
            )
        session.commit()
    return new_key


KEY_FILE_NAME = "bootstrap-admin-key"


def show_new_admin_key(key: str, settings: Settings) -> None:
    """Hand over a generated admin key once; only its hash is stored. On a terminal it
    is printed. Otherwise stderr is a log (a container's, a service manager's), where a
    key must never go: it is written to a file only its owner may read, and the log
    says where."""
    if sys.stderr.isatty():
        typer.secho("\nNo API key existed, so an admin key was created:\n", fg="yellow", err=True)
        typer.secho(f"    {key}\n", bold=True, err=True)
        typer.secho("Store it now: it is not shown again.\n", fg="yellow", err=True)
        return
    database = settings.sqlite_path()
    path = (database.parent if database else Path("var")) / KEY_FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    typer.echo(
        f"No API key existed, so an admin key was created and written to {path} "
        "(readable by this user only). Store it elsewhere, then delete the file.",
        err=True,
    )


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Migrate the database, load the CIVIC frameworks, and serve the API."""
    import uvicorn

    settings = get_settings()
    new_key = prepare(settings)
    if new_key:
        show_new_admin_key(new_key, settings)
    elif settings.admin_key is None and not settings.is_sqlite:
        typer.echo("Set CIVIC_ADMIN_KEY or run `civic keys create` to get a key.", err=True)
    uvicorn.run(
        "service.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=settings.workers,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Migrate the schema up to REVISION (default: head)."""
    from service import migrate

    migrate.upgrade(get_settings(), revision)


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="Target, e.g. -1 or base.")) -> None:
    """Migrate the schema down to REVISION."""
    from service import migrate

    migrate.downgrade(get_settings(), revision)


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision the database is at."""
    from alembic import command

    from service import migrate

    command.current(migrate.alembic_config(get_settings()), verbose=False)


@app.command()
def openapi(
    output: Path = typer.Option(Path("openapi/openapi.json"), help="Where to write it."),
) -> None:
    """Write the OpenAPI document of the current code."""
    from service.main import create_app

    document = create_app(Settings(database_url="sqlite://")).openapi()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    typer.echo(f"wrote {output}")


@keys_app.command("create")
def keys_create(
    role: Role = typer.Option(..., help="admin, researcher, clinician or integrator."),
    name: str = typer.Option(..., help="The person or system holding the key."),
) -> None:
    """Create an API key and print it once."""
    from service import migrate

    settings = get_settings()
    migrate.upgrade(settings)
    with _session(settings) as session:
        _, key = auth_service.create_key(session=session, name=name, role=role)
        session.commit()
    typer.echo(key)


if __name__ == "__main__":
    app()
