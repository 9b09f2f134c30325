"""The evidence chain: every stored record hash-chained per table, every commit signed (Ed25519).

Backend-independent (no SQL here): the SQLite recorder and the PostgreSQL store write the same
chain, and :class:`ChainVerifier` checks rows fed from either.

- Each chained table (:data:`CHAINED`) numbers its rows ``seq`` = 1, 2, 3 … and stores with each
  row ``hash = SHA-256(previous row's hash ‖ row_bytes(table, seq, values))`` (the first row
  chains from :data:`GENESIS`). :func:`row_bytes` is a canonical encoding (type tag, big-endian
  numbers, length-prefixed text and bytes), so both backends hash a row identically and the
  verifier can name the exact row that was changed.
- At every commit a :class:`CommitRecord` is written in the same transaction: its number, the
  wall-clock time, every table's head ``(last seq, last hash)``, the previous commit's hash, the
  node's public key, its own hash and an Ed25519 signature of that hash. Rows beyond the last
  commit's heads were inserted afterwards; rows missing below them were removed; a chain
  recomputed without the private key fails the signature. ``close()`` writes a last commit
  marked ``closing``: a run without one was cut off (``kill -9``, power loss).

Without a trusted public key (the site's, or ``--public-key``) the verifier can only check the
recording against the key it carries itself: someone who rebuilds the whole file with a key of
their own passes that check, so ``luchtwacht verify`` says which of the two it did.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "CHAINED",
    "GENESIS",
    "ChainReport",
    "ChainVerifier",
    "CommitRecord",
    "NodeKey",
    "Problem",
    "ProblemKind",
    "SigningKeyError",
    "commit_bytes",
    "decode_heads",
    "encode_heads",
    "fingerprint",
    "link",
    "public_raw",
    "row_bytes",
    "seal_commit",
    "verify_signature",
]

# Each chained table's columns in canonical (hashed) order, without ``seq`` and ``hash``.
# Add a column only at the end of its tuple and only with a new format: the order is hashed.
CHAINED: dict[str, tuple[str, ...]] = {
    "meta_log": ("key", "value"),
    "raw": ("t_rx_s", "sensor_id", "format", "payload"),
    "rejection": ("t_s", "sensor_id", "reason"),
    "detection": ("t_s", "sensor_id", "east_m", "north_m", "up_m", "std_m", "ident", "applied"),
    "bearing": (
        "t_s",
        "sensor_id",
        "sensor_east_m",
        "sensor_north_m",
        "sensor_up_m",
        "azimuth_deg",
        "elevation_deg",
        "azimuth_std_deg",
        "applied",
    ),
    "track": (
        "t_s",
        "track_id",
        "lat_deg",
        "lon_deg",
        "alt_m",
        "east_m",
        "north_m",
        "up_m",
        "speed_ms",
        "heading_deg",
        "climb_ms",
        "object_class",
        "class_prob",
        "cooperative",
        "uas_id",
        "threat",
        "zones_inside",
        "time_to_breach_s",
        "pos_std_m",
        "icao",
    ),
    "tick": ("t_s",),
    "alert_event": (
        "t_s",
        "event",
        "alert_id",
        "track_id",
        "zone",
        "level",
        "kind",
        "state",
        "object_class",
        "uas_id",
        "message",
    ),
    "audit": ("t_s", "kind", "payload"),
}

GENESIS = bytes(32)  # the "previous hash" of a table's first row and of the first commit
COMMIT_TABLE = "chain_commit"  # where the SQLite recorder keeps the commit records
FORMAT = "1"  # meta ``chain_format``: the encoding below
_COMMIT_DOMAIN = b"luchtwacht.commit.v1\x00"  # a commit signature never passes for anything else
_TIME_COLUMN = {t: (0 if cols[0] in ("t_s", "t_rx_s") else None) for t, cols in CHAINED.items()}

_Q = struct.Struct(">q")
_D = struct.Struct(">d")
_L = struct.Struct(">I")
_PACK_Q = _Q.pack
# A type tag and its value in one call (the same bytes as the tag followed by _Q/_D/_L).
_TAG_Q, _TAG_D, _TAG_L = (struct.Struct(f">c{c}").pack for c in "qdI")
_PREFIX = {t: _L.pack(len(t)) + t.encode() for t in CHAINED}
_INT_MIN, _INT_MAX = -(2**63), 2**63


def _value(v: object, out: list[bytes]) -> None:
    """Append one value's canonical bytes: the same for what was written and what is read back.

    A database gives back ``5.0`` for an int 5 stored in a REAL column (and SQLite keeps an
    integral REAL as an integer on disk), and SQLite stores NaN as NULL: so an integral float is
    encoded as the integer, NaN as None, and -0.0 as 0.
    """
    if v is None:
        out.append(b"N")
    elif isinstance(v, float):
        if math.isnan(v):
            out.append(b"N")
        elif v.is_integer() and _INT_MIN <= v < _INT_MAX:
            out.append(b"i" + _Q.pack(int(v)))
        else:
            out.append(b"f" + _D.pack(v))
    elif isinstance(v, int):  # bool too: stored as 0/1
        if not _INT_MIN <= v < _INT_MAX:
            raise ValueError(f"integer out of range for the chain: {v}")
        out.append(b"i" + _Q.pack(int(v)))
    elif isinstance(v, str):
        data = v.encode("utf-8", "surrogatepass")
        out.append(b"s" + _L.pack(len(data)) + data)
    elif isinstance(v, bytes | bytearray | memoryview):
        data = bytes(v)
        out.append(b"b" + _L.pack(len(data)) + data)
    else:  # numpy scalars and the like
        item = getattr(v, "item", None)
        if item is None:
            raise TypeError(f"cannot chain a value of type {type(v).__name__}")
        _value(item(), out)


def row_bytes(table: str, seq: int, values: Sequence[object]) -> bytes:
    """The canonical bytes of one row: table name, ``seq`` and each value with a type tag.

    The common types are encoded inline (this runs for every row the node records); anything
    else (bool, numpy scalars, memoryview, subclasses) goes through :func:`_value`, which gives
    the same bytes for the same value.
    """
    out = [_PREFIX[table], _PACK_Q(seq)]
    append = out.append
    for v in values:
        if type(v) is float:
            if v != v:  # NaN
                append(b"N")
            elif v.is_integer() and _INT_MIN <= v < _INT_MAX:
                append(_TAG_Q(b"i", int(v)))
            else:
                append(_TAG_D(b"f", v))
        elif type(v) is str:
            data = v.encode("utf-8", "surrogatepass")
            append(_TAG_L(b"s", len(data)))
            append(data)
        elif v is None:
            append(b"N")
        elif type(v) is int and _INT_MIN <= v < _INT_MAX:
            append(_TAG_Q(b"i", v))
        elif type(v) is bytes:
            append(_TAG_L(b"b", len(v)))
            append(v)
        else:
            _value(v, out)
    return b"".join(out)


def link(prev: bytes, table: str, seq: int, values: Sequence[object]) -> bytes:
    """One step of a table's chain: SHA-256(prev ‖ row_bytes(table, seq, values))."""
    return hashlib.sha256(prev + row_bytes(table, seq, values)).digest()


