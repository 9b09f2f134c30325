// The operator console in the browser: log in, then the live map and panels over the picture
// stream; keyboard shortcuts, the critical-alert cue, two languages and a read-only replay.
// Entry point of the bundle (web/build.mjs → dist/app.js).

import * as api from "./api.js";
import { Cues } from "./cues.js";
import { applyStatic, DICTIONARIES, lang, mapLocale, nodeText, onLang, setNodeTemplates, t, toggleLang, tv, word } from "./i18n.js";
import { bindKeys } from "./keys.js";
import { AirMap } from "./map.js";
import { Panels } from "./panels.js";
import { hms, Replay } from "./replay.js";
import "./style.css";

const $ = (sel) => document.querySelector(sel);
const PANELS_EVERY_MS = 150;

applyStatic();
// The node's sentence templates, so its English words show in the operator's language.
api.get("/api/texts").then(setNodeTemplates, () => {});

function say(text, ok = true) {
  const status = $("#status");
  status.textContent = text;
  status.className = `status ${ok ? "ok" : "error"}`;
}

async function act(kind, target, extra, done) {
  const res = await api.command(kind, target, extra);
  const what = tv("cmd", kind);
  if (res.status === 202) say(t("say.sent", { kind: what }));
  else if (res.ok && res.body.ok !== false) {
    // approve and confirm say whether the effector is tasked or awaits a second person
    const eng = res.body.eng_id != null ? t("say.result_eng", { eng: res.body.eng_id }) : "";
    say(res.body.status ? t("say.result", { done, status: tv("status", res.body.status), eng }) : done);
  } else say(t("say.refused", { kind: what, error: nodeText(res.body.error || res.body.detail) || res.status }), false);
  return res;
}

// The site for the map: GET /api/site, or (from a server without it) the zones alone.
async function site() {
  try {
    return await api.get("/api/site");
  } catch {
    const zones = await api.get("/api/zones").catch(() => []);
    const pts = zones.flatMap((z) => z.polygon);
    const mean = (i) => (pts.length ? pts.reduce((s, p) => s + p[i], 0) / pts.length : null);
    return { name: "", lat_deg: mean(0), lon_deg: mean(1), alt_m: 0, zones, no_fire: [], effectors: [], radars: [], basemap: null };
  }
}

