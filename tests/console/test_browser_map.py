"""The console's map in a real browser (Debian's ``chromium`` under Playwright).

Two kinds of test:
- the map module on a page of its own (``web/src/map.js`` bundled here by esbuild), served with
  the console's Content-Security-Policy, fed a site and pictures shaped as the server sends them:
  every overlay is drawn where it belongs (uncertainty ellipses, NO-FIRE areas, effector reach,
  sensor coverage, a camera's field of view, a pilot and the line to his drone), the operator's
  raster PMTiles basemap is read with HTTP Range requests and painted, clicks select tracks;
- the whole console on a demo node, with the site's PMTiles basemap served by the node.

Every request to a host other than the page's own is aborted and recorded: none may be made.
Screenshots go to pytest's tmp dir (and to ``$LUCHTWACHT_MAP_SCREENSHOTS`` when set).
"""

import contextlib
import dataclasses
import io
import math
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse
from matplotlib.image import imread
from PIL import Image
from playwright.sync_api import Browser, ConsoleMessage, Page, Route
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

from luchtwacht.console.server import Console, ConsoleServer, NodeTime
from luchtwacht.console.static import WEB_DIST, mount_web
from luchtwacht.counter.authority import Argon2Params, OperatorAccount, hash_password
from luchtwacht.model.picture import PictureUpdate
from luchtwacht.model.zone import Zone
from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.scenario import Scenario
from luchtwacht.sim.scenario_file import load_scenario_file
from luchtwacht.transport.listen import bind_tcp

# Fixtures shared with the page tests: the built client, Playwright and Debian's Chromium.
from tests.console.test_browser import browser as browser
from tests.console.test_browser import needs_chromium
from tests.console.test_browser import playwright as playwright
from tests.console.test_browser import web_dist as web_dist

WEB = WEB_DIST.parent
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SITE_LAT, SITE_LON = 52.10, 5.12
CHEAP = Argon2Params(time_cost=1, memory_kib=1024)
BASEMAP_RGB = "#c2185b"  # the operator basemap's one colour: a magenta nothing else draws


