"""Human authority over countermeasures: operator accounts, roles, sessions and their audit trail.

The system only *proposes* countermeasures; force may be authorised solely by an authenticated
operator whose role carries ``APPROVE_ENGAGEMENT``. Refusing or stopping force is open to every
operator. All times are passed in as UTC seconds (``t_s``) so that simulated time works, and every
login, failure, refusal, logout and disabling goes to an audit callback (never a password).

Login policy (red-team issue #12):

- Passwords are hashed with argon2id (RFC 9106) at ``t=3, m=64 MiB, p=1`` by default, above
  OWASP's minimum (``t=2, m=19 MiB``). Hashes of the former ``scrypt$n$r$p$salt$hash`` format
  still verify; a login on such a hash, or on argon2id parameters weaker than the Authority's,
  sets ``Session.rehash`` so the accounts file can be upgraded. Parameters read from a file are
  bounded (memory at most 256 MiB), so a doctored hash cannot exhaust the node.
- Failed logins never lock an account. They earn a back-off keyed by (source, account) and by
  source alone: after ``max_failures`` failures that source is refused that account for
  ``backoff_s``, doubling with each further failure up to ``lockout_s``. The same account from
  another, clean source still logs in. While one account draws many failures from anywhere,
  a source's first failure on it already earns the back-off (a small delay for a source that
  mistyped); a clean source is never refused. Unknown usernames are tracked exactly like real
  ones, and all tables are capped and pruned, so rotating source addresses cannot grow memory.
- An unknown user costs one verification against a dummy hash made at construction with the
  accounts' own parameters, so timing does not tell which usernames exist.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import os
import secrets
import tempfile
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError, VerifyMismatchError
from argon2.low_level import Type, verify_secret
from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, field_validator

from luchtwacht.config_file import load_yaml_model
from luchtwacht.texts import say

__all__ = [
    "DEFAULT_ARGON2",
    "ROLES",
    "AccountsFileError",
    "Argon2Params",
    "AuditSink",
    "AuthError",
    "Authority",
    "LoginBackoffError",
    "OperatorAccount",
    "Permission",
    "PermissionDenied",
    "Session",
    "hash_password",
    "load_accounts",
    "needs_rehash",
    "rehash_account",
    "rehash_reason",
    "save_accounts",
    "verify_password",
]


class Permission(StrEnum):
    """What a session may do; roles are fixed sets of these."""

    VIEW = "view"
    ACKNOWLEDGE = "acknowledge"
    APPROVE_ENGAGEMENT = "approve_engagement"
    REJECT_ENGAGEMENT = "reject_engagement"
    CEASE_ENGAGEMENT = "cease_engagement"
    TASK_SENSOR = "task_sensor"  # point a camera at a track by hand
    MANAGE_OPERATORS = "manage_operators"  # list and disable accounts (the console's admin)


ROLES: dict[str, frozenset[Permission]] = {
    "viewer": frozenset({Permission.VIEW}),
    # An operator may always stop or refuse force, never authorise it.
    "operator": frozenset(
        {
            Permission.VIEW,
            Permission.ACKNOWLEDGE,
            Permission.REJECT_ENGAGEMENT,
            Permission.CEASE_ENGAGEMENT,
            Permission.TASK_SENSOR,
        }
    ),
    "commander": frozenset(Permission) - {Permission.MANAGE_OPERATORS},
    # An administrator keeps the accounts, and may look, but commands nothing.
    "admin": frozenset({Permission.VIEW, Permission.MANAGE_OPERATORS}),
}

# --------------------------------------------------------------------------- passwords

_SALT_BYTES = 16
_KEY_BYTES = 32

# Bounds on argon2 parameters, checked before anything is allocated, so a doctored hash in a file
# cannot make a login take gigabytes or minutes. 256 MiB is 4x the default memory.
_MAX_ARGON2_MEMORY_KIB = 256 * 1024
_MAX_ARGON2_TIME_COST = 10
_MAX_ARGON2_PARALLELISM = 8
_MAX_ARGON2_KEY_BYTES = 64
_ARGON2_VERSION = 19  # 0x13, the only version argon2-cffi writes

# The former scheme, still verified: ``scrypt$n$r$p$salt$hash``; same bounds as before.
_SCRYPT = "scrypt"
_MAX_N = 2**20
_MAX_R = 32
_MAX_P = 16
_MAX_MEM = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Argon2Params:
    """Cost of an argon2id hash: passes over memory, memory in KiB, lanes; bounds checked.

    The default (``DEFAULT_ARGON2``) is RFC 9106's second recommended option with one lane:
    ``t=3, m=64 MiB``, above OWASP's minimum of ``t=2, m=19 MiB``. Cheaper values are for tests
    and simulations only.
    """

    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 1

    def __post_init__(self) -> None:
        """Refuse parameters argon2 rejects or that cost more than the bounds allow."""
        for name in ("time_cost", "memory_kib", "parallelism"):
            value = getattr(self, name)
            if type(value) is not int:
                raise ValueError(f"argon2 {name} must be an integer, got {value!r}")
        if not 1 <= self.time_cost <= _MAX_ARGON2_TIME_COST:
            raise ValueError(
                f"argon2 time_cost must be in [1, {_MAX_ARGON2_TIME_COST}], got {self.time_cost}"
            )
        if not 1 <= self.parallelism <= _MAX_ARGON2_PARALLELISM:
            raise ValueError(
                f"argon2 parallelism must be in [1, {_MAX_ARGON2_PARALLELISM}], "
                f"got {self.parallelism}"
            )
        if self.memory_kib > _MAX_ARGON2_MEMORY_KIB:
            raise ValueError(
                f"argon2 memory_kib={self.memory_kib} is above the limit of "
                f"{_MAX_ARGON2_MEMORY_KIB} KiB ({_MAX_ARGON2_MEMORY_KIB // 1024} MiB)"
            )
        if self.memory_kib < 8 * self.parallelism:
            raise ValueError(
                f"argon2 memory_kib must be at least 8 x parallelism, got {self.memory_kib}"
            )


DEFAULT_ARGON2 = Argon2Params()
"""The parameters new hashes get unless told otherwise, and that logins are judged against."""


@dataclass(frozen=True, slots=True)
class _ScryptParams:
    """Cost of a former-scheme scrypt hash."""

    n: int
    r: int
    p: int


@dataclass(frozen=True, slots=True)
class _ParsedHash:
    """A checked password hash: its scheme's parameters, salt and key."""

    params: Argon2Params | _ScryptParams
    salt: bytes
    key: bytes


