// The console's words in English and Dutch. `t(key, params)` looks a key up in the chosen
// language ({name} in a text is replaced by params.name); `tv(group, value)` translates an
// enum value the server sends (threat level, state, class, …) and shows an unknown value as it
// is. The choice is kept in localStorage; `<html lang>` follows it. Both dictionaries have the
// same keys (the browser tests check that).

const en = {
  "app.title": "Luchtwacht console",
  "login.user": "User",
  "login.password": "Password",
  "login.submit": "Log in",
  "login.refused": "login refused ({status})",
  "header.logout": "Log out",
  "header.replay": "Replay",
  "header.mute": "Mute",
  "header.unmute": "Unmute",
  "header.help": "Keyboard shortcuts (?)",
  "header.lang": "Nederlands",
  "header.lang_short": "NL",
  "link.connecting": "connecting…",
  "link.live": "live",
  "link.closed": "closed: {reason}",
  "link.login_again": "log in again",
  "link.reconnecting": "reconnecting ({reason})",
  "map.label": "Air picture",
  "alerts.title": "Alerts",
  "alerts.level": "Level",
  "alerts.track": "Track",
  "alerts.zone": "Zone",
  "alerts.what": "What",
  "alerts.state": "State",
  "alerts.ack_by": "ack {who}",
  "recs.title": "Recommendations",
  "recs.none": "No countermeasure recommended.",
  "recs.heading": "Track {track}: recommendation {rec}",
  "recs.second_person":
    "Second person needed: {effector} ({kind}) against track {track}, approved by {by}; lapses in {lapse}",
  "engs.title": "Engagements",
  "engs.id": "#",
  "engs.track": "Track",
  "engs.effector": "Effector",
  "engs.by": "By",
  "engs.state": "State",
  "engs.outcome": "Outcome",
  "threats.title": "Threats",
  "threats.track": "Track",
  "threats.class": "Class",
  "threats.threat": "Threat",
  "threats.range": "Range",
  "threats.alt": "Alt",
  "threats.speed": "Speed",
  "threats.breach": "Breach",
  "threats.inside": "inside",
  "threats.more": "{n} more tracks rank below these (on the map; click one for its detail)",
  "health.title": "Sensor and effector health",
  "health.feeds": "Feeds",
  "health.feed": "Feed",
  "health.state": "State",
  "health.decoded": "Decoded",
  "health.rejected": "Rejected",
  "health.shed": "Shed",
  "health.late": "Late",
  "health.last_rejection": "Last rejection",
  "health.nodes": "SAPIENT nodes",
  "health.node": "Node",
  "health.connected": "Connected",
  "health.system": "System",
  "health.status": "Status",
  "health.mode": "Mode",
  "health.effectors": "Effectors",
  "health.effector": "Effector",
  "health.kind": "Kind",
  "health.online": "Online",
  "health.shots": "Shots left",
  "health.busy": "Busy",
  "health.busy_with": "engagement {eng}",
  "health.none": "None reported.",
  "cmd.acknowledge": "Acknowledge",
  "cmd.approve": "Approve {effector}",
  "cmd.confirm": "Confirm",
  "cmd.reject": "Reject",
  "cmd.cease": "Cease",
  "cmd.dismiss": "Dismiss",
  "cmd.close": "Close",
  "reason.reject": "refused at the console",
  "reason.cease": "ceased at the console",
  "say.sent": "{kind}: sent, the node has not applied it yet",
  "say.refused": "{kind} refused: {error}",
  "say.acknowledged": "alert {alert} acknowledged",
  "say.approved": "{effector} approved against track {track}",
  "say.confirmed": "{effector} confirmed against track {track}",
  "say.rejected": "recommendation {rec} rejected",
  "say.ceased": "engagement {eng} ceased",
  "say.result": "{done} ({status}{eng})",
  "say.result_eng": ", engagement {eng}",
  "say.nothing_to_ack": "no alert to acknowledge",
  "say.nothing_to_approve": "no usable option to approve for the selected track",
  "say.nothing_to_confirm": "no approval awaits your confirmation",
  "say.nothing_to_reject": "no recommendation to reject for the selected track",
  "say.not_allowed": "your role may not {kind}",
  "say.read_only": "replay is read-only",
  "say.select_first": "select a track first (j/k or a click)",
  "detail.title": "Track {track}",
  "detail.class": "Class",
  "detail.class_probs": "Class probabilities",
  "detail.reasons": "Why",
  "detail.affiliation": "Affiliation",
  "detail.position": "Position",
  "detail.uncertainty": "Position uncertainty",
  "detail.ellipse": "{major} × {minor} m, axis {bearing}°",
  "detail.sigma": "σ {std} m",
  "detail.speed": "Speed",
  "detail.heading": "Heading",
  "detail.height": "Height",
  "detail.climb": "Climb",
  "detail.zones": "Zones inside",
  "detail.breach": "Time to breach",
  "detail.sensors": "Seen by",
  "detail.icao": "ICAO (Mode S)",
  "detail.rf_protocol": "RF protocol",
  "detail.rf_serial": "RF serial",
  "detail.rf_band": "RF band",
  "detail.make": "Make / model",
  "detail.make_evidence": "Make evidence",
  "detail.own": "Own asset",
  "detail.rid": "Remote ID",
  "detail.uas_id": "UAS ID",
  "detail.operator_id": "Operator ID",
  "detail.pilot": "Pilot position",
  "detail.self_id": "Self-ID",
  "detail.ua_type": "UA type",
  "detail.mac": "MAC",
  "detail.rid_none": "No Remote ID broadcast received.",
  "detail.rec": "Recommendation {rec}",
  "detail.alerts": "Alerts",
  "detail.gone": "The track has left the picture.",
  "opt.usable": "usable",
  "opt.not_usable": "not usable",
  "opt.effect_in": "effect in {s}",
  "opt.p_effect": "p {p} %",
  "opt.after_breach": "after breach",
  "opt.blocked": "Blocked",
  "opt.safety": "Safety",
  "opt.warnings": "Warning",
  "opt.collateral": "Collateral risk: it would also hit someone else",
  "opt.doubt": "Doubt: the track may not be what it seems",
  "unit.m": "{v} m",
  "unit.km": "{v} km",
  "unit.ms": "{v} m/s",
  "unit.s": "{v} s",
  "unit.deg": "{v}°",
  "unit.mhz": "{lo}–{hi} MHz",
  "yes": "yes",
  "no": "no",
  "cue.critical": "CRITICAL: track {track} in {zone}",
  "cue.more": "(+{n} more)",
  "cue.live": "LIVE —",
  "replay.banner": "REPLAY {time}",
  "replay.recording": "Recording",
  "replay.live_recording": "{name} (this run)",
  "replay.play": "Play",
  "replay.pause": "Pause",
  "replay.speed": "Speed",
  "replay.time": "Time",
  "replay.back": "Back to live",
  "replay.none": "No recording to replay.",
  "replay.unavailable": "Replay is not available: {error}",
  "help.title": "Keyboard shortcuts",
  "help.close": "Esc closes this",
  "help.nav": "j / k or ↓ / ↑: move the selection in the threat list",
  "help.open": "Enter: open the selected track's detail",
  "help.ack": "a: acknowledge the selected track's alert, else the newest unacknowledged one",
  "help.approve": "y: approve the selected track's best usable option (commander)",
  "help.confirm": "c: confirm the oldest approval awaiting a second person (not your own)",
  "help.reject": "r: reject the selected track's recommendation",
  "help.esc": "Esc: close the detail or this help; dismiss the alarm banner",
  "help.lang": "l: switch language (English / Nederlands)",
  "help.mute": "m: sound off / on",
  "help.help": "?: this help",
  "help.typing": "Shortcuts do nothing while you type in a field.",
  // Values the server sends, shown to people.
  "v.threat.none": "none",
  "v.threat.low": "low",
  "v.threat.medium": "medium",
  "v.threat.high": "high",
  "v.threat.critical": "critical",
  "v.alert.active": "active",
  "v.alert.acknowledged": "acknowledged",
  "v.alert.cleared": "cleared",
  "v.alertkind.breach": "breach",
  "v.alertkind.approach": "approach",
  "v.class.drone": "drone",
  "v.class.bird": "bird",
  "v.class.aircraft": "aircraft",
  "v.class.clutter": "clutter",
  "v.class.unknown": "unknown",
  "v.aff.hostile": "hostile",
  "v.aff.unknown": "unknown",
  "v.aff.friend": "friend",
  "v.aff.own": "own",
  "v.eng.approved": "approved",
  "v.eng.tasked": "tasked",
  "v.eng.engaging": "engaging",
  "v.eng.assessed": "assessed",
  "v.eng.refused": "refused",
  "v.eng.ceased": "ceased",
  "v.outcome.down": "down",
  "v.outcome.lost": "lost",
  "v.outcome.landing": "landing",
  "v.outcome.leaving": "leaving",
  "v.outcome.hovering": "hovering",
  "v.outcome.no_effect": "no effect",
  "v.status.approved": "approved",
  "v.status.awaiting confirmation": "awaiting confirmation",
  "v.status.confirmed": "confirmed",
  "v.feed.ok": "ok",
  "v.feed.waiting": "waiting",
  "v.feed.lost": "lost",
  "v.kind.rf_jammer": "RF jammer",
  "v.kind.gnss_jammer": "GNSS jammer",
  "v.kind.net": "net",
  "v.kind.interceptor": "interceptor",
  "v.kind.hard_kill": "hard kill",
  "v.cmd.acknowledge": "acknowledge",
  "v.cmd.approve": "approve",
  "v.cmd.confirm": "confirm",
  "v.cmd.reject": "reject",
  "v.cmd.cease": "cease",
  "v.role.viewer": "viewer",
  "v.role.operator": "operator",
  "v.role.commander": "commander",
  "v.role.admin": "administrator",
  // MapLibre's own control labels (mapLocale() gives them to new maplibregl.Map({locale}))
  "ml.AttributionControl.ToggleAttribution": "Toggle attribution",
  "ml.FullscreenControl.Enter": "Enter fullscreen",
  "ml.FullscreenControl.Exit": "Exit fullscreen",
  "ml.NavigationControl.ResetBearing": "Reset bearing to north",
  "ml.NavigationControl.ZoomIn": "Zoom in",
  "ml.NavigationControl.ZoomOut": "Zoom out",
  "ml.ScaleControl.Kilometers": "km",
  "ml.ScaleControl.Meters": "m",
  "ml.Popup.Close": "Close popup",
  // Words the map writes (map.js passes English words; word() looks them up here).
  "w.NO FIRE": "NO FIRE",
  "w.operator map": "operator map",
  "w.Types": "Types",
  "w.State": "State",
  "w.not connected": "not connected",
  "w.Mode": "Mode",
  "w.Range": "Range",
  "w.Looks": "Looks",
  "w.Kind": "Kind",
  "w.radar": "radar",
  "w.Pilot": "Pilot",
  "w.Remote ID": "Remote ID",
  "w.Operator": "Operator",
  "w.Track": "Track",
  "w.Class": "Class",
  "w.Threat": "Threat",
  "w.Affiliation": "Affiliation",
  "w.Altitude": "Altitude",
  "w.Speed": "Speed",
  "w.Zones": "Zones",
  "w.Mode S": "Mode S",
  "w.RF": "RF",
  "w.Sensors": "Sensors",
};