def _near(image: np.ndarray, rgb: str, tol: float = 0.06) -> int:
    """How many pixels of an RGB(A) image are within ``tol`` of the colour ``#rrggbb``."""
    want = np.array([int(rgb[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((np.abs(image[..., :3] - want) <= tol).all(axis=-1).sum())


def _offset(lat: float, lon: float, east_m: float, north_m: float) -> tuple[float, float]:
    """(lat, lon) ``east_m``/``north_m`` metres from (lat, lon); flat, for test geometry."""
    return (
        lat + north_m / 111_320,
        lon + east_m / (111_320 * math.cos(math.radians(lat))),
    )


def write_pmtiles(
    path: Path,
    lat: float,
    lon: float,
    half_m: float,
    max_zoom: int,
    tile: bytes,
    tile_type: TileType,
    metadata: dict[str, Any],
) -> int:
    """A PMTiles file whose every tile is ``tile``, covering ``half_m`` around (lat, lon).

    Returns how many tiles it addresses. The writer stores identical tiles once.
    """
    south, west = _offset(lat, lon, -half_m, -half_m)
    north, east = _offset(lat, lon, half_m, half_m)

    def xy(z: int, lat_: float, lon_: float) -> tuple[int, int]:
        n = 2**z
        x = int((lon_ + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(lat_))) / math.pi) / 2 * n)
        return min(n - 1, x), min(n - 1, y)

    ids = []
    for z in range(max_zoom + 1):
        (x0, y0), (x1, y1) = xy(z, north, west), xy(z, south, east)
        ids += [zxy_to_tileid(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    e7 = 10_000_000
    with path.open("wb") as f:
        writer = Writer(f)
        for tile_id in sorted(ids):
            writer.write_tile(tile_id, tile)
        writer.finalize(
            {
                "tile_type": tile_type,
                "tile_compression": Compression.NONE,
                "min_lon_e7": int(west * e7),
                "min_lat_e7": int(south * e7),
                "max_lon_e7": int(east * e7),
                "max_lat_e7": int(north * e7),
                "center_zoom": max_zoom,
                "center_lon_e7": int(lon * e7),
                "center_lat_e7": int(lat * e7),
            },
            metadata,
        )
    return len(ids)


def png_tile(rgb: str) -> bytes:
    """A 256-pixel PNG tile of one colour."""
    buf = io.BytesIO()
    Image.new("RGB", (256, 256), rgb).save(buf, format="PNG")
    return buf.getvalue()


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, value: int | bytes) -> bytes:
    """One protobuf field: a varint, or length-delimited bytes."""
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _geometry(commands: list[int]) -> bytes:
    return b"".join(_varint(c) for c in commands)


def _zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 31)


def mvt_tile() -> bytes:
    """A Mapbox Vector Tile (encoded by hand): a ``landuse`` polygon over the whole tile and a
    ``roads`` line across it (command integers as the MVT 2.1 spec defines them)."""
    full = 4096
    square = [9, 0, 0, 26]  # MoveTo (0, 0), LineTo ×3 …
    square += [_zigzag(full), 0, 0, _zigzag(full), _zigzag(-full), 0, 15]  # … ClosePath
    diagonal = [9, 0, 0, 10, _zigzag(full), _zigzag(full)]  # MoveTo, LineTo ×1

    def layer(name: str, geom_type: int, commands: list[int]) -> bytes:
        feature = _field(1, 1) + _field(3, geom_type) + _field(4, _geometry(commands))
        return _field(15, 2) + _field(1, name.encode()) + _field(2, feature) + _field(5, full)

    return _field(3, layer("landuse", 3, square)) + _field(3, layer("roads", 2, diagonal))


# -- the map module on a page of its own -------------------------------------------------------

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>map</title>
<link rel="stylesheet" href="harness.css"><link rel="stylesheet" href="page.css">
<script type="module" src="harness.js"></script></head>
<body><div id="map"></div></body></html>
"""
PAGE_CSS = "html, body { margin: 0; height: 100%; background: #000; } #map { position: absolute; inset: 0; }"
HARNESS_JS = """
import {{ AirMap, LAYERS }} from {map_js};
const selected = [];
const airMap = new AirMap(document.getElementById("map"), {{
  onSelect: (id) => selected.push(id),
  t: (key) => key,
}});
window.harness = {{ airMap, selected, LAYERS }};
"""
BUILD_JS = """
import * as esbuild from "esbuild";
await esbuild.build({
  entryPoints: [process.argv[1]], outdir: process.argv[2], bundle: true, format: "esm",
  logLevel: "warning",
});
"""


class MapPage:
    """A loopback server for the map module alone, with the console's CSP and a PMTiles route.

    It records the Range header of every request for the basemap file.
    """

    def __init__(self, root: Path, basemap: Path | None) -> None:
        self.root = root
        self.ranges: list[str | None] = []
        self.watched: Watched
        app = FastAPI()
        if basemap is not None:

            @app.get("/api/basemap.pmtiles")
            def pmtiles(request: Request) -> FileResponse:
                self.ranges.append(request.headers.get("range"))
                return FileResponse(basemap, media_type="application/vnd.pmtiles")

        assert mount_web(app, root)
        sock = bind_tcp("127.0.0.1", 0)
        host, port = sock.getsockname()[:2]
        self.url = f"http://{host}:{port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]})

    def __enter__(self) -> "MapPage":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def map_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``web/src/map.js`` bundled into a page of its own, with the Natural Earth basemap."""
    node = shutil.which("node")
    if node is None or not (WEB / "node_modules" / "esbuild").is_dir():
        pytest.fail("node or web/node_modules missing: run `make web`")
    root = tmp_path_factory.mktemp("map-page")
    entry = root / "src" / "harness.js"
    entry.parent.mkdir()
    entry.write_text(HARNESS_JS.format(map_js=repr(str(WEB / "src" / "map.js"))))
    subprocess.run(
        [node, "--input-type=module", "-e", BUILD_JS, str(entry), str(root / "www")],
        cwd=WEB,
        check=True,
    )
    www = root / "www"
    (www / "index.html").write_text(PAGE)
    (www / "page.css").write_text(PAGE_CSS)
    for name in ("countries.geojson", "borders.geojson"):
        src = WEB_DIST / name
        if not src.is_file():
            pytest.fail(f"{src} missing: run `make web`")
        shutil.copy(src, www / name)
    return www


class Watched:
    """A page, with what it tried to fetch from elsewhere and what went wrong in it."""

    def __init__(self, browser: Browser, url: str) -> None:
        self.url = url
        self.context = browser.new_context(viewport={"width": 1200, "height": 800})
        self.page: Page = self.context.new_page()
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.context.route("**/*", self._route)

    def _route(self, route: Route) -> None:
        url = route.request.url
        if url.startswith((f"{self.url}/", "data:", "blob:")):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort("blockedbyclient")

    def _console(self, msg: ConsoleMessage) -> None:
        if "GL Driver Message" in msg.text:  # SwiftShader's notes on its own speed
            return
        if msg.type in ("error", "warning") or "Content Security Policy" in msg.text:
            self.errors.append(f"{msg.type}: {msg.text}")

    def clean(self) -> bool:
        """Nothing fetched from outside, no script error or warning, no policy refusal."""
        assert self.outside == [], f"requests to outside the page's server: {self.outside}"
        assert self.errors == [], f"errors in the page: {self.errors}"
        return True


def _site(basemap: str | None) -> dict[str, Any]:
    """A site as ``/api/site`` sends it: a zone, a NO-FIRE area, two effectors, a radar."""

    def square(east_m: float, north_m: float, half_m: float) -> list[list[float]]:
        return [
            list(_offset(SITE_LAT, SITE_LON, east_m + de, north_m + dn))
            for de, dn in (
                (-half_m, -half_m),
                (half_m, -half_m),
                (half_m, half_m),
                (-half_m, half_m),
            )
        ]

    jam_lat, jam_lon = _offset(SITE_LAT, SITE_LON, -300, 200)
    net_lat, net_lon = _offset(SITE_LAT, SITE_LON, 900, -600)
    radar_lat, radar_lon = _offset(SITE_LAT, SITE_LON, 100, 100)
    return {
        "name": "Testsite",
        "lat_deg": SITE_LAT,
        "lon_deg": SITE_LON,
        "alt_m": 2.0,
        "zones": [{"name": "Core", "polygon": square(0, 0, 400), "floor_m": 0, "ceiling_m": 120}],
        "no_fire": [
            {"name": "School", "polygon": square(-1500, 1200, 350), "floor_m": 0, "ceiling_m": 500}
        ],
        "effectors": [
            {
                "name": "Jammer north",
                "kind": "rf_jammer",
                "node_id": None,
                "lat_deg": jam_lat,
                "lon_deg": jam_lon,
                "alt_m": 5.0,
                "max_range_m": 2500.0,
                "min_range_m": 0.0,
                "beamwidth_deg": 360.0,
            },
            {
                "name": "Net launcher",
                "kind": "net",
                "node_id": None,
                "lat_deg": net_lat,
                "lon_deg": net_lon,
                "alt_m": 2.0,
                "max_range_m": 800.0,
                "min_range_m": 100.0,
                "beamwidth_deg": 360.0,
            },
        ],
        "radars": [{"name": "Radar 1", "lat_deg": radar_lat, "lon_deg": radar_lon, "alt_m": 10.0}],
        "basemap": basemap,
        "two_person": [],
        "confirm_window_s": 30.0,
    }


def _track(track_id: int, east_m: float, north_m: float, **extra: Any) -> dict[str, Any]:
    """A track as the picture carries it (the fields the map reads)."""
    lat, lon = _offset(SITE_LAT, SITE_LON, east_m, north_m)
    track: dict[str, Any] = {
        "track_id": track_id,
        "t_s": 100.0,
        "lat_deg": lat,
        "lon_deg": lon,
        "alt_m": 80.0,
        "speed_ms": 12.0,
        "heading_deg": 135.0,
        "object_class": "drone",
        "class_prob": 0.9,
        "cooperative": False,
        "own_asset": False,
        "threat": "high",
        "ellipse_m": [150.0, 60.0, 45.0],
        "zones_inside": [],
        "sensors": ["radar"],
    }
    track.update(extra)
    return track


def _picture(seq: int, step: int = 0) -> dict[str, Any]:
    """A picture: two tracks (one with a Remote ID pilot), a camera node looking north-east."""
    cam_lat, cam_lon = _offset(SITE_LAT, SITE_LON, 500, 500)
    pilot_lat, pilot_lon = _offset(SITE_LAT, SITE_LON, 1800, 1400)
    tracks = [
        _track(1, 1200 - 20 * step, 800 - 20 * step),
        _track(2, -900, -700, threat="low", cooperative=True, ellipse_m=None, uas_id="NL-1"),
    ]
    for track in tracks:
        track["t_s"] = 100.0 + seq
    return {
        "type": "picture",
        "seq": seq,
        "t_s": 100.0 + seq,
        "site": "Testsite",
        "tracks": tracks,
        "nodes": [
            {
                "node_id": "cam-1",
                "name": "Camera 1",
                "node_types": ["Camera"],
                "registered": True,
                "connected": True,
                "lat_deg": cam_lat,
                "lon_deg": cam_lon,
                "alt_m": 12.0,
                "max_range_m": 1500.0,
                "fov": {"azimuth_deg": 45.0, "extent_deg": 30.0, "range_m": None},
                "system": "SYSTEM_OK",
                "mode": "default",
                "status": "ok",
                "look_at": True,
            },
            {
                "node_id": "rf-1",
                "name": "RF sensor",
                "node_types": ["Passive RF"],
                "registered": True,
                "connected": True,
                "lat_deg": SITE_LAT,
                "lon_deg": SITE_LON,
                "alt_m": 3.0,
                "max_range_m": 3000.0,
                "fov": None,
                "system": "SYSTEM_OK",
                "mode": "default",
                "status": "ok",
                "look_at": False,
            },
        ],
        "remote_ids": [
            {
                "uas_id": "NL-1",
                "track_id": 2,
                "lat_deg": None,
                "lon_deg": None,
                "alt_m": None,
                "operator_lat_deg": pilot_lat,
                "operator_lon_deg": pilot_lon,
                "operator_id": "NLD-OP-1",
                "self_id": "",
                "ua_type": "multirotor",
                "mac": "",
                "last_t_s": 100.0,
            }
        ],
    }


@contextlib.contextmanager
def _map_page(browser: Browser, bundle: Path, basemap: Path | None) -> Iterator[MapPage]:
    """The map module's page (with the operator basemap file, if any), loaded, awaiting data."""
    with MapPage(bundle, basemap) as server:
        server.watched = Watched(browser, server.url)
        try:
            server.watched.page.goto(f"{server.url}/")
            server.watched.page.wait_for_function("() => window.harness?.airMap.ready")
            yield server
        finally:
            server.watched.context.close()


def _show(page: Page, site: dict[str, Any] | None, picture: dict[str, Any]) -> None:
    """Hand the map a site (if any) and a picture, and wait until the map has drawn it."""
    page.evaluate(
        """([site, picture]) => {
            if (site) window.harness.airMap.setSite(site);
            window.harness.airMap.update(picture);
        }""",
        [site, picture],
    )
    page.wait_for_function("(seq) => window.__lwDrawn?.seq === seq", arg=picture["seq"])


def _shot(page: Page, path: Path) -> np.ndarray:
    """A screenshot of the page (kept at ``path``), as an RGB(A) array of floats."""
    page.screenshot(path=path)
    if target := os.environ.get("LUCHTWACHT_MAP_SCREENSHOTS"):
        shutil.copy(path, Path(target) / path.name)
    return np.asarray(imread(path))


def _rendered(page: Page, layer: str) -> int:
    """How many features of ``layer`` the map has rendered now."""
    return int(
        page.evaluate(
            "(layer) => window.harness.airMap.map.queryRenderedFeatures({layers: [layer]}).length",
            layer,
        )
    )


@needs_chromium
def test_the_site_and_picture_overlays_are_drawn_on_the_operator_raster_basemap(
    browser: Browser, map_bundle: Path, tmp_path: Path
) -> None:
    basemap = tmp_path / "site.pmtiles"
    tile = png_tile(BASEMAP_RGB)
    write_pmtiles(basemap, SITE_LAT, SITE_LON, 8000, 12, tile, TileType.PNG, {"name": "t"})
    with _map_page(browser, map_bundle, basemap) as server:
        page = server.watched.page
        _show(page, _site("/api/basemap.pmtiles"), _picture(1))
        page.wait_for_function("() => window.harness.airMap.map.getLayer('operator-basemap')")
        page.wait_for_function("() => window.harness.airMap.map.loaded()")
        pixels = _shot(page, tmp_path / "map-overlays.png")
        for layer in (
            "tracks",
            "ellipses-line",
            "nofire-line",
            "reach-line",
            "coverage-line",
            "fov-fill",
            "sensors",
            "effectors",
            "radars",
            "pilots",
            "pilot-lines",
        ):
            assert _rendered(page, layer) > 0, f"nothing drawn in layer {layer}"
        # The operator's tiles, read piece by piece from the server: every request a Range.
        assert _near(pixels, BASEMAP_RGB) > 50_000, "the operator's basemap is not painted"
        assert server.ranges and all((r or "").startswith("bytes=") for r in server.ranges)
        assert server.watched.clean()


@needs_chromium
def test_a_vector_basemap_is_drawn_layer_by_layer(
    browser: Browser, map_bundle: Path, tmp_path: Path
) -> None:
    basemap = tmp_path / "vector.pmtiles"
    metadata = {"vector_layers": [{"id": "landuse", "fields": {}}, {"id": "roads", "fields": {}}]}
    write_pmtiles(basemap, SITE_LAT, SITE_LON, 8000, 12, mvt_tile(), TileType.MVT, metadata)
    with _map_page(browser, map_bundle, basemap) as server:
        page = server.watched.page
        _show(page, _site("/api/basemap.pmtiles"), _picture(1))
        page.wait_for_function("() => window.harness.airMap.map.getLayer('basemap-roads-line')")
        page.wait_for_function("() => window.harness.airMap.map.loaded()")
        _shot(page, tmp_path / "map-vector.png")
        assert _rendered(page, "basemap-landuse-fill") > 0
        assert _rendered(page, "basemap-roads-line") > 0
        assert _rendered(page, "tracks") == 2  # the picture stays on top of it
        assert server.watched.clean()


@needs_chromium
def test_a_click_selects_a_track_and_select_brings_one_on_screen(
    browser: Browser, map_bundle: Path, tmp_path: Path
) -> None:
    with _map_page(browser, map_bundle, None) as server:
        page = server.watched.page
        _show(page, _site(None), _picture(1))
        assert _rendered(page, "selected") == 0
        # A click on track 1's symbol selects it (the page hears of it, the map rings it) …
        x, y = page.evaluate(
            """() => {
                const t = window.harness.airMap.latest.tracks[0];
                const p = window.harness.airMap.map.project([t.lon_deg, t.lat_deg]);
                return [p.x, p.y];
            }"""
        )
        page.mouse.click(x, y)
        page.wait_for_function("() => window.harness.selected.length === 1")
        assert page.evaluate("() => window.harness.selected") == [1]
        page.wait_for_function(
            "() => window.harness.airMap.map.queryRenderedFeatures({layers: ['selected']}).length"
        )
        _shot(page, tmp_path / "map-selected.png")
        # … a click on the empty map selects nothing.
        page.mouse.click(40, 700)
        page.wait_for_function("() => window.harness.selected.length === 2")
        assert page.evaluate("() => window.harness.selected") == [1, None]
        page.wait_for_function(
            "() => !window.harness.airMap.map.queryRenderedFeatures({layers: ['selected']}).length"
        )
        # A track 20 km out, selected from elsewhere (the threat list), is brought on screen.
        far = _picture(2)
        far["tracks"].append(_track(3, 20_000, 5_000))
        _show(page, None, far)
        assert not page.evaluate(
            "() => window.harness.airMap.map.getBounds().contains("
            "[window.harness.airMap.latest.tracks[2].lon_deg,"
            " window.harness.airMap.latest.tracks[2].lat_deg])"
        )
        page.evaluate("() => window.harness.airMap.select(3)")
        page.wait_for_function(
            "() => window.harness.airMap.map.queryRenderedFeatures({layers: ['selected']})"
            ".some((f) => f.properties.id === 3)"
        )
        assert server.watched.clean()


@needs_chromium
def test_trails_grow_live_a_replay_brings_its_own_and_each_drawn_picture_is_reported(
    browser: Browser, map_bundle: Path
) -> None:
    with _map_page(browser, map_bundle, None) as server:
        page = server.watched.page
        _show(page, _site(None), _picture(1))
        assert _rendered(page, "trails") == 0  # one position each: no trail yet
        _show(page, None, _picture(2, step=1))  # a second later, track 1 has moved
        assert _rendered(page, "trails") > 0
        # A replay picture: the trails it carries are drawn, not ones the map gathered.
        replay = _picture(7)
        replay["type"] = "replay"
        track = replay["tracks"][0]
        replay["trails"] = {
            "1": [
                [95.0 + i, *_offset(track["lat_deg"], track["lon_deg"], -80 * i, 0), 80.0]
                for i in range(5, -1, -1)
            ]
        }
        _show(page, None, replay)
        # The replayed trail runs 400 m west of the track: it is drawn 300 m west of it.
        on_trail = _offset(track["lat_deg"], track["lon_deg"], -300, 0)
        hits = page.evaluate(
            """([lat, lon]) => {
                const m = window.harness.airMap.map;
                const p = m.project([lon, lat]);
                const box = [[p.x - 4, p.y - 4], [p.x + 4, p.y + 4]];
                return m.queryRenderedFeatures(box, {layers: ["trails"]}).length;
            }""",
            list(on_trail),
        )
        assert hits > 0, "the replay's trail is not drawn"
        drawn = page.evaluate("() => window.__lwDrawn")
        assert drawn["seq"] == 7 and drawn["t_s"] == replay["t_s"]
        assert drawn["wall_ms"] > 1e12  # epoch milliseconds, comparable across processes
        assert server.watched.clean()


# -- the whole console on a demo node ----------------------------------------------------------


class SiteDemo:
    """A demo node in a thread and its console, with the site's PMTiles basemap, on loopback.

    As ``test_browser.PacedDemo``: flat out until ``ready(picture)``, then at twice the wall
    clock (a real node publishes 10 pictures a second; flat out it would swamp the browser).
    The viewer ``eye`` logs in with the password ``eye-pw``.
    """

    def __init__(
        self,
        scenario: Scenario,
        basemap: Path,
        ready: Callable[[PictureUpdate], bool],
    ) -> None:
        eye = OperatorAccount("eye", "viewer", hash_password("eye-pw", params=CHEAP))
        self.node = Pipeline(scenario, people=[eye])
        self.console = Console(self.node, self.node.authority, NodeTime(self.node), basemap=basemap)
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
            ahead_s = (self.node.now_s - node0) / 2.0 - (time.monotonic() - wall0)
            if ahead_s > 0:
                time.sleep(ahead_s)

    def __enter__(self) -> "SiteDemo":
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


def _pilot_heard(p: PictureUpdate) -> bool:
    """A Remote ID drone is tracked and its pilot's position is known."""
    return any(r.operator_lat_deg is not None and r.track_id is not None for r in p.remote_ids)


@needs_chromium
def test_the_console_draws_the_site_basemap_from_the_node_and_the_pictures_overlays(
    browser: Browser, web_dist: Path, tmp_path: Path
) -> None:
    # A jammed intruder with a Remote ID pilot, a NO-FIRE area added to its site.
    scenario = load_scenario_file(SCENARIOS / "jammed-intruder.yaml")
    lat, lon = scenario.origin.lat_deg, scenario.origin.lon_deg
    corners = [_offset(lat, lon, e, n) for e, n in ((-2200, 600), (-1500, 600), (-1500, 1200))]
    scenario = dataclasses.replace(scenario, no_fire=(Zone("Village", tuple(corners)),))
    basemap = tmp_path / "site.pmtiles"
    tile = png_tile(BASEMAP_RGB)
    write_pmtiles(basemap, lat, lon, 10_000, 12, tile, TileType.PNG, {"name": "site"})
    with SiteDemo(scenario, basemap, _pilot_heard) as demo:
        watched = Watched(browser, demo.url)
        page = watched.page
        ranges: list[tuple[int, str | None]] = []
        page.on(
            "response",
            lambda r: (
                ranges.append((r.status, r.request.headers.get("range")))
                if r.url.endswith("/api/basemap.pmtiles")
                else None
            ),
        )
        try:
            page.goto(f"{demo.url}/")
            page.fill("input[name=username]", "eye")
            page.fill("input[name=password]", "eye-pw")
            page.click("#login button[type=submit]")
            page.wait_for_selector("#console:not([hidden])")
            page.wait_for_function("() => window.__lwDrawn?.seq > 0")
            page.wait_for_function("() => window.luchtwacht.map.getLayer('operator-basemap')")
            page.wait_for_function("() => window.luchtwacht.map.loaded()")
            rendered = page.evaluate(
                """(layers) => Object.fromEntries(layers.map((l) =>
                    [l, window.luchtwacht.map.queryRenderedFeatures({layers: [l]}).length]))""",
                [
                    "tracks",
                    "ellipses-line",
                    "nofire-line",
                    "reach-line",
                    "effectors",
                    "pilots",
                    "pilot-lines",
                ],
            )
            assert all(n > 0 for n in rendered.values()), f"layers not drawn: {rendered}"
            pixels = _shot(page, tmp_path / "console-map.png")
            # The site's own map, read from the node in HTTP ranges (206 Partial Content).
            assert _near(pixels, BASEMAP_RGB) > 50_000, "the site's basemap is not painted"
            assert ranges and all(
                status == 206 and (r or "").startswith("bytes=") for status, r in ranges
            ), ranges
            assert watched.clean()
        finally:
            watched.context.close()
