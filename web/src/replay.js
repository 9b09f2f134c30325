// Replay: a read-only look back at a recording. A timeline slider over the recording's span,
// play/pause at 1×, 10× or 60×, and the same map and panels fed with the recorded picture at
// the chosen time (GET /api/replay/{id}/picture?t=T). While the slider is dragged, at most one
// request is in flight and only the newest time is fetched next, so scrubbing never queues.

import * as api from "./api.js";
import { t } from "./i18n.js";

const MIN_GAP_MS = 120; // at most ~8 pictures a second while scrubbing or playing fast
const TICK_MS = 250; // the play clock's step
const START_BACK_S = 120; // a recording opens this long before its end: what just happened

export const hms = (tS) => new Date(tS * 1000).toISOString().slice(11, 19);

export class Replay {
  // bar: the replay controls; onPicture(picture) shows a recorded picture; onLeave() returns
  // to live; say(text, ok) reports.
  constructor(bar, { onPicture, onLeave, say }) {
    this.bar = bar;
    this.onPicture = onPicture;
    this.onLeave = onLeave;
    this.say = say;
    this.q = (sel) => bar.querySelector(sel);
    this.list = [];
    this.info = null; // {id, name, start_s, end_s, live}
    this.want = null; // the time the slider asks for
    this.got = null; // the time of the picture shown
    this.shownT = null; // that picture's own time
    this.busy = false;
    this.lastFetch = 0;
    this.playing = false;
    this.timer = null;
    this.active = false;
    this.q("#replay-rec").addEventListener("change", (ev) => this.choose(ev.target.value));
    this.q("#replay-slider").addEventListener("input", (ev) => {
      this.seek(Number(ev.target.value));
    });
    this.q("#replay-play").addEventListener("click", () => (this.playing ? this.pause() : this.play()));
    this.q("#replay-back").addEventListener("click", () => this.close());
  }

  // Open replay: list the recordings and load the current run's (else the newest).
  async open() {
    this.active = true;
    this.bar.hidden = false;
    this.relabel();
    try {
      this.list = await api.replays();
    } catch (err) {
      this.say(t("replay.unavailable", { error: err.message }), false);
      this.close();
      return false;
    }
    if (!this.list.length) {
      this.say(t("replay.none"), false);
      this.close();
      return false;
    }
    const select = this.q("#replay-rec");
    select.replaceChildren(
      ...this.list.map((r) => {
        const o = document.createElement("option");
        o.value = r.id;
        o.textContent = r.live ? t("replay.live_recording", { name: r.name }) : r.name;
        return o;
      }),
    );
    const first = this.list.find((r) => r.live) ?? this.list[this.list.length - 1];
    select.value = String(first.id);
    await this.choose(first.id);
    return true;
  }

  async choose(id) {
    this.pause();
    const known = this.list.find((r) => String(r.id) === String(id));
    let info;
    try {
      info = await api.replayInfo(id);
    } catch (err) {
      this.say(t("replay.unavailable", { error: err.message }), false);
      return;
    }
    this.info = { ...info, live: !!known?.live };
    this.span();
    this.got = null;
    await this.seek(Math.max(this.info.start_s, this.info.end_s - START_BACK_S));
  }

  // The slider's range: the recording's span (the current run's grows while it records).
  span() {
    const slider = this.q("#replay-slider");
    slider.min = String(this.info.start_s);
    slider.max = String(this.info.end_s);
    slider.step = "0.1";
    this.q("#replay-span").textContent = `${hms(this.info.start_s)}–${hms(this.info.end_s)}`;
  }

  async refreshSpan() {
    if (!this.info?.live) return;
    try {
      const info = await api.replayInfo(this.info.id);
      this.info = { ...this.info, ...info };
      this.span();
    } catch {
      // keep the span we have
    }
  }

  // Ask for the picture at tS; fetched now if nothing is in flight, else once the flight lands.
  async seek(tS) {
    if (!this.info) return;
    this.want = Math.min(this.info.end_s, Math.max(this.info.start_s, tS));
    this.q("#replay-slider").value = String(this.want);
    this.banner();
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.active && this.want !== this.got) {
        const wait = this.lastFetch + MIN_GAP_MS - performance.now();
        if (wait > 0) await new Promise((ok) => setTimeout(ok, wait));
        const at = this.want;
        this.lastFetch = performance.now();
        let picture;
        try {
          picture = await api.replayPicture(this.info.id, at);
        } catch (err) {
          this.say(t("replay.unavailable", { error: err.message }), false);
          this.got = at;
          break;
        }
        this.got = at;
        if (!this.active) break;
        this.shownT = picture.t_s ?? at;
        this.onPicture(picture);
        this.banner();
      }
    } finally {
      this.busy = false;
    }
  }

  banner() {
    const at = this.busy || this.shownT == null ? this.want : this.shownT;
    this.q("#replay-banner").textContent = t("replay.banner", { time: at == null ? "––:––:––" : hms(at) });
  }

  play() {
    if (!this.info || this.playing) return;
    if (this.want >= this.info.end_s) this.want = this.info.start_s;
    this.playing = true;
    this.relabel();
    let last = performance.now();
    this.timer = setInterval(async () => {
      const now = performance.now();
      const speed = Number(this.q("#replay-speed").value) || 1;
      const next = this.want + ((now - last) / 1000) * speed;
      last = now;
      if (next >= this.info.end_s) {
        await this.refreshSpan();
        if (next >= this.info.end_s) {
          this.seek(this.info.end_s);
          this.pause();
          return;
        }
      }
      this.seek(next);
    }, TICK_MS);
  }

  pause() {
    this.playing = false;
    clearInterval(this.timer);
    this.timer = null;
    this.relabel();
  }

  relabel() {
    this.q("#replay-play").textContent = t(this.playing ? "replay.pause" : "replay.play");
    this.q("#replay-slider").setAttribute("aria-label", t("replay.time"));
    for (const o of this.q("#replay-rec").options) {
      const r = this.list.find((x) => String(x.id) === o.value);
      if (r) o.textContent = r.live ? t("replay.live_recording", { name: r.name }) : r.name;
    }
    this.banner();
  }

  close() {
    this.pause();
    this.active = false;
    this.bar.hidden = true;
    this.info = null;
    this.got = this.want = this.shownT = null;
    this.onLeave();
  }
}