# -- commits ---------------------------------------------------------------------------------

Heads = Mapping[str, tuple[int, bytes]]


def encode_heads(heads: Heads) -> bytes:
    """Every chained table's head as bytes, in :data:`CHAINED` order (seq, 32-byte hash)."""
    out = []
    for table in CHAINED:
        seq, digest = heads.get(table, (0, GENESIS))
        if len(digest) != 32:
            raise ValueError(f"{table}: a head hash has 32 bytes, not {len(digest)}")
        out.append(_Q.pack(seq) + digest)
    return b"".join(out)


def decode_heads(data: bytes) -> dict[str, tuple[int, bytes]]:
    """The inverse of :func:`encode_heads`; ValueError when the length is wrong."""
    if len(data) != 40 * len(CHAINED):
        raise ValueError(f"heads are {40 * len(CHAINED)} bytes, not {len(data)}")
    heads = {}
    for i, table in enumerate(CHAINED):
        part = data[40 * i : 40 * (i + 1)]
        heads[table] = (_Q.unpack(part[:8])[0], bytes(part[8:]))
    return heads


@dataclasses.dataclass(frozen=True, slots=True)
class CommitRecord:
    """One signed commit: what every table held when it was made, chained to the commit before.

    ``t_s`` is the wall-clock time (UTC seconds) of the commit; ``public_key`` the raw 32-byte
    Ed25519 key whose private half made ``signature`` over ``hash``.
    """

    seq: int
    t_s: float
    closing: bool
    heads: Mapping[str, tuple[int, bytes]]
    prev_hash: bytes
    public_key: bytes
    hash: bytes
    signature: bytes


