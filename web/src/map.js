// The map: an offline basemap (Natural Earth countries shipped in dist/), the site's grid and
// range rings, the protected zones, and the tracks with their trails and velocity leaders.
//
// The style names no glyphs, sprites or tiles: every layer is a fill, line or icon, the icons
// are drawn in the page by milsymbol, and the few labels are DOM elements in a local font.

import maplibregl from "maplibre-gl";
import "maplibre-gl/dist/maplibre-gl.css";
import { affiliation, ensureIcon } from "./symbols.js";

const RINGS_M = [1000, 2000, 5000];
const GRID_STEP_M = 1000;
const GRID_HALF_M = 6000;
const LEADER_S = 30; // a velocity leader shows where the track will be this many seconds ahead
const TRAIL_POINTS = 60;
const DRAW_EVERY_MS = 100; // the node publishes at 10 Hz; drawing faster only loads the worker
const EARTH_M = 6371008.8;
const THREAT_RANK = { none: 0, low: 1, medium: 2, high: 3, critical: 4 };

const empty = () => ({ type: "FeatureCollection", features: [] });
const here = (file) => new URL(file, location.href).href;

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

function ring(lat, lon, rangeM) {
  const coords = [];
  for (let b = 0; b <= 360; b += 5) coords.push(destination(lat, lon, b, rangeM));
  return coords;
}

const line = (coordinates, properties = {}) => ({
  type: "Feature",
  properties,
  geometry: { type: "LineString", coordinates },
});
const collection = (features) => ({ type: "FeatureCollection", features });

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

const STYLE = {
  version: 8,
  sources: {
    countries: { type: "geojson", data: here("countries.geojson") },
    borders: { type: "geojson", data: here("borders.geojson") },
    grid: { type: "geojson", data: empty() },
    rings: { type: "geojson", data: empty() },
    zones: { type: "geojson", data: empty() },
    // Tracks, trails and leaders in one source: one update, so they never disagree on screen.
    picture: { type: "geojson", data: empty() },
  },
  layers: [
    { id: "sea", type: "background", paint: { "background-color": "#1b2a3a" } },
    { id: "land", type: "fill", source: "countries", paint: { "fill-color": "#2f3b2f" } },
    { id: "borders", type: "line", source: "borders", paint: { "line-color": "#8a8f7a", "line-width": 1.2, "line-dasharray": [3, 2] } },
    { id: "grid", type: "line", source: "grid", paint: { "line-color": ["case", ["get", "axis"], "#7d8b96", "#4a5661"], "line-width": 0.8 } },
    { id: "rings", type: "line", source: "rings", paint: { "line-color": "#a9b8c4", "line-width": 1, "line-dasharray": [4, 3] } },
    { id: "zones-fill", type: "fill", source: "zones", paint: { "fill-color": "#e0a030", "fill-opacity": 0.15 } },
    { id: "zones-line", type: "line", source: "zones", paint: { "line-color": "#f0b040", "line-width": 2 } },
    {
      id: "trails",
      type: "line",
      source: "picture",
      filter: ["==", ["get", "part"], "trail"],
      paint: { "line-color": ["get", "colour"], "line-width": 1.5, "line-opacity": 0.6 },
    },
    {
      id: "leaders",
      type: "line",
      source: "picture",
      filter: ["==", ["get", "part"], "leader"],
      paint: { "line-color": ["get", "colour"], "line-width": 1.5 },
    },
    {
      id: "tracks",
      type: "symbol",
      source: "picture",
      filter: ["==", ["get", "part"], "track"],
      layout: {
        "icon-image": ["get", "icon"],
        "icon-allow-overlap": true,
        "icon-ignore-placement": true,
        "symbol-sort-key": ["get", "rank"],
      },
    },
  ],
};

// Line colours by affiliation, the frames' colours in MIL-STD-2525C.
const COLOUR = { hostile: "#ff3031", unknown: "#ffff80", friend: "#80e0ff", own: "#80e0ff" };

export class AirMap {
  constructor(container) {
    this.map = new maplibregl.Map({
      container,
      style: STYLE,
      center: [0, 20],
      zoom: 1.5,
      attributionControl: { compact: true, customAttribution: "Natural Earth (world-atlas)" },
      fadeDuration: 0,
    });
    this.map.addControl(new maplibregl.NavigationControl({ showCompass: true }), "top-right");
    this.map.addControl(new maplibregl.ScaleControl({ unit: "metric", maxWidth: 160 }), "bottom-left");
    this.ready = false; // the style and basemap are loaded; sources may be updated
    this.loaded = new Promise((resolve) => this.map.on("load", resolve)).then(() => (this.ready = true));
    this.centre = null;
    this.history = new Map(); // track id → [[lon, lat], …], oldest first
    this.latest = [];
    this.pending = false;
    this.drawnAt = 0;
    this.contextLost = false;
    this.map.on("webglcontextlost", () => (this.contextLost = true));
    this.map.on("webglcontextrestored", () => (this.contextLost = false));
    this.popup = new maplibregl.Popup({ closeButton: true, closeOnClick: true, maxWidth: "280px" });
    this.map.on("click", "tracks", (e) => this.showTrack(e.features[0].properties.id, e.lngLat));
    this.map.on("mouseenter", "tracks", () => (this.map.getCanvas().style.cursor = "pointer"));
    this.map.on("mouseleave", "tracks", () => (this.map.getCanvas().style.cursor = ""));
  }

