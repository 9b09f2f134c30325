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
import re
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
    Page,
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
from luchtwacht.texts import recognise
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
    tests need), then at ``speed`` (:data:`SPEED` unless given) times the wall clock: flat out it publishes some 250
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
        speed: float = SPEED,
    ) -> None:
        self.speed = speed  # node seconds per wall second once ready; a test may change it
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
        wall0, node0, speed = time.monotonic(), self.node.now_s, self.speed
        while not self.stop.is_set():
            if self.speed != speed:  # a test changed the pace: count from here
                wall0, node0, speed = time.monotonic(), self.node.now_s, self.speed
            self.node.run(0.1)
            ahead_s = (self.node.now_s - node0) / speed - (time.monotonic() - wall0)
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
def keyboard_demo(tmp_path_factory: pytest.TempPathFactory, web_dist: Path) -> Iterator[PacedDemo]:
    """As ``engagement_demo``, from the loiterer's first alert on (its own node: it is engaged).

    At the wall clock's pace: a person's keys and a second person's confirmation then meet the
    confirmation window (60 s) as they would on a real node, however busy the test machine is.
    """
    scenario = load_scenario_file(SCENARIOS / "interceptor-loiterer.yaml")
    scenario = dataclasses.replace(scenario, operator=None)
    with PacedDemo(
        tmp_path_factory.mktemp("keyboard"),
        scenario,
        lambda p: bool(p.alerts) and any(r.state == "pending" for r in p.recommendations),
        two_person=frozenset({"interceptor"}),
        speed=1.0,
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
        # en-GB: the page's first language is the browser's (a test switches to Dutch itself)
        self.context = browser.new_context(viewport={"width": 1400, "height": 850}, locale="en-GB")
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
        self.page.wait_for_selector("#link.ok")  # the stream is open (its word is translated)

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
    # People at the wall clock's pace: the confirmation window (60 s) is a person's 60 s,
    # however slow the test machine; the interceptor's flight runs faster again below.
    engagement_demo.speed = 1.0
    first, second = Watched(browser, engagement_demo), Watched(browser, engagement_demo)
    try:
        with first.explained():
            first.login("cdr")
            approve = first.page.locator(".rec button.cmd-approve:visible", has_text="Interceptor")
            approve.wait_for()
            assert first.page.locator(".rec li.blocked", has_text="RF jammer").count() == 1
            # Each proposal says why it comes now: the breach, or what the best option needs.
            why = first.page.locator(".rec .why").first.inner_text()
            assert re.fullmatch(r"inside .+|breach in \d+ s; .+", why), why
            approve.click()
            first.page.locator("#status", has_text="awaiting confirmation").wait_for()
            # The approver may not confirm himself: his page offers no Confirm.
            first.page.locator(".pending", has_text="approved by cdr").wait_for()
            assert first.page.locator(".pending button.cmd-confirm:visible").count() == 0
        with second.explained():
            second.login("cdr2")
            second.page.locator(".pending button.cmd-confirm:visible").click()
            second.page.locator("#status", has_text="confirmed, engagement").wait_for()
        engagement_demo.speed = SPEED
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


def _latest(demo: PacedDemo) -> PictureUpdate:
    """The node's newest picture (the demo waited for one)."""
    latest = demo.console.latest
    assert latest is not None
    return latest


def _shot(page: Page, tmp_path: Path, name: str) -> Path:
    """A screenshot kept as an artifact (and copied to $LUCHTWACHT_SHOTS when it is set)."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=path)
    if folder := os.environ.get("LUCHTWACHT_SHOTS"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(folder) / path.name)
    return path


def _english_only(dictionaries: dict[str, dict[str, str]]) -> list[re.Pattern[str]]:
    """Patterns matching an English text that differs from its Dutch one ({x} matches anything)."""
    en, nl = dictionaries["en"], dictionaries["nl"]
    return [
        re.compile("^" + re.sub(r"\\\{\w+\\\}", ".+", re.escape(text)) + "$")
        for key, text in en.items()
        if text != nl[key]
    ]


@needs_chromium
def test_a_new_critical_alert_beeps_and_flashes_a_banner_naming_track_and_zone(
    console: Watched, demo: PacedDemo, tmp_path: Path
) -> None:
    page = console.page
    with console.explained():
        console.login("cdr")  # the login click lets the page sound
        page.wait_for_function("() => window.luchtwacht.cues >= 1", timeout=60_000)
        banner = page.locator("#cue-banner")
        banner.wait_for()
    assert page.evaluate("() => window.luchtwacht.audio()") == "running"
    alert_id = int(banner.get_attribute("data-alert") or "")
    node = demo.console.latest
    assert node is not None
    alert = next(a for a in node.alerts if a.alert_id == alert_id)
    assert alert.level.label == "critical"
    assert banner.inner_text().startswith(f"CRITICAL: track {alert.track_id} in {alert.zone}")
    # It flashes: the banner's colour animates.
    assert (
        page.evaluate("() => getComputedStyle(document.querySelector('#cue-banner')).animationName")
        == "cue-flash"
    )
    _shot(page, tmp_path, "critical-cue")
    # m mutes the beeps (not the banner); Esc dismisses the banner.
    page.keyboard.press("m")
    assert page.locator("#mute").get_attribute("aria-pressed") == "true"
    page.keyboard.press("Escape")
    with console.explained():
        banner.wait_for(state="hidden")
    assert console.clean()


@needs_chromium
def test_the_page_switches_between_english_and_dutch_and_keeps_the_choice(
    console: Watched, tmp_path: Path
) -> None:
    page = console.page
    with console.explained():
        console.login("cdr")
        page.wait_for_selector("#alerts tbody tr")
        page.wait_for_selector("#threats tbody tr")
        page.wait_for_selector("#feeds tbody tr")
    dictionaries = page.evaluate("() => window.luchtwacht.dictionaries()")
    en, nl = dictionaries["en"], dictionaries["nl"]
    assert set(en) == set(nl), f"keys only in one language: {set(en) ^ set(nl)}"
    for key in en:  # the same {placeholders}: a translation never drops a value
        assert set(re.findall(r"\{\w+\}", en[key])) == set(re.findall(r"\{\w+\}", nl[key])), key
    assert page.locator("html").get_attribute("lang") == "en"
    assert (
        page.locator("#alerts").locator("xpath=..").locator("h2").text_content() or ""
    ).startswith("Alerts")

    page.keyboard.press("l")
    with console.explained():
        page.wait_for_function("() => document.documentElement.lang === 'nl'")
        page.locator("#link", has_text="actueel").wait_for()
        # the rows are drawn again in Dutch: threat levels and classes too
        page.locator(
            "#alerts tbody tr td:first-child", has_text=re.compile("kritiek|hoog")
        ).first.wait_for()
    english = _english_only(dictionaries)
    texts = page.evaluate(
        """() => [...document.querySelectorAll(
              '#console [data-i18n], #console h2, #console h3, #console th, #console label, '
              + '#console button, #alerts td, #threats td:nth-child(3), #threats td:nth-child(4), '
              + '#feeds td:nth-child(2)')]
            .filter((e) => e.offsetParent !== null)
            .map((e) => e.textContent.trim()).filter((s) => s)"""
    )
    assert "Meldingen" in texts and "Dreigingen" in texts
    left = [s for s in texts if any(p.match(s) for p in english)]
    assert left == [], f"English left on the Dutch page: {left}"
    # What the node writes is Dutch too: alert messages, the classifier's reasons.
    titles = page.locator("#alerts tbody tr").evaluate_all("(rows) => rows.map((r) => r.title)")
    assert titles and all(t.startswith("Spoor ") for t in titles), titles
    page.locator("#threats tbody tr").first.click()
    page.keyboard.press("Enter")
    with console.explained():
        page.locator("#detail .reasons li").first.wait_for()
    reasons = page.locator("#detail .reasons li").all_inner_texts()
    assert any("boven het terrein" in r for r in reasons), reasons
    assert [r for r in reasons if recognise(r) is not None] == [], "English reasons left"
    _shot(page, tmp_path, "dutch")

    # The choice is kept: a new page (same browser profile) opens in Dutch.
    page.reload()
    with console.explained():
        page.locator("#login button[type=submit]", has_text="Inloggen").wait_for()
    assert page.locator("html").get_attribute("lang") == "nl"
    page.click("#lang")  # the login page's switch
    with console.explained():
        page.locator("#login button[type=submit]", has_text="Log in").wait_for()
    assert console.clean()


@needs_chromium
def test_the_track_detail_shows_class_probabilities_sensors_and_remote_id(
    console: Watched, demo: PacedDemo, tmp_path: Path
) -> None:
    page = console.page
    with console.explained():
        console.login("eye")
        page.wait_for_selector("#threats tbody tr")
    node = demo.console.latest
    assert node is not None
    drone = next(t for t in node.tracks if t.object_class == "drone" and t.sensors)
    with console.explained():
        page.locator(f"#threats tbody tr[data-track='{drone.track_id}']").click()
        detail = page.locator(f"#detail[data-track='{drone.track_id}']")
        detail.wait_for()
        detail.locator(".bar[data-label='drone']").wait_for()
    assert page.evaluate("() => window.luchtwacht.selected()") == drone.track_id
    labels = detail.locator(".bar").evaluate_all("(bars) => bars.map((b) => b.dataset.label)")
    assert set(labels) == {label for label, _ in drone.class_probs}
    width = detail.locator(".bar[data-label='drone'] .bar-fill").evaluate(
        "(e) => e.getBoundingClientRect().width / e.parentElement.getBoundingClientRect().width"
    )
    assert abs(width - dict(drone.class_probs)["drone"]) < 0.1
    facts = detail.locator(".d-facts").inner_text()
    for sensor in drone.sensors:
        assert sensor in facts
    assert "Seen by" in facts and "Position uncertainty" in facts and "Speed" in facts
    # The heading with its own uncertainty, as the picture on the page carries them.
    with console.explained():
        page.wait_for_function(
            """(id) => {
                const tr = window.luchtwacht.shown().tracks.find((t) => t.track_id === id);
                const v = document.querySelector("#detail .d-facts [data-key='heading'] .v");
                return tr && v && tr.course_std_deg >= 0.5 && v.textContent ===
                  `${Math.round(tr.heading_deg)}° ± ${Math.round(tr.course_std_deg)}°`;
            }""",
            arg=drone.track_id,
        )
    _shot(page, tmp_path, "detail")

    # A cooperative drone: its Remote ID broadcast joined by UAS ID, pilot and operator too.
    rid = next(r for r in _latest(demo).remote_ids if r.track_id is not None)
    page.keyboard.press("Escape")
    with console.explained():
        detail.wait_for(state="hidden")
        page.locator(f"#threats tbody tr[data-track='{rid.track_id}']").click()
        page.locator("#detail .d-rid", has_text=rid.uas_id).wait_for()
    text = page.locator("#detail .d-rid").inner_text()
    assert rid.operator_id is not None and rid.mac is not None
    assert rid.operator_id in text and "Pilot position" in text and rid.mac in text
    assert page.locator("button.cmd:visible").count() == 0  # a viewer still commands nothing

    # From the keyboard: Esc closes, k/j move along the ranked list, Enter opens the detail.
    page.keyboard.press("Escape")
    with console.explained():
        page.locator("#detail").wait_for(state="hidden")
    page.keyboard.press("k")  # from the cooperative drone one up the list
    rows = page.locator("#threats tbody tr").evaluate_all(
        "(rows) => rows.map((r) => Number(r.dataset.track))"
    )
    above = rows[max(0, rows.index(rid.track_id) - 1)]
    assert page.evaluate("() => window.luchtwacht.selected()") == above
    assert page.locator("#detail").is_hidden()  # moving selects; it does not open
    page.keyboard.press("Enter")
    with console.explained():
        page.locator(f"#detail[data-track='{above}']").wait_for()
    assert console.clean()


@needs_chromium
def test_the_health_panel_lists_every_feed_node_and_their_counts(
    console: Watched, demo: PacedDemo
) -> None:
    page = console.page
    with console.explained():
        console.login("ops")
        page.wait_for_selector("#feeds tbody tr")
    # What the page shows first, then the node's picture: the node's counters are never older.
    rows = page.locator("#feeds tbody tr").evaluate_all(
        "(rows) => rows.map((r) => [r.dataset.feed, ...[...r.cells].map((c) => c.textContent)])"
    )
    node = _latest(demo)
    assert sorted(r[0] for r in rows) == sorted(f.sensor_id for f in node.feeds)
    for feed in node.feeds:
        cells = next(r[1:] for r in rows if r[0] == feed.sensor_id)
        assert cells[0] == feed.name and cells[1] == feed.state
        shown = [int(c) for c in cells[2:6]]  # decoded, rejected, shed, late
        assert 0 < shown[0] <= feed.decoded
        assert all(
            a <= b for a, b in zip(shown[1:], [feed.rejected, feed.shed, feed.late], strict=True)
        )
    for n in node.nodes:
        assert page.locator(f"#nodes tr[data-node='{n.node_id}']").count() == 1
    assert console.clean()


@needs_chromium
def test_from_an_alert_a_commander_approves_in_two_actions_and_another_confirms_by_key(
    browser: Browser, keyboard_demo: PacedDemo, tmp_path: Path
) -> None:
    first, second = Watched(browser, keyboard_demo), Watched(browser, keyboard_demo)
    try:
        page = first.page
        with second.explained():
            second.login("cdr2")  # ready before the approval: the confirm window is short
        with first.explained():
            first.login("cdr")
            row = page.locator("#alerts tbody tr").first
            row.wait_for()
            track_id = int(row.get_attribute("data-track") or "")
            # One: the alert's row opens its track, with the countermeasure to approve.
            row.locator("td").first.click()
            detail = page.locator(f"#detail[data-track='{track_id}']")
            detail.locator("button.cmd-approve:visible").first.wait_for()
        _shot(page, tmp_path, "detail-with-approve")
        best = next(
            o.effector
            for r in _latest(keyboard_demo).recommendations
            if r.track_id == track_id and r.state == "pending"
            for o in r.options
            if o.usable
        )
        # Two: y approves the best usable option; the interceptor wants a second person.
        page.keyboard.press("y")
        with first.explained():
            page.locator("#status", has_text=f"{best} approved against track {track_id}").wait_for()
            page.locator("#status", has_text="awaiting confirmation").wait_for()
            # c finds nothing for the approver himself: the two-person rule wants another
            page.keyboard.press("c")
            page.locator("#status", has_text="no approval awaits your confirmation").wait_for()
        with second.explained():
            second.page.locator(".pending button.cmd-confirm:visible").wait_for()
            # Typing in a field is not a command: the key goes to the field.
            second.page.evaluate(
                "() => { const i = document.createElement('input'); i.id = 'scratch';"
                " document.querySelector('aside').append(i); }"
            )
            second.page.locator("#scratch").press("c")
            assert second.page.locator("#scratch").input_value() == "c"
            assert not _latest(keyboard_demo).engagements
            second.page.locator("#scratch").blur()
            second.page.keyboard.press("c")
            second.page.locator("#status", has_text="confirmed, engagement").wait_for()
            # a acknowledges the newest unacknowledged alert
            alert = max(
                (a for a in _latest(keyboard_demo).alerts if a.state.name == "ACTIVE"),
                key=lambda a: (a.raised_t_s, a.alert_id),
            )
            second.page.keyboard.press("a")
            second.page.locator(
                "#status", has_text=f"alert {alert.alert_id} acknowledged"
            ).wait_for()
        engagement = _latest(keyboard_demo).engagements[0]
        assert engagement.effector == best and engagement.track_id == track_id
        assert engagement.approved_by in ("cdr", "cdr2")
        acked = next(a for a in _latest(keyboard_demo).alerts if a.alert_id == alert.alert_id)
        assert acked.acknowledged_by == "cdr2"
        # ? opens the shortcuts' help; Esc closes it.
        second.page.keyboard.press("?")
        second.page.locator("#help", has_text="approve the selected track").wait_for()
        second.page.keyboard.press("Escape")
        second.page.locator("#help").wait_for(state="hidden")
        assert first.clean() and second.clean()
    finally:
        first.context.close()
        second.context.close()


@needs_chromium
def test_the_page_merges_the_streams_deltas_into_the_picture_the_server_sends_whole(
    console: Watched,
) -> None:
    page = console.page
    with console.explained():
        console.login("eye")
        page.wait_for_selector("#threats tbody tr")
    # A second stream records a picture and its deltas; a third, opened later, gets the picture
    # whole at some seq. The deltas merged up to that seq must give the same picture.
    result = page.evaluate(
        """() => new Promise((done, fail) => {
            const url = `ws://${location.host}/api/stream`;
            const chain = [];
            let whole = null;
            const a = new WebSocket(url);
            a.onmessage = (ev) => {
                chain.push(JSON.parse(ev.data));
                if (whole && chain[chain.length - 1].seq >= whole.seq) {
                    a.close();
                    const upto = chain.filter((m) => m.seq <= whole.seq);
                    done({whole, merged: window.luchtwacht.merge(upto), types: upto.map((m) => m.type)});
                }
            };
            setTimeout(() => {
                const b = new WebSocket(url);
                b.onmessage = (ev) => { whole = JSON.parse(ev.data); b.close(); };
            }, 3000);
            setTimeout(() => fail(new Error("no whole picture to compare")), 20000);
        })"""
    )
    whole, merged, types = result["whole"], result["merged"], result["types"]
    assert types[0] == "picture" and types.count("delta") >= 5, types
    assert merged["seq"] == whole["seq"]
    # Every track as the server has it (a track's own time is the picture's when it changed).
    strip = lambda ts: {t["track_id"]: {k: v for k, v in t.items() if k != "t_s"} for t in ts}  # noqa: E731
    assert strip(merged["tracks"]) == strip(whole["tracks"])
    for section in ("alerts", "recommendations", "engagements", "feeds", "nodes", "effectors"):
        assert merged[section] == whole[section], section
    # Ranked: threat first, then the soonest breach, then the id.
    rank = {"none": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
    ids = [t["track_id"] for t in merged["tracks"]]
    assert ids == [
        t["track_id"]
        for t in sorted(
            whole["tracks"],
            key=lambda t: (
                -rank[t["threat"]],
                t["time_to_breach_s"] if t["time_to_breach_s"] is not None else float("inf"),
                t["track_id"],
            ),
        )
    ]
    assert console.clean()


@needs_chromium
def test_replay_scrubs_the_current_recording_read_only_and_goes_back_to_live(
    console: Watched, demo: PacedDemo, tmp_path: Path
) -> None:
    page = console.page
    with console.explained():
        console.login("cdr")
        page.wait_for_selector("#threats tbody tr")
        page.click("#replay")
        page.locator("#replay-bar").wait_for()
        page.wait_for_function("() => window.luchtwacht.shown()?.type === 'replay'")
    assert page.locator("#replay-rec").input_value() == "live"  # this run's own recording
    lo = float(page.locator("#replay-slider").get_attribute("min") or "nan")
    hi = float(page.locator("#replay-slider").get_attribute("max") or "nan")
    assert lo < hi
    at = hi - 20.0  # the demo had tracks and an alert by then (it started at its first alert)
    page.locator("#replay-slider").evaluate(
        "(e, v) => { e.value = String(v); e.dispatchEvent(new Event('input', {bubbles: true})); }",
        at,
    )
    with console.explained():
        page.wait_for_function(
            "(at) => { const p = window.luchtwacht.shown(); return p && p.t_s <= at && p.t_s > at - 3; }",
            arg=at,
        )
        page.wait_for_function("() => window.luchtwacht.renderedTracks() > 0")
    shown = page.evaluate("() => window.luchtwacht.shown()")
    hms = time.strftime("%H:%M:%S", time.gmtime(shown["t_s"]))
    assert page.locator("#replay-banner").inner_text() == f"REPLAY {hms}"
    # The page shows what the server recorded at that time, and offers no command at all.
    eye = httpx.Client(base_url=demo.url, timeout=10)
    assert eye.post("/api/login", json={"username": "eye", "password": "eye-pw"}).is_success
    recorded = eye.get("/api/replay/live/picture", params={"t": at}).json()
    ids = {t["track_id"] for t in recorded["tracks"]}
    assert ids and {t["track_id"] for t in shown["tracks"]} == ids
    with console.explained():
        page.wait_for_function(
            "(n) => document.querySelectorAll('#threats tbody tr').length === n", arg=len(ids)
        )
    assert page.locator("button.cmd:visible").count() == 0
    _shot(page, tmp_path, "replay")
    page.keyboard.press("a")
    page.locator("#status", has_text="replay is read-only").wait_for()

    # Play at 60×: the recorded time runs on.
    page.select_option("#replay-speed", "60")
    page.locator("#replay-slider").evaluate(
        "(e, v) => { e.value = String(v); e.dispatchEvent(new Event('input', {bubbles: true})); }",
        lo,
    )
    page.click("#replay-play")
    with console.explained():
        page.wait_for_function(
            "(lo) => window.luchtwacht.shown().t_s > lo + 10", arg=lo, timeout=15_000
        )
    page.click("#replay-back")
    with console.explained():
        page.locator("#replay-bar").wait_for(state="hidden")
        page.wait_for_function("() => window.luchtwacht.mode() === 'live'")
        page.wait_for_function("() => window.luchtwacht.shown()?.type !== 'replay'")
        page.locator("#replay").wait_for()
    assert console.clean()


@pytest.fixture(scope="module")
def quiet_demo(tmp_path_factory: pytest.TempPathFactory, web_dist: Path) -> Iterator[PacedDemo]:
    """The loiterer without a simulated officer, from its first confirmed track on.

    Before any alert: an operator mutes the page before the critical cue comes.
    """
    scenario = load_scenario_file(SCENARIOS / "interceptor-loiterer.yaml")
    scenario = dataclasses.replace(scenario, operator=None)
    with PacedDemo(
        tmp_path_factory.mktemp("quiet"),
        scenario,
        lambda p: bool(p.tracks),
        two_person=frozenset({"interceptor"}),
    ) as node:
        yield node


@needs_chromium
def test_a_muted_page_flashes_the_critical_cue_silently_and_r_rejects_the_proposal(
    browser: Browser, quiet_demo: PacedDemo, tmp_path: Path
) -> None:
    page = (watched := Watched(browser, quiet_demo)).page
    try:
        with watched.explained():
            watched.login("ops")  # the login click unlocks the page's audio
        assert not _latest(quiet_demo).alerts, "the cue must come after the mute"
        page.keyboard.press("m")
        assert page.locator("#mute").get_attribute("aria-pressed") == "true"
        with watched.explained():
            page.locator("#cue-banner").wait_for(timeout=90_000)
        # The banner came, and it flashes; no beep sounded.
        assert page.evaluate("() => window.luchtwacht.banners()") >= 1
        assert page.evaluate("() => window.luchtwacht.cues") == 0
        assert page.evaluate("() => window.luchtwacht.audio()") == "running"
        _shot(page, tmp_path, "muted-cue")
        # An operator may refuse a proposal: select its track, press r.
        with watched.explained():
            page.locator(".rec button.cmd-reject:visible").first.wait_for(timeout=90_000)
        rec = next(r for r in _latest(quiet_demo).recommendations if r.state == "pending")
        page.locator(f"#threats tbody tr[data-track='{rec.track_id}'] td").first.click()
        page.keyboard.press("r")
        with watched.explained():
            page.locator("#status", has_text=f"recommendation {rec.rec_id} rejected").wait_for()
        counter = quiet_demo.node.counter
        assert counter is not None
        done = counter.recommendations[rec.rec_id]
        assert done.state == "rejected" and done.decided_by == "ops"
        # Gone from the pending proposals the page shows.
        with watched.explained():
            page.locator(f".rec[data-rec='{rec.rec_id}']").wait_for(state="detached")
        assert watched.clean()
    finally:
        watched.context.close()


@needs_chromium
def test_a_page_opened_with_a_rate_gets_the_picture_that_often(
    browser: Browser, demo: PacedDemo
) -> None:
    watched = Watched(browser, demo)
    page = watched.page
    try:
        page.goto(f"{demo.url}/?rate=1")
        with watched.explained():
            watched.login("eye")
            page.wait_for_selector("#threats tbody tr")
        # Every picture the page takes, for 4 s: at 1 a second, 4 or 5 of them, all current.
        seqs = page.evaluate(
            """() => new Promise((done) => {
                const seen = new Set();
                const t = setInterval(() => seen.add(window.luchtwacht.latest().seq), 20);
                setTimeout(() => { clearInterval(t); done([...seen]); }, 4000);
            })"""
        )
        assert 2 <= len(seqs) <= 6, seqs
        assert watched.clean()
    finally:
        watched.context.close()


@pytest.fixture(scope="module")
def pilot_demo(tmp_path_factory: pytest.TempPathFactory, web_dist: Path) -> Iterator[PacedDemo]:
    """Two drones; two RF direction finders place the pilot of the one without Remote ID."""
    scenario = load_scenario_file(SCENARIOS / "pilot-localisation.yaml")
    with PacedDemo(
        tmp_path_factory.mktemp("pilot"),
        scenario,
        lambda p: any(t.pilot_source and t.pilot_source.startswith("rf") for t in p.tracks),
    ) as node:
        yield node


@needs_chromium
def test_the_map_draws_the_pilot_rf_bearings_placed_and_the_detail_says_how_sure(
    browser: Browser, pilot_demo: PacedDemo, tmp_path: Path
) -> None:
    watched = Watched(browser, pilot_demo)
    page = watched.page
    try:
        with watched.explained():
            watched.login("eye")
        track = next(
            t for t in _latest(pilot_demo).tracks if (t.pilot_source or "").startswith("rf")
        )
        # On the map: the pilot's symbol, its ellipse and the line to its drone.
        with watched.explained():
            page.wait_for_function(
                """(id) => ['pilots', 'pilot-ellipses', 'pilot-lines'].every((layer) =>
                    window.luchtwacht.map.queryRenderedFeatures({ layers: [layer] })
                      .some((f) => f.properties.id === id || f.properties.track === id))""",
                arg=track.track_id,
                timeout=30_000,
            )
        page.locator(f"#threats tbody tr[data-track='{track.track_id}'] td").first.click()
        pilot = page.locator("#detail .d-facts [data-key='pilot_est'] .v")
        with watched.explained():
            pilot.filter(has_text="from RF bearings of 2 detectors").wait_for()
        text = pilot.inner_text()
        err = int(re.search(r"± (\d+) m", text).group(1))  # type: ignore[union-attr]
        assert 0 < err < 500, text
        _shot(page, tmp_path, "pilot")
        # Replayed at its newest moment, the same track shows where its pilot stood (from the
        # audit log's record; a recording opens two minutes back, before the pilot was placed).
        page.click("#replay")
        with watched.explained():
            page.locator("#replay-bar").wait_for()
        page.locator("#replay-slider").evaluate(
            """(e) => { e.value = e.max; e.dispatchEvent(new Event('input', {bubbles: true})); }"""
        )
        with watched.explained():
            page.wait_for_function(
                """(id) => { const p = window.luchtwacht.shown();
                    return p && p.type === 'replay' && p.tracks.some(
                      (t) => t.track_id === id && t.pilot_lat_deg != null); }""",
                arg=track.track_id,
                timeout=30_000,
            )
            page.wait_for_function(
                """(id) => window.luchtwacht.map.queryRenderedFeatures({ layers: ['pilots'] })
                    .some((f) => f.properties.id === id || f.properties.track === id)""",
                arg=track.track_id,
                timeout=30_000,
            )
        page.locator(f"#threats tbody tr[data-track='{track.track_id}'] td").first.click()
        with watched.explained():
            pilot.filter(has_text="from RF bearings of 2 detectors").wait_for()
        _shot(page, tmp_path, "pilot-replay")
        assert watched.clean()
    finally:
        watched.context.close()


@pytest.fixture(scope="module")
def swarm_demo(tmp_path_factory: pytest.TempPathFactory, web_dist: Path) -> Iterator[PacedDemo]:
    """A jammed swarm of drones, from the cycle a swarm of five or more is formed."""
    scenario = load_scenario_file(SCENARIOS / "swarm-jammed.yaml")
    with PacedDemo(
        tmp_path_factory.mktemp("swarm"),
        scenario,
        lambda p: any(len(s.members) >= 5 for s in p.swarms),
        speed=1.0,
    ) as node:
        yield node


@needs_chromium
def test_a_swarm_is_one_threat_entry_that_opens_to_its_members_and_is_ringed_on_the_map(
    browser: Browser, swarm_demo: PacedDemo, tmp_path: Path
) -> None:
    watched = Watched(browser, swarm_demo)
    page = watched.page
    try:
        with watched.explained():
            watched.login("eye")
            page.locator("#threats tbody tr[data-swarm]").first.wait_for()
        row = page.locator("#threats tbody tr[data-swarm]").first
        swarm_id = int(row.get_attribute("data-swarm") or "")
        n = int(re.search(r"(\d+) drones", row.inner_text()).group(1))  # type: ignore[union-attr]
        assert n >= 2
        # Closed, its members have no rows of their own; opened, they are listed under it.
        members = page.locator("#threats tbody tr.member")
        assert members.count() == 0
        row.locator("td").first.click()
        with watched.explained():
            members.first.wait_for()
        # The rows under it are the picture's members of that swarm, at the same moment.
        want, rows = page.evaluate(
            """(id) => {
                const p = window.luchtwacht.latest();
                const want = p.tracks.filter((t) => t.swarm_id === id).map((t) => t.track_id);
                const rows = [...document.querySelectorAll('#threats tbody tr.member')]
                  .map((r) => Number(r.dataset.track));
                return [want.sort((a, b) => a - b), rows.sort((a, b) => a - b)];
            }""",
            swarm_id,
        )
        assert len(rows) >= 2 and rows == want
        # On the map: the swarm's ring.
        with watched.explained():
            page.wait_for_function(
                """(id) => window.luchtwacht.map.queryRenderedFeatures({ layers: ['swarms-line'] })
                    .some((f) => f.properties.swarm === id)""",
                arg=swarm_id,
                timeout=30_000,
            )
        _shot(page, tmp_path, "swarm")
        assert watched.clean()
    finally:
        watched.context.close()
