// Tracks as MIL-STD-2525C / APP-6 symbols (milsymbol), drawn once per kind into map images.
//
// A 15-character letter SIDC: S (warfighting) · affiliation · A (air) · P (present) · function.
// Affiliation: own interceptor and cooperative (Remote ID, Mode S) tracks are friends; a drone
// the threat stage rates high or critical is hostile; everything else is unknown until it is.

import ms from "milsymbol";

const FUNCTION = {
  drone: "MFQ---", // unmanned aerial vehicle
  aircraft: "CF----", // civil fixed wing
};

export const AFFILIATION_LETTER = { hostile: "H", unknown: "U", friend: "F", own: "F" };

export function affiliation(track) {
  if (track.own_asset) return "own";
  if (track.cooperative) return "friend";
  if (track.object_class === "drone" && (track.threat === "high" || track.threat === "critical"))
    return "hostile";
  return "unknown";
}

export function sidc(track) {
  const fn = FUNCTION[track.object_class] ?? "------";
  return `S${AFFILIATION_LETTER[affiliation(track)]}AP${fn}-----`;
}

const SIZE = 24; // symbol size in CSS pixels (milsymbol's "size": the octagon's height ~ this)

// The map image name of a track's symbol; draws it (once) if the map lacks it. The symbol is
// drawn into a canvas centred on its anchor (the octagon's centre, not the canvas centre of an
// air symbol's open frame), so the map can place every icon by its centre.
export function ensureIcon(map, track) {
  const own = affiliation(track) === "own";
  const code = sidc(track);
  const name = own ? `${code}:own` : code;
  if (map.hasImage(name)) return name;
  const ratio = Math.max(1, Math.round(window.devicePixelRatio || 1));
  const symbol = new ms.Symbol(code, {
    size: SIZE,
    uniqueDesignation: own ? "OWN" : "",
    fontfamily: "sans-serif", // a local font: nothing is fetched for the symbol's text
    civilianColor: false, // coloured by affiliation only, a civil aircraft too
    infoColor: "#dfe6ee", // the "OWN" label, light on the dark map
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
  return name;
}
