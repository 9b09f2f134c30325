// The side panels: alerts, recommendations and approvals awaiting a second person, engagements,
// and the ranked threat list. Rows are kept by id and updated in place, so a button does not
// move or vanish under the operator's pointer while the picture streams in.

import { affiliation } from "./symbols.js";

const THREAT_RANK = { none: 0, low: 1, medium: 2, high: 3, critical: 4 };

// What each role may do (the node checks again; this only hides buttons that would be refused).
const MAY = {
  viewer: new Set(),
  operator: new Set(["acknowledge", "reject", "cease"]),
  commander: new Set(["acknowledge", "approve", "confirm", "reject", "cease"]),
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  node.append(...children);
  return node;
}

// Make `parent`'s children one per item, in order, keyed by `key(item)`: a child is built once
// by `create(item)` and brought up to date by `update(child, item)` on every call.
function sync(parent, items, key, create, update) {
  const old = new Map([...parent.children].map((c) => [c.dataset.key, c]));
  let at = parent.firstElementChild;
  for (const item of items) {
    const k = String(key(item));
    let child = old.get(k);
    if (child) old.delete(k);
    else {
      child = create(item);
      child.dataset.key = k;
    }
    update(child, item);
    if (child !== at) parent.insertBefore(child, at);
    else at = at.nextElementSibling;
  }
  for (const gone of old.values()) gone.remove();
}

function cells(row, values) {
  values.forEach((v, i) => {
    const text = v ?? "–";
    if (row.cells[i].textContent !== String(text)) row.cells[i].textContent = text;
  });
}

const fmt = {
  range: (t) => `${(Math.hypot(t.east_m, t.north_m) / 1000).toFixed(2)} km`,
  alt: (t) => `${Math.round(t.alt_m)} m`,
  speed: (t) => (Number.isFinite(t.speed_ms) ? `${t.speed_ms.toFixed(0)} m/s` : "–"),
  ttb: (t) =>
    t.zones_inside?.length ? "inside" : t.time_to_breach_s == null ? "" : `${Math.round(t.time_to_breach_s)} s`,
  secs: (s) => (s == null ? "" : `${Math.max(0, Math.round(s))} s`),
};

export class Panels {
  // act(kind, target, extra, label) sends a command and reports how it went.
  constructor(root, act) {
    this.root = root;
    this.act = act;
    this.role = "viewer";
    this.username = "";
    this.q = (sel) => root.querySelector(sel);
  }

  setUser(username, role) {
    this.username = username;
    this.role = role;
  }

  may(kind) {
    return (MAY[this.role] ?? MAY.viewer).has(kind);
  }

  button(kind, label, onClick) {
    const b = el("button", { type: "button", class: `cmd cmd-${kind}`, textContent: label });
    b.hidden = !this.may(kind);
    b.addEventListener("click", async () => {
      b.disabled = true;
      try {
        await onClick();
      } finally {
        b.disabled = false;
      }
    });
    return b;
  }

  update(p) {
    this.alerts(p.alerts, p.t_s);
    this.recommendations(p.recommendations, p.pending_approvals ?? [], p.t_s);
    this.engagements(p.engagements);
    this.threats(p.tracks);
  }

  alerts(alerts) {
    const open = alerts.filter((a) => a.state !== "cleared");
    open.sort((a, b) => THREAT_RANK[b.level] - THREAT_RANK[a.level] || a.alert_id - b.alert_id);
    this.q("#alert-count").textContent = open.length ? `(${open.length})` : "";
    sync(
      this.q("#alerts tbody"),
      open,
      (a) => a.alert_id,
      (a) => {
        const ack = this.button("acknowledge", "Acknowledge", () =>
          this.act("acknowledge", a.alert_id, {}, `alert ${a.alert_id} acknowledged`),
        );
        return el("tr", { "data-alert": a.alert_id }, el("td"), el("td"), el("td"), el("td"), el("td"), el("td", {}, ack));
      },
      (row, a) => {
        row.className = `level-${a.level} state-${a.state}`;
        cells(row, [a.level, a.track_id, a.zone, a.kind, a.acknowledged_by ? `ack ${a.acknowledged_by}` : a.state]);
        row.title = a.message;
        row.querySelector("button").hidden = a.state !== "active" || !this.may("acknowledge");
      },
    );
  }

