// The map: an offline basemap (Natural Earth countries shipped in dist/, and the operator's own
// PMTiles file when the site names one), the site's grid and range rings, protected zones and
// NO-FIRE areas, the effectors' reach, the sensors with their coverage and where the cameras
// look, and the air picture: tracks with trails, velocity leaders and uncertainty ellipses, and
// the pilots Remote ID reports.
//
// The style names no glyphs, sprites or remote tiles (layers.js): the icons are drawn in the
// page by milsymbol and the few labels are DOM elements in a local font. Drawing is throttled
// to DRAW_EVERY_MS and paced by the map itself: the next picture is handed to the map only once
// the previous one is on screen, so a slow machine skips pictures instead of queueing them.

import maplibregl from "maplibre-gl";
import "maplibre-gl/dist/maplibre-gl.css";
import { PMTiles, Protocol, TileType } from "pmtiles";
import {
  AFFILIATION_COLOUR,
  BASEMAP_BEFORE,
  COLOUR,
  LAYERS,
  STYLE,
  vectorBasemapLayers,
} from "./layers.js";
import {
  addHatch,
  addPilotIcon,
  affiliation,
  ensureEffectorIcon,
  ensureIcon,
  ensureSensorIcon,
} from "./symbols.js";

export { LAYERS };

const RINGS_M = [1000, 2000, 5000];
const GRID_STEP_M = 1000;
const GRID_HALF_M = 6000;
const LEADER_S = 30; // a velocity leader shows where the track will be this many seconds ahead
const SWARM_MARGIN_M = 150; // a swarm's ring lies this far outside its outermost member (clear of the symbols)
// A trail keeps a position every two seconds for the last minute, and is drawn again once a
// second of picture time (up to where the track was then): a minute shows where a drone came
// from (at 15 m/s a point every 30 m, 2 px at the site's scale), and the trails, ~30 vertices
// a track, stay off the 10 Hz path.
const TRAIL_EVERY_S = 2;
const TRAIL_POINTS = 30;
const TRAIL_REDRAW_S = 1;
const DRAW_EVERY_MS = 100; // the node publishes at 10 Hz; drawing faster only loads the worker
const DRAWN_TIMEOUT_MS = 10_000; // a draw the map has not shown by then no longer holds the next
const FOV_DEFAULT_M = 2000; // a field of view's radius when neither it nor the node gives one
// Uncertainty ellipses are drawn at 2 sigma (the picture gives 1-sigma axes): about 86 % of the
// horizontal position probability lies inside, so the drone is "in there" at a glance.
const ELLIPSE_SIGMA = 2;
const ELLIPSE_POINTS = 32;
const EARTH_M = 6371008.8;
const M_PER_DEG = (Math.PI / 180) * EARTH_M;
const THREAT_RANK = { none: 0, low: 1, medium: 2, high: 3, critical: 4 };
const RASTER_TILES = new Set([TileType.Png, TileType.Jpeg, TileType.Webp, TileType.Avif]);
const VECTOR_TILES = new Set([TileType.Mvt, TileType.Mlt]);
const OPERATOR_BASEMAP = "operator-basemap";

const collection = (features) => ({ type: "FeatureCollection", features });
const finite = (x) => typeof x === "number" && Number.isFinite(x);

// A point `range_m` from (lat, lon) on `bearing_deg` (great circle; degrees in and out).
export function destination(lat, lon, bearingDeg, rangeM) {
  const r = Math.PI / 180;
  const d = rangeM / EARTH_M;
  const b = bearingDeg * r;
  const la = lat * r;
  const lat2 = Math.asin(Math.sin(la) * Math.cos(d) + Math.cos(la) * Math.sin(d) * Math.cos(b));
  const lon2 =
    lon * r +
    Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(la), Math.cos(d) - Math.sin(la) * Math.sin(lat2));
  return [lon2 / r, lat2 / r];
}

function ring(lat, lon, rangeM, fromDeg = 0, toDeg = 360) {
  const coords = [];
  const steps = Math.max(4, Math.ceil((toDeg - fromDeg) / 5));
  for (let i = 0; i <= steps; i++)
    coords.push(destination(lat, lon, fromDeg + ((toDeg - fromDeg) * i) / steps, rangeM));
  return coords;
}

