"""The store a live run writes to, from the site file's ``store`` section and ``record`` path.

``backend: sqlite`` (the default) records to the SQLite file ``record`` (no file: no recording);
``backend: postgresql`` to the server at ``store.dsn``, as a new run of its own. Either way the
writes go through a :class:`~luchtwacht.store.worker.BackgroundStore` (a worker thread, a
bounded queue, drops counted), and every commit is signed with ``store.signing_key`` (a key
made for the run when none is given). Problems that stop a run before it starts (no server, bad
key, a record path beside a PostgreSQL store) raise :class:`StoreConfigError` naming them; the
DSN's password never appears in a message.
"""

from __future__ import annotations

from pathlib import Path

from luchtwacht.geo.frames import SiteOrigin
from luchtwacht.site import StoreSection
from luchtwacht.store.chain import NodeKey, SigningKeyError
from luchtwacht.store.recorder import Recorder
from luchtwacht.store.worker import DEFAULT_MAXSIZE, BackgroundStore

__all__ = ["StoreConfigError", "open_store"]


class StoreConfigError(ValueError):
    """The site's store cannot be opened; the message says which setting and why."""


def open_store(
    section: StoreSection,
    record: Path | None,
    *,
    origin: SiteOrigin | None = None,
    label: str = "",
    maxsize: int = DEFAULT_MAXSIZE,
    statement_timeout_s: float = 10.0,
) -> BackgroundStore | None:
    """The run's store, writing in a worker thread; None when nothing is to be recorded.

    For PostgreSQL the schema and a new run are made here, in the caller's thread, so an
    unreachable server is reported before the node starts; the worker then connects for
    itself. The store's ``path`` names the run and server (``postgresql run 7 [host=…]``).
    """
    try:
        key = NodeKey.load(section.signing_key) if section.signing_key is not None else None
    except SigningKeyError as exc:
        raise StoreConfigError(f"store.signing_key: {exc}") from None
    if section.backend == "sqlite":
        if record is None:
            return None
        return BackgroundStore(record, maxsize=maxsize, recorder_factory=lambda p: Recorder(p, key))
    from luchtwacht.store.postgres import PostgresStore, PostgresStoreError, create_run, redact_dsn

    dsn = section.dsn
    if not dsn:
        raise StoreConfigError("store.dsn: needed with store.backend postgresql")
    if record is not None:
        raise StoreConfigError(
            f"record ({record}): the site's store is PostgreSQL (store.backend); record writes"
            " SQLite: give one of them"
        )
    try:
        run_id = create_run(
            dsn, label=label, origin=origin, statement_timeout_s=statement_timeout_s
        )
    except PostgresStoreError as exc:
        raise StoreConfigError(f"store.dsn: {exc}") from None
    where = Path(f"postgresql run {run_id} [{redact_dsn(dsn)}]")

    def factory(_: Path) -> PostgresStore:
        return PostgresStore(
            dsn, run_id, key=key, origin=origin, statement_timeout_s=statement_timeout_s
        )

    try:
        return BackgroundStore(where, maxsize=maxsize, recorder_factory=factory)
    except PostgresStoreError as exc:
        raise StoreConfigError(f"store.dsn: {exc}") from None