async function start(who, cues) {
  $("#login").hidden = true;
  $("#console").hidden = false;
  const showWho = () => ($("#who").textContent = `${who.username} (${tv("role", who.role)})`);
  showWho();

  let panels = null;
  const airMap = new AirMap($("#map"), {
    onSelect: (id) => panels?.selectedOnMap(id),
    t: word, // the map writes a few English words; word() gives them in the chosen language
    locale: mapLocale(), // MapLibre's own control labels (zoom, compass) in that language
  });
  panels = new Panels($("#console"), act, { onSelect: (id) => airMap.select(id) });
  panels.setUser(who.username, who.role);
  cues.acknowledge = panels.may("acknowledge") ? (a) => panels.acknowledge(a) : null;

  let latest = null; // the live picture, merged
  let replayed = null; // the recorded picture shown in replay
  let mode = "live";
  let scheduled = false;
  const shown = () => (mode === "replay" ? replayed : latest);

  // The panels are redrawn on a timer, not on animation frames: they stay current (and a
  // new alert is noticed) even when the browser stops painting a hidden or busy page.
  const render = () => {
    scheduled = false;
    const p = shown();
    if (!p) return;
    panels.update(p);
    $("#site").textContent = p.site ?? "";
    // The clock is the node's time now, in replay too (the replay bar shows the replayed time).
    if (latest) $("#clock").textContent = `${hms(latest.t_s)}Z`;
  };
  const later = () => {
    if (scheduled) return;
    scheduled = true;
    setTimeout(render, PANELS_EVERY_MS);
  };

  let linkState = ["connecting", ""];
  const showLink = () => {
    const [state, detail] = linkState;
    const text = {
      connecting: () => t("link.connecting"),
      live: () => t("link.live"),
      closed: () => t("link.closed", { reason: detail || t("link.login_again") }),
      reconnecting: () => t("link.reconnecting", { reason: detail }),
    }[state]();
    $("#link").textContent = text;
    $("#link").className = `link ${state === "live" ? "ok" : state === "connecting" ? "" : "down"}`;
  };
  showLink();

  const close = api.pictureStream(
    (p) => {
      latest = p;
      cues.check(p.alerts ?? []); // a live critical alert is cued in replay too
      if (mode !== "live") return;
      airMap.update(p);
      later();
    },
    (state, detail) => {
      linkState = [state, detail];
      showLink();
    },
  );

  // The site after the stream is open: the picture does not wait on it.
  site().then((s) => airMap.setSite(s));

  const replay = new Replay($("#replay-bar"), {
    onPicture: (p) => {
      replayed = new api.PictureState().apply(p);
      airMap.update(replayed);
      later();
    },
    onLeave: () => {
      mode = "live";
      cues.live = false;
      replayed = null;
      document.body.classList.remove("replaying");
      panels.setReadOnly(false);
      $("#replay").hidden = false;
      if (latest) airMap.update(latest);
      later();
    },
    say,
  });
  $("#replay").onclick = async () => {
    mode = "replay";
    cues.live = true; // the alarm banner then says it is about the live picture
    cues.render();
    document.body.classList.add("replaying");
    $("#replay").hidden = true;
    panels.setReadOnly(true);
    await replay.open();
  };

  const showMute = (muted) => {
    const b = $("#mute");
    b.textContent = t(muted ? "header.unmute" : "header.mute");
    b.setAttribute("aria-pressed", String(muted));
    b.classList.toggle("muted-on", muted);
  };
  cues.onMute = showMute;
  showMute(cues.muted);
  $("#mute").onclick = () => cues.toggleMute();

  const help = $("#help");
  $("#help-button").onclick = () => (help.hidden = !help.hidden);
  help.addEventListener("click", (ev) => {
    if (ev.target === help) help.hidden = true;
  });

  onLang(() => {
    showWho();
    showLink();
    showMute(cues.muted);
    cues.render();
    replay.relabel();
    panels.relabel();
    airMap.refreshLabels(); // the map's own labels (NO FIRE, names) in the new language
  });

  // The shortcuts: what a button does, from the keyboard.
  const guard = (kind) => {
    if (mode === "replay") {
      say(t("say.read_only"), false);
      return false;
    }
    if (!panels.may(kind)) {
      say(t("say.not_allowed", { kind: tv("cmd", kind) }), false);
      return false;
    }
    return true;
  };
  bindKeys({
    next: () => panels.move(1),
    previous: () => panels.move(-1),
    open: () => panels.openDetail() || say(t("say.select_first"), false),
    acknowledge: () => {
      if (!guard("acknowledge")) return;
      const a = panels.alertToAcknowledge();
      if (a) panels.acknowledge(a);
      else say(t("say.nothing_to_ack"), false);
    },
    approve: () => {
      if (!guard("approve")) return;
      const best = panels.bestOption();
      if (best) panels.approve(best.rec, best.option);
      else say(t(panels.selected == null ? "say.select_first" : "say.nothing_to_approve"), false);
    },
    confirm: () => {
      if (!guard("confirm")) return;
      const a = panels.approvalToConfirm();
      if (a) panels.confirm(a);
      else say(t("say.nothing_to_confirm"), false);
    },
    reject: () => {
      if (!guard("reject")) return;
      const rec = panels.recommendationOfSelected();
      if (rec) panels.reject(rec);
      else say(t(panels.selected == null ? "say.select_first" : "say.nothing_to_reject"), false);
    },
    escape: () => {
      if (!help.hidden) help.hidden = true;
      else if (!panels.closeDetail()) cues.dismiss();
    },
    language: toggleLang,
    mute: () => cues.toggleMute(),
    help: () => (help.hidden = !help.hidden),
  });

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
    shown: () => shown(),
    mode: () => mode,
    contextLost: () => airMap.contextLost,
    selected: () => panels.selected,
    get cues() {
      return cues.played;
    },
    banners: () => cues.shown,
    audio: () => cues.ctx?.state ?? "none",
    lang,
    dictionaries: () => JSON.parse(JSON.stringify(DICTIONARIES)),
    // Merge stream messages as the page does (for the tests: a delta chain against a whole).
    merge: (messages) => {
      const state = new api.PictureState();
      let p = null;
      for (const m of messages) p = state.apply(m) ?? p;
      return p;
    },
  };
}

const cues = new Cues($("#cue-banner"));
$("#lang").onclick = toggleLang;
$("#lang-header").onclick = toggleLang;

$("#login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  cues.unlock(); // the login click is the gesture that lets the page sound the alarm later
  const form = new FormData(ev.target);
  $("#login-error").textContent = "";
  try {
    await start(await api.login(form.get("username"), form.get("password")), cues);
  } catch (err) {
    $("#login-error").textContent = nodeText(err.message) || t("login.refused", { status: err.status ?? "" });
  }
});
