"""Alembic environment. Swan runs migrations programmatically (see swan_server.db.engine)."""

from alembic import context

from swan_server.db.schema import metadata

config = context.config
connection = config.attributes.get("connection")

if connection is None:  # `alembic` CLI use, from a URL in the config
    from sqlalchemy import create_engine

    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
