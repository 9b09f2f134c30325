"""The console's web client end to end in a real browser: Debian's ``chromium`` under Playwright.

A demo node core runs in a thread (as in ``test_server.py``) and its console serves the built
client from ``web/dist`` on loopback. The browser is the system's Chromium, started by path:
``playwright install`` downloads a browser, which a site without internet cannot do. The tests
skip only when ``/usr/bin/chromium`` is absent (``.ci/run`` installs it).

Every request to a host other than the console is aborted and recorded, and every
Content-Security-Policy refusal the page reports is recorded too: both lists must stay empty.
"""

import contextlib
import dataclasses
import io
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from matplotlib.image import imread
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Playwright,
    Route,
    sync_playwright,
)
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from luchtwacht.console.server import Console, ConsoleServer, NodeTime
from luchtwacht.console.static import WEB_DIST, mount_web
from luchtwacht.counter.authority import Argon2Params, OperatorAccount, hash_password
from luchtwacht.model.picture import PictureUpdate
from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.scenario import Scenario, default_scenario
from luchtwacht.sim.scenario_file import load_scenario_file
from luchtwacht.store.worker import BackgroundStore
from luchtwacht.transport.listen import bind_tcp

CHROMIUM = Path("/usr/bin/chromium")
WEB = WEB_DIST.parent
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
CHEAP = Argon2Params(time_cost=1, memory_kib=1024)
PEOPLE = {"cdr": "commander", "cdr2": "commander", "ops": "operator", "eye": "viewer"}
SPEED = 4.0  # node seconds per wall second once the scenario is where a test starts

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"
)


class PacedDemo:
    """A demo node core in a thread and its console with the web client on a loopback socket.

    The node runs as fast as it can until ``ready(picture)`` (the scenario has reached what the
    tests need), then at :data:`SPEED` times the wall clock: flat out it publishes some 250
    pictures a second, more than a browser drawing with a software GPU reads, and the server
    would rightly drop it as too slow. A real node publishes 10 a second. Every person in
    :data:`PEOPLE` logs in with the password ``<name>-pw``.
    """

    def __init__(
        self,
        tmp_path: Path,
        scenario: Scenario,
        ready: Callable[[PictureUpdate], bool],
        two_person: frozenset[str] = frozenset(),
    ) -> None:
        self.recorder = BackgroundStore(tmp_path / "browser.sqlite")
        people = [
            OperatorAccount(name, role, hash_password(f"{name}-pw", params=CHEAP))
            for name, role in PEOPLE.items()
        ]
        self.node = Pipeline(scenario, recorder=self.recorder, two_person=two_person, people=people)
        self.console = Console(self.node, self.node.authority, NodeTime(self.node))
        assert mount_web(self.console.app, WEB_DIST)
        self.server = ConsoleServer(self.console, bind_tcp("127.0.0.1", 0))
        self.url = self.server.url.rstrip("/")
        self.ready = ready
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        latest = None
        while not self.stop.is_set() and not (latest is not None and self.ready(latest)):
            self.node.run(0.5)
            latest = self.console.latest
            time.sleep(0.002)  # let the console's thread take the pictures
        wall0, node0 = time.monotonic(), self.node.now_s
        while not self.stop.is_set():
            self.node.run(0.1)
            ahead_s = (self.node.now_s - node0) / SPEED - (time.monotonic() - wall0)
            if ahead_s > 0:
                time.sleep(ahead_s)

    def __enter__(self) -> "PacedDemo":
        self.server.start()
        self.thread.start()
        deadline = time.monotonic() + 60
        while not (self.console.latest is not None and self.ready(self.console.latest)):
            assert time.monotonic() < deadline, "the scenario never got ready"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        self.server.stop()
        self.recorder.close()


def _sources() -> list[Path]:
    return [WEB / "build.mjs", WEB / "package-lock.json", *sorted((WEB / "src").iterdir())]


@pytest.fixture(scope="module")
def web_dist() -> Path:
    """The built client; built here when it is missing or older than its sources."""
    index = WEB_DIST / "index.html"
    newest = max(p.stat().st_mtime for p in _sources())
    if index.is_file() and index.stat().st_mtime >= newest:
        return WEB_DIST
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("the web client is not built and npm is missing: run `make web`")
    if not (WEB / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
    subprocess.run([npm, "run", "--silent", "build"], cwd=WEB, check=True)
    return WEB_DIST


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, web_dist: Path) -> Iterator[PacedDemo]:
    """The default demo, from its first alert on."""
    with PacedDemo(
        tmp_path_factory.mktemp("browser"), default_scenario(), lambda p: bool(p.alerts)
    ) as node:
        yield node


