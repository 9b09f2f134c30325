"""Human authority over countermeasures: operator accounts, roles, sessions and their audit trail.

The system only *proposes* countermeasures; force may be authorised solely by an authenticated
operator whose role carries ``APPROVE_ENGAGEMENT``. Refusing or stopping force is open to every
operator. All times are passed in as UTC seconds (``t_s``) so that simulated time works, and every
login, failure, refusal, logout and disabling goes to an audit callback (never a password).
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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, field_validator

from luchtwacht.config_file import load_yaml_model

__all__ = [
    "ROLES",
    "AccountsFileError",
    "AuditSink",
    "AuthError",
    "Authority",
    "OperatorAccount",
    "Permission",
    "PermissionDenied",
    "Session",
    "hash_password",
    "load_accounts",
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
    "commander": frozenset(Permission),
}

# --------------------------------------------------------------------------- passwords

_SCHEME = "scrypt"
_SALT_BYTES = 16
_KEY_BYTES = 32
# Bounds on scrypt parameters read from a file, so a doctored hash cannot exhaust memory or CPU.
_MAX_N = 2**20
_MAX_R = 32
_MAX_P = 16
_MAX_MEM = 256 * 1024 * 1024


def _scrypt_mem(n: int, r: int, p: int) -> int:
    """Bytes OpenSSL's scrypt needs for these parameters (its own ``maxmem`` check)."""
    return 128 * r * (n + 2 + p)


def _check_params(n: int, r: int, p: int) -> None:
    """Refuse scrypt parameters that are invalid or too costly; raises ValueError."""
    if n < 2 or n > _MAX_N or n & (n - 1):
        raise ValueError(f"scrypt n must be a power of two in [2, {_MAX_N}], got {n}")
    if not 1 <= r <= _MAX_R:
        raise ValueError(f"scrypt r must be in [1, {_MAX_R}], got {r}")
    if not 1 <= p <= _MAX_P:
        raise ValueError(f"scrypt p must be in [1, {_MAX_P}], got {p}")
    if _scrypt_mem(n, r, p) > _MAX_MEM:
        raise ValueError(f"scrypt parameters n={n} r={r} p={p} need more than {_MAX_MEM} bytes")


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    """The scrypt key of ``password``; maxmem is sized to the parameters, which are checked."""
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


