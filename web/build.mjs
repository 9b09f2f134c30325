// Builds the console's web client into dist/: the bundle, its stylesheet, the page, and the
// offline basemap (Natural Earth countries from world-atlas, TopoJSON turned into GeoJSON here
// so the browser loads plain files from the node and nothing else).
//
//   node build.mjs            one build
//   node build.mjs --watch    rebuild the bundle on change (for work on the client)

import { mkdir, readFile, rm, writeFile, copyFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { feature, mesh } from "topojson-client";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const watch = process.argv.includes("--watch");

async function basemap() {
  // 50m: coarse at a site's scale (kilometres), but borders and coasts sit within ~1 km and the
  // file stays small (~1.5 MB); the site's own grid and range rings carry the detail.
  const topo = JSON.parse(
    await readFile(join(here, "node_modules/world-atlas/countries-50m.json"), "utf8"),
  );
  const countries = feature(topo, topo.objects.countries);
  const borders = mesh(topo, topo.objects.countries, (a, b) => a !== b);
  // Four decimals (~10 m) are finer than the 50m data itself and halve the files.
  const round = (key, value) => (typeof value === "number" ? Math.round(value * 1e4) / 1e4 : value);
  await writeFile(join(dist, "countries.geojson"), JSON.stringify(countries, round));
  await writeFile(join(dist, "borders.geojson"), JSON.stringify(borders, round));
}

// What the bundle and the basemap carry of others' work, each with its version and licence
// (read from the installed packages, so the list follows package-lock.json).
const BUNDLED = ["maplibre-gl", "milsymbol", "pmtiles", "fflate", "world-atlas"];

async function thirdParty() {
  const lines = ["Third-party software in this web client (npm package, version, licence):", ""];
  for (const name of BUNDLED) {
    const pkg = JSON.parse(await readFile(join(here, "node_modules", name, "package.json"), "utf8"));
    lines.push(`${pkg.name} ${pkg.version}  ${pkg.license}`);
  }
  await writeFile(join(dist, "THIRD-PARTY.txt"), lines.join("\n") + "\n");
}

const options = {
  // The page, and the worker that holds its picture stream (served as /stream.js).
  entryPoints: { app: join(here, "src/main.js"), stream: join(here, "src/stream-worker.js") },
  outdir: dist,
  bundle: true,
  format: "esm",
  target: ["chrome111", "firefox115", "safari16"],
  minify: !watch,
  sourcemap: true,
  legalComments: "linked",
  logLevel: "warning",
};

const started = performance.now();
await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await Promise.all([
  basemap(),
  thirdParty(),
  copyFile(join(here, "src/index.html"), join(dist, "index.html")),
  copyFile(join(here, "node_modules/world-atlas/LICENSE"), join(dist, "world-atlas.LICENSE.txt")),
]);
if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
  console.log("watching web/src …");
} else {
  await esbuild.build(options);
  const s = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`web client built in ${s} s → ${dist}`);
}