@pytest.fixture(scope="module")
def engagement_demo(
    tmp_path_factory: pytest.TempPathFactory, web_dist: Path
) -> Iterator[PacedDemo]:
    """A loitering drone, an interceptor under the two-person rule, and no simulated officer."""
    scenario = load_scenario_file(SCENARIOS / "interceptor-loiterer.yaml")
    scenario = dataclasses.replace(scenario, operator=None)
    with PacedDemo(
        tmp_path_factory.mktemp("engagement"),
        scenario,
        lambda p: any(r.state == "pending" for r in p.recommendations),
        two_person=frozenset({"interceptor"}),
    ) as node:
        yield node


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # --enable-unsafe-swiftshader: WebGL on the CPU when there is no GPU (CI, headless servers).
    b = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=["--no-sandbox", "--enable-unsafe-swiftshader"]
    )
    yield b
    b.close()


class Watched:
    """A page on the console, with what it tried to fetch from elsewhere and what went wrong."""

    def __init__(self, browser: Browser, demo: PacedDemo) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 850})
        self.page = self.context.new_page()
        self.demo = demo
        self.outside: list[str] = []
        self.refused: list[str] = []  # Content-Security-Policy refusals
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.context.route("**/*", self._route)
        self.page.goto(f"{demo.url}/")

    def _route(self, route: Route) -> None:
        url = route.request.url
        if url.startswith((f"{self.demo.url}/", "data:", "blob:")):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort("blockedbyclient")

    def _console(self, msg: ConsoleMessage) -> None:
        if "Content Security Policy" in msg.text:
            self.refused.append(msg.text)
        elif msg.type == "error":
            self.errors.append(msg.text)

    def login(self, username: str) -> None:
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", f"{username}-pw")
        self.page.click("#login button[type=submit]")
        self.page.wait_for_selector("#console:not([hidden])")
        self.page.wait_for_function("() => document.querySelector('#link').textContent === 'live'")

    def clean(self) -> bool:
        """Nothing fetched from outside, nothing refused, no script error."""
        assert self.outside == [], f"requests to outside the node: {self.outside}"
        assert self.refused == [], f"loads the page's policy refused: {self.refused}"
        assert self.errors == [], f"errors in the page: {self.errors}"
        return True

    @contextlib.contextmanager
    def explained(self) -> Iterator[None]:
        """A wait that times out fails with what the page and the node showed then."""
        try:
            yield
        except PlaywrightTimeout as exc:
            pytest.fail(f"{exc.message.splitlines()[0]}\n{self.describe()}")

    def describe(self) -> str:
        """What the page and the node show now."""
        latest = self.demo.console.latest
        painting = self.page.evaluate(
            """() => new Promise((ok) => {
                requestAnimationFrame(() => ok("painting"));
                setTimeout(() => ok("not painting"), 2000);
            })"""
        )
        lost = self.page.evaluate("() => window.luchtwacht?.contextLost()")
        return (
            f"page {painting}, WebGL context lost {lost}, "
            f"link {self.page.locator('#link').text_content()!r}, "
            f"status {self.page.locator('#status').text_content()!r}, "
            f"{self.page.locator('#threats tbody tr').count()} threat rows, "
            f"{self.page.locator('#alerts tbody tr').count()} alert rows; node: "
            f"{len(latest.tracks) if latest else 0} tracks, {len(latest.alerts) if latest else 0} "
            f"alerts, {len(latest.engagements) if latest else 0} engagements, "
            f"clients dropped {self.demo.console.clients_dropped}; errors {self.errors}"
        )


@pytest.fixture
def console(browser: Browser, demo: PacedDemo) -> Iterator[Watched]:
    watched = Watched(browser, demo)
    yield watched
    watched.context.close()


def test_the_built_client_is_served_at_the_root_with_a_policy_that_allows_only_the_node(
    tmp_path: Path,
) -> None:
    app = FastAPI()

    @app.get("/api/ping")
    def ping() -> dict[str, bool]:
        return {"pong": True}

    assert not mount_web(app, tmp_path)  # nothing built: the API alone
    (tmp_path / "index.html").write_text("<!doctype html><title>console</title>")
    assert mount_web(app, tmp_path)

    async def fetch() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
            return [await client.get(p) for p in ("/", "/api/ping", "/api/nothing", "/x.js")]

    page, ping_, missing, no_file = anyio.run(fetch)
    assert page.status_code == 200 and "<title>console</title>" in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert "http" not in policy  # no outside host is allowed anything
    assert ping_.json() == {"pong": True}  # the API keeps its routes
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
    assert no_file.status_code == 404