const nl = {
  "app.title": "Luchtwacht-console",
  "login.user": "Gebruiker",
  "login.password": "Wachtwoord",
  "login.submit": "Inloggen",
  "login.refused": "inloggen geweigerd ({status})",
  "header.logout": "Uitloggen",
  "header.replay": "Terugkijken",
  "header.mute": "Dempen",
  "header.unmute": "Geluid aan",
  "header.help": "Sneltoetsen (?)",
  "header.lang": "English",
  "header.lang_short": "EN",
  "link.connecting": "verbinden…",
  "link.live": "actueel",
  "link.closed": "gesloten: {reason}",
  "link.login_again": "log opnieuw in",
  "link.reconnecting": "opnieuw verbinden ({reason})",
  "map.label": "Luchtbeeld",
  "alerts.title": "Meldingen",
  "alerts.level": "Niveau",
  "alerts.track": "Spoor",
  "alerts.zone": "Zone",
  "alerts.what": "Wat",
  "alerts.state": "Staat",
  "alerts.ack_by": "gezien {who}",
  "recs.title": "Adviezen",
  "recs.none": "Geen tegenmaatregel geadviseerd.",
  "recs.heading": "Spoor {track}: advies {rec}",
  "recs.second_person":
    "Tweede persoon nodig: {effector} ({kind}) tegen spoor {track}, goedgekeurd door {by}; vervalt over {lapse}",
  "engs.title": "Inzetten",
  "engs.id": "nr.",
  "engs.track": "Spoor",
  "engs.effector": "Middel",
  "engs.by": "Door",
  "engs.state": "Staat",
  "engs.outcome": "Uitkomst",
  "threats.title": "Dreigingen",
  "threats.track": "Spoor",
  "threats.class": "Klasse",
  "threats.threat": "Dreiging",
  "threats.range": "Afstand",
  "threats.alt": "Hoogte",
  "threats.speed": "Snelheid",
  "threats.breach": "Inbreuk",
  "threats.inside": "binnen",
  "threats.more": "nog {n} sporen staan lager (op de kaart; klik er een aan voor de details)",
  "health.title": "Staat van sensoren en middelen",
  "health.feeds": "Bronnen",
  "health.feed": "Bron",
  "health.state": "Staat",
  "health.decoded": "Gelezen",
  "health.rejected": "Geweigerd",
  "health.shed": "Overgeslagen",
  "health.late": "Te laat",
  "health.last_rejection": "Laatste weigering",
  "health.nodes": "SAPIENT-knopen",
  "health.node": "Knoop",
  "health.connected": "Verbonden",
  "health.system": "Systeem",
  "health.status": "Status",
  "health.mode": "Modus",
  "health.effectors": "Middelen",
  "health.effector": "Middel",
  "health.kind": "Soort",
  "health.online": "Bereikbaar",
  "health.shots": "Schoten over",
  "health.busy": "Bezet",
  "health.busy_with": "inzet {eng}",
  "health.none": "Niets gemeld.",
  "cmd.acknowledge": "Gezien",
  "cmd.approve": "Keur {effector} goed",
  "cmd.confirm": "Bevestig",
  "cmd.reject": "Wijs af",
  "cmd.cease": "Staak",
  "cmd.dismiss": "Wegklikken",
  "cmd.close": "Sluiten",
  "reason.reject": "afgewezen in de console",
  "reason.cease": "gestaakt in de console",
  "say.sent": "{kind}: verstuurd, de knoop heeft het nog niet uitgevoerd",
  "say.refused": "{kind} geweigerd: {error}",
  "say.acknowledged": "melding {alert} gezien",
  "say.approved": "{effector} goedgekeurd tegen spoor {track}",
  "say.confirmed": "{effector} bevestigd tegen spoor {track}",
  "say.rejected": "advies {rec} afgewezen",
  "say.ceased": "inzet {eng} gestaakt",
  "say.result": "{done} ({status}{eng})",
  "say.result_eng": ", inzet {eng}",
  "say.nothing_to_ack": "geen melding om als gezien te markeren",
  "say.nothing_to_approve": "geen bruikbare optie om goed te keuren voor het gekozen spoor",
  "say.nothing_to_confirm": "geen goedkeuring wacht op uw bevestiging",
  "say.nothing_to_reject": "geen advies om af te wijzen voor het gekozen spoor",
  "say.not_allowed": "uw rol mag niet: {kind}",
  "say.read_only": "terugkijken is alleen-lezen",
  "say.select_first": "kies eerst een spoor (j/k of een klik)",
  "detail.title": "Spoor {track}",
  "detail.class": "Klasse",
  "detail.class_probs": "Kans per klasse",
  "detail.reasons": "Waarom",
  "detail.affiliation": "Herkenning",
  "detail.position": "Positie",
  "detail.uncertainty": "Onzekerheid positie",
  "detail.ellipse": "{major} × {minor} m, as {bearing}°",
  "detail.sigma": "σ {std} m",
  "detail.speed": "Snelheid",
  "detail.heading": "Koers",
  "detail.height": "Hoogte",
  "detail.climb": "Stijgen",
  "detail.zones": "Binnen zones",
  "detail.breach": "Tijd tot inbreuk",
  "detail.sensors": "Gezien door",
  "detail.icao": "ICAO (mode S)",
  "detail.rf_protocol": "RF-protocol",
  "detail.rf_serial": "RF-serienummer",
  "detail.rf_band": "RF-band",
  "detail.make": "Merk / model",
  "detail.make_evidence": "Bewijs merk",
  "detail.own": "Eigen middel",
  "detail.rid": "Remote ID",
  "detail.uas_id": "UAS-ID",
  "detail.operator_id": "Exploitant-ID",
  "detail.pilot": "Positie piloot",
  "detail.self_id": "Eigen omschrijving",
  "detail.ua_type": "Soort toestel",
  "detail.mac": "MAC-adres",
  "detail.rid_none": "Geen Remote ID-uitzending ontvangen.",
  "detail.rec": "Advies {rec}",
  "detail.alerts": "Meldingen",
  "detail.gone": "Het spoor is uit het beeld verdwenen.",
  "opt.usable": "bruikbaar",
  "opt.not_usable": "niet bruikbaar",
  "opt.effect_in": "effect over {s}",
  "opt.p_effect": "kans {p} %",
  "opt.after_breach": "na inbreuk",
  "opt.blocked": "Geblokkeerd",
  "opt.safety": "Veiligheid",
  "opt.warnings": "Waarschuwing",
  "opt.collateral": "Nevenschade: het raakt ook een ander",
  "opt.doubt": "Twijfel: het spoor is misschien niet wat het lijkt",
  "unit.m": "{v} m",
  "unit.km": "{v} km",
  "unit.ms": "{v} m/s",
  "unit.s": "{v} s",
  "unit.deg": "{v}°",
  "unit.mhz": "{lo}–{hi} MHz",
  "yes": "ja",
  "no": "nee",
  "cue.critical": "KRITIEK: spoor {track} in {zone}",
  "cue.more": "(+{n} meer)",
  "cue.live": "ACTUEEL —",
  "replay.banner": "TERUGKIJKEN {time}",
  "replay.recording": "Opname",
  "replay.live_recording": "{name} (deze sessie)",
  "replay.play": "Afspelen",
  "replay.pause": "Pauze",
  "replay.speed": "Tempo",
  "replay.time": "Tijd",
  "replay.back": "Terug naar actueel",
  "replay.none": "Geen opname om terug te kijken.",
  "replay.unavailable": "Terugkijken kan niet: {error}",
  "help.title": "Sneltoetsen",
  "help.close": "Esc sluit dit venster",
  "help.nav": "j / k of ↓ / ↑: selectie in de dreigingslijst verplaatsen",
  "help.open": "Enter: details van het gekozen spoor openen",
  "help.ack": "a: melding van het gekozen spoor als gezien markeren, anders de nieuwste",
  "help.approve": "y: beste bruikbare optie voor het gekozen spoor goedkeuren (commandant)",
  "help.confirm": "c: oudste goedkeuring die op een tweede persoon wacht bevestigen (niet uw eigen)",
  "help.reject": "r: advies voor het gekozen spoor afwijzen",
  "help.esc": "Esc: details of deze hulp sluiten; alarmbalk wegklikken",
  "help.lang": "l: taal wisselen (English / Nederlands)",
  "help.mute": "m: geluid uit / aan",
  "help.help": "?: deze hulp",
  "help.typing": "Sneltoetsen werken niet terwijl u in een veld typt.",
  "v.threat.none": "geen",
  "v.threat.low": "laag",
  "v.threat.medium": "middel",
  "v.threat.high": "hoog",
  "v.threat.critical": "kritiek",
  "v.alert.active": "actief",
  "v.alert.acknowledged": "gezien",
  "v.alert.cleared": "opgeheven",
  "v.alertkind.breach": "inbreuk",
  "v.alertkind.approach": "nadering",
  "v.class.drone": "drone",
  "v.class.bird": "vogel",
  "v.class.aircraft": "vliegtuig",
  "v.class.clutter": "ruis",
  "v.class.unknown": "onbekend",
  "v.aff.hostile": "vijandig",
  "v.aff.unknown": "onbekend",
  "v.aff.friend": "vriend",
  "v.aff.own": "eigen",
  "v.eng.approved": "goedgekeurd",
  "v.eng.tasked": "opgedragen",
  "v.eng.engaging": "bezig",
  "v.eng.assessed": "beoordeeld",
  "v.eng.refused": "geweigerd",
  "v.eng.ceased": "gestaakt",
  "v.outcome.down": "neergehaald",
  "v.outcome.lost": "kwijt",
  "v.outcome.landing": "landt",
  "v.outcome.leaving": "vertrekt",
  "v.outcome.hovering": "blijft hangen",
  "v.outcome.no_effect": "geen effect",
  "v.status.approved": "goedgekeurd",
  "v.status.awaiting confirmation": "wacht op bevestiging",
  "v.status.confirmed": "bevestigd",
  "v.feed.ok": "goed",
  "v.feed.waiting": "wacht",
  "v.feed.lost": "weg",
  "v.kind.rf_jammer": "RF-stoorzender",
  "v.kind.gnss_jammer": "GNSS-stoorzender",
  "v.kind.net": "net",
  "v.kind.interceptor": "onderscheppingsdrone",
  "v.kind.hard_kill": "vernietiging",
  "v.cmd.acknowledge": "gezien melden",
  "v.cmd.approve": "goedkeuren",
  "v.cmd.confirm": "bevestigen",
  "v.cmd.reject": "afwijzen",
  "v.cmd.cease": "staken",
  "v.role.viewer": "kijker",
  "v.role.operator": "operator",
  "v.role.commander": "commandant",
  "v.role.admin": "beheerder",
  "ml.AttributionControl.ToggleAttribution": "Bronvermelding tonen/verbergen",
  "ml.FullscreenControl.Enter": "Volledig scherm",
  "ml.FullscreenControl.Exit": "Volledig scherm verlaten",
  "ml.NavigationControl.ResetBearing": "Noorden boven",
  "ml.NavigationControl.ZoomIn": "Inzoomen",
  "ml.NavigationControl.ZoomOut": "Uitzoomen",
  "ml.ScaleControl.Kilometers": "km",
  "ml.ScaleControl.Meters": "m",
  "ml.Popup.Close": "Venster sluiten",
  "w.NO FIRE": "NIET VUREN",
  "w.operator map": "kaart van de exploitant",
  "w.Types": "Soorten",
  "w.State": "Staat",
  "w.not connected": "niet verbonden",
  "w.Mode": "Modus",
  "w.Range": "Bereik",
  "w.Looks": "Kijkt",
  "w.Kind": "Soort",
  "w.radar": "radar",
  "w.Pilot": "Piloot",
  "w.Remote ID": "Remote ID",
  "w.Operator": "Exploitant",
  "w.Track": "Spoor",
  "w.Class": "Klasse",
  "w.Threat": "Dreiging",
  "w.Affiliation": "Herkenning",
  "w.Altitude": "Hoogte",
  "w.Speed": "Snelheid",
  "w.Zones": "Zones",
  "w.Mode S": "Mode S",
  "w.RF": "RF",
  "w.Sensors": "Sensoren",
};

