// The station map (/map): Leaflet from this server, stations from /api/board, kept live by
// /api/events (server-sent events) as the board is. Records carry a revision: an older copy never
// replaces a newer one. Every word a station sent goes in with textContent, never as HTML.
"use strict";
(() => {
  const root = document.getElementById("map");
  if (!root) return;
  const config = JSON.parse(root.dataset.config || "{}");
  const lang = (document.body.dataset.lang || root.dataset.lang || "zh") === "en" ? "en" : "zh";
  const tz = document.body.dataset.tz || undefined;
  const WORDS = {
    online: ["在线", "online"], offline: ["离线", "offline"], unknown: ["未上报", "no status yet"], alarm: ["告警", "alarm"],
    open: ["未解除告警", "open alarm"], page: ["站点详情", "station page"], seen: ["最后上报", "last seen"],
    info: ["提示", "info"], warning: ["预警", "warning"], danger: ["危险", "danger"], critical: ["紧急", "critical"],
  };
  const KINDS = {
    water_level: "水位", flash_flood: "山洪", fire: "火情", smoke: "烟雾", person_in_water_zone: "有人涉水",
    possible_submersion: "疑似溺水", sensor_stale: "传感器无数据", disk_full: "磁盘满", outbox_full: "缓存满",
  };
  const SEVERITY = { info: 0, warning: 1, danger: 2, critical: 3 };
  const say = (key) => (WORDS[key] || [key, key])[lang === "en" ? 1 : 0];
  const DATE_TIME = new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "zh-CN", {
    timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  });
  const state = { stations: new Map(), alarms: new Map(), rev: 0 };
  const markers = new Map();  // station -> { marker, key }
  const L = window.L;
  let map = null, fitted = false;

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, String(v));
    for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }
  const upsert = (m, key, rec) => { const old = m.get(key); if (!old || rec.rev >= old.rev) m.set(key, rec); };
  const label = (s) => (s.labels && s.labels.station) || s.name || s.station;
  const place = (s) => [(s.labels && s.labels.town) || s.town_name || s.town, (s.labels && s.labels.village) || s.village_name || s.village]
    .filter(Boolean).join(" · ");
  const kindLabel = (a) => a.kind_label || (lang === "zh" && KINDS[a.alarm]) || a.alarm.replace(/_/g, " ");
  const hasPlace = (s) => Number.isFinite(s.lat) && Number.isFinite(s.lon);

  function worstOpen(station) {
    let worst = null;
    for (const a of state.alarms.values()) {
      if (a.station !== station || a.state === "cleared") continue;
      if (!worst || (SEVERITY[a.severity] || 0) > (SEVERITY[worst.severity] || 0)) worst = a;
    }
    return worst;
  }
  function status(s, alarm) {
    if (s.online === null || s.online === undefined) return "unknown";
    if (!s.online) return "offline";
    return alarm ? alarm.severity : "online";
  }
  const COLOURS = { online: "#2fa84f", offline: "#6b7280", unknown: "#60a5fa", info: "#2fa84f", warning: "#eab308", danger: "#f97316", critical: "#dc2626" };

  function popup(s, alarm, st) {
    const link = el("a", { href: "/stations/" + s.station.split("/").map(encodeURIComponent).join("/") }, say("page"));
    return el("div", { class: "popup", "data-station": s.station },
      el("div", { class: "popup-name" }, label(s)),
      el("div", { class: "popup-place" }, place(s)),
      el("div", { class: "popup-status", "data-status": st }, s.online === false ? say("offline") : s.online ? say("online") : say("unknown"),
        s.last_seen ? ` · ${say("seen")} ${DATE_TIME.format(s.last_seen * 1000)}` : ""),
      alarm ? el("div", { class: "popup-alarm" }, `${say("open")}: ${alarm.severity_label || say(alarm.severity)} ${kindLabel(alarm)} `,
        el("span", {}, alarm.text || alarm.summary || "")) : null,
      el("div", {}, link));
  }

  function drawMarker(s) {
    // updated in place, never re-created: an operator's open popup stays open while the station reports
    const alarm = s.online === false ? null : worstOpen(s.station);
    const st = status(s, alarm);
    const key = `${s.rev}|${st}|${alarm ? alarm.rev : 0}|${s.lat},${s.lon}`;
    let had = markers.get(s.station);
    if (had && had.key === key) return st;
    const look = { radius: ["online", "offline", "unknown"].includes(st) ? 8 : 11, color: "#111", weight: 1.5,
      fillColor: COLOURS[st] || COLOURS.unknown, fillOpacity: 0.9 };
    if (!had) {
      const marker = L.circleMarker([s.lat, s.lon], look).bindPopup("").bindTooltip("").addTo(map);
      had = { marker, key: "" };
      markers.set(s.station, had);
    } else {
      had.marker.setLatLng([s.lat, s.lon]).setStyle(look).setRadius(look.radius);
    }
    had.marker.setPopupContent(popup(s, alarm, st)).setTooltipContent(el("span", {}, label(s)));
    const path = had.marker.getElement();
    if (path) {
      path.setAttribute("class", `leaflet-interactive station-marker status-${st}`);
      path.setAttribute("data-station", s.station);
      path.setAttribute("data-status", st);
    }
    had.key = key;
    return st;
  }

  function render() {
    const counts = { online: 0, offline: 0, alarm: 0 };
    const unplaced = [];
    const seen = new Set();
    for (const s of [...state.stations.values()].sort((a, b) => a.station.localeCompare(b.station))) {
      const alarm = s.online === false ? null : worstOpen(s.station);
      const st = status(s, alarm);
      if (s.online === false) counts.offline++; else if (s.online) counts.online++;
      if (alarm) counts.alarm++;
      if (map && hasPlace(s)) { drawMarker(s); seen.add(s.station); } else unplaced.push([s, st, alarm]);
    }
    for (const [station, m] of markers) if (!seen.has(station)) { m.marker.remove(); markers.delete(station); }
    for (const [k, v] of Object.entries(counts)) document.getElementById(`count-${k}`).textContent = v;
    document.getElementById("unplaced-count").textContent = unplaced.length;
    document.getElementById("map-unplaced").replaceChildren(...unplaced.map(([s, st, alarm]) => el("li", { "data-station": s.station, "data-status": st },
      el("span", { class: `dot ${st}` }), " ",
      el("a", { href: "/stations/" + s.station.split("/").map(encodeURIComponent).join("/") }, label(s)), " ",
      el("span", { class: "dim" }, alarm ? `${alarm.severity_label || say(alarm.severity)} ${kindLabel(alarm)}` : say(st in WORDS ? st : "alarm")))));
    if (map && !fitted && markers.size && !config.outline) {
      map.fitBounds(L.featureGroup([...markers.values()].map((m) => m.marker)).getBounds(), { maxZoom: 14, padding: [30, 30] });
      fitted = true;
    }
  }

  async function load() {
    const r = await fetch("/api/board", { credentials: "same-origin" });
    if (r.status === 401) { location.href = "/login"; return; }
    const b = await r.json();
    const fresh = (old) => new Map([...old].filter(([, rec]) => rec.rev > b.rev));
    const stations = fresh(state.stations), alarms = fresh(state.alarms);
    b.stations.forEach((s) => upsert(stations, s.station, s));
    b.alarms.forEach((a) => upsert(alarms, a.key, a));
    Object.assign(state, { stations, alarms, rev: b.rev });
    render();
  }

  let pending = null;
  const schedule = () => { if (!pending) pending = setTimeout(() => { pending = null; render(); }, 100); };
  function listen() {
    const es = new EventSource("/api/events");
    es.addEventListener("open", () => load());
    es.addEventListener("logout", () => { location.href = "/login"; });
    es.addEventListener("station", (e) => { const s = JSON.parse(e.data); upsert(state.stations, s.station, s); schedule(); });
    es.addEventListener("alarm", (e) => { const a = JSON.parse(e.data); upsert(state.alarms, a.key, a); schedule(); });
  }

  async function start() {
    if (!L) {
      document.getElementById("map-missing-leaflet").hidden = false;
      root.hidden = true;
    } else {
      map = L.map(root, { zoomControl: true, attributionControl: true }).setView([35, 105], 4);
      if (config.tiles) {
        const escape = (t) => t.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);  // Leaflet writes attributions as HTML
        L.tileLayer(config.tiles, { maxZoom: 18, attribution: escape(config.attribution || "") }).addTo(map);
      }
      if (config.outline) {
        const r = await fetch("/map/outline.geojson", { credentials: "same-origin" });
        if (r.ok) {
          const layer = L.geoJSON(await r.json(), {
            style: { color: "#93c5fd", weight: 2, fillColor: "#1e3a5f", fillOpacity: 0.25 }, interactive: false,
            pointToLayer: (feature, at) => L.circleMarker(at, { radius: 3, interactive: false }),  // no icon images
          });
          layer.addTo(map);
          map.fitBounds(layer.getBounds(), { padding: [10, 10] });
          root.dataset.outline = "drawn";
        }
      }
    }
    listen();
    setInterval(load, 5 * 60 * 1000);  // the full board again: forgets what the server forgot
  }
  start();
})();
