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
  if (!res.ok) throw new Error(res.body.detail || `login refused (${res.status})`);
  csrf = res.body.csrf;
  return res.body; // {username, role, expires_t_s, csrf}
}

export async function logout() {
  await fetch("/api/logout", { method: "POST", headers: { "X-CSRF-Token": csrf } });
  csrf = "";
}

export async function get(path) {
  const res = await parse(await fetch(path));
  if (!res.ok) throw new Error(res.body.detail || `${path}: ${res.status}`);
  return res.body;
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

// The picture stream: onPicture(update) per node cycle, onLink(text, ok) on every change of the
// connection. Reconnects after a drop (a slow client is closed with code 1013) unless the server
// says the session is gone (1008). Returns a function that closes it for good.
export function stream(onPicture, onLink) {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/stream`;
  let ws = null;
  let closed = false;
  let retry = null;
  const open = () => {
    ws = new WebSocket(url);
    ws.onopen = () => onLink("live", true);
    ws.onmessage = (ev) => onPicture(JSON.parse(ev.data));
    ws.onclose = (ev) => {
      if (closed) return;
      if (ev.code === 1008) {
        onLink(`closed: ${ev.reason || "log in again"}`, false);
        return;
      }
      onLink(`reconnecting (${ev.reason || ev.code})`, false);
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