// --- what the node writes -------------------------------------------------------------------
// Alert messages, option blocks and warnings, the classifier's reasons and refusals come from
// the node in English, made from the templates of src/luchtwacht/texts.py (GET /api/texts).
// `nodeText(s)` finds the template `s` was made from and fills in its translation below with
// the same fields; field values that are words of the node's vocabulary are translated too.
// A sentence of no known template (or a language without a translation) shows as sent.
// tests/console/test_texts.py checks that every template has a translation with its fields.

export const NODE_TEXTS = {
  nl: {
    "alert.breach_coop": "Spoor {track}: coöperatieve drone {uas} in {zone} op {height} m",
    "alert.breach": "Spoor {track}: niet-coöperatieve drone in {zone} op {height} m",
    "alert.approach_coop": "Spoor {track}: coöperatieve drone {uas} komt naar verwachting over {s} s in {zone}",
    "alert.approach": "Spoor {track}: niet-coöperatieve drone komt naar verwachting over {s} s in {zone}",
    "alert.breach_unauth": "Spoor {track}: niet-geautoriseerde Remote ID-drone {uas} in {zone} op {height} m",
    "alert.approach_unauth": "Spoor {track}: niet-geautoriseerde Remote ID-drone {uas} komt naar verwachting over {s} s in {zone}",
    "alert.swarm_approach": "Zwerm {swarm}: {n} drones komen naar verwachting over {s} s in {zone}",
    "alert.swarm_breach": "Zwerm {swarm}: {n} drones, waarvan {k} in {zone}",
    "alert.spoof_unseen": "Remote ID {uas}: opgegeven positie al {s} s niet door de radar gezien, geen onafhankelijk spoor",
    "alert.spoof_unseen_near": "Remote ID {uas}: opgegeven positie al {s} s niet door de radar gezien; dichtstbijzijnde onafhankelijke spoor {track} ligt op {dist} m",
    "alert.spoof_far": "Spoor {track}: zijn Remote ID {uas} geeft al {s} s een positie op {dist} m afstand op",
    "opt.offline": "effectornode offline",
    "opt.empty": "magazijn leeg",
    "opt.busy": "bezig met inzet {eng}",
    "opt.out_of_reach": "niet binnen {s} s te bereiken",
    "opt.min_range": "binnen de minimale afstand",
    "opt.line_of_fire": "spoor {track} in de vuurlijn",
    "opt.gnss_manned": "bemand luchtvaartuig {icao} binnen bereik van de GNSS-storing",
    "opt.gnss_manned_track": "bemand luchtvaartuig (spoor {track}) binnen bereik van de GNSS-storing",
    "opt.jam_coop": "zou ook coöperatieve drone {uas} storen",
    "opt.jam_coop_track": "zou ook coöperatieve drone (spoor {track}) storen",
    "opt.debris": "brokstukken zouden in verboden-vuurgebied {area} vallen",
    "opt.net_no_fire": "net zou in verboden-vuurgebied {area} neerkomen",
    "opt.no_link": "geen besturingsverbinding gehoord door de RF-detectoren: autonoom?",
    "opt.fingerprinted": "verbinding herkend: {protocol}",
    "opt.band": "verbinding op {mhz} MHz valt buiten de banden",
    "opt.no_effect": "{kind} had eerder geen effect op dit spoor",
    "rec.inside": "in {zone}",
    "rec.due": "inbreuk over {s} s; {effector} heeft {effect} s nodig + {react} s om goed te keuren",
    "rec.no_option": "inbreuk over {s} s; nog geen bruikbare optie",
    "reason.remoteid": "zendt Remote ID uit",
    "reason.adsb": "Mode S-/ADS-B-transponder",
    "reason.rf": "RF-verbinding {protocol} gehoord",
    "reason.sensors_report": "sensoren melden {cls} in plaats van {cls2}",
    "reason.sensors_lean": "sensoren neigen naar {cls}",
    "reason.hover": "hangt stil, {height} m boven het terrein",
    "reason.hover_like": "hangt stil, {height} m boven het terrein: vliegt als {a_cls}",
    "reason.hover_more": "hangt stil, {height} m boven het terrein: eerder {a_cls}",
    "reason.speed": "{speed} m/s, {height} m boven het terrein",
    "reason.speed_like": "{speed} m/s, {height} m boven het terrein: vliegt als {a_cls}",
    "reason.speed_more": "{speed} m/s, {height} m boven het terrein: eerder {a_cls}",
    "reason.hovered": "hing {s} s stil",
    "reason.flown": "vloog {s} s: geen clutter",
    "reason.flies_with": "vliegt met {n} andere op {speed} m/s",
    "reason.climbs": "klimt {rate} m/s",
    "reason.descends": "daalt {rate} m/s",
    "reason.steady": "hield {s} s koers en snelheid",
    "reason.weaves": "slingert, draait {turn}°/s",
    "err.queue_full": "te veel opdrachten in de wachtrij: probeer het opnieuw",
    "err.no_camera": "geen camera {camera} om te richten",
    "err.no_track": "geen spoor {track}",
    "err.no_effectors": "geen effectoren op deze locatie",
    "err.not_pending": "aanbeveling {rec} wacht niet op een besluit",
    "err.no_option": "aanbeveling {rec} heeft geen optie {effector}",
    "err.cannot_engage": "{effector} kan niet inzetten: {blocks}",
    "err.track_gone": "spoor {track} wordt niet meer gevolgd",
    "err.friend": "spoor {track} is nu een vriend: geen inzet",
    "err.not_active": "inzet {eng} is niet actief",
    "err.no_rec": "geen aanbeveling {rec}",
    "err.rec_state": "aanbeveling {rec} is {state}",
    "err.awaits_second": "aanbeveling {rec} wacht al op een tweede goedkeuring ({effector}, goedgekeurd door {by})",
    "err.too_many_held": "te veel goedkeuringen wachten op bevestiging",
    "err.none_held": "geen goedkeuring van aanbeveling {rec} wacht op bevestiging",
    "err.other_effector": "aanbeveling {rec} wacht op bevestiging van {effector}, niet van {other}",
    "err.same_person": "de tweede goedkeuring moet van een ander persoon komen",
    "err.window_expired": "bevestigingstermijn verstreken",
    "auth.wrong": "onbekende gebruiker of verkeerd wachtwoord",
    "auth.backed_off": "te veel mislukte aanmeldingen vanaf dit adres; probeer het opnieuw na {time}",
    "auth.disabled": "account uitgeschakeld",
    "auth.unknown_session": "onbekende sessie",
    "auth.expired": "sessie verlopen",
    "auth.role": "rol {role} mag niet {permission}",
    "web.log_in": "meld u eerst aan",
    "web.role": "uw rol mag niet {permission}",
    "web.session": "sessie onbekend of verlopen: meld u opnieuw aan",
    "web.csrf": "CSRF-token ontbreekt of is onjuist",
    "web.no_track": "geen spoor {track} in het beeld",
    "web.no_picture": "nog geen beeld: de node heeft nog niets gepubliceerd",
  },
};

