"""Alembic environment for the metadata store, driven only by ``activities.metadata.migrate``.

``migrate`` hands over an open connection (already carrying the schema translate map) and the
target in ``config.attributes``; each branch keeps its own version table inside the schema it
migrates, so every tenant schema records its own revision.
"""

from alembic import context

from activities.metadata._migrate import MigrationTarget

target: MigrationTarget = context.config.attributes["target"]
connection = context.config.attributes["connection"]

context.configure(
    connection=connection,
    version_table=target.version_table,
    version_table_schema=target.schema,
    transaction_per_migration=False,
)

with context.begin_transaction():
    context.run_migrations()