def _scrypt_mem(n: int, r: int, p: int) -> int:
    """Bytes OpenSSL's scrypt needs for these parameters (its own ``maxmem`` check)."""
    return 128 * r * (n + 2 + p)


def _check_scrypt(n: int, r: int, p: int) -> _ScryptParams:
    """Refuse scrypt parameters that are invalid or too costly; raises ValueError."""
    if n < 2 or n > _MAX_N or n & (n - 1):
        raise ValueError(f"scrypt n must be a power of two in [2, {_MAX_N}], got {n}")
    if not 1 <= r <= _MAX_R:
        raise ValueError(f"scrypt r must be in [1, {_MAX_R}], got {r}")
    if not 1 <= p <= _MAX_P:
        raise ValueError(f"scrypt p must be in [1, {_MAX_P}], got {p}")
    if _scrypt_mem(n, r, p) > _MAX_MEM:
        raise ValueError(f"scrypt parameters n={n} r={r} p={p} need more than {_MAX_MEM} bytes")
    return _ScryptParams(n, r, p)


def _scrypt(password: str, salt: bytes, params: _ScryptParams) -> bytes:
    """The scrypt key of ``password``; maxmem is sized to the parameters, which are checked."""
    n, r, p = params.n, params.r, params.p
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=_scrypt_mem(n, r, p) + 1024 * 1024,
        dklen=_KEY_BYTES,
    )


def _b64(data: bytes) -> str:
    """Standard base64 text of ``data``."""
    return base64.b64encode(data).decode("ascii")


def _parse_scrypt(parts: list[str]) -> _ParsedHash:
    """Check the parts of ``scrypt$n$r$p$salt$hash``; anything else raises ValueError."""
    if len(parts) != 6:
        raise ValueError("malformed password hash: expected 'scrypt$<n>$<r>$<p>$<salt>$<hash>'")
    if not all(x.isascii() and x.isdigit() for x in parts[1:4]):
        raise ValueError("malformed password hash: n, r and p must be decimal integers")
    n, r, p = (int(x) for x in parts[1:4])
    try:
        params = _check_scrypt(n, r, p)
    except ValueError as exc:
        raise ValueError(f"password hash refused: {exc}") from None
    try:
        salt = base64.b64decode(parts[4], validate=True)
        key = base64.b64decode(parts[5], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("malformed password hash: salt and hash must be base64") from None
    if len(salt) < _SALT_BYTES:
        raise ValueError(f"malformed password hash: salt shorter than {_SALT_BYTES} bytes")
    if len(key) != _KEY_BYTES:
        raise ValueError(f"malformed password hash: hash must be {_KEY_BYTES} bytes")
    return _ParsedHash(params, salt, key)


def _phc_int(text: str, name: str) -> int:
    """A PHC decimal field: ASCII digits, no sign, no leading zero (argon2 refuses those)."""
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or text != str(int(text)):
        raise ValueError(f"malformed password hash: argon2 {name}={text!r} is not a plain integer")
    return int(text)


def _phc_b64(text: str, name: str) -> bytes:
    """A PHC base64 field: standard alphabet, no padding, canonical (as argon2 decodes it)."""
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"malformed password hash: argon2 {name} is not base64") from None
    if not text or _b64(raw).rstrip("=") != text:
        raise ValueError(f"malformed password hash: argon2 {name} is not canonical base64")
    return raw