// A sector (a camera's cone): from the node out along the arc and back.
function sector(lat, lon, azimuthDeg, extentDeg, rangeM) {
  if (!(extentDeg < 360)) return [ring(lat, lon, rangeM)];
  const half = Math.max(extentDeg, 0.5) / 2;
  const apex = [lon, lat];
  return [[apex, ...ring(lat, lon, rangeM, azimuthDeg - half, azimuthDeg + half), apex]];
}

// The unit circle, closed (the last point is the first), for the ellipses.
const UNIT = Array.from({ length: ELLIPSE_POINTS + 1 }, (_, i) => {
  const a = ((i % ELLIPSE_POINTS) / ELLIPSE_POINTS) * 2 * Math.PI;
  return [Math.cos(a), Math.sin(a)];
});

// The uncertainty ellipse around (lat, lon): semi-axes in metres, the major axis on a bearing
// (degrees clockwise from north). Flat-earth offsets: exact enough at ellipse sizes.
function ellipse(lat, lon, semiMajorM, semiMinorM, orientationDeg) {
  const th = (orientationDeg * Math.PI) / 180;
  const s = Math.sin(th);
  const c = Math.cos(th);
  const a = ELLIPSE_SIGMA * semiMajorM;
  const b = ELLIPSE_SIGMA * semiMinorM;
  const dLat = 1 / M_PER_DEG;
  const dLon = 1 / (M_PER_DEG * Math.max(Math.cos((lat * Math.PI) / 180), 1e-6));
  const coords = new Array(UNIT.length);
  for (let i = 0; i < UNIT.length; i++) {
    const x = a * UNIT[i][0]; // along the major axis
    const y = b * UNIT[i][1]; // along the minor axis
    coords[i] = [lon + (x * s + y * c) * dLon, lat + (x * c - y * s) * dLat];
  }
  return [coords];
}

const feature = (type, coordinates, properties) => ({
  type: "Feature",
  properties,
  geometry: { type, coordinates },
});
const line = (coordinates, properties = {}) => feature("LineString", coordinates, properties);
const polygonOf = (area) => [[...area.polygon, area.polygon[0]].map(([lat, lon]) => [lon, lat])];
const areaFeatures = (areas) =>
  collection(
    (areas ?? [])
      .filter((z) => z.polygon?.length >= 3)
      .map((z) => feature("Polygon", polygonOf(z), { name: z.name })),
  );

function siteFeatures([lon, lat]) {
  const rings = RINGS_M.map((m) => line(ring(lat, lon, m), { range_m: m }));
  // The site's ENU grid: lines of constant east and north every kilometre (flat within 6 km).
  const degPerM = { lat: 1 / 111320, lon: 1 / (111320 * Math.cos((lat * Math.PI) / 180)) };
  const [south, north] = [lat - GRID_HALF_M * degPerM.lat, lat + GRID_HALF_M * degPerM.lat];
  const [west, east] = [lon - GRID_HALF_M * degPerM.lon, lon + GRID_HALF_M * degPerM.lon];
  const grid = [];
  for (let m = -GRID_HALF_M; m <= GRID_HALF_M; m += GRID_STEP_M) {
    const e = lon + m * degPerM.lon;
    const n = lat + m * degPerM.lat;
    grid.push(line([[e, south], [e, north]], { axis: m === 0 }));
    grid.push(line([[west, n], [east, n]], { axis: m === 0 }));
  }
  return { rings: collection(rings), grid: collection(grid) };
}

export function zonesCentre(zones) {
  const pts = zones.flatMap((z) => z.polygon);
  if (!pts.length) return null;
  const lat = pts.reduce((s, p) => s + p[0], 0) / pts.length;
  const lon = pts.reduce((s, p) => s + p[1], 0) / pts.length;
  return [lon, lat];
}