// Field values the node writes from its vocabulary: classes, kinds, states, roles, rights.
export const NODE_WORDS = {
  nl: {
    drone: "drone",
    bird: "vogel",
    aircraft: "vliegtuig",
    clutter: "ruis",
    "a drone": "een drone",
    "a bird": "een vogel",
    "an aircraft": "een vliegtuig",
    "a clutter": "ruis",
    rf_jammer: "RF-stoorzender",
    gnss_jammer: "GNSS-stoorzender",
    net: "net",
    interceptor: "onderscheppingsdrone",
    hard_kill: "vernietiging",
    pending: "in afwachting",
    approved: "goedgekeurd",
    rejected: "afgewezen",
    expired: "verlopen",
    viewer: "kijker",
    operator: "operator",
    commander: "commandant",
    admin: "beheerder",
    view: "kijken",
    acknowledge: "meldingen afhandelen",
    approve_engagement: "een inzet goedkeuren",
    reject_engagement: "een inzet afwijzen",
    cease_engagement: "een inzet staken",
    task_sensor: "een sensor richten",
    manage_operators: "operators beheren",
  },
};

let nodePatterns = []; // [{code, re}] most specific first, from the node's templates
const recognised = new Map(); // sentence → {code, args} | null, bounded

// The node's English templates ({code: template}): each becomes an anchored pattern.
export function setNodeTemplates(templates) {
  const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  nodePatterns = Object.entries(templates ?? {})
    .map(([code, tpl]) => {
      const parts = tpl.split(/\{(\w+)\}/);
      const src = parts.map((p, i) => (i % 2 ? `(?<${p}>.+?)` : escape(p))).join("");
      const literal = parts.filter((_, i) => i % 2 === 0).join("").length;
      return { code, re: new RegExp(`^${src}$`, "s"), literal };
    })
    .sort((a, b) => b.literal - a.literal);
  recognised.clear();
  for (const fn of listeners) fn(current); // what was drawn in English is drawn again
}