def _near(image: np.ndarray, rgb: str, tol: float = 0.06) -> int:
    """How many pixels of an RGB(A) image are within ``tol`` of the colour ``#rrggbb``."""
    want = np.array([int(rgb[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((np.abs(image[..., :3] - want) <= tol).all(axis=-1).sum())


@needs_chromium
def test_the_map_draws_basemap_zones_and_track_symbols_with_nothing_from_outside(
    console: Watched, tmp_path: Path
) -> None:
    page = console.page
    canvas = page.locator("#map canvas.maplibregl-canvas")
    with console.explained():
        console.login("cdr")
        page.wait_for_function("() => window.luchtwacht.renderedTracks() > 0")
        page.wait_for_selector("#threats tbody tr")
        page.wait_for_selector("#alerts tbody tr")
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 400 and box["height"] > 400
    zones = page.evaluate(
        "() => window.luchtwacht.map.queryRenderedFeatures({layers: ['zones-line']}).length"
    )
    assert zones > 0, "no protected zone on the map"
    time.sleep(1.0)  # a few more pictures, so trails have grown
    shot = tmp_path / "console.png"
    page.screenshot(path=shot)
    if target := os.environ.get("LUCHTWACHT_SCREENSHOT"):
        shutil.copy(shot, target)
    # Not an empty canvas: the basemap's land, the zone's outline and the symbols' frames.
    pixels = imread(io.BytesIO(canvas.screenshot()))
    assert _near(pixels, "#2f3b2f") > 10_000, "no basemap land on the map"
    assert _near(pixels, "#f0b040") > 200, "no zone outline drawn"
    symbols = _near(pixels, "#ff8080", 0.1) + _near(pixels, "#ffff80", 0.1)
    assert symbols > 100, "no hostile or unknown track symbol drawn"
    assert console.clean()


@needs_chromium
def test_a_commander_acknowledges_an_alert_with_one_click(console: Watched, demo: PacedDemo):
    page = console.page
    with console.explained():
        console.login("cdr")
        row = page.locator(
            "#alerts tbody tr", has=page.locator("button.cmd-acknowledge:visible")
        ).first
        row.wait_for()
        alert_id = int(row.get_attribute("data-alert") or "")
        row.locator("button.cmd-acknowledge").click()
        page.locator("#status", has_text=f"alert {alert_id} acknowledged").wait_for()
        page.locator(f"#alerts tr[data-alert='{alert_id}']", has_text="ack cdr").wait_for()
    # The node applied it: the REST API, read by another person, says who acknowledged.
    eye = httpx.Client(base_url=demo.url, timeout=10)
    assert eye.post("/api/login", json={"username": "eye", "password": "eye-pw"}).is_success
    alert = next(a for a in eye.get("/api/alerts").json() if a["alert_id"] == alert_id)
    assert alert["state"] == "acknowledged" and alert["acknowledged_by"] == "cdr"
    assert console.clean()


@needs_chromium
def test_a_viewer_sees_the_picture_but_no_command_buttons(console: Watched):
    page = console.page
    with console.explained():
        console.login("eye")
        page.wait_for_selector("#alerts tbody tr")
        page.wait_for_selector("#threats tbody tr")
    assert page.locator("button.cmd:visible").count() == 0
    assert console.clean()


@needs_chromium
def test_two_commanders_approve_and_confirm_an_interceptor_and_see_it_fly_and_land(
    browser: Browser, engagement_demo: PacedDemo, tmp_path: Path
) -> None:
    first, second = Watched(browser, engagement_demo), Watched(browser, engagement_demo)
    try:
        with first.explained():
            first.login("cdr")
            approve = first.page.locator(".rec button.cmd-approve:visible", has_text="Interceptor")
            approve.wait_for()
            assert first.page.locator(".rec li.blocked", has_text="RF jammer").count() == 1
            approve.click()
            first.page.locator("#status", has_text="awaiting confirmation").wait_for()
            # The approver may not confirm himself: his page offers no Confirm.
            first.page.locator(".pending", has_text="approved by cdr").wait_for()
            assert first.page.locator(".pending button.cmd-confirm:visible").count() == 0
        with second.explained():
            second.login("cdr2")
            second.page.locator(".pending button.cmd-confirm:visible").click()
            second.page.locator("#status", has_text="confirmed, engagement").wait_for()
        with first.explained():
            # Tasked: the engagement is listed, the interceptor flies (one of ours), it lands.
            engagement = first.page.locator("#engagements tbody tr", has_text="Interceptor runway")
            engagement.wait_for()
            first.page.locator("#threats tbody tr.aff-own").wait_for(timeout=30_000)
            first.page.wait_for_function("() => window.luchtwacht.renderedTracks() >= 2")
            first.page.screenshot(path=tmp_path / "engagement.png")
            engagement.filter(has_text="assessed").wait_for(timeout=60_000)
        assert first.clean() and second.clean()
    finally:
        first.context.close()
        second.context.close()