// The effectors' reach (a ring between min and max range: the site file gives no sector) and
// the symbols of the effectors and of the fixed radars.
function effectorFeatures(site, map) {
  const features = [];
  for (const e of site.effectors ?? []) {
    if (!finite(e.lat_deg) || !finite(e.lon_deg)) continue;
    if (finite(e.max_range_m) && e.max_range_m > 0) {
      const rings = [ring(e.lat_deg, e.lon_deg, e.max_range_m)];
      if (finite(e.min_range_m) && e.min_range_m > 0)
        rings.push(ring(e.lat_deg, e.lon_deg, e.min_range_m).reverse());
      features.push(feature("Polygon", rings, { part: "reach", name: e.name, kind: e.kind }));
    }
    features.push(
      feature("Point", [e.lon_deg, e.lat_deg], {
        part: "effector",
        name: e.name,
        kind: e.kind,
        icon: ensureEffectorIcon(map, e.kind),
      }),
    );
  }
  for (const r of site.radars ?? []) {
    if (!finite(r.lat_deg) || !finite(r.lon_deg)) continue;
    features.push(
      feature("Point", [r.lon_deg, r.lat_deg], {
        part: "radar",
        name: r.name,
        icon: ensureSensorIcon(map, true),
      }),
    );
  }
  return collection(features);
}

const isRadar = (node) => (node.node_types ?? []).some((t) => /radar/i.test(t));

// The SAPIENT nodes: a symbol each, the circle of its range when known, and its field of view
// (where it looks now) as a translucent cone. A node that is one of the site's effectors keeps
// the effector's symbol (drawn from the site) and gets no second one here.
function sensorFeatures(nodes, map, effectorNodes) {
  const features = [];
  for (const n of nodes ?? []) {
    if (!finite(n.lat_deg) || !finite(n.lon_deg)) continue;
    const up = Boolean(n.connected) && (n.system == null || n.system === "SYSTEM_OK");
    const props = { name: n.name ?? n.node_id, node_id: n.node_id, up };
    if (finite(n.max_range_m) && n.max_range_m > 0)
      features.push(line(ring(n.lat_deg, n.lon_deg, n.max_range_m), { ...props, part: "coverage" }));
    const fov = n.fov;
    if (fov && finite(fov.azimuth_deg) && finite(fov.extent_deg)) {
      const range = finite(fov.range_m) && fov.range_m > 0 ? fov.range_m
        : finite(n.max_range_m) && n.max_range_m > 0 ? n.max_range_m : FOV_DEFAULT_M;
      features.push(
        feature("Polygon", sector(n.lat_deg, n.lon_deg, fov.azimuth_deg, fov.extent_deg, range), {
          ...props,
          part: "fov",
        }),
      );
    }
    if (effectorNodes.has(n.node_id)) continue;
    features.push(
      feature("Point", [n.lon_deg, n.lat_deg], {
        ...props,
        part: "sensor",
        icon: ensureSensorIcon(map, isRadar(n)),
      }),
    );
  }
  return collection(features);
}

// The PMTiles protocol, added to MapLibre once for the page.
let pmtilesProtocol = null;
function protocol() {
  if (!pmtilesProtocol) {
    pmtilesProtocol = new Protocol();
    maplibregl.addProtocol("pmtiles", pmtilesProtocol.tile);
  }
  return pmtilesProtocol;
}

// The raster tiles' size in pixels (256 or 512): the archive's header does not say, one tile does.
async function rasterTileSize(archive, h) {
  const z = h.minZoom;
  const n = 2 ** z;
  const lon = finite(h.centerLon) ? h.centerLon : 0;
  const lat = Math.max(-85, Math.min(85, finite(h.centerLat) ? h.centerLat : 0));
  const x = Math.min(n - 1, Math.max(0, Math.floor(((lon + 180) / 360) * n)));
  const r = (lat * Math.PI) / 180;
  const y = Math.min(n - 1, Math.max(0, Math.floor(((1 - Math.asinh(Math.tan(r)) / Math.PI) / 2) * n)));
  try {
    const tile = await archive.getZxy(z, x, y);
    if (!tile) return 256;
    const bitmap = await createImageBitmap(new Blob([tile.data]));
    const size = bitmap.width >= 512 ? 512 : 256;
    bitmap.close();
    return size;
  } catch {
    return 256;
  }
}

