"""The store's shared fixtures: a real PostgreSQL + PostGIS server for the session (tests/pg.py)."""

from collections.abc import Iterator

import pytest

from luchtwacht.store.postgres import connect, ensure_schema
from tests.pg import LocalPostgres

TEMPLATE = "lw_template"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[LocalPostgres]:
    """A throwaway cluster on 127.0.0.1, started once; a server that cannot start fails tests.

    It holds a template database with PostGIS and the store's schema (made by the store's own
    ``ensure_schema``), from which each test's database is copied.
    """
    server = LocalPostgres()
    try:
        server.start()
        with connect(server.create_database(TEMPLATE)) as conn:
            ensure_schema(conn)
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_dsn(pg_server: LocalPostgres, request: pytest.FixtureRequest) -> str:
    """A fresh database (PostGIS and the schema in it) for one test: other tests' runs never show."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    return pg_server.create_database(name, template=TEMPLATE)