def _parse_argon2(parts: list[str]) -> _ParsedHash:
    """Check ``$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>`` before any use.

    Everything argon2's own decoder would refuse is refused here first, with the field named,
    so an account is rejected when the file is read rather than at its first login; parameter
    bounds are those of ``Argon2Params``.
    """
    if parts[1] != "argon2id":
        raise ValueError(f"password hash scheme {parts[1]!r} is not accepted (only argon2id)")
    if len(parts) != 6:
        raise ValueError(
            "malformed password hash: expected '$argon2id$v=19$m=<KiB>,t=<n>,p=<n>$<salt>$<hash>'"
        )
    if parts[2] != f"v={_ARGON2_VERSION}":
        raise ValueError(f"malformed password hash: argon2 version must be v=19, got {parts[2]!r}")
    fields = [kv.split("=", 1) for kv in parts[3].split(",")]
    if [kv[0] for kv in fields] != ["m", "t", "p"] or any(len(kv) != 2 for kv in fields):
        raise ValueError(f"malformed password hash: argon2 parameters {parts[3]!r} not m=,t=,p=")
    m, t, p = (_phc_int(value, name) for name, value in fields)
    try:
        params = Argon2Params(time_cost=t, memory_kib=m, parallelism=p)
    except ValueError as exc:
        raise ValueError(f"password hash refused: {exc}") from None
    salt = _phc_b64(parts[4], "salt")
    key = _phc_b64(parts[5], "hash")
    if len(salt) < _SALT_BYTES:
        raise ValueError(f"malformed password hash: salt shorter than {_SALT_BYTES} bytes")
    if not 16 <= len(key) <= _MAX_ARGON2_KEY_BYTES:
        raise ValueError(
            f"malformed password hash: argon2 hash must be 16 to {_MAX_ARGON2_KEY_BYTES} bytes"
        )
    return _ParsedHash(params, salt, key)


def _parse_hash(encoded: str) -> _ParsedHash:
    """Split an argon2id PHC string or a former scrypt hash into checked parts; else ValueError."""
    if not isinstance(encoded, str):
        raise ValueError(f"password hash must be a string, got {type(encoded).__name__}")
    parts = encoded.split("$")
    if parts[0] == _SCRYPT:
        return _parse_scrypt(parts)
    if len(parts) >= 2 and parts[0] == "" and parts[1].startswith("argon2"):
        return _parse_argon2(parts)
    raise ValueError(
        "malformed password hash: expected '$argon2id$...' (or the former 'scrypt$...')"
    )


