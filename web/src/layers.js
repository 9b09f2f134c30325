// The map's style: sources and layers, bottom to top. Every layer is a fill, line, circle or
// icon: the style names no glyphs, sprites or remote tiles (labels are DOM markers, icons are
// drawn in the page), so the map needs nothing but the node.
//
// Colours, one meaning each:
//   amber  #f0b040  protected zones            orange #ff7a1a  NO-FIRE areas (hatched, dashed)
//   violet #c77dff  effector reach             cyan   #80e0ff  sensor coverage
//   green  #7dffa0  a camera's field of view (where it looks now: a translucent cone)
//   tracks by affiliation (MIL-STD-2525C frame colours): hostile red, unknown yellow, friend blue

const here = (file) => new URL(file, location.href).href;
const empty = () => ({ type: "FeatureCollection", features: [] });

export const COLOUR = {
  zone: "#f0b040",
  nofire: "#ff7a1a",
  reach: "#c77dff",
  coverage: "#80e0ff",
  fov: "#7dffa0",
  pilot: "#ffd24a",
  selected: "#ffffff",
};

// Line colours by affiliation, the frames' colours in MIL-STD-2525C.
export const AFFILIATION_COLOUR = {
  hostile: "#ff3031",
  unknown: "#ffff80",
  friend: "#80e0ff",
  own: "#80e0ff",
};

const part = (p) => ["==", ["get", "part"], p];

// The layer the operator's basemap goes under: above the Natural Earth land and borders,
// below everything the site and the picture draw.
export const BASEMAP_BEFORE = "grid";

// Layer ids a test or the operator's console may query (queryRenderedFeatures).
export const LAYERS = {
  tracks: "tracks",
  ellipses: "ellipses-line",
  nofire: "nofire-line",
  reach: "reach-line",
  coverage: "coverage-line",
  fov: "fov-fill",
  sensors: "sensors",
  effectors: "effectors",
  pilots: "pilots",
  pilotLines: "pilot-lines",
  pilotEllipses: "pilot-ellipses",
  swarms: "swarms-line",
  selected: "selected",
};