export class AirMap {
  // onSelect(trackId | null): the operator clicked a track symbol (or the empty map).
  // t(key): the translation of the few words the map writes (English keys).
  // locale: MapLibre's own control labels (its `locale` option), if given.
  constructor(container, { onSelect = null, t = (key) => key, locale = undefined } = {}) {
    this.onSelect = onSelect;
    this.t = t;
    this.map = new maplibregl.Map({
      container,
      ...(locale ? { locale } : {}),
      style: STYLE,
      center: [0, 20],
      zoom: 1.5,
      attributionControl: { compact: true, customAttribution: "Natural Earth (world-atlas)" },
      fadeDuration: 0,
    });
    this.map.addControl(new maplibregl.NavigationControl({ showCompass: true }), "top-right");
    this.map.addControl(new maplibregl.ScaleControl({ unit: "metric", maxWidth: 160 }), "bottom-left");
    // The images the style names; added again if the map asks (after a context loss).
    const images = () => {
      addHatch(this.map, "nofire-hatch", COLOUR.nofire);
      addPilotIcon(this.map);
    };
    this.map.on("styleimagemissing", images);
    this.ready = false; // the style and basemap are loaded; sources may be updated
    this.loaded = new Promise((resolve) => this.map.on("load", resolve)).then(() => {
      images();
      this.ready = true;
    });
    this.centre = null;
    this.fitted = false;
    this.siteMarkers = [];
    this.basemap = null; // the operator's PMTiles URL once added
    this.history = new Map(); // track id → [[lon, lat, t_s], …], oldest first
    this.latest = { tracks: [] };
    this.byId = new Map(); // track id → track, of the latest picture
    this.nodesKey = null;
    this.nodes = [];
    this.trailsOf = null; // the picture the trails were last drawn from
    this.trailsAt = -Infinity; // …and its time
    this.selected = null;
    this.pending = false; // a draw is scheduled
    this.inFlight = false; // a draw is handed to the map and not yet on screen
    this.dirty = false; // a picture came after the last draw began
    this.drawnAt = 0;
    this.contextLost = false;
    this.map.on("webglcontextlost", () => (this.contextLost = true));
    this.map.on("webglcontextrestored", () => (this.contextLost = false));
    this.popup = new maplibregl.Popup({ closeButton: true, closeOnClick: true, maxWidth: "280px" });
    this.map.on("click", (e) => this.click(e));
    for (const layer of ["tracks", "sensors", "effectors", "radars", "pilots"]) {
      this.map.on("mouseenter", layer, () => (this.map.getCanvas().style.cursor = "pointer"));
      this.map.on("mouseleave", layer, () => (this.map.getCanvas().style.cursor = ""));
    }
  }

  // The site (/api/site): centre on it, and draw its zones, NO-FIRE areas, effectors with
  // their reach, fixed radars and, when it names one, the operator's PMTiles basemap.
  // An array [lon, lat] only centres the map (once), for a page without /api/site.
  async setSite(site) {
    if (!site) return;
    if (Array.isArray(site)) {
      if (this.centre) return;
      await this.loaded;
      this.placeSite(site);
      return;
    }
    await this.loaded;
    this.site = site;
    this.placeSite([site.lon_deg, site.lat_deg]);
    this.setZones(site.zones ?? []);
    this.map.getSource("nofire").setData(areaFeatures(site.no_fire));
    this.map.getSource("site").setData(effectorFeatures(site, this.map));
    this.nodesKey = null; // the sensors are drawn again: an effector's node has no sensor symbol
    if (site.basemap && site.basemap !== this.basemap) {
      this.basemap = site.basemap;
      try {
        await this.addBasemap(site.basemap);
      } catch (err) {
        // The Natural Earth map stays; the operator's file is not a reason to stop the console.
        console.warn(`operator basemap ${site.basemap} not shown: ${err.message}`);
      }
    }
  }

  // The map's DOM labels (range rings, NO-FIRE areas, effectors), in the words of `t` now: call
  // again after the page changes language.
  refreshLabels() {
    for (const m of this.siteMarkers) m.remove();
    this.siteMarkers = [];
    if (!this.centre) return;
    const [lon, lat] = this.centre;
    for (const m of RINGS_M) this.label(destination(lat, lon, 45, m), `${m / 1000} km`, null, "bottom");
    const site = this.site ?? {};
    for (const area of site.no_fire ?? []) {
      const centre = zonesCentre([area]);
      if (centre) this.label(centre, `${this.t("NO FIRE")} · ${area.name}`, COLOUR.nofire, "center");
    }
    for (const e of site.effectors ?? [])
      if (finite(e.lat_deg) && finite(e.lon_deg))
        this.label([e.lon_deg, e.lat_deg], e.name, COLOUR.reach, "top", [0, 12]);
  }

