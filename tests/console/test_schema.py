"""Schemathesis against the console's OpenAPI schema (``/api/openapi.json``), the app in process.

A demo node core runs in a thread and hands its pictures to the console directly (no uvicorn: the
ASGI app is called in process by schemathesis' ASGI transport), so commands are applied at the
node's next cycle as they are live. Requests are made as a logged-in commander with the session
cookie and the CSRF token. Checked for input generated from the schema:

- no operation answers with a server error (5xx) to anything;
- a response whose status the schema describes has the body and content type it says;
- without the CSRF token a cookie session changes nothing: every state-changing operation is
  refused (403, or 422 for a body the schema does not allow) and the node gets no command;
- without a session nothing but the health check and the login answers (401).
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from luchtwacht.console.server import CSRF_HEADER, SESSION_COOKIE, Console, NodeTime
from luchtwacht.counter.authority import Argon2Params, OperatorAccount, hash_password
from luchtwacht.node.commands import Command, CommandResult
from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.scenario import default_scenario

CHEAP = Argon2Params(time_cost=1, memory_kib=1024)
PEOPLE = {"cdr": "commander", "adm": "admin", "spare": "commander"}
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
# These answer without a session: the health check, the login and the sentence templates (the
# login page words its refusals with them; they are the same for everyone and hold no secret).
OPEN = {("GET", "/api/health"), ("POST", "/api/login"), ("GET", "/api/texts")}
EXAMPLES = 10  # generated cases per operation: the whole file stays well under 30 s


class InProcess:
    """The demo node core ticking in a thread; its console's app is called in process.

    The console's pump (which takes the node's pictures) runs on an event loop of its own in a
    second thread, as it does on uvicorn's. Every command the node is given is counted in
    ``submitted``.
    """

    def __init__(self) -> None:
        people = [
            OperatorAccount(name, role, hash_password(f"{name}-pw", params=CHEAP))
            for name, role in PEOPLE.items()
        ]
        self.node = Pipeline(default_scenario(), people=people)
        self.console = Console(self.node, self.node.authority, NodeTime(self.node))
        self.submitted: list[Command] = []
        submit = self.node.submit

        def counted(command: Command) -> CommandResult:
            self.submitted.append(command)
            return submit(command)

        self.node.submit = counted  # type: ignore[method-assign]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.pump = threading.Thread(target=self._pump, daemon=True)

    def _pump(self) -> None:
        asyncio.run(self.console.pump())

    def _run(self) -> None:
        while not self.stop.is_set():
            self.node.run(0.5)
            time.sleep(0.005)  # the pump's thread takes the pictures

    def __enter__(self) -> InProcess:
        self.pump.start()
        self.thread.start()
        deadline = time.monotonic() + 60
        # From the first alert on: tracks, alerts and (the scenario has effectors) engagements.
        while not (self.console.latest is not None and self.console.latest.alerts):
            assert time.monotonic() < deadline, "the demo raised no alert"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        self.console.subscription.close()  # the pump ends
        self.pump.join(10)


class Login:
    """A console session: the cookie and the CSRF token its login returned."""

    def __init__(self, schema: Any, username: str) -> None:
        res = (
            schema["/api/login"]["POST"]
            .Case(body={"username": username, "password": f"{username}-pw"})
            .call()
        )
        assert res.status_code == 200, res.text
        cookie = next(c for c in res.headers["set-cookie"] if c.startswith(f"{SESSION_COOKIE}="))
        self.cookie = cookie.split(";", 1)[0]
        self.csrf: str = res.json()["csrf"]

    @property
    def headers(self) -> dict[str, str]:
        """What the page sends with every request."""
        return {"Cookie": self.cookie, CSRF_HEADER: self.csrf}


# Built when the module is collected (about a second): schemathesis reads the schema from the
# app then, and its lazy, fixture-built schemas do not work under this pytest. The node starts
# ticking only in the ``running`` fixture.
NODE = InProcess()
# The coverage phase's edge cases, without its probes of methods an operation does not have
# (those answer 405 with Allow: test_a_wrong_method_on_every_api_path_is_405_naming_the_right).
CONFIG = SchemathesisConfig.from_dict({"phases": {"coverage": {"unexpected-methods": []}}})
schema = schemathesis.openapi.from_asgi("/api/openapi.json", NODE.console.app, config=CONFIG)


@pytest.fixture(scope="module")
def running() -> Iterator[InProcess]:
    with NODE as r:
        yield r


@pytest.fixture(scope="module")
def api_schema(running: InProcess) -> Any:
    return schema


@pytest.fixture(scope="module")
def commander(api_schema: Any) -> Login:
    return Login(api_schema, "cdr")


@pytest.fixture(scope="module")
def admin(api_schema: Any) -> Login:
    return Login(api_schema, "adm")


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same cases every run: a failure here is reproducible
)


@schema.exclude(path="/api/logout").exclude(path_regex="^/api/operators").parametrize()
@FUZZ
def test_no_operation_fails_and_answers_match_the_schema_for_a_commander(case, commander):
    # Logout would end the session the other cases use; it is checked below.
    case.call_and_validate(headers=commander.headers, checks=CHECKS)


@schema.include(path_regex="^/api/operators").parametrize()
@FUZZ
def test_the_administrators_operations_hold_to_the_schema(case, admin, commander):
    # As an administrator (lists, disables: random names are unknown, so 404) and as a commander
    # (refused, 403): neither fails.
    res = case.call_and_validate(headers=admin.headers, checks=CHECKS)
    assert res.status_code < 500
    res = case.call_and_validate(headers=commander.headers, checks=CHECKS)
    assert res.status_code in (403, 422), (case.formatted_path, res.status_code)


def _state_changing(api_schema: Any) -> list[Any]:
    ops = [result.ok() for result in api_schema.get_all_operations()]
    return [
        op
        for op in ops
        if op.method.upper() not in ("GET", "HEAD") and (op.method.upper(), op.path) not in OPEN
    ]


def test_the_schema_lists_the_state_changing_operations(api_schema):
    paths = {(op.method.upper(), op.path) for op in _state_changing(api_schema)}
    assert {
        ("POST", "/api/commands"),
        ("POST", "/api/logout"),
        ("POST", "/api/operators/{username}/disable"),
    } <= paths


def test_without_the_csrf_token_no_state_changing_call_changes_anything(api_schema, running):
    # Sessions of their own (a logout here must not end one the other tests use), each with the
    # role the operation needs, so that only the missing or wrong token can refuse it.
    spare, adm = Login(api_schema, "spare"), Login(api_schema, "adm")
    tried: list[tuple[str, str, int]] = []

    def refused_for(op: Any) -> Any:
        own, other = (adm, spare) if op.path.startswith("/api/operators") else (spare, adm)

        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy())
        def refused(case: Any) -> None:
            before = len(running.submitted)
            for headers in (
                {"Cookie": own.cookie},
                {"Cookie": own.cookie, CSRF_HEADER: other.csrf},  # another session's token
                {"Cookie": own.cookie, CSRF_HEADER: ""},
            ):
                res = case.call(headers=headers)
                tried.append((op.method.upper(), op.path, res.status_code))
                assert res.status_code in (403, 422), (op.method, op.path, res.status_code)
                if res.status_code == 403:
                    assert "CSRF" in res.json()["detail"]
            assert len(running.submitted) == before, "a command reached the node without CSRF"

        return refused

    for op in _state_changing(api_schema):
        refused_for(op)()
    # Each operation was refused by the CSRF check itself (403) for some well-formed input.
    assert {(m, p) for m, p, status in tried if status == 403} == {
        (op.method.upper(), op.path) for op in _state_changing(api_schema)
    }
    # The session is still alive and works with its token: the refusals were the CSRF check's.
    assert api_schema["/api/me"]["GET"].Case().call(headers=adm.headers).status_code == 200
    me = api_schema["/api/me"]["GET"].Case().call(headers=spare.headers)
    assert me.status_code == 200 and me.json()["username"] == "spare"
    logout = api_schema["/api/logout"]["POST"].Case()
    res = logout.call(headers=spare.headers)
    logout.validate_response(res, checks=CHECKS)
    assert res.status_code == 200
    assert api_schema["/api/me"]["GET"].Case().call(headers=spare.headers).status_code == 401


@schema.parametrize()
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
def test_without_a_session_only_the_health_check_the_texts_and_the_login_answer(case, running):
    res = case.call()
    assert res.status_code < 500
    if (case.method.upper(), case.path) not in OPEN:
        # 400/422: a body that is not JSON or not the model is refused before the session check.
        assert res.status_code in (400, 401, 422), res.status_code


def test_a_wrong_method_on_every_api_path_is_405_naming_the_right_ones(running: InProcess) -> None:
    """The web client is mounted at /, yet a known API path asked with a wrong method is 405."""
    from fastapi.testclient import TestClient

    client = TestClient(NODE.console.app)
    paths = NODE.console.app.openapi()["paths"]
    for path, ops in paths.items():
        url = path.replace("{track_id}", "1").replace("{username}", "x").replace("{rid}", "x")
        url = re.sub(r"\{\w+\}", "x", url)
        allowed = {m.upper() for m in ops}
        wrong = next(m for m in ("PATCH", "PUT", "DELETE", "POST", "GET") if m not in allowed)
        res = client.request(wrong, url)
        assert res.status_code == 405, (wrong, url, res.status_code)
        assert set(res.headers["allow"].split(", ")) >= allowed, (url, res.headers["allow"])
    assert client.request("PATCH", "/api/no-such-thing").status_code == 404
    assert client.get("/").status_code in (200, 404)  # the page (when built), never a 405


def test_every_answer_of_the_api_has_a_documented_schema() -> None:
    """Each operation's 200 answer says what it holds (derived from the picture's dataclasses
    where it carries them); schemathesis above checks every answer against it."""
    doc = NODE.console.app.openapi()
    bare = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if path == "/api/basemap.pmtiles":  # a file, read in HTTP ranges
                continue
            content = op.get("responses", {}).get("200", {}).get("content", {})
            answer = content.get("application/json", {}).get("schema", {})
            if not answer or (answer == {"type": "object"} and path != "/api/site"):
                bare.append(f"{method.upper()} {path}")
    assert not bare, f"answers without a schema: {bare}"
    picture = doc["paths"]["/api/picture"]["get"]["responses"]["200"]["content"]
    track = picture["application/json"]["schema"]["properties"]["tracks"]["items"]
    assert track["properties"]["threat"]["enum"] == ["none", "low", "medium", "high", "critical"]
