// Map icons: tracks, sensors and effectors as MIL-STD-2525C / APP-6 symbols (milsymbol), and a
// small pilot glyph; each drawn once per kind into a map image and reused by every feature.
//
// A 15-character letter SIDC: S (warfighting) · affiliation · battle dimension (A air, G ground)
// · P (present) · function. Affiliation: own interceptor and cooperative (Remote ID, Mode S)
// tracks are friends; a drone the threat stage rates high or critical is hostile; everything
// else is unknown until it is. Our sensors and effectors are friendly ground equipment.

import ms from "milsymbol";

const FUNCTION = {
  drone: "MFQ---", // unmanned aerial vehicle
  aircraft: "CF----", // civil fixed wing
};

export const AFFILIATION_LETTER = { hostile: "H", unknown: "U", friend: "F", own: "F" };

export function affiliation(track) {
  if (track.own_asset) return "own";
  // Authorised (the site's whitelist) is a friend; a Remote ID drone the site's policy makes an
  // intruder is not, however cooperative its broadcast.
  if (track.authorised) return "friend";
  if (track.cooperative && !track.coop_intruder) return "friend";
  if (track.object_class === "drone" && (track.threat === "high" || track.threat === "critical"))
    return "hostile";
  return "unknown";
}

export function sidc(track) {
  const fn = FUNCTION[track.object_class] ?? "------";
  return `S${AFFILIATION_LETTER[affiliation(track)]}AP${fn}-----`;
}

const SIZE = 24; // symbol size in CSS pixels (milsymbol's "size": the octagon's height ~ this)
const pixelRatio = () => Math.max(1, Math.round(window.devicePixelRatio || 1));

// Draws a milsymbol into a map image centred on its anchor (the frame's centre, not the canvas
// centre of an air symbol's open frame), so the map places every icon by its centre.
function addSymbol(map, name, code, options) {
  const ratio = pixelRatio();
  const symbol = new ms.Symbol(code, {
    size: SIZE,
    fontfamily: "sans-serif", // a local font: nothing is fetched for the symbol's text
    civilianColor: false, // coloured by affiliation only, a civil aircraft too
    infoColor: "#dfe6ee", // text fields, light on the dark map
    ...options,
  });
  const drawn = symbol.asCanvas(ratio);
  const size = symbol.getSize();
  const anchor = symbol.getAnchor();
  const halfW = Math.ceil(Math.max(anchor.x, size.width - anchor.x) * ratio);
  const halfH = Math.ceil(Math.max(anchor.y, size.height - anchor.y) * ratio);
  const canvas = document.createElement("canvas");
  canvas.width = 2 * halfW;
  canvas.height = 2 * halfH;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(drawn, halfW - anchor.x * ratio, halfH - anchor.y * ratio);
  map.addImage(name, ctx.getImageData(0, 0, canvas.width, canvas.height), { pixelRatio: ratio });
}

// The map image name of a track's symbol; draws it (once) if the map lacks it.
export function ensureIcon(map, track) {
  const own = affiliation(track) === "own";
  const code = sidc(track);
  const name = own ? `${code}:own` : code;
  if (!map.hasImage(name)) addSymbol(map, name, code, { uniqueDesignation: own ? "OWN" : "" });
  return name;
}

// Sensors: a ground sensor; a radar where the node (or the site file) says it is one.
export function ensureSensorIcon(map, radar) {
  const code = radar ? "SFGPESR---" : "SFGPES----";
  if (!map.hasImage(code)) addSymbol(map, code, code, { size: SIZE * 0.8 });
  return code;
}

// Effectors: friendly ground equipment by kind (jammers as an EW jamming unit, an interceptor as
// an air-defence missile launcher); the map labels each with its name.
const EFFECTOR_SIDC = {
  rf_jammer: "SFGPUUMSEJ",
  gnss_jammer: "SFGPUUMSEJ",
  interceptor: "SFGPEWMA--",
  net: "SFGPEWA---",
  hard_kill: "SFGPEWG---",
};

export function ensureEffectorIcon(map, kind) {
  const code = EFFECTOR_SIDC[kind] ?? "SFGPEW----";
  if (!map.hasImage(code)) addSymbol(map, code, code, { size: SIZE * 0.8 });
  return code;
}

// A drone's pilot (the Remote ID operator position): a small amber person in a dark ring.
export function addPilotIcon(map) {
  if (map.hasImage("pilot")) return;
  const ratio = pixelRatio();
  const px = 18 * ratio;
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = px;
  const ctx = canvas.getContext("2d");
  const c = px / 2;
  ctx.fillStyle = "rgba(20, 24, 28, 0.85)";
  ctx.strokeStyle = "#ffd24a";
  ctx.lineWidth = 1.5 * ratio;
  ctx.beginPath();
  ctx.arc(c, c, c - ctx.lineWidth, 0, 2 * Math.PI);
  ctx.fill();
  ctx.stroke();
  ctx.fillStyle = "#ffd24a";
  ctx.beginPath();
  ctx.arc(c, c - 2.5 * ratio, 2.4 * ratio, 0, 2 * Math.PI); // head
  ctx.fill();
  ctx.beginPath();
  ctx.ellipse(c, c + 4 * ratio, 4.2 * ratio, 3 * ratio, 0, Math.PI, 2 * Math.PI); // shoulders
  ctx.fill();
  map.addImage("pilot", ctx.getImageData(0, 0, px, px), { pixelRatio: ratio });
}

// The NO-FIRE areas' fill: orange diagonal hatching on transparent, repeated by the map.
export function addHatch(map, name, colour) {
  if (map.hasImage(name)) return;
  const ratio = pixelRatio();
  const px = 12 * ratio;
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = px;
  const ctx = canvas.getContext("2d");
  ctx.strokeStyle = colour;
  ctx.globalAlpha = 0.55;
  ctx.lineWidth = 1.5 * ratio;
  ctx.beginPath();
  // three strokes so the diagonal continues across the tile's edges without gaps
  for (const o of [-px, 0, px]) {
    ctx.moveTo(o, px);
    ctx.lineTo(o + px, 0);
  }
  ctx.stroke();
  map.addImage(name, ctx.getImageData(0, 0, px, px), { pixelRatio: ratio });
}