def hash_password(
    password: str,
    *,
    params: Argon2Params | None = None,
    salt: bytes | None = None,
    n: int | None = None,
    r: int | None = None,
    p: int | None = None,
) -> str:
    """Salted argon2id hash of ``password`` as the standard ``$argon2id$...`` PHC string.

    ``params`` defaults to ``DEFAULT_ARGON2``. Giving any of ``n``, ``r``, ``p`` (defaults
    ``2**14, 8, 1``) writes the former ``scrypt$n$r$p$salt$hash`` scheme instead, for callers
    that still ask for it; a login on such a hash reports it due for rehash.
    """
    if not password:
        raise ValueError("empty passwords are not allowed")
    if salt is None:
        salt = secrets.token_bytes(_SALT_BYTES)
    elif len(salt) < _SALT_BYTES:
        raise ValueError(f"salt must be at least {_SALT_BYTES} bytes")
    if n is not None or r is not None or p is not None:
        if params is not None:
            raise ValueError("give argon2 params or scrypt n/r/p, not both")
        scrypt = _check_scrypt(
            2**14 if n is None else n, 8 if r is None else r, 1 if p is None else p
        )
        key = _scrypt(password, salt, scrypt)
        return f"{_SCRYPT}${scrypt.n}${scrypt.r}${scrypt.p}${_b64(salt)}${_b64(key)}"
    params = DEFAULT_ARGON2 if params is None else params
    hasher = PasswordHasher(
        time_cost=params.time_cost,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=_KEY_BYTES,
        salt_len=_SALT_BYTES,
        type=Type.ID,
    )
    return hasher.hash(password, salt=salt)


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded`` (constant-time compare); bad format: ValueError.

    The hash is parsed and its parameters bounded before argon2 or scrypt allocates anything.
    """
    parsed = _parse_hash(encoded)
    if not password:
        return False
    if isinstance(parsed.params, _ScryptParams):
        return hmac.compare_digest(_scrypt(password, parsed.salt, parsed.params), parsed.key)
    try:
        return verify_secret(encoded.encode("ascii"), password.encode("utf-8"), Type.ID)
    except VerifyMismatchError:
        return False
    except VerificationError as exc:  # parsed above, so argon2 should never refuse it
        raise ValueError(f"password hash could not be verified: {exc}") from None


def rehash_reason(encoded: str, params: Argon2Params | None = None) -> str | None:
    """Why ``encoded`` should be replaced by a hash with ``params`` (default), else None.

    The former scrypt scheme is always due; an argon2id hash is due when its memory or passes
    are below ``params`` (more lanes than asked is not a weakness, nor is a stronger hash).
    """
    want = DEFAULT_ARGON2 if params is None else params
    got = _parse_hash(encoded).params
    if isinstance(got, _ScryptParams):
        return "former scrypt scheme; argon2id is current"
    if got.memory_kib < want.memory_kib or got.time_cost < want.time_cost:
        return (
            f"argon2id m={got.memory_kib} KiB, t={got.time_cost} is below the current "
            f"m={want.memory_kib} KiB, t={want.time_cost}"
        )
    return None


def needs_rehash(encoded: str, params: Argon2Params | None = None) -> bool:
    """Whether ``encoded`` is of an older scheme or weaker parameters than ``params``."""
    return rehash_reason(encoded, params) is not None


@lru_cache(maxsize=16)
def _dummy_hash(params: Argon2Params | _ScryptParams) -> str:
    """A hash of a random, forgotten password with these parameters (one per process)."""
    password = secrets.token_urlsafe(16)
    if isinstance(params, _ScryptParams):
        return hash_password(password, n=params.n, r=params.r, p=params.p)
    return hash_password(password, params=params)


# A new password's minimum (NIST SP 800-63B: length and a blocklist, no composition rules).
# Roles that can authorise force or keep the accounts need a longer one.
MIN_PASSWORD_CHARS = {"viewer": 12, "operator": 12, "commander": 15, "admin": 15}
MIN_DISTINCT_CHARS = 5
# Words every guesser tries first; a password that is one of them (any case, digits and
# punctuation around it ignored) is refused whatever its length.
_BLOCKED_WORDS = frozenset(
    {
        "password", "passwort", "wachtwoord", "welkom", "welcome", "qwerty", "azerty", "letmein",
        "admin", "administrator", "commander", "operator", "viewer", "luchtwacht", "volkel",
        "changeme", "secret", "geheim", "iloveyou", "dragon", "monkey", "football", "abc",
        "qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890", "0123456789",
    }
)  # fmt: skip


def password_problem(password: str, username: str, role: str) -> str | None:
    """Why ``password`` is too weak for a new account of ``role``, or None.

    Applied when an account is made or its password set (``operators add``), never at login.
    """
    need = MIN_PASSWORD_CHARS.get(role, max(MIN_PASSWORD_CHARS.values()))
    if len(password) < need:
        return f"the password must have at least {need} characters for a {role} account"
    if len(set(password)) < MIN_DISTINCT_CHARS:
        return f"the password must have at least {MIN_DISTINCT_CHARS} different characters"
    low = password.lower()
    if username.strip() and username.strip().lower() in low:
        return "the password must not contain the user name"
    core = low.strip("0123456789!@#$%^&*()-_=+.,;:?/ ")
    if core in _BLOCKED_WORDS or low in _BLOCKED_WORDS:
        return "the password is a commonly guessed one"
    if low in "abcdefghijklmnopqrstuvwxyz" * 2 or low in "01234567890123456789" * 2:
        return "the password is a run of consecutive characters"
    return None


# --------------------------------------------------------------------------- accounts


def _check_username(username: str) -> str:
    """A username must be non-blank without surrounding whitespace (so it matches as typed)."""
    if not username.strip():
        raise ValueError("username must not be blank")
    if username != username.strip():
        raise ValueError(f"username {username!r} has surrounding whitespace")
    return username


def _check_role(role: str) -> str:
    """A role must be one of ``ROLES``."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} (expected one of {', '.join(sorted(ROLES))})")
    return role


@dataclass(frozen=True, slots=True)
class OperatorAccount:
    """One operator: name, role and password hash (argon2id, or the former scrypt); checked."""

    username: str
    role: str
    password_hash: str = field(repr=False)
    disabled: bool = False

    def __post_init__(self) -> None:
        """Refuse blank names, unknown roles and malformed hashes at once, not at first login."""
        _check_username(self.username)
        _check_role(self.role)
        _parse_hash(self.password_hash)


class AccountsFileError(ValueError):
    """An accounts file that cannot be read or is invalid; the message names file and entry."""