  // The grid and range rings around `centre` ([lon, lat]); the view fitted to them once.
  placeSite(centre) {
    this.centre = centre;
    const { rings, grid } = siteFeatures(centre);
    this.map.getSource("rings").setData(rings);
    this.map.getSource("grid").setData(grid);
    this.refreshLabels();
    const [lon, lat] = centre;
    if (this.fitted) return;
    this.fitted = true;
    const edge = RINGS_M[RINGS_M.length - 1] * 1.1;
    const sw = destination(lat, lon, 225, edge * Math.SQRT2);
    const ne = destination(lat, lon, 45, edge * Math.SQRT2);
    this.map.fitBounds([sw, ne], { animate: false, padding: 20 });
  }

  // A DOM label on the map (no glyphs needed): the ring labels' look, in `colour` if given.
  label(lngLat, text, colour, anchor, offset = [0, 0]) {
    const el = document.createElement("div");
    el.className = "ring-label map-label";
    el.textContent = text;
    if (colour) el.style.color = colour; // CSSOM, which the page's policy allows
    this.siteMarkers.push(
      new maplibregl.Marker({ element: el, anchor, offset }).setLngLat(lngLat).addTo(this.map),
    );
  }

  async setZones(zones) {
    await this.loaded;
    this.map.getSource("zones").setData(areaFeatures(zones));
  }

  // The operator's PMTiles file, read with HTTP Range requests from the node: raster tiles as
  // one layer over the Natural Earth land, vector tiles with a plain style per source layer.
  async addBasemap(path) {
    const url = new URL(path, location.href).href;
    const archive = new PMTiles(url);
    protocol().add(archive);
    const h = await archive.getHeader();
    const source = {
      tiles: [`pmtiles://${url}/{z}/{x}/{y}`],
      minzoom: h.minZoom,
      maxzoom: h.maxZoom,
      attribution: this.t("operator map"),
    };
    if (h.minLon < h.maxLon && h.minLat < h.maxLat)
      source.bounds = [h.minLon, h.minLat, h.maxLon, h.maxLat];
    if (RASTER_TILES.has(h.tileType)) {
      const tileSize = await rasterTileSize(archive, h);
      this.map.addSource(OPERATOR_BASEMAP, { type: "raster", ...source, tileSize });
      this.map.addLayer(
        { id: OPERATOR_BASEMAP, type: "raster", source: OPERATOR_BASEMAP, paint: { "raster-fade-duration": 0 } },
        BASEMAP_BEFORE,
      );
    } else if (VECTOR_TILES.has(h.tileType)) {
      const meta = await archive.getMetadata().catch(() => ({}));
      const ids = (meta?.vector_layers ?? []).map((l) => l.id).filter(Boolean);
      if (!ids.length) throw new Error("the vector archive lists no vector_layers");
      const encoding = h.tileType === TileType.Mlt ? "mlt" : "mvt";
      this.map.addSource(OPERATOR_BASEMAP, { type: "vector", ...source, encoding });
      for (const layer of vectorBasemapLayers(OPERATOR_BASEMAP, ids))
        this.map.addLayer(layer, BASEMAP_BEFORE);
    } else {
      throw new Error(`tile type ${h.tileType} is neither raster nor vector`);
    }
    return h;
  }

  // Every picture (the whole merged one; an array is taken as its tracks): remember positions
  // for the trails, draw at most every DRAW_EVERY_MS.
  update(picture) {
    if (Array.isArray(picture)) picture = { tracks: picture };
    const tracks = picture.tracks ?? [];
    if (picture.trails) {
      this.history.clear(); // a replay brings its own trails
    } else {
      const seen = new Set();
      for (const t of tracks) {
        seen.add(t.track_id);
        let h = this.history.get(t.track_id);
        if (!h) this.history.set(t.track_id, (h = []));
        const last = h[h.length - 1];
        const ts = finite(t.t_s) ? t.t_s : performance.now() / 1000;
        if (last && ts < last[2]) h.length = 0; // the clock went back: a new run or a reset
        if (!h.length || ts - h[h.length - 1][2] >= TRAIL_EVERY_S) h.push([t.lon_deg, t.lat_deg, ts]);
        if (h.length > TRAIL_POINTS) h.shift();
      }
      for (const id of this.history.keys()) if (!seen.has(id)) this.history.delete(id);
    }
    this.latest = picture;
    this.dirty = true;
    this.schedule();
  }