def _parse_hash(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    """Split ``scrypt$n$r$p$salt$hash`` into its checked parts; anything else raises ValueError."""
    if not isinstance(encoded, str):
        raise ValueError(f"password hash must be a string, got {type(encoded).__name__}")
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != _SCHEME:
        raise ValueError("malformed password hash: expected 'scrypt$<n>$<r>$<p>$<salt>$<hash>'")
    if not all(x.isascii() and x.isdigit() for x in parts[1:4]):
        raise ValueError("malformed password hash: n, r and p must be decimal integers")
    n, r, p = (int(x) for x in parts[1:4])
    _check_params(n, r, p)
    try:
        salt = base64.b64decode(parts[4], validate=True)
        key = base64.b64decode(parts[5], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("malformed password hash: salt and hash must be base64") from None
    if len(salt) < _SALT_BYTES:
        raise ValueError(f"malformed password hash: salt shorter than {_SALT_BYTES} bytes")
    if len(key) != _KEY_BYTES:
        raise ValueError(f"malformed password hash: hash must be {_KEY_BYTES} bytes")
    return n, r, p, salt, key


def hash_password(
    password: str, *, n: int = 2**14, r: int = 8, p: int = 1, salt: bytes | None = None
) -> str:
    """Salted scrypt hash of ``password`` as ``scrypt$n$r$p$salt$hash`` (base64), for the file."""
    if not password:
        raise ValueError("empty passwords are not allowed")
    _check_params(n, r, p)
    if salt is None:
        salt = secrets.token_bytes(_SALT_BYTES)
    elif len(salt) < _SALT_BYTES:
        raise ValueError(f"salt must be at least {_SALT_BYTES} bytes")
    key = _derive(password, salt, n, r, p)
    return f"{_SCHEME}${n}${r}${p}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded`` (constant-time compare); bad format: ValueError."""
    n, r, p, salt, key = _parse_hash(encoded)
    if not password:
        return False
    return hmac.compare_digest(_derive(password, salt, n, r, p), key)


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
    """One operator: name, role and scrypt password hash; checked on construction."""

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
        """Must parse as the scrypt format."""
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
    text = "# luchtwacht operator accounts (scrypt password hashes)\n" + yaml.safe_dump(
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


# --------------------------------------------------------------------------- sessions


class AuthError(Exception):
    """Authentication or authorisation refused; ``reason`` is the text shown to the operator."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PermissionDenied(AuthError):  # noqa: N818 - name fixed by the API
    """A valid session whose role lacks the permission asked for."""


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in operator; the token is the secret that proves it (kept out of ``repr``)."""

    token: str = field(repr=False)
    username: str
    role: str
    issued_t_s: float
    expires_t_s: float

    def allows(self, permission: Permission) -> bool:
        """Whether this session's role carries ``permission``."""
        return permission in ROLES.get(self.role, frozenset())


AuditSink = Callable[[float, str, dict[str, object]], object]
"""Receives ``(t_s, kind, data)`` for each audited step."""

UNKNOWN_OR_WRONG = "unknown user or wrong password"


@dataclass(slots=True)
class _Failures:
    """Consecutive failed logins of one username and the lock they may have caused."""

    first_t_s: float
    count: int = 0
    locked_until_t_s: float | None = None


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


class Authority:
    """Logs operators in, checks their permissions and keeps the audit trail of both.

    Failed logins are counted per username whether or not the account exists, so lockouts
    cannot reveal which usernames are real. Times come in as ``t_s``; nothing reads a clock.
    """

    def __init__(
        self,
        accounts: Iterable[OperatorAccount],
        *,
        session_ttl_s: float = 8 * 3600,
        max_failures: int = 5,
        lockout_s: float = 900.0,
        audit: AuditSink | None = None,
    ) -> None:
        if not (math.isfinite(session_ttl_s) and session_ttl_s > 0):
            raise ValueError(f"session_ttl_s must be positive, got {session_ttl_s!r}")
        if max_failures < 1:
            raise ValueError(f"max_failures must be at least 1, got {max_failures!r}")
        if not (math.isfinite(lockout_s) and lockout_s > 0):
            raise ValueError(f"lockout_s must be positive, got {lockout_s!r}")
        self._accounts: dict[str, OperatorAccount] = {}
        for account in accounts:
            if account.username in self._accounts:
                raise ValueError(f"duplicate username {account.username!r}")
            self._accounts[account.username] = account
        self._ttl = float(session_ttl_s)
        self._max_failures = max_failures
        self._lockout = float(lockout_s)
        self._audit = audit
        self._sessions: dict[str, Session] = {}
        self._failures: dict[str, _Failures] = {}
        self._dummy_hash: str | None = None

    @property
    def accounts(self) -> list[OperatorAccount]:
        """Current accounts (including disabled flags), e.g. for ``save_accounts``."""
        return list(self._accounts.values())

    @property
    def active_sessions(self) -> int:
        """Number of sessions held (expired ones are dropped on each login)."""
        return len(self._sessions)

    def _record(self, t_s: float, kind: str, data: dict[str, object]) -> None:
        """Pass one audit record on, if there is a sink."""
        if self._audit is not None:
            self._audit(t_s, kind, data)

    def _dummy(self) -> str:
        """A hash to check unknown usernames against, so they take as long as real ones."""
        if self._dummy_hash is None:
            ref = next(iter(self._accounts.values()), None)
            if ref is None:
                self._dummy_hash = hash_password(secrets.token_urlsafe(16))
            else:
                n, r, p, _, _ = _parse_hash(ref.password_hash)
                self._dummy_hash = hash_password(secrets.token_urlsafe(16), n=n, r=r, p=p)
        return self._dummy_hash

    def _prune(self, t_s: float) -> None:
        """Drop expired sessions and failure streaks that no longer count, bounding both tables."""
        for token in [k for k, s in self._sessions.items() if t_s >= s.expires_t_s]:
            del self._sessions[token]
        for name in [k for k, f in self._failures.items() if self._stale(f, t_s)]:
            del self._failures[name]

    def _stale(self, f: _Failures, t_s: float) -> bool:
        """A failure record that neither locks nor can still grow into a lock."""
        if f.locked_until_t_s is not None:
            return t_s >= f.locked_until_t_s
        return t_s - f.first_t_s > self._lockout

    def _fail(self, username: str, reason: str, t_s: float) -> AuthError:
        """Count a failed login (locking at ``max_failures``), audit it, return the error."""
        f = self._failures.get(username)
        if f is None or self._stale(f, t_s):
            f = self._failures[username] = _Failures(first_t_s=t_s)
        f.count += 1
        if f.count >= self._max_failures:
            f.locked_until_t_s = t_s + self._lockout
        self._record(t_s, "auth.failed", {"username": username, "reason": reason})
        return AuthError(reason)

    def authenticate(self, username: str, password: str, t_s: float) -> Session:
        """Check a password and open a session; unknown users and wrong passwords look alike."""
        t_s = _check_time(t_s)
        self._prune(t_s)
        f = self._failures.get(username)
        if f is not None and f.locked_until_t_s is not None and t_s < f.locked_until_t_s:
            reason = f"account locked until {_utc(f.locked_until_t_s)}"
            self._record(t_s, "auth.failed", {"username": username, "reason": reason})
            raise AuthError(reason)
        account = self._accounts.get(username)
        if account is None:
            verify_password(password, self._dummy())  # same cost as a real check
            raise self._fail(username, UNKNOWN_OR_WRONG, t_s)
        if not verify_password(password, account.password_hash):
            raise self._fail(username, UNKNOWN_OR_WRONG, t_s)
        # Disabled only shows to someone who knows the password, so it cannot be probed either.
        if account.disabled:
            reason = "account disabled"
            self._record(t_s, "auth.failed", {"username": username, "reason": reason})
            raise AuthError(reason)
        self._failures.pop(username, None)
        session = Session(
            token=secrets.token_urlsafe(32),
            username=account.username,
            role=account.role,
            issued_t_s=t_s,
            expires_t_s=t_s + self._ttl,
        )
        # Audit first: if the trail cannot be written, no session is handed out.
        self._record(t_s, "auth.login", {"username": account.username, "role": account.role})
        self._sessions[session.token] = session
        return session

    def check(self, token: str, permission: Permission, t_s: float) -> Session:
        """The session of ``token`` if it is live, its account enabled and its role permits."""
        t_s = _check_time(t_s)
        session = self._sessions.get(token)
        if session is None:
            self._record(t_s, "auth.refused", {"reason": "unknown session"})
            raise AuthError("unknown session")
        if t_s >= session.expires_t_s:
            del self._sessions[token]
            self._record(t_s, "auth.refused", {"username": session.username, "reason": "expired"})
            raise AuthError("session expired")
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
            raise PermissionDenied(f"role {session.role} may not {permission}")
        return session

    def logout(self, token: str, t_s: float) -> None:
        """End a session; its token is no longer accepted."""
        t_s = _check_time(t_s)
        session = self._sessions.pop(token, None)
        if session is None:
            raise AuthError("unknown session")
        self._record(t_s, "auth.logout", {"username": session.username, "role": session.role})

    def disable(self, username: str, t_s: float) -> None:
        """Disable an account and end all its sessions at once."""
        t_s = _check_time(t_s)
        account = self._accounts.get(username)
        if account is None:
            raise ValueError(f"unknown operator {username!r}")
        self._accounts[username] = replace(account, disabled=True)
        ended = [k for k, s in self._sessions.items() if s.username == username]
        for token in ended:
            del self._sessions[token]
        self._record(t_s, "auth.disabled", {"username": username, "sessions_ended": len(ended)})
