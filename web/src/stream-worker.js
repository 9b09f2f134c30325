// The picture stream off the page's main thread: this worker holds the WebSocket, parses each
// message and merges the deltas into the picture as they come (10 Hz), whatever the page is
// doing. The page asks for a picture when it is ready for one and gets the newest, merged:
// a page slowed by drawing (software WebGL, 1000 tracks) skips pictures instead of queueing
// them, so what it shows is never more than one of its own frames behind the node.
//
// To the page: {type: "link", state, detail} and {type: "picture", picture}. From the page:
// {type: "want"} (send the newest picture once there is one it has not had) and {type: "close"}.

import { PictureState } from "./api.js";

const state = new PictureState();
let latest = null; // the merged picture
let fresh = false; // newer than the last one sent
let wanted = false; // the page waits for a picture
let changes = []; // alert changes since the last picture sent (a skipped message has some too)
let ws = null;
let closed = false;
let retry = null;

function send() {
  wanted = false;
  fresh = false;
  self.postMessage({ type: "picture", picture: { ...latest, alert_changes: changes } });
  changes = [];
}

function open() {
  const scheme = self.location.protocol === "https:" ? "wss" : "ws";
  // The page's ?rate= came on this worker's own URL (/stream.js?rate=…).
  ws = new WebSocket(`${scheme}://${self.location.host}/api/stream${self.location.search}`);
  ws.onopen = () => self.postMessage({ type: "link", state: "live", detail: "" });
  ws.onmessage = (ev) => {
    const p = state.apply(JSON.parse(ev.data));
    if (!p) return;
    latest = p;
    fresh = true;
    if (p.alert_changes?.length) changes = changes.concat(p.alert_changes).slice(-500);
    if (wanted) send();
  };
  ws.onclose = (ev) => {
    if (closed) return;
    if (ev.code === 1008) {
      self.postMessage({ type: "link", state: "closed", detail: ev.reason });
      return;
    }
    self.postMessage({ type: "link", state: "reconnecting", detail: ev.reason || String(ev.code) });
    retry = setTimeout(open, 1000);
  };
}

self.onmessage = (ev) => {
  if (ev.data?.type === "want") {
    wanted = true;
    if (fresh) send();
  } else if (ev.data?.type === "close") {
    closed = true;
    clearTimeout(retry);
    ws?.close();
    self.close();
  }
};

open();
