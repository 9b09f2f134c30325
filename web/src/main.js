// The operator console in the browser: log in, then the live map and panels over the picture
// stream. Entry point of the bundle (web/build.mjs → dist/app.js).

import * as api from "./api.js";
import { AirMap, zonesCentre } from "./map.js";
import { Panels } from "./panels.js";
import "./style.css";

const $ = (sel) => document.querySelector(sel);
const PANELS_EVERY_MS = 150;

function say(text, ok = true) {
  const status = $("#status");
  status.textContent = text;
  status.className = `status ${ok ? "ok" : "error"}`;
}

async function act(kind, target, extra, done) {
  const res = await api.command(kind, target, extra);
  if (res.status === 202) say(`${kind}: sent, the node has not applied it yet`);
  else if (res.ok && res.body.ok !== false) {
    // approve and confirm say whether the effector is tasked or awaits a second person
    const eng = res.body.eng_id != null ? `, engagement ${res.body.eng_id}` : "";
    say(res.body.status ? `${done} (${res.body.status}${eng})` : done);
  }
  else say(`${kind} refused: ${res.body.error || res.body.detail || res.status}`, false);
  return res;
}

async function start(who) {
  $("#login").hidden = true;
  $("#console").hidden = false;
  $("#who").textContent = `${who.username} (${who.role})`;
  const airMap = new AirMap($("#map"));
  const panels = new Panels($("#console"), act);
  panels.setUser(who.username, who.role);
  let latest = null;
  let shown = true; // the panels show `latest`
  let first = true;

  const zones = await api.get("/api/zones").catch(() => []);
  airMap.setZones(zones);
  airMap.setSite(zonesCentre(zones));

  // The panels are redrawn on a timer, not on animation frames: they stay current (and a
  // new alert is noticed) even when the browser stops painting a hidden or busy page.
  const render = () => {
    shown = true;
    panels.update(latest);
    $("#site").textContent = latest.site;
    $("#clock").textContent = new Date(latest.t_s * 1000).toISOString().slice(11, 19) + "Z";
  };
  const close = api.stream(
    (p) => {
      latest = p;
      if (first && p.tracks.length) {
        first = false;
        const lon = p.tracks.reduce((s, t) => s + t.lon_deg, 0) / p.tracks.length;
        const lat = p.tracks.reduce((s, t) => s + t.lat_deg, 0) / p.tracks.length;
        airMap.setSite([lon, lat]); // only if the zones did not place the site
      }
      airMap.update(p.tracks);
      if (shown) {
        shown = false;
        setTimeout(render, PANELS_EVERY_MS);
      }
    },
    (text, ok) => {
      $("#link").textContent = text;
      $("#link").className = `link ${ok ? "ok" : "down"}`;
    },
  );

  $("#logout").onclick = async () => {
    close();
    await api.logout();
    location.reload();
  };
  // For the operator's browser console and the end-to-end tests: read-only views of the state.
  window.luchtwacht = {
    map: airMap.map,
    renderedTracks: () => airMap.renderedTracks(),
    latest: () => latest,
    contextLost: () => airMap.contextLost,
  };
}

$("#login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  $("#login-error").textContent = "";
  try {
    await start(await api.login(form.get("username"), form.get("password")));
  } catch (err) {
    $("#login-error").textContent = err.message;
  }
});
