"""Operator authority: password hashing, roles, login/lockout/expiry flows, audit, accounts file."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from luchtwacht.counter.authority import (
    ROLES,
    AccountsFileError,
    AuthError,
    Authority,
    OperatorAccount,
    Permission,
    PermissionDenied,
    Session,
    hash_password,
    load_accounts,
    save_accounts,
    verify_password,
)

FAST = 2**10  # scrypt n for tests; one test covers the default
T0 = 1_700_000_000.0

Record = tuple[float, str, dict[str, object]]


def fast_hash(password: str) -> str:
    return hash_password(password, n=FAST)


PASSWORDS = {"ada": "ada-secret-1", "bob": "bob-secret-2", "cy": "cy-secret-3"}


@pytest.fixture(scope="module")
def accounts() -> list[OperatorAccount]:
    return [
        OperatorAccount("ada", "commander", fast_hash(PASSWORDS["ada"])),
        OperatorAccount("bob", "operator", fast_hash(PASSWORDS["bob"])),
        OperatorAccount("cy", "viewer", fast_hash(PASSWORDS["cy"])),
    ]


def make(
    accounts: list[OperatorAccount],
    *,
    session_ttl_s: float = 8 * 3600,
    max_failures: int = 5,
    lockout_s: float = 900.0,
) -> tuple[Authority, list[Record]]:
    log: list[Record] = []
    auth = Authority(
        accounts,
        session_ttl_s=session_ttl_s,
        max_failures=max_failures,
        lockout_s=lockout_s,
        audit=lambda t, kind, data: log.append((t, kind, data)),
    )
    return auth, log


# --------------------------------------------------------------------------- passwords


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_hash_verify_round_trip(password: str) -> None:
    encoded = fast_hash(password)
    assert verify_password(password, encoded)
    assert not verify_password(password + "x", encoded)


def test_default_parameters_round_trip_and_format() -> None:
    encoded = hash_password("correct horse battery staple")
    scheme, n, r, p, _salt, _key = encoded.split("$")
    assert (scheme, n, r, p) == ("scrypt", str(2**14), "8", "1")
    assert verify_password("correct horse battery staple", encoded)
    assert not verify_password("correct horse battery stapler", encoded)


def test_wrong_password_fails_and_salt_differs() -> None:
    a, b = fast_hash("hunter2"), fast_hash("hunter2")
    assert a != b  # random salt
    assert verify_password("hunter2", a) and verify_password("hunter2", b)
    assert not verify_password("Hunter2", a)
    assert not verify_password("", a)


def test_given_salt_is_deterministic_and_short_salt_refused() -> None:
    salt = bytes(range(16))
    assert hash_password("pw", n=FAST, salt=salt) == hash_password("pw", n=FAST, salt=salt)
    with pytest.raises(ValueError, match="salt"):
        hash_password("pw", n=FAST, salt=b"short")


def test_empty_password_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        hash_password("", n=FAST)


@pytest.mark.parametrize("bad_n", [0, 1, 1000, 2**21])
def test_bad_parameters_refused(bad_n: int) -> None:
    with pytest.raises(ValueError, match="scrypt n"):
        hash_password("pw", n=bad_n)


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "plain-text-password",
        "bcrypt$1024$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",
        "scrypt$1024$8$1$AAAAAAAAAAAAAAAAAAAAAA==",  # a part missing
        "scrypt$x$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 44,
        "scrypt$-1024$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 44,
        "scrypt$1000$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 44,  # n not a power of two
        "scrypt$1024$8$1$!!not-base64!!$" + "A" * 44,
        "scrypt$1024$8$1$AAAA$" + "A" * 44,  # salt too short
        "scrypt$1024$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",  # hash too short
        "scrypt$1048576$32$16$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 44,  # too costly
    ],
)
def test_malformed_hash_raises(encoded: str) -> None:
    with pytest.raises(ValueError, match=r"password hash|scrypt"):
        verify_password("pw", encoded)


# --------------------------------------------------------------------------- roles


def test_role_permissions() -> None:
    assert set(ROLES) == {"viewer", "operator", "commander"}
    assert ROLES["viewer"] == {Permission.VIEW}
    assert Permission.APPROVE_ENGAGEMENT not in ROLES["operator"]
    assert {Permission.REJECT_ENGAGEMENT, Permission.CEASE_ENGAGEMENT} <= ROLES["operator"]
    assert ROLES["commander"] == set(Permission)


def test_session_allows_by_role() -> None:
    def session(role: str) -> Session:
        return Session("tok", "u", role, T0, T0 + 1)

    assert not session("operator").allows(Permission.APPROVE_ENGAGEMENT)
    assert session("operator").allows(Permission.CEASE_ENGAGEMENT)
    assert session("commander").allows(Permission.APPROVE_ENGAGEMENT)
    assert not session("viewer").allows(Permission.ACKNOWLEDGE)
    assert "tok" not in repr(session("viewer"))  # the token is a secret


def test_account_checks_role_name_and_hash() -> None:
    good = fast_hash("pw")
    with pytest.raises(ValueError, match="unknown role 'admin'"):
        OperatorAccount("x", "admin", good)
    with pytest.raises(ValueError, match="blank"):
        OperatorAccount("  ", "viewer", good)
    with pytest.raises(ValueError, match="password hash"):
        OperatorAccount("x", "viewer", "pw")
    assert good not in repr(OperatorAccount("x", "viewer", good))


# --------------------------------------------------------------------------- flows


def test_check_by_role(accounts: list[OperatorAccount]) -> None:
    auth, log = make(accounts)
    ada = auth.authenticate("ada", PASSWORDS["ada"], T0)
    bob = auth.authenticate("bob", PASSWORDS["bob"], T0)
    cy = auth.authenticate("cy", PASSWORDS["cy"], T0)
    assert ada.role == "commander" and ada.expires_t_s == T0 + 8 * 3600
    assert auth.check(ada.token, Permission.APPROVE_ENGAGEMENT, T0 + 1) == ada
    assert auth.check(bob.token, Permission.CEASE_ENGAGEMENT, T0 + 1) == bob
    with pytest.raises(PermissionDenied, match="role operator may not approve_engagement"):
        auth.check(bob.token, Permission.APPROVE_ENGAGEMENT, T0 + 2)
    with pytest.raises(PermissionDenied, match="role viewer may not acknowledge"):
        auth.check(cy.token, Permission.ACKNOWLEDGE, T0 + 3)
    assert auth.check(cy.token, Permission.VIEW, T0 + 3) == cy
    denied = [(t, d) for t, k, d in log if k == "auth.denied"]
    assert denied == [
        (T0 + 2, {"username": "bob", "role": "operator", "permission": "approve_engagement"}),
        (T0 + 3, {"username": "cy", "role": "viewer", "permission": "acknowledge"}),
    ]
    assert [k for _, k, _ in log].count("auth.login") == 3


def test_unknown_user_and_wrong_password_look_alike(accounts: list[OperatorAccount]) -> None:
    auth, _ = make(accounts)
    with pytest.raises(AuthError) as unknown:
        auth.authenticate("mallory", "whatever", T0)
    with pytest.raises(AuthError) as wrong:
        auth.authenticate("ada", "whatever", T0)
    assert unknown.value.reason == wrong.value.reason == "unknown user or wrong password"
    assert str(unknown.value) == str(wrong.value)
    assert type(unknown.value) is type(wrong.value) is AuthError


def test_lockout_refuses_even_correct_password(accounts: list[OperatorAccount]) -> None:
    auth, log = make(accounts, max_failures=3, lockout_s=600.0)
    for i in range(3):
        with pytest.raises(AuthError, match="unknown user or wrong password"):
            auth.authenticate("bob", f"guess{i}", T0 + i)
    with pytest.raises(AuthError, match="account locked until") as locked:
        auth.authenticate("bob", PASSWORDS["bob"], T0 + 10)
    assert "2023-11-14T22:" in locked.value.reason  # T0 + 2 + 600 s, in UTC
    with pytest.raises(AuthError, match="account locked"):
        auth.authenticate("bob", PASSWORDS["bob"], T0 + 2 + 599)
    session = auth.authenticate("bob", PASSWORDS["bob"], T0 + 2 + 600)
    assert session.username == "bob"
    failed = [d for _, k, d in log if k == "auth.failed"]
    assert len(failed) == 5 and all(d["username"] == "bob" for d in failed)


def test_unknown_users_lock_the_same_way(accounts: list[OperatorAccount]) -> None:
    auth, _ = make(accounts, max_failures=2, lockout_s=60.0)
    reasons = []
    for name in ("ada", "nobody"):
        for i in range(3):
            with pytest.raises(AuthError) as exc:
                auth.authenticate(name, "wrong", T0 + i)
            reasons.append(exc.value.reason)
    assert reasons[:3] == reasons[3:]
    assert reasons[2].startswith("account locked until")


def test_success_resets_failures_and_old_failures_expire(accounts: list[OperatorAccount]) -> None:
    auth, _ = make(accounts, max_failures=3, lockout_s=100.0)
    for t in (0.0, 1.0):
        with pytest.raises(AuthError):
            auth.authenticate("ada", "wrong", T0 + t)
    auth.authenticate("ada", PASSWORDS["ada"], T0 + 2)  # resets the streak
    for t in (3.0, 4.0):
        with pytest.raises(AuthError, match="wrong password"):
            auth.authenticate("ada", "wrong", T0 + t)
    # the streak began at T0 + 3; a failure after the window starts a new one
    with pytest.raises(AuthError, match="wrong password"):
        auth.authenticate("ada", "wrong", T0 + 3 + 101)
    auth.authenticate("ada", PASSWORDS["ada"], T0 + 3 + 102)


def test_session_expiry_and_pruning(accounts: list[OperatorAccount]) -> None:
    auth, _ = make(accounts, session_ttl_s=60.0)
    first = auth.authenticate("cy", PASSWORDS["cy"], T0)
    assert auth.check(first.token, Permission.VIEW, T0 + 59.9) == first
    with pytest.raises(AuthError, match="session expired"):
        auth.check(first.token, Permission.VIEW, T0 + 60)
    with pytest.raises(AuthError, match="unknown session"):
        auth.check(first.token, Permission.VIEW, T0 + 61)
    for i in range(5):
        auth.authenticate("cy", PASSWORDS["cy"], T0 + 100 * i)
    assert auth.active_sessions == 1  # the earlier ones expired and were dropped at login


def test_logout(accounts: list[OperatorAccount]) -> None:
    auth, log = make(accounts)
    s = auth.authenticate("ada", PASSWORDS["ada"], T0)
    auth.logout(s.token, T0 + 5)
    assert log[-1] == (T0 + 5, "auth.logout", {"username": "ada", "role": "commander"})
    with pytest.raises(AuthError, match="unknown session"):
        auth.check(s.token, Permission.VIEW, T0 + 6)
    with pytest.raises(AuthError, match="unknown session"):
        auth.logout(s.token, T0 + 7)


def test_disable_ends_sessions_and_refuses_login(accounts: list[OperatorAccount]) -> None:
    auth, log = make(accounts)
    s1 = auth.authenticate("bob", PASSWORDS["bob"], T0)
    s2 = auth.authenticate("bob", PASSWORDS["bob"], T0 + 1)
    other = auth.authenticate("ada", PASSWORDS["ada"], T0 + 1)
    auth.disable("bob", T0 + 2)
    assert log[-1] == (T0 + 2, "auth.disabled", {"username": "bob", "sessions_ended": 2})
    for s in (s1, s2):
        with pytest.raises(AuthError):
            auth.check(s.token, Permission.VIEW, T0 + 3)
    assert auth.check(other.token, Permission.VIEW, T0 + 3) == other
    with pytest.raises(AuthError, match="account disabled"):
        auth.authenticate("bob", PASSWORDS["bob"], T0 + 4)
    with pytest.raises(AuthError, match="wrong password"):  # disabled is not revealed without it
        auth.authenticate("bob", "wrong", T0 + 5)
    assert next(a for a in auth.accounts if a.username == "bob").disabled
    with pytest.raises(ValueError, match="unknown operator"):
        auth.disable("nobody", T0)


def test_disabled_account_file_flag_refuses_login(accounts: list[OperatorAccount]) -> None:
    disabled = OperatorAccount("dee", "commander", fast_hash("dee-pw"), disabled=True)
    auth, _ = make([*accounts, disabled])
    with pytest.raises(AuthError, match="account disabled"):
        auth.authenticate("dee", "dee-pw", T0)


def test_audit_never_contains_a_password(accounts: list[OperatorAccount]) -> None:
    auth, log = make(accounts, max_failures=2)
    auth.authenticate("ada", PASSWORDS["ada"], T0)
    for pw in ("typo-secret", "second-typo", PASSWORDS["bob"]):
        with pytest.raises(AuthError):
            auth.authenticate("bob", pw, T0 + 1)
    with pytest.raises(AuthError):
        auth.authenticate("ghost", "ghost-secret", T0 + 2)
    s = auth.authenticate("cy", PASSWORDS["cy"], T0 + 3)
    with pytest.raises(PermissionDenied):
        auth.check(s.token, Permission.APPROVE_ENGAGEMENT, T0 + 4)
    auth.logout(s.token, T0 + 5)
    auth.disable("cy", T0 + 6)
    kinds = {k for _, k, _ in log}
    assert {"auth.login", "auth.failed", "auth.denied", "auth.logout", "auth.disabled"} <= kinds
    text = repr(log)
    for secret in [*PASSWORDS.values(), "typo-secret", "second-typo", "ghost-secret", s.token]:
        assert secret not in text
    assert all(isinstance(t, float) for t, _, _ in log)


def test_audit_failure_hands_out_no_session(accounts: list[OperatorAccount]) -> None:
    def broken(t_s: float, kind: str, data: dict[str, object]) -> None:
        raise OSError("audit disk full")

    auth = Authority(accounts, audit=broken)
    with pytest.raises(OSError, match="disk full"):
        auth.authenticate("ada", PASSWORDS["ada"], T0)
    assert auth.active_sessions == 0


def test_authority_refuses_bad_setup(accounts: list[OperatorAccount]) -> None:
    with pytest.raises(ValueError, match="duplicate username 'ada'"):
        Authority([accounts[0], accounts[0]])
    with pytest.raises(ValueError, match="max_failures"):
        Authority(accounts, max_failures=0)
    auth = Authority(accounts)
    with pytest.raises(ValueError, match="finite"):
        auth.authenticate("ada", PASSWORDS["ada"], float("nan"))


# --------------------------------------------------------------------------- accounts file


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "operators.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_save_load_round_trip(tmp_path: Path, accounts: list[OperatorAccount]) -> None:
    path = tmp_path / "operators.yaml"
    with_disabled = [*accounts, OperatorAccount("dee", "viewer", fast_hash("x"), disabled=True)]
    save_accounts(path, with_disabled)
    assert load_accounts(path) == with_disabled
    assert path.stat().st_mode & 0o077 == 0  # owner-only
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    auth = Authority(load_accounts(path))
    assert auth.authenticate("ada", PASSWORDS["ada"], T0).role == "commander"


def test_save_refuses_duplicates(tmp_path: Path, accounts: list[OperatorAccount]) -> None:
    with pytest.raises(ValueError, match="duplicate"):
        save_accounts(tmp_path / "x.yaml", [accounts[0], accounts[0]])


def entry(username: str, role: str = "operator", extra: str = "", pw_hash: str = "") -> str:
    pw_hash = pw_hash or fast_hash("pw")
    return f"  - username: {username}\n    role: {role}\n    password_hash: '{pw_hash}'\n{extra}"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            entry("ada") + entry("bob") + entry("ada"),
            r":2: operators: .*entry 2 repeats username 'ada' of entry 0",
        ),
        (
            entry("ada") + entry("bob", role="admin"),
            r":7: operators\.1\.role: .*unknown role 'admin'",
        ),
        (
            entry("ada", pw_hash="plaintext"),
            r":5: operators\.0\.password_hash: .*malformed password hash",
        ),
        (entry("ada", extra="    colour: red\n"), r":6: operators\.0\.colour: Extra inputs"),
        (entry("' '"), r":3: operators\.0\.username: .*blank"),
    ],
    ids=["duplicate-username", "unknown-role", "bad-hash", "extra-key", "blank-username"],
)
def test_load_errors_name_file_and_entry(tmp_path: Path, body: str, expected: str) -> None:
    path = write(tmp_path, "# accounts\noperators:\n" + body)
    with pytest.raises(AccountsFileError, match=expected) as exc:
        load_accounts(path)
    assert str(exc.value).startswith(f"{path}:")
    assert isinstance(exc.value, ValueError)


def test_load_errors_for_missing_key_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(AccountsFileError, match=r"operators\.0\.password_hash: Field required"):
        load_accounts(write(tmp_path, "operators:\n  - username: a\n    role: viewer\n"))
    with pytest.raises(AccountsFileError, match="not valid YAML"):
        load_accounts(write(tmp_path, "operators: [\n"))
    with pytest.raises(AccountsFileError, match="cannot read"):
        load_accounts(tmp_path / "missing.yaml")