export const STYLE = {
  version: 8,
  sources: {
    countries: { type: "geojson", data: here("countries.geojson") },
    borders: { type: "geojson", data: here("borders.geojson") },
    grid: { type: "geojson", data: empty() },
    rings: { type: "geojson", data: empty() },
    zones: { type: "geojson", data: empty() },
    nofire: { type: "geojson", data: empty() },
    // The site's effectors and fixed radars: set once from /api/site.
    site: { type: "geojson", data: empty() },
    // The SAPIENT nodes: their symbols, coverage and fields of view; set when `nodes` changes.
    sensors: { type: "geojson", data: empty() },
    // Tracks, leaders, ellipses and pilots in one source: one update, so they never disagree
    // on screen.
    picture: { type: "geojson", data: empty(), buffer: 32 },
    // The trails, most of the picture's vertices, change by a point a second: their own source,
    // set once a second of picture time, keeps them off the 10 Hz path.
    trails: { type: "geojson", data: empty() },
  },
  layers: [
    { id: "sea", type: "background", paint: { "background-color": "#1b2a3a" } },
    { id: "land", type: "fill", source: "countries", paint: { "fill-color": "#2f3b2f" } },
    { id: "borders", type: "line", source: "borders", paint: { "line-color": "#8a8f7a", "line-width": 1.2, "line-dasharray": [3, 2] } },
    { id: "grid", type: "line", source: "grid", paint: { "line-color": ["case", ["get", "axis"], "#7d8b96", "#4a5661"], "line-width": 0.8 } },
    { id: "rings", type: "line", source: "rings", paint: { "line-color": "#a9b8c4", "line-width": 1, "line-dasharray": [4, 3] } },
    { id: "zones-fill", type: "fill", source: "zones", paint: { "fill-color": COLOUR.zone, "fill-opacity": 0.15 } },
    { id: "zones-line", type: "line", source: "zones", paint: { "line-color": COLOUR.zone, "line-width": 2 } },
    { id: "nofire-fill", type: "fill", source: "nofire", paint: { "fill-pattern": "nofire-hatch", "fill-opacity": 0.9 } },
    { id: "nofire-line", type: "line", source: "nofire", paint: { "line-color": COLOUR.nofire, "line-width": 2.5, "line-dasharray": [3, 2] } },
    { id: "reach-fill", type: "fill", source: "site", filter: part("reach"), paint: { "fill-color": COLOUR.reach, "fill-opacity": 0.05 } },
    { id: "reach-line", type: "line", source: "site", filter: part("reach"), paint: { "line-color": COLOUR.reach, "line-width": 1.2, "line-dasharray": [6, 3], "line-opacity": 0.8 } },
    { id: "coverage-line", type: "line", source: "sensors", filter: part("coverage"), paint: { "line-color": COLOUR.coverage, "line-width": 1, "line-dasharray": [2, 3], "line-opacity": ["case", ["get", "up"], 0.7, 0.3] } },
    { id: "fov-fill", type: "fill", source: "sensors", filter: part("fov"), paint: { "fill-color": COLOUR.fov, "fill-opacity": ["case", ["get", "up"], 0.18, 0.07] } },
    { id: "fov-line", type: "line", source: "sensors", filter: part("fov"), paint: { "line-color": COLOUR.fov, "line-width": 1.2, "line-opacity": 0.8 } },
    { id: "ellipses-fill", type: "fill", source: "picture", filter: part("ellipse"), paint: { "fill-color": ["get", "colour"], "fill-opacity": 0.1 } },
    { id: "ellipses-line", type: "line", source: "picture", filter: part("ellipse"), paint: { "line-color": ["get", "colour"], "line-width": 1, "line-opacity": 0.7 } },
    { id: "trails", type: "line", source: "trails", paint: { "line-color": ["get", "colour"], "line-width": 1.5, "line-opacity": 0.6 } },
    { id: "leaders", type: "line", source: "picture", filter: part("leader"), paint: { "line-color": ["get", "colour"], "line-width": 1.5 } },
    { id: "swarms-line", type: "line", source: "picture", filter: part("swarm"), paint: { "line-color": ["get", "colour"], "line-width": 2, "line-dasharray": [1, 2], "line-opacity": 0.9 } },
    { id: "pilot-ellipses", type: "line", source: "picture", filter: part("pilot-ellipse"), paint: { "line-color": COLOUR.pilot, "line-width": 1, "line-opacity": 0.7 } },
    { id: "pilot-lines", type: "line", source: "picture", filter: part("pilot-line"), paint: { "line-color": COLOUR.pilot, "line-width": 1.2, "line-dasharray": [2, 2], "line-opacity": 0.9 } },
    { id: "effectors", type: "symbol", source: "site", filter: part("effector"), layout: { "icon-image": ["get", "icon"], "icon-allow-overlap": true, "icon-ignore-placement": true } },
    { id: "radars", type: "symbol", source: "site", filter: part("radar"), layout: { "icon-image": ["get", "icon"], "icon-allow-overlap": true, "icon-ignore-placement": true } },
    { id: "sensors", type: "symbol", source: "sensors", filter: part("sensor"), layout: { "icon-image": ["get", "icon"], "icon-allow-overlap": true, "icon-ignore-placement": true }, paint: { "icon-opacity": ["case", ["get", "up"], 1, 0.45] } },
    { id: "pilots", type: "symbol", source: "picture", filter: part("pilot"), layout: { "icon-image": "pilot", "icon-allow-overlap": true, "icon-ignore-placement": true } },
    // The selected track's halo: the filter names the track (select() sets it), no data change.
    { id: "selected", type: "circle", source: "picture", filter: ["all", part("track"), ["==", ["get", "id"], -1]], paint: { "circle-radius": 19, "circle-color": "rgba(0,0,0,0)", "circle-stroke-color": COLOUR.selected, "circle-stroke-width": 2.5 } },
    {
      id: "tracks",
      type: "symbol",
      source: "picture",
      filter: part("track"),
      layout: {
        "icon-image": ["get", "icon"],
        "icon-allow-overlap": true,
        "icon-ignore-placement": true,
        "symbol-sort-key": ["get", "rank"],
      },
    },
  ],
};

// A plain style for every layer of an operator's vector PMTiles: we cannot know its schema,
// so each source layer is drawn by geometry type (polygons filled, lines stroked, points as
// dots), with a few colours guessed from common layer names (water, roads, buildings).
export function vectorBasemapLayers(sourceId, layerIds) {
  const layers = [];
  for (const id of layerIds) {
    const name = id.toLowerCase();
    const water = /water|ocean|sea|lake|river/.test(name);
    const road = /road|transport|street|highway|rail/.test(name);
    const building = /building/.test(name);
    const fill = water ? "#20405a" : building ? "#55585c" : "#3b4a3b";
    const stroke = water ? "#3d6d92" : road ? "#b9b39a" : "#7d877d";
    const base = { source: sourceId, "source-layer": id };
    layers.push(
      {
        ...base,
        id: `basemap-${id}-fill`,
        type: "fill",
        filter: ["match", ["geometry-type"], ["Polygon", "MultiPolygon"], true, false],
        paint: { "fill-color": fill, "fill-opacity": 0.6 },
      },
      {
        ...base,
        id: `basemap-${id}-line`,
        type: "line",
        filter: ["match", ["geometry-type"], ["Point", "MultiPoint"], false, true], // outlines too
        paint: { "line-color": stroke, "line-width": road ? 1.2 : 0.6, "line-opacity": 0.8 },
      },
      {
        ...base,
        id: `basemap-${id}-point`,
        type: "circle",
        filter: ["match", ["geometry-type"], ["Point", "MultiPoint"], true, false],
        paint: { "circle-color": stroke, "circle-radius": 1.5, "circle-opacity": 0.8 },
      },
    );
  }
  return layers;
}