  schedule() {
    if (this.pending || this.inFlight) return;
    this.pending = true;
    const wait = Math.max(0, this.drawnAt + DRAW_EVERY_MS - performance.now());
    setTimeout(() => requestAnimationFrame(() => this.draw()), wait);
  }

  draw() {
    this.pending = false;
    if (!this.ready) {
      // Not map.isStyleLoaded(): that is false too while a source reloads after setData.
      this.pending = true;
      this.loaded.then(() => this.draw());
      return;
    }
    this.drawnAt = performance.now();
    this.dirty = false;
    const picture = this.latest;
    this.drawSensors(picture.nodes);
    const sources = this.drawTrails(picture) ? ["picture", "trails"] : ["picture"];
    this.whenShown(picture, sources);
    this.map.getSource("picture").setData(this.pictureFeatures(picture));
  }

  // The trails: a replay picture's own (each new picture), else the ones gathered live, at most
  // once a second of picture time (or when the clock went back). True if they were set.
  drawTrails(picture) {
    const t = finite(picture.t_s) ? picture.t_s : performance.now() / 1000;
    const last = this.trailsOf;
    if (picture.trails ? picture === last
        : last && !last.trails && t >= this.trailsAt && t - this.trailsAt < TRAIL_REDRAW_S)
      return false;
    this.trailsOf = picture;
    this.trailsAt = t;
    this.map.getSource("trails").setData(this.trailFeatures(picture));
    return true;
  }

  trailFeatures(picture) {
    const trails = picture.trails ?? null;
    const features = [];
    for (const t of picture.tracks ?? []) {
      let trail;
      if (trails) trail = (trails[t.track_id] ?? []).map((p) => [p[2], p[1]]);
      else {
        trail = (this.history.get(t.track_id) ?? []).map((p) => [p[0], p[1]]);
        const end = trail[trail.length - 1];
        if (end && (end[0] !== t.lon_deg || end[1] !== t.lat_deg)) trail.push([t.lon_deg, t.lat_deg]);
      }
      if (trail.length > 1)
        features.push(line(trail, { id: t.track_id, colour: AFFILIATION_COLOUR[affiliation(t)] }));
    }
    return collection(features);
  }

  // Tracks, leaders, ellipses and pilots: one pass over the picture, one collection.
  pictureFeatures(picture) {
    const tracks = picture.tracks ?? [];
    const features = [];
    const byId = new Map();
    for (const t of tracks) {
      byId.set(t.track_id, t);
      const colour = AFFILIATION_COLOUR[affiliation(t)];
      features.push(
        feature("Point", [t.lon_deg, t.lat_deg], {
          part: "track",
          id: t.track_id,
          icon: ensureIcon(this.map, t),
          rank: THREAT_RANK[t.threat] ?? 0,
        }),
      );
      if (t.speed_ms > 0.5 && finite(t.heading_deg)) {
        const tip = destination(t.lat_deg, t.lon_deg, t.heading_deg, t.speed_ms * LEADER_S);
        features.push(line([[t.lon_deg, t.lat_deg], tip], { part: "leader", colour }));
      }
      const e = t.ellipse_m;
      if (e && finite(e[0]) && finite(e[1]) && e[0] > 0) {
        const coords = ellipse(t.lat_deg, t.lon_deg, e[0], e[1], finite(e[2]) ? e[2] : 0);
        features.push(feature("Polygon", coords, { part: "ellipse", id: t.track_id, colour }));
      }
    }
    this.byId = byId;
    // Swarms: a ring around the members (their spread from the centroid, plus a margin) in the
    // worst member's colour, and the swarm's name on it.
    for (const sw of picture.swarms ?? []) {
      if (!finite(sw.lat_deg) || !finite(sw.lon_deg)) continue;
      const worst = sw.members.map((id) => byId.get(id)).find((m) => m && affiliation(m) === "hostile");
      const colour = AFFILIATION_COLOUR[worst ? "hostile" : "unknown"];
      const r = Math.max(sw.spread_m ?? 0, 0) + SWARM_MARGIN_M;
      features.push(
        feature("Polygon", ellipse(sw.lat_deg, sw.lon_deg, r / ELLIPSE_SIGMA, r / ELLIPSE_SIGMA, 0), {
          part: "swarm", swarm: sw.swarm_id, n: sw.members.length, colour,
        }),
      );
    }
    // Pilots the RF detectors' bearings on the controller placed (a Remote ID pilot comes below,
    // from what the drone broadcasts): the point, its 1-sigma ellipse and a line to the drone.
    for (const t of tracks) {
      if (!finite(t.pilot_lat_deg) || !finite(t.pilot_lon_deg)) continue;
      const at = [t.pilot_lon_deg, t.pilot_lat_deg];
      const e = t.pilot_ellipse_m;
      if (e && finite(e[0]) && finite(e[1]) && e[0] > 0)
        features.push(feature("Polygon", ellipse(t.pilot_lat_deg, t.pilot_lon_deg, e[0], e[1], finite(e[2]) ? e[2] : 0), { part: "pilot-ellipse", id: t.track_id }));
      if (t.pilot_source === "remote id") continue;
      features.push(feature("Point", at, { part: "pilot", track: t.track_id, source: t.pilot_source ?? "" }));
      features.push(line([at, [t.lon_deg, t.lat_deg]], { part: "pilot-line", track: t.track_id }));
    }
    for (const r of picture.remote_ids ?? []) {
      if (!finite(r.operator_lat_deg) || !finite(r.operator_lon_deg)) continue;
      const pilot = [r.operator_lon_deg, r.operator_lat_deg];
      features.push(
        feature("Point", pilot, { part: "pilot", uas_id: r.uas_id, operator_id: r.operator_id ?? "" }),
      );
      const drone = byId.get(r.track_id);
      const to = drone ? [drone.lon_deg, drone.lat_deg]
        : finite(r.lat_deg) && finite(r.lon_deg) ? [r.lon_deg, r.lat_deg] : null;
      if (to) features.push(line([pilot, to], { part: "pilot-line", uas_id: r.uas_id }));
    }
    return collection(features);
  }

