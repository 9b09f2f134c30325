// The console server's API as the page uses it: login, reads, commands and the picture stream.
// The session cookie is HttpOnly (the page never sees it); the CSRF token the login returns is
// kept here, in memory only, and sent with every state-changing request.

let csrf = "";

async function parse(res) {
  const body = await res.json().catch(() => ({}));
  return { status: res.status, ok: res.ok, body };
}

export async function login(username, password) {
  const res = await parse(
    await fetch("/api/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username, password }),
    }),
  );
  // the server's reason as it says it; the page words the bare status itself
  if (!res.ok) throw Object.assign(new Error(res.body.detail || ""), { status: res.status });
  csrf = res.body.csrf;
  return res.body; // {username, role, expires_t_s, csrf}
}

export async function logout() {
  await fetch("/api/logout", { method: "POST", headers: { "X-CSRF-Token": csrf } });
  csrf = "";
}

// A read. A 503 with Retry-After (a large recording still being indexed, or the replay's
// readers busy) is asked again, up to `tries` times, waiting as long as the server says (≤ 2 s).
export async function get(path, tries = 8) {
  for (let attempt = 1; ; attempt++) {
    const raw = await fetch(path);
    const res = await parse(raw);
    if (res.ok) return res.body;
    const retry = Number(raw.headers.get("Retry-After"));
    if (res.status !== 503 || !(retry >= 0) || attempt >= tries) {
      throw new Error(res.body.detail || `${path}: ${res.status}`);
    }
    await new Promise((ok) => setTimeout(ok, Math.min(2, Math.max(0.2, retry)) * 1000));
  }
}

// One operator command (acknowledge, approve, confirm, reject, cease): the node checks the
// role, applies it at its next cycle and audits it. Resolves to {status, ok, body}.
export async function command(kind, target, extra = {}) {
  return parse(
    await fetch("/api/commands", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ kind, target, ...extra }),
    }),
  );
}

// The picture stream: onMessage(message) per node cycle (a whole "picture" first, then "delta"s;
// PictureState merges them), onLink(state, detail) on every change of the connection: state is
// "live", "closed" or "reconnecting". Reconnects after a drop (a slow client is closed with
// code 1013) unless the server says the session is gone (1008). Returns a function that closes
// it for good.
// The page's own ?rate= (pictures a second, e.g. a tablet on a thin link opens /?rate=2) goes
// on to the stream; the server refuses a rate it will not serve, with the reason.
const RATE = new URLSearchParams(location.search).get("rate");
export const RATE_QUERY = RATE ? `?rate=${encodeURIComponent(RATE)}` : "";

export function stream(onMessage, onLink, query = RATE_QUERY) {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/stream${query}`;
  let ws = null;
  let closed = false;
  let retry = null;
  const open = () => {
    ws = new WebSocket(url);
    ws.onopen = () => onLink("live", "");
    ws.onmessage = (ev) => onMessage(JSON.parse(ev.data));
    ws.onclose = (ev) => {
      if (closed) return;
      if (ev.code === 1008) {
        onLink("closed", ev.reason);
        return;
      }
      onLink("reconnecting", ev.reason || String(ev.code));
      retry = setTimeout(open, 1000);
    };
  };
  open();
  return () => {
    closed = true;
    clearTimeout(retry);
    ws?.close();
  };
}

// The merged picture, from the stream worker (stream-worker.js, built as /stream.js): the
// WebSocket, parsing and merging run off the page's main thread, and the page takes the newest
// picture each time it has handled the last, so a busy page skips pictures rather than falling
// behind the node. onPicture(picture) per picture taken; onLink as for `stream`. Where the
// worker cannot start, the stream runs in the page as before. Returns a function that closes it.
export function pictureStream(onPicture, onLink) {
  let fallback = null;
  let worker = null;
  const inPage = () => {
    const state = new PictureState();
    fallback = stream((msg) => {
      const p = state.apply(msg);
      if (p) onPicture(p);
    }, onLink);
  };
  try {
    worker = new Worker(`/stream.js${RATE_QUERY}`, { type: "module", name: "picture stream" });
  } catch {
    inPage();
    return () => fallback?.();
  }
  let heard = false;
  worker.onmessage = (ev) => {
    heard = true;
    const msg = ev.data;
    if (msg.type === "link") onLink(msg.state, msg.detail);
    else if (msg.type === "picture") {
      try {
        onPicture(msg.picture);
      } finally {
        worker?.postMessage({ type: "want" });
      }
    }
  };
  worker.onerror = (ev) => {
    if (heard) return; // a running worker's own error: it reconnects by itself
    ev.preventDefault?.();
    worker?.terminate();
    worker = null;
    inPage();
  };
  worker.postMessage({ type: "want" });
  return () => {
    worker?.postMessage({ type: "close" });
    worker = null;
    fallback?.();
  };
}

export const THREAT_RANK = { none: 0, low: 1, medium: 2, high: 3, critical: 4 };

// The threat list's order, stable: threat desc, then the soonest breach (none last), then id.
export function rankTracks(tracks) {
  return [...tracks].sort(
    (a, b) =>
      (THREAT_RANK[b.threat] ?? 0) - (THREAT_RANK[a.threat] ?? 0) ||
      (a.time_to_breach_s ?? Infinity) - (b.time_to_breach_s ?? Infinity) ||
      a.track_id - b.track_id,
  );
}

// The sections a delta carries only when they changed (then whole).
const SECTIONS = [
  "alerts",
  "recommendations",
  "engagements",
  "feeds",
  "nodes",
  "effectors",
  "counters",
  "pending_approvals",
  "remote_ids",
  "swarms",
];

// The picture as the stream builds it: a whole picture, then deltas merged into it (tracks by
// id, field by field; `removed` deleted; each section present replaced). `tracks` comes out
// ranked. The merged picture is a new object each time; its tracks are new only when changed.
export class PictureState {
  constructor() {
    this.picture = null;
    this.tracks = new Map(); // track id → track
  }

  // Take one stream message; returns the merged picture, or null while there is none yet.
  apply(msg) {
    const type = msg.type ?? "picture"; // a server before typed messages sends whole pictures
    if (type !== "delta") {
      this.tracks = new Map((msg.tracks ?? []).map((t) => [t.track_id, t]));
      this.picture = { ...msg, tracks: rankTracks(this.tracks.values()) };
      return this.picture;
    }
    if (this.picture === null) return null; // a delta before any picture: nothing to merge into
    // A new track comes whole; a changed one as its id and the fields that changed (its time
    // is the picture's).
    for (const t of msg.tracks ?? []) {
      const before = this.tracks.get(t.track_id);
      this.tracks.set(t.track_id, before ? { ...before, t_s: msg.t_s, ...t } : t);
    }
    for (const id of msg.removed ?? []) this.tracks.delete(id);
    // Every track is at the picture's time: an unchanged one is not in the delta at all.
    for (const t of this.tracks.values()) t.t_s = msg.t_s;
    const next = { ...this.picture, seq: msg.seq, t_s: msg.t_s, site: msg.site ?? this.picture.site };
    next.alert_changes = msg.alert_changes ?? [];
    for (const key of SECTIONS) if (key in msg) next[key] = msg[key];
    next.tracks = rankTracks(this.tracks.values());
    this.picture = next;
    return next;
  }
}

// Replay (read-only): the recordings, one recording's span, and the picture at a time.
export const replays = () => get("/api/replay");
export const replayInfo = (id) => get(`/api/replay/${encodeURIComponent(id)}`);
export const replayPicture = (id, t) =>
  get(`/api/replay/${encodeURIComponent(id)}/picture?t=${encodeURIComponent(t)}`);
