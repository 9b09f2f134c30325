// The side panels: alerts, recommendations and approvals awaiting a second person, engagements,
// the ranked threat list, sensor and effector health, and the detail of one track (over the
// map). Rows are kept by id and updated in place, so a button does not move or vanish under
// the operator's pointer while the picture streams in. Every word comes from i18n.js.

import { THREAT_RANK } from "./api.js";
import { nodeText, t, tv } from "./i18n.js";
import { affiliation } from "./symbols.js";

// What each role may do (the node checks again; this only hides buttons that would be refused).
export const MAY = {
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

function setText(node, text) {
  const s = text == null ? "" : String(text);
  if (node.textContent !== s) node.textContent = s;
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

// The whitelist's verdict on a Remote ID track, in words (None without a Remote ID identity).
function authorisationText(tr) {
  if (tr.authorisation == null) return null;
  if (tr.authorised) return t("detail.auth_yes", { entry: tr.authorisation });
  const reason = tv("auth", tr.authorisation);
  return tr.coop_intruder ? t("detail.auth_intruder", { reason }) : reason;
}

function headingText(tr) {
  if (!Number.isFinite(tr.heading_deg)) return null;
  const s = tr.course_std_deg;
  return Number.isFinite(s) && s >= 0.5
    ? t("unit.deg_pm", { v: Math.round(tr.heading_deg), s: Math.round(s) })
    : fmt.deg(tr.heading_deg);
}

function swarmText(p, tr) {
  if (tr.swarm_id == null) return null;
  const sw = (p.swarms ?? []).find((x) => x.swarm_id === tr.swarm_id);
  return t("detail.swarm_v", { swarm: tr.swarm_id, n: sw ? sw.members.length : "?" });
}

// Where the pilot stands, how sure, found how and how long ago.
function pilotText(tr) {
  if (!Number.isFinite(tr.pilot_lat_deg) || !Number.isFinite(tr.pilot_lon_deg)) return null;
  const n = /\((\d+) detectors\)/.exec(tr.pilot_source ?? "");
  const source = tr.pilot_source === "remote id" ? t("pilot.rid") : n ? t("pilot.rf", { n: n[1] }) : tr.pilot_source ?? "";
  return t("detail.pilot_v", {
    pos: fmt.latlon(tr.pilot_lat_deg, tr.pilot_lon_deg),
    err: Number.isFinite(tr.pilot_err_m) ? Math.round(tr.pilot_err_m) : "?",
    source,
    age: Number.isFinite(tr.pilot_age_s) ? Math.round(tr.pilot_age_s) : "?",
  });
}

function cells(row, values) {
  values.forEach((v, i) => setText(row.cells[i], v ?? "–"));
}

const round = (v, digits = 0) => (Number.isFinite(v) ? v.toFixed(digits) : null);
export const fmt = {
  m: (v, d = 0) => (Number.isFinite(v) ? t("unit.m", { v: round(v, d) }) : null),
  km: (v) => (Number.isFinite(v) ? t("unit.km", { v: (v / 1000).toFixed(2) }) : null),
  ms: (v, d = 0) => (Number.isFinite(v) ? t("unit.ms", { v: round(v, d) }) : null),
  deg: (v) => (Number.isFinite(v) ? t("unit.deg", { v: Math.round(v) }) : null),
  secs: (s) => (s == null || !Number.isFinite(s) ? null : t("unit.s", { v: Math.max(0, Math.round(s)) })),
  pct: (p) => `${Math.round(p * 100)} %`,
  latlon: (lat, lon) =>
    Number.isFinite(lat) && Number.isFinite(lon) ? `${lat.toFixed(5)}, ${lon.toFixed(5)}` : null,
  range: (tr) => fmt.km(Math.hypot(tr.east_m, tr.north_m)),
  ttb: (tr) => (tr.zones_inside?.length ? t("threats.inside") : fmt.secs(tr.time_to_breach_s) ?? ""),
  yesno: (b) => (b == null ? null : t(b ? "yes" : "no")),
};

export const MAX_THREAT_ROWS = 100;

const byAlertOrder = (a, b) => THREAT_RANK[b.level] - THREAT_RANK[a.level] || a.alert_id - b.alert_id;

export class Panels {
  // act(kind, target, extra, done) sends a command and reports how it went; onSelect(id, open)
  // is called when the operator picks a track here (the map follows).
  constructor(root, act, { onSelect = () => {} } = {}) {
    this.root = root;
    this.act = act;
    this.onSelect = onSelect;
    this.role = "viewer";
    this.username = "";
    this.readOnly = false; // replay: nothing may be commanded
    this.picture = null;
    this.ranked = [];
    this.selected = null; // track id
    this.detailOpen = false;
    this.openSwarms = new Set(); // swarm ids whose members the threat list shows
    this.visible = null; // the track ids the threat list shows now, in order (j/k move over them)
    this.q = (sel) => root.querySelector(sel);
    this.detail = this.q("#detail");
    this.buildDetail();
  }

  setUser(username, role) {
    this.username = username;
    this.role = role;
  }

  setReadOnly(on) {
    this.readOnly = on;
    this.relabel();
  }

  may(kind) {
    return !this.readOnly && (MAY[this.role] ?? MAY.viewer).has(kind);
  }

  // A command button; hidden for a role that may not (the update keeps it so).
  button(kind, label, onClick) {
    const b = el("button", { type: "button", class: `cmd cmd-${kind}`, textContent: label });
    b.hidden = !this.may(kind);
    b.addEventListener("click", async (ev) => {
      ev.stopPropagation(); // a button in a row does not also select the row
      b.disabled = true;
      try {
        await onClick();
      } finally {
        b.disabled = false;
      }
    });
    return b;
  }

  // The language changed or the mode did: every row is built again with the new words.
  relabel() {
    for (const sel of [
      "#alerts tbody",
      "#recommendations",
      "#pending",
      "#engagements tbody",
      "#threats tbody",
      "#feeds tbody",
      "#nodes tbody",
      "#effectors tbody",
    ])
      this.q(sel).replaceChildren();
    this.detail.replaceChildren();
    this.buildDetail();
    if (this.picture) this.update(this.picture);
  }

  update(p) {
    this.picture = p;
    this.ranked = p.tracks; // PictureState ranks them
    this.alerts(p.alerts ?? []);
    this.recommendations(p.recommendations ?? [], p.pending_approvals ?? [], p.t_s);
    this.engagements(p.engagements ?? []);
    this.threats(this.ranked);
    this.health(p);
    this.renderDetail();
  }

  // --- selection -------------------------------------------------------------------------

  select(id, open = true) {
    this.selected = id;
    if (open && id != null) this.detailOpen = true;
    if (id == null) this.detailOpen = false;
    this.onSelect(id, this.detailOpen);
    this.markSelected();
    this.renderDetail();
  }

  // From the map: the map already shows the choice.
  selectedOnMap(id) {
    this.selected = id;
    this.detailOpen = id != null;
    this.markSelected();
    this.renderDetail();
  }

  // Move the selection in the ranked threat list by `step` (j/k), over the rows it shows.
  move(step) {
    const ids = this.visible ?? this.ranked.slice(0, MAX_THREAT_ROWS).map((tr) => tr.track_id);
    if (!ids.length) return;
    const at = ids.indexOf(this.selected);
    const next = at < 0 ? (step > 0 ? 0 : ids.length - 1) : Math.min(ids.length - 1, Math.max(0, at + step));
    this.select(ids[next], this.detailOpen);
    this.q(`#threats tr[data-track='${ids[next]}']`)?.scrollIntoView({ block: "nearest" });
  }

  openDetail() {
    if (this.selected == null) return false;
    this.select(this.selected, true);
    return true;
  }

  closeDetail() {
    if (!this.detailOpen) return false;
    this.detailOpen = false;
    this.renderDetail();
    return true;
  }

  markSelected() {
    for (const row of this.root.querySelectorAll("tr.selected")) row.classList.remove("selected");
    if (this.selected == null) return;
    for (const row of this.root.querySelectorAll(
      `#threats tr[data-track='${this.selected}'], #alerts tr[data-track='${this.selected}']`,
    ))
      row.classList.add("selected");
  }

  // --- what the shortcuts act on -----------------------------------------------------------

  // The alert `a` acknowledges: the selected track's active alert, else the newest active one.
  alertToAcknowledge() {
    const active = (this.picture?.alerts ?? []).filter((a) => a.state === "active");
    const mine = active.filter((a) => a.track_id === this.selected).sort(byAlertOrder);
    if (mine.length) return mine[0];
    return active.sort((a, b) => b.raised_t_s - a.raised_t_s || b.alert_id - a.alert_id)[0] ?? null;
  }

  // The selected track's pending recommendation.
  recommendationOfSelected() {
    if (this.selected == null) return null;
    return (this.picture?.recommendations ?? []).find(
      (r) => r.track_id === this.selected && r.state === "pending",
    ) ?? null;
  }

  // The best usable option of the selected track's recommendation: the node lists the options
  // best first (usable, before breach, undoubted, no collateral, least force, soonest).
  bestOption() {
    const rec = this.recommendationOfSelected();
    const option = rec?.options.find((o) => o.usable);
    return option ? { rec, option } : null;
  }

  // The oldest approval awaiting a second person that this person did not make.
  approvalToConfirm() {
    return (
      [...(this.picture?.pending_approvals ?? [])]
        .filter((a) => a.approved_by !== this.username)
        .sort((a, b) => a.t_s - b.t_s)[0] ?? null
    );
  }

  // --- commands ----------------------------------------------------------------------------

  acknowledge(a) {
    return this.act("acknowledge", a.alert_id, {}, t("say.acknowledged", { alert: a.alert_id }));
  }

  approve(rec, o) {
    return this.act("approve", rec.rec_id, { effector: o.effector }, t("say.approved", { effector: o.effector, track: rec.track_id }));
  }

  confirm(a) {
    return this.act("confirm", a.rec_id, { effector: a.effector }, t("say.confirmed", { effector: a.effector, track: a.track_id }));
  }

  reject(rec) {
    return this.act("reject", rec.rec_id, { reason: t("reason.reject") }, t("say.rejected", { rec: rec.rec_id }));
  }

  cease(e) {
    return this.act("cease", e.eng_id, { reason: t("reason.cease") }, t("say.ceased", { eng: e.eng_id }));
  }

  // --- panels ------------------------------------------------------------------------------

  alerts(alerts) {
    const open = alerts.filter((a) => a.state !== "cleared").sort(byAlertOrder);
    setText(this.q("#alert-count"), open.length ? `(${open.length})` : "");
    sync(
      this.q("#alerts tbody"),
      open,
      (a) => a.alert_id,
      (a) => {
        const ack = this.button("acknowledge", t("cmd.acknowledge"), () => this.acknowledge(a));
        const row = el("tr", { "data-alert": a.alert_id, "data-track": a.track_id }, el("td"), el("td"), el("td"), el("td"), el("td"), el("td", {}, ack));
        // The alert's track opens: its detail holds the countermeasure to approve.
        row.addEventListener("click", () => this.select(a.track_id, true));
        return row;
      },
      (row, a) => {
        row.className = `level-${a.level} state-${a.state}${a.track_id === this.selected ? " selected" : ""}`;
        const state = a.acknowledged_by ? t("alerts.ack_by", { who: a.acknowledged_by }) : tv("alert", a.state);
        cells(row, [tv("threat", a.level), a.track_id, a.zone, tv("alertkind", a.kind), state]);
        row.title = nodeText(a.message);
        row.querySelector("button").hidden = a.state !== "active" || !this.may("acknowledge");
      },
    );
  }

  // One option of a recommendation as a list item: what, when, how likely, and what blocks it.
  optionItem(rec) {
    return (o) =>
      el(
        "li",
        { "data-effector": o.effector },
        el("div", { class: "opt-head" }, el("span", { class: "opt" }), this.button("approve", t("cmd.approve", { effector: o.effector }), () => this.approve(rec, o))),
        el("ul", { class: "notes" }),
      );
  }

  optionUpdate(li, o) {
    const facts = [
      `${o.effector} (${tv("kind", o.kind)})`,
      t(o.usable ? "opt.usable" : "opt.not_usable"),
      t("opt.effect_in", { s: fmt.secs(o.t_effect_s) ?? "–" }),
      t("opt.p_effect", { p: Math.round((o.p_effect ?? 0) * 100) }),
    ];
    if (o.before_breach === false) facts.push(t("opt.after_breach"));
    setText(li.querySelector(".opt"), facts.join(" · "));
    const notes = [
      ...(o.safety ?? []).map((s) => ["safety", `${t("opt.safety")}: ${nodeText(s)}`]),
      ...(o.blocked_by ?? [])
        .filter((b) => !(o.safety ?? []).includes(b))
        .map((b) => ["blocked", `${t("opt.blocked")}: ${nodeText(b)}`]),
      ...(o.warnings ?? []).map((w) => ["warning", `${t("opt.warnings")}: ${nodeText(w)}`]),
    ];
    if (o.collateral) notes.push(["collateral", t("opt.collateral")]);
    if (o.doubt) notes.push(["doubt", t("opt.doubt")]);
    sync(
      li.querySelector(".notes"),
      notes,
      ([kind, text]) => `${kind}:${text}`,
      ([kind, text]) => el("li", { class: `note note-${kind}`, textContent: text }),
      () => {},
    );
    li.className = `${o.usable ? "usable" : "blocked"}${o.collateral || o.doubt || o.warnings?.length ? " caution" : ""}`;
    li.querySelector("button").hidden = !o.usable || !this.may("approve");
  }

  recommendations(recs, pending, now) {
    const open = recs.filter((r) => r.state === "pending");
    this.q("#no-recs").hidden = open.length > 0 || pending.length > 0;
    sync(
      this.q("#recommendations"),
      open,
      (r) => r.rec_id,
      (r) => {
        const card = el("div", { class: "rec", "data-rec": r.rec_id, "data-track": r.track_id }, el("h3"), el("p", { class: "why muted" }), el("ul", { class: "options" }));
        card.querySelector("h3").addEventListener("click", () => this.select(r.track_id, true));
        card.append(this.button("reject", t("cmd.reject"), () => this.reject(r)));
        return card;
      },
      (card, r) => {
        setText(card.querySelector("h3"), t("recs.heading", { track: r.track_id, rec: r.rec_id }));
        // Why it is proposed now (the breach and what the best option needs), in the page's language.
        const why = card.querySelector(".why");
        why.hidden = !r.why;
        setText(why, r.why ? nodeText(r.why) : "");
        sync(card.querySelector("ul"), r.options, (o) => o.effector, this.optionItem(r), (li, o) => this.optionUpdate(li, o));
        card.querySelector(":scope > button.cmd-reject").hidden = !this.may("reject");
      },
    );
    this.pendingList(this.q("#pending"), pending, now);
  }

  // cls: "pending" in the panel, "pending-here" in the detail (one list per place).
  pendingList(parent, pending, now, cls = "pending") {
    sync(
      parent,
      pending,
      (a) => `${a.rec_id}:${a.effector}`,
      (a) =>
        el("div", { class: cls, "data-pending": a.rec_id }, el("span"), this.button("confirm", t("cmd.confirm"), () => this.confirm(a))),
      (div, a) => {
        setText(
          div.querySelector("span"),
          t("recs.second_person", {
            effector: a.effector,
            kind: tv("kind", a.effector_kind),
            track: a.track_id,
            by: a.approved_by,
            lapse: fmt.secs(a.expires_t_s - now) ?? "–",
          }),
        );
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
        const cease = this.button("cease", t("cmd.cease"), () => this.cease(e));
        const row = el("tr", { "data-eng": e.eng_id }, el("td"), el("td"), el("td"), el("td"), el("td"), el("td"), el("td", {}, cease));
        row.addEventListener("click", () => this.select(e.track_id, true));
        return row;
      },
      (row, e) => {
        row.className = `eng-${e.state}`;
        cells(row, [e.eng_id, e.track_id, e.effector, e.approved_by, tv("eng", e.state), tv("outcome", e.outcome)]);
        row.querySelector("button").hidden = !["approved", "tasked", "engaging"].includes(e.state) || !this.may("cease");
      },
    );
  }

  // The first MAX_THREAT_ROWS of the ranked tracks: the threats come first, and a table of a
  // thousand birds would cost the page its frame rate (every changed cell lays the table out).
  // A swarm is one entry, at the rank of its worst member: its row, then (when opened, or when
  // one of its members is selected) its members. Rows are keyed "s<id>" for a swarm and by
  // track id for a track.
  threats(ranked) {
    setText(this.q("#track-count"), `(${ranked.length})`);
    const swarms = new Map((this.picture?.swarms ?? []).map((sw) => [sw.swarm_id, sw]));
    const members = new Map();
    for (const tr of ranked) {
      if (tr.swarm_id == null || !swarms.has(tr.swarm_id)) continue;
      if (!members.has(tr.swarm_id)) members.set(tr.swarm_id, []);
      members.get(tr.swarm_id).push(tr);
    }
    const rows = [];
    const done = new Set();
    for (const tr of ranked) {
      const id = tr.swarm_id;
      if (id == null || !members.has(id)) {
        rows.push(tr);
        continue;
      }
      if (done.has(id)) continue;
      done.add(id);
      const group = members.get(id);
      const open = this.openSwarms.has(id) || group.some((m) => m.track_id === this.selected);
      rows.push({ swarm: swarms.get(id), lead: tr, n: group.length, open });
      if (open) rows.push(...group);
    }
    const shown = rows.slice(0, MAX_THREAT_ROWS);
    this.visible = shown.filter((r) => !r.swarm).map((r) => r.track_id);
    // Tracks below the list: neither a row of their own nor in a closed swarm's row.
    const folded = shown.reduce((k, r) => k + (r.swarm && !r.open ? r.n : 0), 0);
    const more = ranked.length - this.visible.length - folded;
    const note = this.q("#threats-more");
    note.hidden = more <= 0;
    if (more > 0) setText(note, t("threats.more", { n: more }));
    sync(
      this.q("#threats tbody"),
      shown,
      (r) => (r.swarm ? `s${r.swarm.swarm_id}` : r.track_id),
      (r) => {
        if (r.swarm) {
          const sid = r.swarm.swarm_id;
          const row = el("tr", { "data-swarm": sid }, ...Array.from({ length: 8 }, () => el("td")));
          row.addEventListener("click", () => {
            if (this.openSwarms.has(sid)) this.openSwarms.delete(sid);
            else this.openSwarms.add(sid);
            this.threats(this.ranked);
          });
          return row;
        }
        const row = el("tr", { "data-track": r.track_id }, ...Array.from({ length: 8 }, () => el("td")));
        row.addEventListener("click", () => this.select(r.track_id, true));
        return row;
      },
      (row, r) => {
        if (r.swarm) {
          const sw = r.swarm;
          row.className = `swarm threat-${sw.threat} aff-${affiliation(r.lead)}`;
          cells(row, [
            r.open ? "▾" : "▸",
            t("threats.swarm", { swarm: sw.swarm_id }),
            t("threats.swarm_n", { n: r.n }),
            tv("threat", sw.threat),
            fmt.range(sw),
            fmt.m(sw.alt_m),
            fmt.ms(sw.speed_ms),
            fmt.secs(sw.time_to_breach_s) ?? "",
          ]);
          row.title = sw.members.join(", ");
          return;
        }
        const aff = affiliation(r);
        const member = r.swarm_id != null && members.has(r.swarm_id) ? " member" : "";
        row.className = `threat-${r.threat} aff-${aff}${member}${r.track_id === this.selected ? " selected" : ""}`;
        cells(row, [
          "",
          r.track_id,
          `${tv("class", r.object_class)} ${fmt.pct(r.class_prob)}`,
          tv("threat", r.threat),
          fmt.range(r),
          fmt.m(r.alt_m),
          fmt.ms(r.speed_ms),
          fmt.ttb(r),
        ]);
        row.cells[0].title = tv("aff", aff);
      },
    );
  }

  health(p) {
    const feeds = p.feeds ?? [];
    const nodes = p.nodes ?? [];
    const effectors = p.effectors ?? [];
    sync(
      this.q("#feeds tbody"),
      feeds,
      (f) => f.sensor_id,
      (f) => el("tr", { "data-feed": f.sensor_id }, ...Array.from({ length: 7 }, () => el("td"))),
      (row, f) => {
        row.className = `feed-${f.state}`;
        cells(row, [f.name || f.sensor_id, tv("feed", f.state), f.decoded, f.rejected, f.shed ?? 0, f.late ?? 0, f.last_rejection || ""]);
        row.cells[0].title = `${f.sensor_id} · ${f.fmt}`;
        row.cells[6].title = f.last_rejection || "";
      },
    );
    sync(
      this.q("#nodes tbody"),
      nodes,
      (n) => n.node_id,
      (n) => el("tr", { "data-node": n.node_id }, ...Array.from({ length: 5 }, () => el("td"))),
      (row, n) => {
        row.className = n.connected ? "node-up" : "node-down";
        const status = Array.isArray(n.status) ? n.status.join(", ") : n.status;
        cells(row, [n.name || n.node_id, fmt.yesno(n.connected), n.system ?? "", status || "", n.mode ?? ""]);
        row.cells[0].title = `${n.node_id} · ${(n.node_types ?? []).join(", ")}`;
      },
    );
    sync(
      this.q("#effectors tbody"),
      effectors,
      (e) => e.name,
      (e) => el("tr", { "data-effector": e.name }, ...Array.from({ length: 5 }, () => el("td"))),
      (row, e) => {
        row.className = e.online ? "eff-up" : "eff-down";
        cells(row, [
          e.name,
          tv("kind", e.kind),
          fmt.yesno(e.online),
          e.shots_left ?? "∞",
          e.busy_with == null ? "" : t("health.busy_with", { eng: e.busy_with }),
        ]);
      },
    );
    this.q("#health-none").hidden = feeds.length + nodes.length + effectors.length > 0;
  }

  // --- the track detail --------------------------------------------------------------------

  buildDetail() {
    const close = el("button", { type: "button", class: "close", textContent: "×" });
    close.title = t("cmd.close");
    close.setAttribute("aria-label", t("cmd.close"));
    close.addEventListener("click", () => this.closeDetail());
    this.detail.append(
      el("div", { class: "detail-head" }, el("h2", { class: "detail-title" }), el("span", { class: "badge" }), close),
      el("p", { class: "gone muted", textContent: t("detail.gone") }),
      el("div", { class: "d-rec" }, el("h3"), el("ul", { class: "options" }), el("div", { class: "d-rec-actions" }), el("div", { class: "d-pending" })),
      el("div", { class: "d-alerts" }, el("h3", { textContent: t("detail.alerts") }), el("table", {}, el("tbody"))),
      el("div", { class: "kv d-facts" }),
      el("div", { class: "d-class" }, el("h3", { textContent: t("detail.class_probs") }), el("div", { class: "bars" }), el("h3", { class: "reasons-h", textContent: t("detail.reasons") }), el("ul", { class: "reasons" })),
      el("div", { class: "d-rid" }, el("h3", { textContent: t("detail.rid") }), el("div", { class: "kv" }), el("p", { class: "muted rid-none", textContent: t("detail.rid_none") })),
    );
    const reject = this.button("reject", t("cmd.reject"), () => {
      const rec = this.recommendationOfSelected();
      return rec ? this.reject(rec) : null;
    });
    this.detail.querySelector(".d-rec-actions").append(reject);
    this.detail.hidden = true;
  }

  kv(parent, rows) {
    sync(
      parent,
      rows.filter(([, , v]) => v != null && v !== ""),
      ([key]) => key,
      () => el("div", { class: "kv-row" }, el("span", { class: "k" }), el("span", { class: "v" })),
      (row, [, label, value]) => {
        setText(row.firstChild, label);
        setText(row.lastChild, value);
      },
    );
  }

  renderDetail() {
    const d = this.detail;
    const p = this.picture;
    if (!this.detailOpen || this.selected == null || !p) {
      d.hidden = true;
      return;
    }
    d.hidden = false;
    const id = this.selected;
    const tr = p.tracks.find((x) => x.track_id === id);
    d.dataset.track = id;
    setText(d.querySelector(".detail-title"), t("detail.title", { track: id }));
    const badge = d.querySelector(".badge");
    setText(badge, tr ? tv("threat", tr.threat) : "");
    badge.className = `badge threat-${tr?.threat ?? "none"}`;
    d.querySelector(".gone").hidden = !!tr;
    for (const part of d.querySelectorAll(".d-facts, .d-class, .d-rid")) part.hidden = !tr;

    // The decision first: the pending recommendation and its options, approvals to confirm.
    const rec = (p.recommendations ?? []).find((r) => r.track_id === id && r.state === "pending");
    const recBox = d.querySelector(".d-rec");
    const pending = (p.pending_approvals ?? []).filter((a) => a.track_id === id);
    recBox.hidden = !rec && !pending.length;
    setText(recBox.querySelector("h3"), rec ? t("detail.rec", { rec: rec.rec_id }) + (rec.why ? ` · ${nodeText(rec.why)}` : "") : "");
    sync(recBox.querySelector(".options"), rec ? rec.options : [], (o) => `${rec.rec_id}:${o.effector}`, rec ? this.optionItem(rec) : null, (li, o) => this.optionUpdate(li, o));
    recBox.querySelector(".d-rec-actions button").hidden = !rec || !this.may("reject");
    this.pendingList(recBox.querySelector(".d-pending"), pending, p.t_s, "pending-here");

    const alerts = (p.alerts ?? []).filter((a) => a.track_id === id && a.state !== "cleared").sort(byAlertOrder);
    d.querySelector(".d-alerts").hidden = !alerts.length;
    sync(
      d.querySelector(".d-alerts tbody"),
      alerts,
      (a) => a.alert_id,
      (a) => el("tr", { "data-alert": a.alert_id }, el("td"), el("td"), el("td"), el("td", {}, this.button("acknowledge", t("cmd.acknowledge"), () => this.acknowledge(a)))),
      (row, a) => {
        row.className = `level-${a.level} state-${a.state}`;
        const state = a.acknowledged_by ? t("alerts.ack_by", { who: a.acknowledged_by }) : tv("alert", a.state);
        cells(row, [tv("threat", a.level), `${tv("alertkind", a.kind)} · ${a.zone}`, state]);
        row.title = nodeText(a.message);
        row.querySelector("button").hidden = a.state !== "active" || !this.may("acknowledge");
      },
    );
    if (!tr) return;

    const ell = tr.ellipse_m;
    const uncertainty = ell
      ? t("detail.ellipse", { major: Math.round(ell[0]), minor: Math.round(ell[1]), bearing: Math.round(ell[2]) })
      : Number.isFinite(tr.pos_std_m)
        ? t("detail.sigma", { std: Math.round(tr.pos_std_m) })
        : null;
    const feedNames = new Map((p.feeds ?? []).map((f) => [f.sensor_id, f.name]));
    const band = tr.rf_band_mhz ? t("unit.mhz", { lo: Math.round(tr.rf_band_mhz[0]), hi: Math.round(tr.rf_band_mhz[1]) }) : null;
    this.kv(d.querySelector(".d-facts"), [
      ["class", t("detail.class"), `${tv("class", tr.object_class)} (${fmt.pct(tr.class_prob)})`],
      ["drone_kind", t("detail.drone_kind"), tv("dronekind", tr.drone_kind)],
      ["aff", t("detail.affiliation"), tv("aff", affiliation(tr))],
      ["authorisation", t("detail.authorisation"), authorisationText(tr)],
      ["swarm", t("detail.swarm"), swarmText(p, tr)],
      ["pilot_est", t("detail.pilot_est"), pilotText(tr)],
      ["sensors", t("detail.sensors"), (tr.sensors ?? []).map((s) => (feedNames.get(s) ? `${feedNames.get(s)} (${s})` : s)).join(", ")],
      ["speed", t("detail.speed"), fmt.ms(tr.speed_ms, 1)],
      // With the course's own 1-σ uncertainty (the filter's velocity error across it): a fresh
      // track's heading may be tens of degrees off, and the breach it predicts with it.
      ["heading", t("detail.heading"), headingText(tr)],
      ["height", t("detail.height"), fmt.m(tr.alt_m)],
      ["climb", t("detail.climb"), fmt.ms(tr.climb_ms, 1)],
      ["zones", t("detail.zones"), (tr.zones_inside ?? []).join(", ")],
      ["breach", t("detail.breach"), tr.zones_inside?.length ? t("threats.inside") : fmt.secs(tr.time_to_breach_s)],
      ["position", t("detail.position"), fmt.latlon(tr.lat_deg, tr.lon_deg)],
      ["uncertainty", t("detail.uncertainty"), uncertainty],
      ["icao", t("detail.icao"), tr.icao],
      ["rf_protocol", t("detail.rf_protocol"), tr.rf_protocol],
      ["rf_serial", t("detail.rf_serial"), tr.rf_serial],
      ["rf_band", t("detail.rf_band"), band],
      ["make", t("detail.make"), tr.make_model],
      // The evidence for the make, a line each (serial's manufacturer code, RF link heard).
      ...(tr.make_evidence ?? []).map((line, i) => [`make_ev${i}`, i ? "" : t("detail.make_evidence"), line]),
      ["own", t("detail.own"), tr.own_asset],
    ]);

    const probs = tr.class_probs?.length ? tr.class_probs : [[tr.object_class, tr.class_prob]];
    sync(
      d.querySelector(".bars"),
      probs,
      ([label]) => label,
      () => el("div", { class: "bar" }, el("span", { class: "bar-label" }), el("span", { class: "bar-track" }, el("span", { class: "bar-fill" })), el("span", { class: "bar-value" })),
      (row, [label, prob]) => {
        row.dataset.label = label;
        setText(row.querySelector(".bar-label"), tv("class", label));
        row.querySelector(".bar-fill").style.width = `${Math.max(0, Math.min(100, prob * 100)).toFixed(1)}%`;
        setText(row.querySelector(".bar-value"), fmt.pct(prob));
      },
    );
    const reasons = tr.class_reasons ?? [];
    d.querySelector(".reasons-h").hidden = !reasons.length;
    sync(d.querySelector(".reasons"), reasons, (r) => r, (r) => el("li", { textContent: nodeText(r) }), () => {});

    const rid = (p.remote_ids ?? []).find((r) => (tr.uas_id && r.uas_id === tr.uas_id) || r.track_id === id);
    d.querySelector(".rid-none").hidden = !!rid;
    this.kv(
      d.querySelector(".d-rid .kv"),
      rid
        ? [
            ["uas_id", t("detail.uas_id"), rid.uas_id],
            ["operator_id", t("detail.operator_id"), rid.operator_id],
            ["pilot", t("detail.pilot"), fmt.latlon(rid.operator_lat_deg, rid.operator_lon_deg)],
            ["self_id", t("detail.self_id"), rid.self_id],
            ["ua_type", t("detail.ua_type"), rid.ua_type],
            ["mac", t("detail.mac"), rid.mac],
          ]
        : tr.uas_id
          ? [["uas_id", t("detail.uas_id"), tr.uas_id]]
          : [],
    );
    if (!rid && tr.uas_id) d.querySelector(".rid-none").hidden = true;
  }
}

