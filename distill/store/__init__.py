"""The DuckDB store (see ``core``): the only code that writes SQL. Queries are grouped by table family:
``core`` holds the schema, migrations, keyed writes and the data-factory tables; ``results`` the student's
training runs and evaluations."""

from distill.store.core import SCHEMA_VERSION, TABLES, RunContext, Store, new_run_id

__all__ = ["SCHEMA_VERSION", "TABLES", "RunContext", "Store", "new_run_id"]
