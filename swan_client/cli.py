"""The `swan` command."""

from __future__ import annotations

import click

from swan_client import __version__


@click.group()
@click.version_option(__version__, prog_name="swan")
def main():
    """Swan: self-hosted experiment tracking that speaks MLflow and SwanLab."""


def _add_server_commands() -> None:
    from swan_server.cli import db, server
    from swan_server.cli_ops import export, gc, import_group
    from swan_server.cli_users import keys, users

    for command in (server, db, users, keys, gc, export, import_group):
        main.add_command(command)


_add_server_commands()


def _add_client_commands() -> None:
    from swan_client.commands import COMMANDS

    for command in COMMANDS:
        main.add_command(command)


_add_client_commands()


def _add_import_commands() -> None:
    """`swan import tensorboard|wandb|mlflow|swanlab`, beside `swan import swan`."""
    from swan_server.cli_ops import import_group

    from importers.cli import register

    register(import_group)


_add_import_commands()

if __name__ == "__main__":
    main()