  // Centre on the site once: the zones' centroid, else the first picture's tracks.
  async setSite(centre) {
    if (this.centre || !centre) return;
    this.centre = centre;
    await this.loaded;
    const { rings, grid } = siteFeatures(centre);
    this.map.getSource("rings").setData(rings);
    this.map.getSource("grid").setData(grid);
    for (const m of RINGS_M) {
      const label = document.createElement("div");
      label.className = "ring-label";
      label.textContent = `${m / 1000} km`;
      new maplibregl.Marker({ element: label, anchor: "bottom" })
        .setLngLat(destination(centre[1], centre[0], 45, m))
        .addTo(this.map);
    }
    const [lon, lat] = centre;
    const edge = RINGS_M[RINGS_M.length - 1] * 1.1;
    const sw = destination(lat, lon, 225, edge * Math.SQRT2);
    const ne = destination(lat, lon, 45, edge * Math.SQRT2);
    this.map.fitBounds([sw, ne], { animate: false, padding: 20 });
  }

  async setZones(zones) {
    await this.loaded;
    this.map.getSource("zones").setData({
      type: "FeatureCollection",
      features: zones.map((z) => ({
        type: "Feature",
        properties: { name: z.name },
        geometry: {
          type: "Polygon",
          coordinates: [[...z.polygon, z.polygon[0]].map(([lat, lon]) => [lon, lat])],
        },
      })),
    });
  }

  // Every picture: remember positions for the trails; draw at most every DRAW_EVERY_MS.
  update(tracks) {
    const seen = new Set();
    for (const t of tracks) {
      seen.add(t.track_id);
      let h = this.history.get(t.track_id);
      if (!h) this.history.set(t.track_id, (h = []));
      const last = h[h.length - 1];
      if (!last || last[0] !== t.lon_deg || last[1] !== t.lat_deg) h.push([t.lon_deg, t.lat_deg]);
      if (h.length > TRAIL_POINTS) h.shift();
    }
    for (const id of this.history.keys()) if (!seen.has(id)) this.history.delete(id);
    this.latest = tracks;
    if (!this.pending) {
      this.pending = true;
      const wait = Math.max(0, this.drawnAt + DRAW_EVERY_MS - performance.now());
      setTimeout(() => requestAnimationFrame(() => this.draw()), wait);
    }
  }

  draw() {
    this.pending = false;
    this.drawnAt = performance.now();
    if (!this.ready) {
      // Not map.isStyleLoaded(): that is false too while a source reloads after setData.
      this.pending = true;
      this.loaded.then(() => this.draw());
      return;
    }
    const features = [];
    for (const t of this.latest) {
      const aff = affiliation(t);
      const colour = COLOUR[aff];
      const icon = ensureIcon(this.map, t);
      features.push({
        type: "Feature",
        properties: { part: "track", id: t.track_id, icon, rank: THREAT_RANK[t.threat] ?? 0 },
        geometry: { type: "Point", coordinates: [t.lon_deg, t.lat_deg] },
      });
      const h = this.history.get(t.track_id);
      if (h && h.length > 1)
        features.push({
          type: "Feature",
          properties: { part: "trail", colour },
          geometry: { type: "LineString", coordinates: h },
        });
      if (t.speed_ms > 0.5 && Number.isFinite(t.heading_deg)) {
        const tip = destination(t.lat_deg, t.lon_deg, t.heading_deg, t.speed_ms * LEADER_S);
        features.push({
          type: "Feature",
          properties: { part: "leader", colour },
          geometry: { type: "LineString", coordinates: [[t.lon_deg, t.lat_deg], tip] },
        });
      }
    }
    this.map.getSource("picture").setData({ type: "FeatureCollection", features });
  }

  // A small card for one track (DOM, so no glyphs are needed).
  showTrack(id, lngLat) {
    const t = this.latest.find((x) => x.track_id === id);
    if (!t) return;
    const rows = [
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
    ].filter(([, v]) => v);
    const card = document.createElement("div");
    card.className = "track-card";
    const title = document.createElement("strong");
    title.textContent = `Track ${t.track_id}`;
    card.append(title);
    const dl = document.createElement("dl");
    for (const [k, v] of rows) {
      const dt = document.createElement("dt");
      const dd = document.createElement("dd");
      dt.textContent = k;
      dd.textContent = v;
      dl.append(dt, dd);
    }
    card.append(dl);
    this.popup.setLngLat(lngLat ?? [t.lon_deg, t.lat_deg]).setDOMContent(card).addTo(this.map);
  }

  // How many track symbols the map has drawn now (for the operator's count and for the tests).
  renderedTracks() {
    return this.ready ? this.map.queryRenderedFeatures({ layers: ["tracks"] }).length : 0;
  }
}