def commit_bytes(
    seq: int, t_s: float, closing: bool, heads: Heads, prev_hash: bytes, public_key: bytes
) -> bytes:
    """The canonical bytes a commit's hash is taken over."""
    return b"".join(
        (
            _COMMIT_DOMAIN,
            _Q.pack(seq),
            _D.pack(t_s),
            b"\x01" if closing else b"\x00",
            prev_hash,
            public_key,
            encode_heads(heads),
        )
    )


def seal_commit(
    key: NodeKey, seq: int, t_s: float, closing: bool, heads: Heads, prev_hash: bytes
) -> CommitRecord:
    """Make and sign the commit record ``seq`` (heads of tables not named are empty)."""
    full = {t: heads.get(t, (0, GENESIS)) for t in CHAINED}
    pub = key.public_raw()
    digest = hashlib.sha256(commit_bytes(seq, t_s, closing, full, prev_hash, pub)).digest()
    return CommitRecord(seq, t_s, closing, full, prev_hash, pub, digest, key.sign(digest))


# -- keys ------------------------------------------------------------------------------------


class SigningKeyError(ValueError):
    """A signing or public key file that cannot be used; the message names the file."""


class NodeKey:
    """The node's Ed25519 signing key (PKCS#8 PEM on disk; ``luchtwacht pki signing-key``)."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._key = private

    @classmethod
    def generate(cls) -> NodeKey:
        """A fresh key (a run without a configured key signs with one made for it)."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load(cls, path: str | Path) -> NodeKey:
        """Read an unencrypted PKCS#8 PEM Ed25519 private key (SigningKeyError names why not)."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        data = _read(path)
        try:
            key = load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise SigningKeyError(f"{path}: not an unencrypted PEM private key ({exc})") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError(f"{path}: not an Ed25519 key ({type(key).__name__})")
        return cls(key)

    def private_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM (to write it to a 0600 file)."""
        from cryptography.hazmat.primitives import serialization

        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``data``."""
        return self._key.sign(data)

    def public_raw(self) -> bytes:
        """The public key's 32 raw bytes (as kept in every commit record)."""
        from cryptography.hazmat.primitives import serialization

        return self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def public_pem(self) -> bytes:
        """The public key as SubjectPublicKeyInfo PEM (what the site file and verifiers hold)."""
        from cryptography.hazmat.primitives import serialization

        return self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def fingerprint(self) -> str:
        """``SHA256:`` and the hex SHA-256 of the raw public key (to compare keys by eye)."""
        return fingerprint(self.public_raw())


def fingerprint(public: bytes) -> str:
    """The fingerprint of a raw 32-byte public key, or of a public key PEM."""
    raw = public if len(public) == 32 else public_raw(public)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()


def public_raw(public_pem: bytes) -> bytes:
    """The 32 raw bytes of an Ed25519 public key PEM; :class:`SigningKeyError` if it is not one."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(public_pem)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"not an Ed25519 public key ({type(key).__name__})")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_public_key(path: str | Path) -> bytes:
    """A public key PEM from a file (``*.pub``), or the public half of a private key PEM."""
    data = _read(path)
    if b"PRIVATE KEY" in data:
        return NodeKey.load(path).public_pem()
    try:
        public_raw(data)
    except SigningKeyError as exc:
        raise SigningKeyError(f"{path}: {exc}") from None
    return data


def verify_signature(public_pem: bytes, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is the Ed25519 signature of ``data`` by the key in ``public_pem``."""
    return _verify_raw(public_raw(public_pem), data, signature)


