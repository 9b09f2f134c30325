// The cue for a new CRITICAL alert: a beep made in the page (WebAudio, no sound file) and a
// flashing banner naming the track and the zone, shown until the alert is acknowledged or the
// banner dismissed. Browsers keep audio silent until the person has done something on the page:
// unlock() is called from the login click, which counts.

import { t } from "./i18n.js";

const BEEPS = [0, 0.22, 0.44]; // three short tones, seconds after the cue
const TONE_S = 0.15;
const PITCH_HZ = 988; // B5: cuts through a noisy room without being shrill

export class Cues {
  // banner: the element that flashes; acknowledge(alert) sends the command (or is null when
  // this person may not); onMute(muted) tells the page the mute changed.
  constructor(banner, { acknowledge = null, onMute = () => {} } = {}) {
    this.banner = banner;
    this.text = banner.querySelector(".cue-text");
    this.ackButton = banner.querySelector(".cmd-acknowledge");
    this.dismissButton = banner.querySelector(".cue-dismiss");
    this.acknowledge = acknowledge;
    this.onMute = onMute;
    this.ctx = null;
    this.muted = false;
    this.played = 0; // beeps sounded (for the tests and the operator's console)
    this.shown = 0; // banners raised
    this.cued = new Set(); // alert ids cued once already
    this.dismissed = new Set(); // alert ids the operator dismissed from the banner
    this.current = null;
    this.alerts = [];
    this.live = false; // say "live" on the banner (the page shows a replay)
    this.ackButton.addEventListener("click", async () => {
      const a = this.current;
      if (!a || !this.acknowledge) return;
      this.ackButton.disabled = true;
      try {
        await this.acknowledge(a);
      } finally {
        this.ackButton.disabled = false;
      }
    });
    this.dismissButton.addEventListener("click", () => this.dismiss());
  }

  // Create or resume the audio context; call from a user gesture (the login click).
  unlock() {
    try {
      this.ctx ??= new AudioContext();
      if (this.ctx.state === "suspended") this.ctx.resume();
    } catch {
      this.ctx = null; // no audio on this machine: the banner still shows
    }
  }

  setMuted(muted) {
    this.muted = muted;
    this.onMute(muted);
  }

  toggleMute() {
    this.setMuted(!this.muted);
  }

  beep() {
    if (this.muted || !this.ctx) return false;
    if (this.ctx.state === "suspended") this.ctx.resume();
    const now = this.ctx.currentTime + 0.02;
    for (const at of BEEPS) {
      const osc = this.ctx.createOscillator();
      const gain = this.ctx.createGain();
      osc.type = "square";
      osc.frequency.value = PITCH_HZ;
      gain.gain.setValueAtTime(0, now + at);
      gain.gain.linearRampToValueAtTime(0.25, now + at + 0.01);
      gain.gain.setValueAtTime(0.25, now + at + TONE_S - 0.02);
      gain.gain.linearRampToValueAtTime(0, now + at + TONE_S);
      osc.connect(gain).connect(this.ctx.destination);
      osc.start(now + at);
      osc.stop(now + at + TONE_S + 0.01);
    }
    this.played += 1;
    return true;
  }

  // Every live picture: cue each CRITICAL alert not cued before; keep the banner on the newest
  // one still active and not dismissed.
  check(alerts) {
    this.alerts = alerts;
    let fresh = false;
    for (const a of alerts) {
      if (a.level !== "critical" || a.state !== "active" || this.cued.has(a.alert_id)) continue;
      this.cued.add(a.alert_id);
      fresh = true;
    }
    if (fresh) {
      this.shown += 1;
      this.beep();
    }
    this.render();
  }

  open() {
    return this.alerts
      .filter((a) => a.level === "critical" && a.state === "active" && this.cued.has(a.alert_id) && !this.dismissed.has(a.alert_id))
      .sort((a, b) => b.raised_t_s - a.raised_t_s || b.alert_id - a.alert_id);
  }

  render() {
    const open = this.open();
    this.current = open[0] ?? null;
    this.banner.hidden = !this.current;
    if (!this.current) return;
    const a = this.current;
    let text = t("cue.critical", { track: a.track_id, zone: a.zone });
    if (this.live) text = `${t("cue.live")} ${text}`;
    if (open.length > 1) text += ` ${t("cue.more", { n: open.length - 1 })}`;
    if (this.text.textContent !== text) this.text.textContent = text;
    this.banner.dataset.alert = a.alert_id;
    this.banner.dataset.track = a.track_id;
    this.ackButton.hidden = !this.acknowledge;
    this.ackButton.textContent = t("cmd.acknowledge");
    this.dismissButton.textContent = t("cmd.dismiss");
  }

  // Dismiss the banner: every alert it stands for now (new ones raise it again).
  dismiss() {
    const open = this.open();
    if (!open.length) return false;
    for (const a of open) this.dismissed.add(a.alert_id);
    this.render();
    return true;
  }
}