  recommendations(recs, pending, now) {
    const open = recs.filter((r) => r.state === "pending");
    this.q("#no-recs").hidden = open.length > 0 || pending.length > 0;
    sync(
      this.q("#recommendations"),
      open,
      (r) => r.rec_id,
      (r) => {
        const card = el("div", { class: "rec", "data-rec": r.rec_id }, el("h3"), el("ul", { class: "options" }));
        card.append(this.button("reject", "Reject", () => this.act("reject", r.rec_id, { reason: "refused at the console" }, `recommendation ${r.rec_id} rejected`)));
        return card;
      },
      (card, r) => {
        card.querySelector("h3").textContent = `Track ${r.track_id}: recommendation ${r.rec_id}`;
        sync(
          card.querySelector("ul"),
          r.options,
          (o) => o.effector,
          (o) =>
            el(
              "li",
              {},
              el("span", { class: "opt" }),
              this.button("approve", `Approve ${o.effector}`, () =>
                this.act("approve", r.rec_id, { effector: o.effector }, `${o.effector} approved against track ${r.track_id}`),
              ),
            ),
          (li, o) => {
            const notes = [...(o.blocked_by ?? []), ...(o.warnings ?? [])];
            if (o.collateral) notes.push("collateral risk");
            const text = `${o.effector} (${o.kind}) · ${o.usable ? "usable" : "not usable"} · effect in ${fmt.secs(o.t_effect_s) || "–"} · p ${(o.p_effect * 100).toFixed(0)} %${o.before_breach ? "" : " · after breach"}${notes.length ? ` · ${notes.join("; ")}` : ""}`;
            const span = li.querySelector(".opt");
            if (span.textContent !== text) span.textContent = text;
            li.className = o.usable ? "usable" : "blocked";
            li.querySelector("button").hidden = !o.usable || !this.may("approve");
          },
        );
      },
    );
    sync(
      this.q("#pending"),
      pending,
      (a) => `${a.rec_id}:${a.effector}`,
      (a) =>
        el(
          "div",
          { class: "pending", "data-pending": a.rec_id },
          el("span"),
          this.button("confirm", "Confirm", () =>
            this.act("confirm", a.rec_id, { effector: a.effector }, `${a.effector} confirmed against track ${a.track_id}`),
          ),
        ),
      (div, a) => {
        div.querySelector("span").textContent = `Second person needed: ${a.effector} (${a.effector_kind}) against track ${a.track_id}, approved by ${a.approved_by}; lapses in ${fmt.secs(a.expires_t_s - now)}`;
        // The two-person rule wants a different person: the node would refuse the approver.
        div.querySelector("button").hidden = !this.may("confirm") || a.approved_by === this.username;
      },
    );
  }

  engagements(engs) {
    sync(
      this.q("#engagements tbody"),
      [...engs].sort((a, b) => b.eng_id - a.eng_id),
      (e) => e.eng_id,
      (e) => {
        const cease = this.button("cease", "Cease", () => this.act("cease", e.eng_id, { reason: "ceased at the console" }, `engagement ${e.eng_id} ceased`));
        return el("tr", { "data-eng": e.eng_id }, el("td"), el("td"), el("td"), el("td"), el("td"), el("td"), el("td", {}, cease));
      },
      (row, e) => {
        row.className = `eng-${e.state}`;
        cells(row, [e.eng_id, e.track_id, e.effector, e.approved_by, e.state, e.outcome ?? ""]);
        row.querySelector("button").hidden = !["approved", "tasked", "engaging"].includes(e.state) || !this.may("cease");
      },
    );
  }

  threats(tracks) {
    // Ranked by threat; equal threats by the soonest breach, then by track id, so the order
    // never depends on the order the node happened to list them in.
    const ranked = [...tracks].sort(
      (a, b) =>
        THREAT_RANK[b.threat] - THREAT_RANK[a.threat] ||
        (a.time_to_breach_s ?? Infinity) - (b.time_to_breach_s ?? Infinity) ||
        a.track_id - b.track_id,
    );
    this.q("#track-count").textContent = `(${tracks.length})`;
    sync(
      this.q("#threats tbody"),
      ranked,
      (t) => t.track_id,
      (t) => el("tr", { "data-track": t.track_id }, ...Array.from({ length: 8 }, () => el("td"))),
      (row, t) => {
        const aff = affiliation(t);
        row.className = `threat-${t.threat} aff-${aff}`;
        cells(row, ["", t.track_id, `${t.object_class} ${Math.round(t.class_prob * 100)} %`, t.threat, fmt.range(t), fmt.alt(t), fmt.speed(t), fmt.ttb(t)]);
        row.cells[0].title = aff;
      },
    );
  }
}