def _verify_raw(public: bytes, data: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


def _read(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise SigningKeyError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SigningKeyError(f"{path}: is a folder, not a key file") from None
    except OSError as exc:
        raise SigningKeyError(f"{path}: cannot read ({exc.strerror or exc})") from None


# -- verification ----------------------------------------------------------------------------


class ProblemKind(enum.Enum):
    """What the verifier found wrong, from the most specific (one row) to the whole run."""

    ROW_CHANGED = "row changed"
    ROW_REMOVED = "row removed"
    ROW_INSERTED = "row inserted"
    TRUNCATED = "rows removed at the tail"
    CHAIN_RECOMPUTED = "rows changed and their hashes recomputed"
    META_CHANGED = "run metadata changed"
    COMMIT_CHANGED = "commit record changed"
    COMMIT_REMOVED = "commit record removed"
    BAD_SIGNATURE = "signature does not verify: the chain was recomputed without the node's key"
    UNTRUSTED_KEY = "signed by a key other than the trusted one"
    NO_COMMITS = "no commit records"
    CUT_OFF = "run cut off"


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """The first thing found wrong: where (table, seq, time) and what."""

    kind: ProblemKind
    table: str  # a chained table, ``meta`` or :data:`COMMIT_TABLE`
    seq: int  # the row's (or commit's) seq; for a range, its first
    t_s: float | None  # the row's own time if it has one, else its commit's wall-clock time
    detail: str
    seq_to: int | None = None  # last seq of a range (CHAIN_RECOMPUTED)

    def describe(self) -> str:
        """One line: ``<table> chain BROKEN at seq N (t …): <what>`` or ``run cut off at T``."""
        if self.kind is ProblemKind.CUT_OFF:
            return f"run cut off at {_iso(self.t_s)}: {self.detail}"
        what = "commit" if self.table == COMMIT_TABLE else "seq"
        span = f"{self.seq}..{self.seq_to}" if self.seq_to not in (None, self.seq) else self.seq
        when = f" (t {_iso(self.t_s)})" if self.t_s is not None else ""
        return f"{self.table} chain BROKEN at {what} {span}{when}: {self.kind.value}: {self.detail}"


def _iso(t_s: float | None) -> str:
    if t_s is None:
        return "?"
    import datetime as dt

    try:
        return dt.datetime.fromtimestamp(t_s, dt.UTC).isoformat(timespec="milliseconds")
    except (OverflowError, OSError, ValueError):
        return f"{t_s} s"


@dataclasses.dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome: intact or the first problem, with what was checked."""

    problem: Problem | None
    rows: dict[str, int]  # rows seen per chained table
    commits: int
    fingerprints: tuple[str, ...]  # the keys that signed the commits, in order of first use
    trusted: bool  # checked against a trusted public key (else only the recording's own)
    closed: bool  # the last commit is a closing one
    last_commit_t_s: float | None

    @property
    def intact(self) -> bool:
        """Nothing was found wrong (including: the run ended with its closing record)."""
        return self.problem is None


@dataclasses.dataclass(slots=True)
class _TableState:
    prev: bytes = GENESIS
    expect: int = 1
    seen: int = 0
    problem: tuple[int, Problem] | None = None
    head_i: int = 0  # index into the table's head list: the next commit head to check


class ChainVerifier:
    """Checks rows and commit records fed from any backend; :meth:`report` gives the verdict.

    Feed :meth:`commits` first (all of them, in seq order), then each table's rows with
    :meth:`rows` (in seq order: ``(seq, values in CHAINED order, stored hash)``), then the
    current run metadata with :meth:`meta` if the backend keeps it apart from ``meta_log``.
    Each problem is ranked by the commit that covers it; the earliest is reported.
    """

    def __init__(self, trusted_public_pem: bytes | None = None) -> None:
        self._trusted = public_raw(trusted_public_pem) if trusted_public_pem else None
        self._commits: list[CommitRecord] = []
        self._commit_problem: tuple[int, Problem] | None = None
        self._tables = {t: _TableState() for t in CHAINED}
        self._fingerprints: list[str] = []
        self._meta: dict[str, tuple[int, str]] = {}
        self._meta_problem: tuple[int, Problem] | None = None
        self._heads: dict[str, list[tuple[int, bytes, int]]] = {}  # per table (seq, hash, ci)

    # -- feeding ---------------------------------------------------------------------------

    def commits(self, records: Iterable[CommitRecord]) -> None:
        """All commit records, in seq order: their hashes, links, signatures and keys."""
        prev = GENESIS
        run_key: bytes | None = None
        after_close = True
        for i, c in enumerate(records):
            self._commits.append(c)
            fp = fingerprint(c.public_key) if len(c.public_key) == 32 else "(malformed key)"
            if fp not in self._fingerprints:
                self._fingerprints.append(fp)
            if self._commit_problem is not None:
                continue
            bad = self._check_commit(i, c, prev, run_key, after_close)
            if bad is not None:
                self._commit_problem = (i, bad)
                continue
            prev, after_close = c.hash, c.closing
            run_key = c.public_key
        # Each table's heads, ascending, for locating a row's commit and checking its hash there.
        last: dict[str, int] = {}
        for ci, c in enumerate(self._commits):
            for table, (seq, digest) in c.heads.items():
                if table in CHAINED and seq > last.get(table, 0):
                    self._heads.setdefault(table, []).append((seq, digest, ci))
                    last[table] = seq

    def _check_commit(
        self, i: int, c: CommitRecord, prev: bytes, run_key: bytes | None, after_close: bool
    ) -> Problem | None:
        def problem(kind: ProblemKind, detail: str) -> Problem:
            return Problem(kind, COMMIT_TABLE, c.seq, c.t_s, detail)

        if c.seq != i + 1:
            if c.seq > i + 1:
                return problem(ProblemKind.COMMIT_REMOVED, f"commit {i + 1} is missing")
            return problem(ProblemKind.COMMIT_CHANGED, f"out of order (expected {i + 1})")
        if c.prev_hash != prev:
            return problem(ProblemKind.COMMIT_CHANGED, "does not link to the commit before it")
        try:
            body = commit_bytes(c.seq, c.t_s, c.closing, c.heads, c.prev_hash, c.public_key)
        except (ValueError, struct.error) as exc:
            return problem(ProblemKind.COMMIT_CHANGED, f"malformed ({exc})")
        if hashlib.sha256(body).digest() != c.hash:
            return problem(ProblemKind.COMMIT_CHANGED, "does not match its hash")
        if len(c.public_key) != 32 or not _verify_raw(c.public_key, c.hash, c.signature):
            return problem(ProblemKind.BAD_SIGNATURE, f"key {fingerprint_safe(c.public_key)}")
        if self._trusted is not None and c.public_key != self._trusted:
            return problem(
                ProblemKind.UNTRUSTED_KEY,
                f"signed by {fingerprint(c.public_key)}, trusted {fingerprint(self._trusted)}",
            )
        if run_key is not None and c.public_key != run_key and not after_close:
            return problem(
                ProblemKind.UNTRUSTED_KEY,
                f"key changed within a run: {fingerprint(c.public_key)} after"
                f" {fingerprint(run_key)}",
            )
        return None

    def rows(self, table: str, rows: Iterable[tuple[int, Sequence[object], bytes | None]]) -> None:
        """One table's rows in seq order: recompute each hash and compare, find gaps and extras."""
        st = self._tables[table]
        heads = self._heads.get(table, [])
        tcol = _TIME_COLUMN[table]
        for seq, values, stored in rows:
            st.seen += 1
            if st.problem is not None:
                continue
            ci = self._covering(heads, seq)
            t = self._row_time(values, tcol, ci)
            if seq != st.expect:
                if seq > st.expect:
                    st.problem = (
                        self._covering(heads, st.expect),
                        Problem(ProblemKind.ROW_REMOVED, table, st.expect, t,
                                f"rows {st.expect}..{seq - 1} are missing"
                                if seq - 1 > st.expect else f"row {st.expect} is missing"),
                    )  # fmt: skip
                else:
                    st.problem = (
                        ci,
                        Problem(ProblemKind.ROW_CHANGED, table, seq, t, "out of order"),
                    )
                continue
            if ci >= len(self._commits):
                st.problem = (
                    ci,
                    Problem(ProblemKind.ROW_INSERTED, table, seq, t, "not covered by any commit"),
                )
                continue
            digest = link(st.prev, table, seq, values)
            if stored is None or bytes(stored) != digest:
                st.problem = (
                    ci,
                    Problem(ProblemKind.ROW_CHANGED, table, seq, t, "does not match its hash"),
                )
                continue
            while st.head_i < len(heads) and heads[st.head_i][0] < seq:
                st.head_i += 1
            at_head = st.head_i < len(heads) and heads[st.head_i][0] == seq
            if at_head and heads[st.head_i][1] != digest:
                first = heads[st.head_i - 1][0] + 1 if st.head_i else 1
                st.problem = (
                    ci,
                    Problem(
                        ProblemKind.CHAIN_RECOMPUTED,
                        table,
                        first,
                        t,
                        f"commit {self._commits[ci].seq} recorded another head hash",
                        seq_to=seq,
                    ),
                )
                continue
            if table == "meta_log" and len(values) == 2:
                self._meta[str(values[0])] = (seq, str(values[1]))
            st.prev, st.expect = digest, seq + 1

    def meta(self, current: Mapping[str, str]) -> None:
        """The run metadata as kept for readers: must equal the last value of each key logged."""
        logged = {k: v for k, (_, v) in self._meta.items()}
        for key in sorted(set(logged) | set(current)):
            if logged.get(key) != current.get(key):
                seq = self._meta[key][0] if key in self._meta else 0
                detail = (
                    f"key {key!r} is not in the chained log"
                    if key not in logged
                    else f"key {key!r} was removed"
                    if key not in current
                    else f"key {key!r} differs from its chained value"
                )
                self._meta_problem = (
                    len(self._commits),
                    Problem(ProblemKind.META_CHANGED, "meta", seq, None, detail),
                )
                return

    # -- verdict ---------------------------------------------------------------------------

    def report(self) -> ChainReport:
        """The first problem (ranked by the commit that covers it), or none: intact."""
        found: list[tuple[int, int, Problem]] = []
        if self._commit_problem is not None:
            # First at its commit: the heads of a commit that is not intact locate nothing.
            found.append((self._commit_problem[0], 0, self._commit_problem[1]))
        order = list(CHAINED)
        last = self._commits[-1] if self._commits else None
        for table, st in self._tables.items():
            if st.problem is not None:
                found.append((st.problem[0], 1, st.problem[1]))
                continue
            head_seq = last.heads.get(table, (0, GENESIS))[0] if last else 0
            if st.expect - 1 < head_seq:
                heads = self._heads.get(table, [])
                ci = self._covering(heads, st.expect)
                t = self._commits[ci].t_s if ci < len(self._commits) else None
                detail = f"the table ends at seq {st.expect - 1}, its commits reach seq {head_seq}"
                found.append((ci, 1, Problem(ProblemKind.TRUNCATED, table, st.expect, t, detail)))
        if self._meta_problem is not None:
            found.append((self._meta_problem[0], 2, self._meta_problem[1]))
        if not self._commits:
            # Nothing is signed: say that, rather than that the first row is not covered.
            detail = "nothing in the recording is signed"
            found.append((0, -1, Problem(ProblemKind.NO_COMMITS, COMMIT_TABLE, 0, None, detail)))
        elif last is not None and not last.closing:
            detail = f"no closing record (cut off, or still being written); last commit {last.seq}"
            found.append(
                (len(self._commits) + 1, 3, Problem(ProblemKind.CUT_OFF, COMMIT_TABLE, last.seq,
                                                    last.t_s, detail))
            )  # fmt: skip
        found.sort(
            key=lambda f: (f[0], f[1], order.index(f[2].table) if f[2].table in order else 0)
        )
        return ChainReport(
            problem=found[0][2] if found else None,
            rows={t: st.seen for t, st in self._tables.items()},
            commits=len(self._commits),
            fingerprints=tuple(self._fingerprints),
            trusted=self._trusted is not None,
            closed=last is not None and last.closing,
            last_commit_t_s=last.t_s if last else None,
        )

    # -- helpers ---------------------------------------------------------------------------

    def _covering(self, heads: list[tuple[int, bytes, int]], seq: int) -> int:
        """Index of the first commit whose head for the table reaches ``seq`` (len: none)."""
        lo, hi = 0, len(heads)
        while lo < hi:
            mid = (lo + hi) // 2
            if heads[mid][0] < seq:
                lo = mid + 1
            else:
                hi = mid
        return heads[lo][2] if lo < len(heads) else len(self._commits)

    def _row_time(self, values: Sequence[object], tcol: int | None, ci: int) -> float | None:
        if tcol is not None and len(values) > tcol:
            v = values[tcol]
            if isinstance(v, int | float) and math.isfinite(v):
                return float(v)
        return self._commits[ci].t_s if ci < len(self._commits) else None


def fingerprint_safe(public: bytes) -> str:
    """:func:`fingerprint`, or a note when the bytes are not a raw key."""
    return fingerprint(public) if len(public) == 32 else f"(malformed, {len(public)} bytes)"