function recognise(text) {
  if (recognised.has(text)) return recognised.get(text);
  let hit = null;
  for (const { code, re } of nodePatterns) {
    const m = re.exec(text);
    if (m) {
      hit = { code, args: { ...m.groups } };
      break;
    }
  }
  if (recognised.size > 5000) recognised.clear();
  recognised.set(text, hit);
  return hit;
}

function nodeArg(name, value) {
  if (name === "blocks") return value.split("; ").map(nodeText).join("; ");
  return NODE_WORDS[current]?.[value] ?? value;
}

// A sentence the node wrote, in the chosen language (as sent when it has no translation).
export function nodeText(text) {
  const texts = NODE_TEXTS[current];
  if (!texts || text == null || text === "") return text ?? "";
  const hit = recognise(String(text));
  const tpl = hit && texts[hit.code];
  if (!tpl) return text;
  return tpl.replace(/\{(\w+)\}/g, (m, name) => (name in hit.args ? nodeArg(name, hit.args[name]) : m));
}

export const DICTIONARIES = { en, nl };
export const LANGUAGES = ["en", "nl"];
const STORE_KEY = "luchtwacht.lang";

function initial() {
  let saved = null;
  try {
    saved = localStorage.getItem(STORE_KEY);
  } catch {
    // storage refused (private mode): the browser's language then
  }
  if (LANGUAGES.includes(saved)) return saved;
  return (navigator.language || "").toLowerCase().startsWith("nl") ? "nl" : "en";
}