  // The sensor nodes change seldom: their source is set only when they did.
  drawSensors(nodes) {
    const effectorNodes = new Set((this.site?.effectors ?? []).map((e) => e.node_id).filter(Boolean));
    const key = JSON.stringify([nodes ?? [], [...effectorNodes]]);
    if (key === this.nodesKey) return;
    this.nodesKey = key;
    this.nodes = nodes ?? [];
    this.map.getSource("sensors").setData(sensorFeatures(this.nodes, this.map, effectorNodes));
  }

  // Once the map has painted this picture (the new data of its `sources` loaded into tiles and
  // a frame rendered with them), say so in window.__lwDrawn and let the next draw go.
  whenShown(picture, sources) {
    this.inFlight = true;
    const waiting = new Set(sources); // sources whose new data the worker has not yet taken
    const onData = (e) => {
      if (e.sourceDataType === "content") waiting.delete(e.sourceId);
    };
    const onRender = () => {
      if (!waiting.size && sources.every((id) => this.map.isSourceLoaded(id))) done(true);
    };
    const done = (shown) => {
      this.map.off("sourcedata", onData);
      this.map.off("render", onRender);
      clearTimeout(timer);
      if (shown)
        window.__lwDrawn = {
          seq: picture.seq ?? null,
          t_s: picture.t_s ?? null,
          wall_ms: performance.timeOrigin + performance.now(),
        };
      this.inFlight = false;
      if (this.dirty) this.schedule();
    };
    const timer = setTimeout(() => done(false), DRAWN_TIMEOUT_MS);
    this.map.on("sourcedata", onData);
    this.map.on("render", onRender);
  }

  // Highlight a track (a ring around its symbol), and bring it on screen if it is off it.
  async select(trackId) {
    this.selected = trackId ?? null;
    await this.loaded;
    this.map.setFilter(LAYERS.selected, [
      "all",
      ["==", ["get", "part"], "track"],
      ["==", ["get", "id"], this.selected ?? -1],
    ]);
    const t = this.selected == null ? null
      : this.byId.get(this.selected) ?? (this.latest.tracks ?? []).find((x) => x.track_id === this.selected);
    if (t && !this.map.getBounds().contains([t.lon_deg, t.lat_deg]))
      this.map.easeTo({ center: [t.lon_deg, t.lat_deg], duration: 400 });
  }