class _AccountEntry(BaseModel):
    """One ``operators`` entry of an accounts file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: StrictStr
    role: StrictStr
    password_hash: StrictStr
    disabled: StrictBool = False

    @field_validator("username")
    @classmethod
    def _username(cls, v: str) -> str:
        """Non-blank, no surrounding whitespace."""
        return _check_username(v)

    @field_validator("role")
    @classmethod
    def _role(cls, v: str) -> str:
        """One of ``ROLES``."""
        return _check_role(v)

    @field_validator("password_hash")
    @classmethod
    def _password_hash(cls, v: str) -> str:
        """Must parse as argon2id (bounded parameters) or the former scrypt format."""
        _parse_hash(v)
        return v


class _AccountsFile(BaseModel):
    """Top level of an accounts file: ``operators: [...]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    operators: list[_AccountEntry]

    @field_validator("operators")
    @classmethod
    def _unique(cls, v: list[_AccountEntry]) -> list[_AccountEntry]:
        """Usernames are unique, else a login would be ambiguous."""
        seen: dict[str, int] = {}
        for i, entry in enumerate(v):
            if entry.username in seen:
                raise ValueError(
                    f"entry {i} repeats username {entry.username!r} of entry {seen[entry.username]}"
                )
            seen[entry.username] = i
        return v


def load_accounts(path: str | os.PathLike[str]) -> list[OperatorAccount]:
    """Read and validate an accounts YAML file; errors raise AccountsFileError naming file:line."""
    doc = load_yaml_model(Path(path), _AccountsFile, AccountsFileError)
    return [OperatorAccount(e.username, e.role, e.password_hash, e.disabled) for e in doc.operators]


def save_accounts(path: str | os.PathLike[str], accounts: Iterable[OperatorAccount]) -> None:
    """Write accounts in the ``load_accounts`` format, atomically and readable by the owner only."""
    accounts = list(accounts)
    names = [a.username for a in accounts]
    if len(set(names)) != len(names):
        raise ValueError("duplicate usernames among the accounts to save")
    entries: list[dict[str, object]] = []
    for a in accounts:
        entry: dict[str, object] = {
            "username": a.username,
            "role": a.role,
            "password_hash": a.password_hash,
        }
        if a.disabled:
            entry["disabled"] = True
        entries.append(entry)
    text = "# luchtwacht operator accounts (argon2id password hashes)\n" + yaml.safe_dump(
        {"operators": entries}, sort_keys=False, allow_unicode=True
    )
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def rehash_account(
    path: str | os.PathLike[str],
    username: str,
    password: str,
    *,
    params: Argon2Params | None = None,
) -> str | None:
    """Replace ``username``'s hash in the accounts file if it is due; the reason, else None.

    The password is checked against the stored hash first (a wrong one raises ValueError, and
    so does an unknown user), so only someone who knows it can rewrite it. For the operators
    CLI, and for a node that upgrades a hash when a login reports ``Session.rehash``.
    """
    accounts = load_accounts(path)
    account = next((a for a in accounts if a.username == username), None)
    if account is None:
        raise ValueError(f"no account {username!r}")
    if not verify_password(password, account.password_hash):
        raise ValueError(f"wrong password for {username!r}")
    reason = rehash_reason(account.password_hash, params)
    if reason is None:
        return None
    new = replace(account, password_hash=hash_password(password, params=params))
    save_accounts(path, [new if a.username == username else a for a in accounts])
    return reason


# --------------------------------------------------------------------------- sessions


class AuthError(Exception):
    """Authentication or authorisation refused; ``reason`` is the text shown to the operator."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PermissionDenied(AuthError):  # noqa: N818 - name fixed by the API
    """A valid session whose role lacks the permission asked for."""


class LoginBackoffError(AuthError):
    """A login refused unchecked: its source failed too often; ``retry_t_s`` is when it may."""

    def __init__(self, reason: str, retry_t_s: float) -> None:
        super().__init__(reason)
        self.retry_t_s = retry_t_s


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in operator; the token is the secret that proves it (kept out of ``repr``).

    ``rehash`` says why the account's stored password hash should be replaced (a former scheme
    or parameters weaker than the Authority's), else None. Only the login that produced the
    session held the password, so that caller should store ``hash_password(password)`` (see
    ``rehash_account``).
    """

    token: str = field(repr=False)
    username: str
    role: str
    issued_t_s: float
    expires_t_s: float
    rehash: str | None = None

    def allows(self, permission: Permission) -> bool:
        """Whether this session's role carries ``permission``."""
        return permission in ROLES.get(self.role, frozenset())


AuditSink = Callable[[float, str, dict[str, object]], object]
"""Receives ``(t_s, kind, data)`` for each audited step."""

UNKNOWN_OR_WRONG = say("auth.wrong")
UNKNOWN_AUDIT_EVERY_S = 1.0  # refusals of unknown session tokens: one audit record a second