let current = initial();
const listeners = new Set();

export const lang = () => current;

// The text of `key` in the chosen language, with {name} filled from params.
export function t(key, params = {}) {
  const text = DICTIONARIES[current][key] ?? en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name] ?? "") : m));
}

// An enum value from the server, translated when the dictionary knows it, else shown as sent.
export function tv(group, value) {
  if (value == null || value === "") return "";
  const key = `v.${group}.${value}`;
  return key in DICTIONARIES[current] ? DICTIONARIES[current][key] : String(value);
}

// A word the map writes, given in English: its translation when the dictionary has it.
export function word(w) {
  const key = `w.${w}`;
  return key in DICTIONARIES[current] ? DICTIONARIES[current][key] : w;
}

// MapLibre's control labels in the chosen language, for `new maplibregl.Map({locale})`.
export function mapLocale() {
  const out = {};
  for (const [key, text] of Object.entries(DICTIONARIES[current]))
    if (key.startsWith("ml.")) out[key.slice(3)] = text;
  return out;
}

// Fill every element under `root` that names a key: data-i18n (text), data-i18n-title,
// data-i18n-aria (aria-label), data-i18n-placeholder.
export function applyStatic(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
  for (const node of root.querySelectorAll("[data-i18n-aria]"))
    node.setAttribute("aria-label", t(node.dataset.i18nAria));
  for (const node of root.querySelectorAll("[data-i18n-placeholder]"))
    node.placeholder = t(node.dataset.i18nPlaceholder);
  document.documentElement.lang = current;
  document.title = t("app.title");
}

export function setLang(next) {
  if (!LANGUAGES.includes(next) || next === current) return;
  current = next;
  try {
    localStorage.setItem(STORE_KEY, next);
  } catch {
    // not kept: the choice holds for this page only
  }
  applyStatic();
  for (const fn of listeners) fn(current);
}

export const toggleLang = () => setLang(current === "en" ? "nl" : "en");

export function onLang(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