  click(e) {
    const { x, y } = e.point;
    const box = [[x - 6, y - 6], [x + 6, y + 6]];
    const track = this.map.queryRenderedFeatures(box, { layers: [LAYERS.tracks] })[0];
    if (track) {
      const id = track.properties.id;
      this.select(id);
      if (this.onSelect) this.onSelect(id);
      else this.showTrack(id, e.lngLat);
      return;
    }
    const other = this.map.queryRenderedFeatures(box, {
      layers: ["sensors", "effectors", "radars", "pilots"],
    })[0];
    if (other) {
      this.showThing(other, e.lngLat);
      return;
    }
    this.select(null);
    if (this.onSelect) this.onSelect(null);
  }

  // A small card (DOM, so no glyphs are needed): a title and rows of label and value.
  card(title, rows, lngLat) {
    const card = document.createElement("div");
    card.className = "track-card";
    const strong = document.createElement("strong");
    strong.textContent = title;
    card.append(strong);
    const dl = document.createElement("dl");
    for (const [k, v] of rows.filter(([, v]) => v != null && v !== "")) {
      const dt = document.createElement("dt");
      const dd = document.createElement("dd");
      dt.textContent = this.t(k);
      dd.textContent = v;
      dl.append(dt, dd);
    }
    card.append(dl);
    this.popup.setLngLat(lngLat).setDOMContent(card).addTo(this.map);
  }

  // A sensor, effector, radar or pilot the operator clicked.
  showThing(f, lngLat) {
    const p = f.properties;
    const layer = f.layer.id;
    if (layer === "sensors") {
      const n = this.nodes.find((x) => String(x.node_id) === String(p.node_id)) ?? {};
      const fov = n.fov;
      this.card(n.name ?? p.name, [
        ["Types", (n.node_types ?? []).join(", ")],
        ["State", n.connected ? n.status ?? n.system : this.t("not connected")],
        ["Mode", n.mode],
        ["Range", finite(n.max_range_m) ? `${Math.round(n.max_range_m)} m` : null],
        ["Looks", fov ? `${Math.round(fov.azimuth_deg)}° ± ${Math.round(fov.extent_deg / 2)}°` : null],
      ], lngLat);
    } else if (layer === "effectors") {
      const e = (this.site?.effectors ?? []).find((x) => x.name === p.name) ?? {};
      this.card(p.name, [
        ["Kind", e.kind],
        ["Range", finite(e.max_range_m) ? `${Math.round(e.min_range_m || 0)}–${Math.round(e.max_range_m)} m` : null],
      ], lngLat);
    } else if (layer === "radars") {
      this.card(p.name, [["Kind", this.t("radar")]], lngLat);
    } else if (p.track != null) {
      const t = this.byId.get(p.track) ?? {};
      this.card(this.t("Pilot"), [
        ["Track", p.track],
        ["Found by", t.pilot_source],
        ["Error", finite(t.pilot_err_m) ? `± ${Math.round(t.pilot_err_m)} m` : null],
        ["Age", finite(t.pilot_age_s) ? `${Math.round(t.pilot_age_s)} s` : null],
      ], lngLat);
    } else {
      const r = (this.latest.remote_ids ?? []).find((x) => x.uas_id === p.uas_id) ?? {};
      this.card(this.t("Pilot"), [
        ["Remote ID", r.uas_id],
        ["Operator", r.operator_id],
        ["Track", r.track_id],
      ], lngLat);
    }
  }

  // A small card for one track, when the page does not take the selection itself.
  showTrack(id, lngLat) {
    const t = this.byId.get(id);
    if (!t) return;
    this.card(`${this.t("Track")} ${t.track_id}`, [
      ["Class", `${t.object_class} (${Math.round(t.class_prob * 100)} %)`],
      ["Threat", t.threat],
      ["Affiliation", affiliation(t)],
      ["Altitude", `${Math.round(t.alt_m)} m`],
      ["Speed", `${t.speed_ms.toFixed(1)} m/s, ${Math.round(t.heading_deg)}°`],
      ["Zones", t.zones_inside?.join(", ") || "–"],
      ["Remote ID", t.uas_id],
      ["Mode S", t.icao],
      ["RF", t.rf_protocol && `${t.rf_protocol} ${t.rf_serial ?? ""}`],
      ["Sensors", t.sensors?.join(", ")],
    ], lngLat ?? [t.lon_deg, t.lat_deg]);
  }

  // How many track symbols the map has drawn now (for the operator's count and for the tests).
  renderedTracks() {
    return this.ready ? this.map.queryRenderedFeatures({ layers: [LAYERS.tracks] }).length : 0;
  }
}