def _utc(t_s: float) -> str:
    """ISO-8601 UTC text of ``t_s`` for messages (raw seconds if out of the calendar's range)."""
    try:
        return datetime.fromtimestamp(t_s, UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return f"t={t_s:.0f} s"


def _check_time(t_s: float) -> float:
    """Times must be finite numbers, else expiry comparisons silently misbehave."""
    if not math.isfinite(t_s):
        raise ValueError(f"t_s must be finite, got {t_s!r}")
    return float(t_s)


@dataclass(slots=True)
class _Streak:
    """Failed logins on one key with no success between, and the back-off they have earned."""

    count: int
    last_t_s: float
    until_t_s: float = -math.inf


class _Streaks:
    """Failure streaks by key, least recently failed first, capped at ``cap`` entries.

    A streak is forgotten ``forget_s`` after its last failure (longer than any back-off, so a
    forgotten streak never refuses). Kept in order of last failure, stale streaks are dropped
    from the front in O(1) each; past the cap the least recently failed one goes, so a flood of
    new keys costs memory ``O(cap)`` however long it runs.
    """

    __slots__ = ("_cap", "_forget_s", "_streaks")

    def __init__(self, cap: int, forget_s: float) -> None:
        self._cap = cap
        self._forget_s = forget_s
        self._streaks: OrderedDict[Hashable, _Streak] = OrderedDict()

    def __len__(self) -> int:
        return len(self._streaks)

    def _stale(self, s: _Streak, t_s: float) -> bool:
        return t_s - s.last_t_s >= self._forget_s

    def get(self, key: Hashable, t_s: float) -> _Streak | None:
        """The live streak of ``key``, if any (a stale one is dropped)."""
        s = self._streaks.get(key)
        if s is not None and self._stale(s, t_s):
            del self._streaks[key]
            return None
        return s

    def fail(self, key: Hashable, t_s: float) -> _Streak:
        """Count one failure on ``key`` at ``t_s`` and return its streak."""
        s = self._streaks.pop(key, None)
        if s is None or self._stale(s, t_s):
            s = _Streak(count=0, last_t_s=t_s)
        s.count += 1
        s.last_t_s = max(s.last_t_s, t_s)
        self._streaks[key] = s  # to the most recently failed end
        if len(self._streaks) > self._cap:
            self._streaks.popitem(last=False)
        return s

    def clear(self, key: Hashable) -> None:
        """End the streak of ``key`` (a successful login)."""
        self._streaks.pop(key, None)

    def prune(self, t_s: float) -> None:
        """Drop stale streaks from the least recently failed end."""
        while self._streaks:
            key, s = next(iter(self._streaks.items()))
            if not self._stale(s, t_s):
                return
            del self._streaks[key]


class Authority:
    """Logs operators in, checks their permissions and keeps the audit trail of both.

    Failed logins earn a back-off per (source, username) after ``max_failures`` and per source
    after ``source_max_failures`` (any usernames): ``backoff_s``, doubled with each further
    failure, capped at ``lockout_s``. While a username has ``account_max_failures`` failures
    from anywhere, each source's first failure on it earns the back-off. A correct password
    from a source without a back-off is never refused. ``source`` ``""`` (unknown) is one
    shared source with no per-source limit, so a caller that can name the client should.
    Streaks are kept for unknown usernames exactly as for real ones, forgotten ``2 * lockout_s``
    after their last failure, and each table holds at most ``max_tracked`` keys. Passwords are
    judged against ``hash_params``: a login on a weaker hash reports ``Session.rehash``.
    Times come in as ``t_s``; nothing reads a clock.
    """

    def __init__(
        self,
        accounts: Iterable[OperatorAccount],
        *,
        session_ttl_s: float = 8 * 3600,
        max_failures: int = 5,
        lockout_s: float = 900.0,
        backoff_s: float = 30.0,
        source_max_failures: int = 20,
        account_max_failures: int = 20,
        max_tracked: int = 10_000,
        hash_params: Argon2Params | None = None,
        audit: AuditSink | None = None,
    ) -> None:
        if not (math.isfinite(session_ttl_s) and session_ttl_s > 0):
            raise ValueError(f"session_ttl_s must be positive, got {session_ttl_s!r}")
        for name, value in (
            ("max_failures", max_failures),
            ("source_max_failures", source_max_failures),
            ("account_max_failures", account_max_failures),
            ("max_tracked", max_tracked),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value!r}")
        if not (math.isfinite(lockout_s) and lockout_s > 0):
            raise ValueError(f"lockout_s must be positive, got {lockout_s!r}")
        if not (math.isfinite(backoff_s) and 0 < backoff_s <= lockout_s):
            raise ValueError(f"backoff_s must be in (0, lockout_s], got {backoff_s!r}")
        self._accounts: dict[str, OperatorAccount] = {}
        for account in accounts:
            if account.username in self._accounts:
                raise ValueError(f"duplicate username {account.username!r}")
            self._accounts[account.username] = account
        self._ttl = float(session_ttl_s)
        self._max_failures = max_failures
        self._source_max_failures = source_max_failures
        self._account_max_failures = account_max_failures
        self._lockout = float(lockout_s)
        self._backoff = float(backoff_s)
        self._hash_params = DEFAULT_ARGON2 if hash_params is None else hash_params
        self._audit = audit
        self._sessions: dict[str, Session] = {}
        self._unknown_refused = 0  # made-up tokens refused since the last such audit record
        self._unknown_audited_t_s = -math.inf
        forget_s = 2 * self._lockout
        self._by_pair = _Streaks(max_tracked, forget_s)  # (source, username)
        self._by_source = _Streaks(max_tracked, forget_s)
        self._by_username = _Streaks(max_tracked, forget_s)
        # Keys are keyed digests: usernames are chosen by whoever tries to log in, and a table
        # of 10 000 one-megabyte names must not be what "bounded" means.
        self._key = secrets.token_bytes(16)
        # Made now, not at the first unknown user, whose login would otherwise take the hash
        # time twice and so show that the name is not real.
        self._dummy_hash = _dummy_hash(self._dummy_params())
        # A console logs people in from its own thread while the node checks sessions on its
        # loop: every table is touched under this lock, but never the slow password check.
        self._lock = threading.RLock()

    def _dummy_params(self) -> Argon2Params | _ScryptParams:
        """The parameters most accounts have (the Authority's own when there are none)."""
        costs = Counter(_parse_hash(a.password_hash).params for a in self._accounts.values())
        if not costs:
            return self._hash_params
        return costs.most_common(1)[0][0]

    @property
    def accounts(self) -> list[OperatorAccount]:
        """Current accounts (including disabled flags), e.g. for ``save_accounts``."""
        return list(self._accounts.values())

    @property
    def active_sessions(self) -> int:
        """Number of sessions held (expired ones are dropped on each login)."""
        return len(self._sessions)

    @property
    def tracked_failures(self) -> int:
        """Failure streaks held, over all tables (each at most ``max_tracked``)."""
        return len(self._by_pair) + len(self._by_source) + len(self._by_username)

    def _record(self, t_s: float, kind: str, data: dict[str, object]) -> None:
        """Pass one audit record on, if there is a sink."""
        if self._audit is not None:
            self._audit(t_s, kind, data)

    def _digest(self, text: str) -> bytes:
        """A short keyed digest of a username or source, for the failure tables."""
        data = text.encode("utf-8", "surrogatepass")
        return hashlib.blake2b(data, key=self._key, digest_size=16).digest()

    def _prune(self, t_s: float) -> None:
        """Drop expired sessions and forgotten failure streaks, bounding every table."""
        for token in [k for k, s in self._sessions.items() if t_s >= s.expires_t_s]:
            del self._sessions[token]
        for table in (self._by_pair, self._by_source, self._by_username):
            table.prune(t_s)

    def _back_off(self, streak: _Streak, threshold: int, t_s: float) -> None:
        """From ``threshold`` failures on, refuse until ``backoff_s * 2**(count - threshold)``."""
        if streak.count >= threshold:
            doublings = min(streak.count - threshold, 64)
            streak.until_t_s = t_s + min(self._backoff * 2.0**doublings, self._lockout)

    def _fail(self, username: str, source: str, keys: tuple[bytes, bytes], t_s: float) -> AuthError:
        """Count a wrong password on every table, audit it and return the uniform error."""
        user_key, source_key = keys
        attacked = self._by_username.fail(user_key, t_s).count >= self._account_max_failures
        pair = self._by_pair.fail(keys, t_s)
        self._back_off(pair, 1 if attacked else self._max_failures, t_s)
        if source:
            self._back_off(self._by_source.fail(source_key, t_s), self._source_max_failures, t_s)
        self._record(t_s, "auth.failed", self._who(username, source, UNKNOWN_OR_WRONG))
        return AuthError(UNKNOWN_OR_WRONG)

    def _backed_off_until(self, keys: tuple[bytes, bytes], source: str, t_s: float) -> float:
        """Until when this source is refused for this username (``-inf`` if it is not)."""
        until = -math.inf
        pair = self._by_pair.get(keys, t_s)
        if pair is not None:
            until = pair.until_t_s
        if source:
            src = self._by_source.get(keys[1], t_s)
            if src is not None:
                until = max(until, src.until_t_s)
        return until

    @staticmethod
    def _who(username: str, source: str, reason: str) -> dict[str, object]:
        """Audit data of a refused login (the source only when the caller named one)."""
        data: dict[str, object] = {"username": username, "reason": reason}
        if source:
            data["source"] = source
        return data

    def authenticate(
        self, username: str, password: str, t_s: float, *, source: str = ""
    ) -> Session:
        """Check a password and open a session; unknown users and wrong passwords look alike.

        ``source`` is the client's address (without port), by which failures are backed off;
        ``""`` means unknown. A source in back-off is refused unchecked with
        ``LoginBackoffError``; otherwise every refusal of a password, whether the user exists
        or not, is ``AuthError("unknown user or wrong password")`` at the same cost.
        """
        t_s = _check_time(t_s)
        with self._lock:
            self._prune(t_s)
            keys = (self._digest(username), self._digest(source))
            until = self._backed_off_until(keys, source, t_s)
            if t_s < until:
                reason = say("auth.backed_off", time=_utc(until))
                self._record(t_s, "auth.failed", self._who(username, source, reason))
                raise LoginBackoffError(reason, until)
            account = self._accounts.get(username)
        # Outside the lock: the check takes ~0.2 s by design, and must not hold up the node.
        # An unknown user is checked against the dummy hash: the same cost as a real one.
        good = verify_password(
            password, self._dummy_hash if account is None else account.password_hash
        )
        with self._lock:
            return self._open_session(username, source, keys, account, good, t_s)

    def _open_session(
        self,
        username: str,
        source: str,
        keys: tuple[bytes, bytes],
        account: OperatorAccount | None,
        good: bool,
        t_s: float,
    ) -> Session:
        """After the password check: count a failure, or open the session (under the lock)."""
        if account is None or not good:
            raise self._fail(username, source, keys, t_s)
        # Disabled only shows to someone who knows the password, so it cannot be probed either.
        if account.disabled:
            reason = say("auth.disabled")
            self._record(t_s, "auth.failed", self._who(username, source, reason))
            raise AuthError(reason)
        self._by_pair.clear(keys)
        session = Session(
            token=secrets.token_urlsafe(32),
            username=account.username,
            role=account.role,
            issued_t_s=t_s,
            expires_t_s=t_s + self._ttl,
            rehash=rehash_reason(account.password_hash, self._hash_params),
        )
        data: dict[str, object] = {"username": account.username, "role": account.role}
        if source:
            data["source"] = source
        if session.rehash is not None:
            data["rehash"] = session.rehash
        # Audit first: if the trail cannot be written, no session is handed out.
        self._record(t_s, "auth.login", data)
        self._sessions[session.token] = session
        return session

    def check(self, token: str, permission: Permission, t_s: float) -> Session:
        """The session of ``token`` if it is live, its account enabled and its role permits."""
        t_s = _check_time(t_s)
        with self._lock:
            return self._check(token, permission, t_s)

    def _check(self, token: str, permission: Permission, t_s: float) -> Session:
        session = self._sessions.get(token)
        if session is None:
            # Anyone can send a made-up token as fast as the network allows: audit them as
            # one record a second with their count, so a flood cannot grow the trail.
            self._unknown_refused += 1
            if t_s - self._unknown_audited_t_s >= UNKNOWN_AUDIT_EVERY_S:
                told = {"reason": "unknown session", "count": self._unknown_refused}
                self._record(t_s, "auth.refused", told)
                self._unknown_refused = 0
                self._unknown_audited_t_s = t_s
            raise AuthError(say("auth.unknown_session"))
        if t_s >= session.expires_t_s:
            del self._sessions[token]
            self._record(t_s, "auth.refused", {"username": session.username, "reason": "expired"})
            raise AuthError(say("auth.expired"))
        account = self._accounts.get(session.username)
        if account is None or account.disabled:
            del self._sessions[token]
            data: dict[str, object] = {"username": session.username, "reason": "account disabled"}
            self._record(t_s, "auth.refused", data)
            raise AuthError("account disabled")
        if not session.allows(permission):
            self._record(
                t_s,
                "auth.denied",
                {"username": session.username, "role": session.role, "permission": str(permission)},
            )
            raise PermissionDenied(say("auth.role", role=session.role, permission=permission))
        return session

    def logout(self, token: str, t_s: float) -> None:
        """End a session; its token is no longer accepted."""
        t_s = _check_time(t_s)
        with self._lock:
            session = self._sessions.pop(token, None)
            if session is None:
                raise AuthError(say("auth.unknown_session"))
            self._record(t_s, "auth.logout", {"username": session.username, "role": session.role})

    def disable(self, username: str, t_s: float, *, by: str = "") -> None:
        """Disable an account and end all its sessions at once (``by``: who did, audited)."""
        t_s = _check_time(t_s)
        with self._lock:
            account = self._accounts.get(username)
            if account is None:
                raise ValueError(f"unknown operator {username!r}")
            self._accounts[username] = replace(account, disabled=True)
            ended = [k for k, s in self._sessions.items() if s.username == username]
            for token in ended:
                del self._sessions[token]
            data: dict[str, object] = {"username": username, "sessions_ended": len(ended)}
            if by:
                data["by"] = by
            self._record(t_s, "auth.disabled", data)
