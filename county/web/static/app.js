// The county board in the browser: load /api/board once, then apply live records from
// /api/events (server-sent events). Records carry a revision; an older copy never replaces a
// newer one. Everything is built with DOM nodes and textContent: no station text is ever HTML.
"use strict";

const SEVERITY = { info: 0, warning: 1, danger: 2, critical: 3 };
const LABEL = {
  water_level: "水位 water level", flash_flood: "山洪 flash flood", fire: "火情 fire", smoke: "烟雾 smoke",
  person_in_water_zone: "有人涉水 person in water zone", possible_submersion: "疑似溺水 possible submersion", sensor_stale: "传感器无数据 sensor stale",
  disk_full: "磁盘满 disk full", outbox_full: "缓存满 outbox full",
};
const STATE = { raised: "新告警 raised", updated: "更新 updated", acked: "已确认 acked", cleared: "已解除 cleared" };
const state = { stations: new Map(), alarms: new Map(), commands: new Map(), notices: new Map(), offset: 0 };
const MAX_NOTICES_KEPT = 300;
const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
const page = document.body.dataset.page;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  return node;
}

const now = () => Date.now() / 1000 + state.offset;
// one formatter each, made once: building one per call cost 30x more than formatting (bench.web)
const TIME = new Intl.DateTimeFormat("zh-CN", { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
const DATE_TIME = new Intl.DateTimeFormat("zh-CN", { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
function when(epoch) {
  if (!epoch) return "-";
  const midnight = new Date();
  midnight.setHours(0, 0, 0, 0);
  return (epoch * 1000 >= midnight.getTime() ? TIME : DATE_TIME).format(epoch * 1000);
}
const MAX_ENDED_SHOWN = 200;  // open alarms always; of the ended ones, the newest
const RESYNC_MS = 5 * 60 * 1000;  // the full board again: forgets what the server forgot
function span(seconds) {
  if (seconds === null || seconds === undefined || seconds < 0) return "-";
  if (seconds < 90) return `${Math.round(seconds)} 秒 s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} 分 min`;
  return `${(seconds / 3600).toFixed(1)} 时 h`;
}
function upsert(map, key, rec) {
  const old = map.get(key);
  if (!old || rec.rev >= old.rev) map.set(key, rec);
}

async function load() {
  const r = await fetch("/api/board", { credentials: "same-origin" });
  if (r.status === 401) { location.href = "/login"; return; }
  const b = await r.json();
  state.offset = b.now - Date.now() / 1000;
  // the server's board replaces ours (it prunes what ended long ago); a live record newer than it stays
  const fresh = (old) => new Map([...old].filter(([, rec]) => rec.rev > b.rev));
  const stations = fresh(state.stations), alarms = fresh(state.alarms), commands = fresh(state.commands), notices = fresh(state.notices);
  b.notices.forEach((n) => upsert(notices, n.key, n));
  b.stations.forEach((s) => upsert(stations, s.station, s));
  b.alarms.forEach((a) => upsert(alarms, a.key, a));  // key: station#event_id (a station names only its own alarms)
  b.commands.forEach((c) => upsert(commands, c.command_id, c));
  Object.assign(state, { stations, alarms, commands, notices });
  setLink(b.broker);
  render();
}

function setLink(brokerUp, streamUp = true) {
  const link = document.getElementById("link");
  if (!link) return;
  link.className = "link " + (!streamUp ? "down" : brokerUp ? "up" : "broker-down");
  link.title = !streamUp ? "与服务器断开 lost the server; reconnecting" : brokerUp ? "实时 live" : "服务器连不上消息服务器 server cannot reach the broker";
}

function listen() {
  const es = new EventSource("/api/events");
  es.addEventListener("open", () => load());
  es.addEventListener("error", () => setLink(false, false));
  es.addEventListener("link", (e) => setLink(JSON.parse(e.data).broker));
  es.addEventListener("logout", () => { location.href = "/login"; });
  es.addEventListener("station", (e) => { const s = JSON.parse(e.data); upsert(state.stations, s.station, s); schedule(); });
  es.addEventListener("alarm", (e) => {
    const a = JSON.parse(e.data);
    upsert(state.alarms, a.key, a);
    if (a.state === "cleared") forgetEnded();
    schedule();
  });
  es.addEventListener("notice", (e) => {
    const n = JSON.parse(e.data);
    upsert(state.notices, n.key, n);
    if (state.notices.size > MAX_NOTICES_KEPT) state.notices.delete(state.notices.keys().next().value);
    schedule();
  });
  es.addEventListener("command", (e) => { const c = JSON.parse(e.data); upsert(state.commands, c.command_id, c); schedule(); });
}

// the page keeps open alarms and the newest ended ones it shows, nothing more
function forgetEnded() {
  const ended = [...state.alarms.values()].filter((a) => a.state === "cleared");
  if (ended.length <= MAX_ENDED_SHOWN) return;
  ended.sort((a, b) => (b.cleared_at || 0) - (a.cleared_at || 0)).slice(MAX_ENDED_SHOWN).forEach((a) => state.alarms.delete(a.key));
}

let pending = false;
function schedule() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => { pending = false; render(); });
}

function stationName(path) {
  const s = state.stations.get(path);
  return (s && s.name) || path.split("/").pop();
}

// ------------------------------------------------------------------ alarms

function alarmOrder(a, b) {
  if (a.state === "cleared" !== (b.state === "cleared")) return a.state === "cleared" ? 1 : -1;
  if (a.state !== "cleared" && SEVERITY[b.severity] !== SEVERITY[a.severity]) return SEVERITY[b.severity] - SEVERITY[a.severity];
  return (b.raised_at || 0) - (a.raised_at || 0);
}

function lifecycle(a) {
  const parts = [el("span", { class: "state " + a.state }, STATE[a.state] || a.state)];
  if (a.acked_at || a.acked_by) parts.push(el("span", { class: "acked-by" }, ` ✔ ${a.acked_by || ""} ${when(a.acked_at)}`));
  if (a.cleared_at) parts.push(el("span", { class: "cleared-at" }, ` ⏹ ${when(a.cleared_at)}`));
  return parts;
}

const alarmHref = (a) => `/alarms/${encodeURIComponent(a.event_id)}?station=${encodeURIComponent(a.station)}`;

function ackButton(a) {
  if (a.state === "cleared" || a.state === "acked") return null;
  return el("button", { class: "ack", "data-event-id": a.event_id, onclick: (ev) => ack(a, ev.currentTarget) }, "确认 Ack");
}

// how long an alarm has lasted (until now while open), and how long ago a station was heard: texts refreshed in place
function lasted(a) {
  const end = a.cleared_at || now();
  return span(end - (a.raised_at || end));
}
const seenText = (s) => ` · ${span(s.last_seen ? now() - s.last_seen : null)}`;

function alarmRow(a) {
  return el("tr", { class: `alarm ${a.severity} ${a.state}`, "data-event-id": a.event_id, "data-state": a.state, "data-station": a.station },
    el("td", {}, el("span", { class: "sev " + a.severity }, a.severity)),
    el("td", {}, el("a", { href: alarmHref(a) }, LABEL[a.alarm] || a.alarm), el("div", { class: "summary" }, a.summary)),
    el("td", {}, el("a", { href: `/stations/${a.station}` }, stationName(a.station)), el("div", { class: "source" }, a.source)),
    el("td", {}, when(a.raised_at)),
    el("td", { class: "duration" }, lasted(a)),
    el("td", {}, lifecycle(a)),
    el("td", {}, a.snapshot_sha256 ? el("a", { href: alarmHref(a) }, el("img", { class: "thumb", src: `/snapshot/${encodeURIComponent(a.event_id)}?station=${encodeURIComponent(a.station)}`, alt: "snapshot", loading: "lazy" })) : "-"),
    el("td", {}, ackButton(a)));
}

// rows and tiles are rebuilt only when their record changed; the rest is moved or has its clock text updated
const rowCache = new Map();  // alarm key -> {key, row}
function renderAlarms(filter) {
  const table = document.getElementById("alarms");
  if (!table) return;
  const mine = [...state.alarms.values()].filter(filter);
  const ended = mine.filter((a) => a.state === "cleared").sort((a, b) => (b.cleared_at || 0) - (a.cleared_at || 0));
  const alarms = mine.filter((a) => a.state !== "cleared").concat(ended.slice(0, MAX_ENDED_SHOWN)).sort(alarmOrder);
  const body = table.querySelector("tbody");
  const rows = alarms.map((a) => {
    const key = `${a.rev}|${stationName(a.station)}`;
    let cached = rowCache.get(a.key);
    if (!cached || cached.key !== key) {
      const row = alarmRow(a);
      const old = cached && cached.row.querySelector("img.thumb");  // keep a loaded thumbnail instead of fetching it again
      const img = row.querySelector("img.thumb");
      if (old && img && old.complete && old.naturalWidth) img.replaceWith(old);
      cached = { key, row };
      rowCache.set(a.key, cached);
    } else {
      const cell = cached.row.querySelector("td.duration");
      const text = lasted(a);
      if (cell.textContent !== text) cell.textContent = text;
    }
    return cached.row;
  });
  const shown = new Set(alarms.map((a) => a.key));
  for (const id of rowCache.keys()) if (!shown.has(id)) rowCache.delete(id);
  // move only the rows that are out of place: re-inserting them all costs a whole table layout
  rows.forEach((row, i) => { if (body.children[i] !== row) body.insertBefore(row, body.children[i] || null); });
  while (body.children.length > rows.length) body.lastElementChild.remove();
  const open = alarms.filter((a) => a.state !== "cleared").length;
  const unacked = alarms.filter((a) => a.state === "raised" || a.state === "updated").length;
  document.title = (unacked ? `(${unacked}) ` : "") + document.title.replace(/^\(\d+\) /, "");
  const count = document.getElementById("open-count");
  if (count) count.textContent = `${open} 进行中 open`;
  const empty = document.getElementById("alarms-empty");
  if (empty) empty.hidden = alarms.length > 0;
}

// ------------------------------------------------------------------ stations

function stationTile(s, openAlarms) {
  const status = s.online === null ? "unknown" : s.online ? "online" : "offline";
  const badges = openAlarms.sort((a, b) => SEVERITY[b.severity] - SEVERITY[a.severity]).map((a) =>
    el("a", { class: `badge ${a.severity} ${a.state}`, href: alarmHref(a), "data-event-id": a.event_id, title: a.summary },
      (LABEL[a.alarm] || a.alarm).split(" ")[0] + (a.state === "acked" ? " ✔" : "")));
  const problems = healthProblems(s.health || {});
  return el("div", { class: `tile ${status}${openAlarms.length ? " alarmed" : ""}`, "data-station": s.station, "data-online": status },
    el("a", { class: "name", href: `/stations/${s.station}` }, s.name || s.station.split("/").pop()),
    el("div", { class: "id" }, s.station.split("/").pop()),
    el("div", { class: "presence" }, status === "online" ? "在线 online" : status === "offline" ? `离线 offline${s.reason ? " · " + s.reason : ""}` : "未知 unknown",
      el("span", { class: "seen" }, seenText(s))),
    problems.length ? el("div", { class: "health", title: problems.join("\n") }, `⚠ ${problems.join(" · ")}`) : null,
    el("div", { class: "badges" }, badges));
}

// what of a station's latest health report an operator should look at
function healthProblems(h) {
  const out = [];
  const fine = new Set(["ok", "connected", "streaming"]);
  for (const [device, status] of Object.entries(h.devices || {})) if (!fine.has(status)) out.push(`${device}: ${status}`);
  if (h.queue_depth >= 100) out.push(`积压 backlog ${h.queue_depth}`);
  if (h.dropped_total > 0) out.push(`丢弃 dropped ${h.dropped_total}`);
  if (h.disk_free_bytes !== null && h.disk_free_bytes !== undefined && h.disk_free_bytes < 200 * 1024 * 1024) out.push(`磁盘 disk ${Math.round(h.disk_free_bytes / 1048576)} MiB`);
  if (h.cpu_temp_c >= 80) out.push(`温度 ${Math.round(h.cpu_temp_c)} °C`);
  return out;
}

function renderNotices(filter) {
  const list = document.getElementById("notices");
  if (!list) return;
  const notices = [...state.notices.values()].filter(filter).sort((a, b) => (b.at || 0) - (a.at || 0) || b.rev - a.rev).slice(0, 30);
  list.replaceChildren(...notices.map((n) => el("li", { class: "notice", "data-notice": n.notice, "data-station": n.station },
    el("time", {}, when(n.at)), " ", el("span", { class: "sev " + n.severity }, n.severity), " ", el("b", {}, stationName(n.station)), " ",
    el("code", {}, n.notice), " ", n.summary)));
  const empty = document.getElementById("notices-empty");
  if (empty) empty.hidden = notices.length > 0;
}

const tileCache = new Map();  // station -> {key, node}
let layoutKey = "";
function renderStations() {
  const root = document.getElementById("stations");
  if (!root) return;
  const open = new Map();
  for (const a of state.alarms.values()) if (a.state !== "cleared") (open.get(a.station) || open.set(a.station, []).get(a.station)).push(a);
  const sorted = [...state.stations.values()].sort((a, b) => a.station.localeCompare(b.station));
  const key = sorted.map((s) => s.station).join("|");
  for (const s of sorted) {
    const alarms = open.get(s.station) || [];
    const tileKey = `${s.rev}|` + alarms.map((a) => `${a.key}:${a.rev}`).join(",");
    const cached = tileCache.get(s.station);
    if (!cached || cached.key !== tileKey) {
      const node = stationTile(s, alarms);
      if (cached && cached.node.isConnected) cached.node.replaceWith(node);
      tileCache.set(s.station, { key: tileKey, node });
    } else {
      const seen = cached.node.querySelector(".seen");
      const text = seenText(s);
      if (seen.textContent !== text) seen.textContent = text;
    }
  }
  if (key === layoutKey) {
    updateTownCounts(root);
  } else {
    layoutKey = key;
    buildTowns(root, sorted);
  }
  const count = document.getElementById("station-count");
  if (count) count.textContent = `${sorted.filter((s) => s.online).length}/${sorted.length} 在线 online`;
}

function updateTownCounts(root) {
  for (const section of root.querySelectorAll("section.town")) {
    const tiles = section.querySelectorAll(".tile");
    const text = `${section.querySelectorAll('.tile[data-online="online"]').length}/${tiles.length} 在线 online`;
    const small = section.querySelector("h3 small");
    if (small.textContent !== text) small.textContent = text;
  }
}

function buildTowns(root, sorted) {
  const towns = new Map();
  for (const s of sorted) {
    const town = `${s.county}/${s.town}`;
    if (!towns.has(town)) towns.set(town, new Map());
    const villages = towns.get(town);
    if (!villages.has(s.village)) villages.set(s.village, []);
    villages.get(s.village).push(s);
  }
  root.replaceChildren(...[...towns].map(([town, villages]) => {
    const all = [...villages.values()].flat();
    const online = all.filter((s) => s.online).length;
    return el("section", { class: "town", "data-town": town },
      el("h3", {}, `乡镇 ${town.split("/")[1]} `, el("small", {}, `${online}/${all.length} 在线 online`),
        el("button", { class: "announce", "data-target": town, "data-label": `乡镇 ${town.split("/")[1]}` }, "全乡镇广播 Announce to township")),
      ...[...villages].map(([village, stations]) => el("div", { class: "village", "data-village": village },
        el("h4", {}, `村 ${village}`), el("div", { class: "tiles" }, stations.map((s) => tileCache.get(s.station).node)))));
  }));
}

// ------------------------------------------------------------------ commands

function renderCommands(filter) {
  const list = document.getElementById("commands");
  if (!list) return;
  const cmds = [...state.commands.values()].filter(filter).sort((a, b) => b.issued_at - a.issued_at).slice(0, 50);
  list.replaceChildren(...cmds.map((c) => {
    const final = c.replies.filter((r) => !["accepted", "restarting", "queued"].includes(r.outcome));
    const lapsed = !final.length && now() > c.expires_at;
    const outcome = final.length ? final[final.length - 1].outcome : lapsed ? "no_reply" : "waiting";
    return el("li", { class: "command", "data-command-id": c.command_id, "data-batch": c.batch, "data-station": c.station, "data-outcome": outcome },
      el("time", {}, when(c.issued_at)), " ", el("b", {}, c.operator), " → ", stationName(c.station), " ", el("span", { class: "what" }, c.summary), " ",
      c.replies.map((r) => el("span", { class: `reply ${r.ok ? "ok" : "fail"}`, title: r.reason }, `${r.outcome}${r.reason ? ": " + r.reason : ""}`)),
      lapsed ? el("span", { class: "reply fail" }, "没有回复 no reply before it expired: the station did not get it (offline?); send it again")
             : !final.length ? el("span", { class: "reply waiting" }, "等待回复 waiting for the station…") : null);
  }));
}

// ------------------------------------------------------------------ detail pages

let detailRev = null;
async function refreshTimeline() {
  // the stored lifecycle steps, as the server renders them (escaped by its templates)
  const r = await fetch(location.pathname, { credentials: "same-origin" });
  if (!r.ok) return;
  const fresh = new DOMParser().parseFromString(await r.text(), "text/html").querySelector("ol.timeline");
  const old = document.querySelector("ol.timeline");
  if (fresh && old) { old.replaceWith(fresh); render(); }
}

function renderAlarmDetail() {
  const root = document.getElementById("alarm-detail");
  if (!root) return;
  const a = state.alarms.get(root.dataset.key);
  if (!a) return;
  if (detailRev !== null && detailRev !== a.rev) setTimeout(refreshTimeline, 1000);  // once the ingest has stored the step
  detailRev = a.rev;
  root.dataset.state = a.state;
  document.getElementById("detail-card").replaceChildren(el("table", { class: "facts" },
    el("tr", {}, el("th", {}, "级别 Severity"), el("td", {}, el("span", { class: "sev " + a.severity }, a.severity))),
    el("tr", {}, el("th", {}, "告警 Alarm"), el("td", {}, `${LABEL[a.alarm] || a.alarm} · ${a.category} · ${a.source}`)),
    el("tr", {}, el("th", {}, "摘要 Summary"), el("td", {}, a.summary)),
    el("tr", {}, el("th", {}, "开始 Start"), el("td", {}, when(a.raised_at))),
    el("tr", {}, el("th", {}, "持续 Duration"), el("td", {}, lasted(a))),
    el("tr", {}, el("th", {}, "状态 Lifecycle"), el("td", { id: "detail-state", "data-state": a.state }, lifecycle(a), " ", ackButton(a)))));
}

function renderStationDetail() {
  const root = document.getElementById("station-detail");
  if (!root) return;
  const s = state.stations.get(root.dataset.station);
  if (s) document.getElementById("station-card").replaceChildren(stationTile(s, [...state.alarms.values()].filter((a) => a.station === s.station && a.state !== "cleared")));
}

function render() {
  const here = document.getElementById("station-detail")?.dataset.station;
  const only = here ? (x) => x.station === here : () => true;
  renderAlarms(only);
  renderStations();
  renderCommands(only);
  renderNotices(only);
  renderAlarmDetail();
  renderStationDetail();
  document.querySelectorAll("time[data-epoch]").forEach((t) => { if (!t.textContent) t.textContent = when(Number(t.dataset.epoch)); });
}

// ------------------------------------------------------------------ actions

async function post(path, body) {
  const r = await fetch(path, { method: "POST", credentials: "same-origin", headers: { "content-type": "application/json", "x-csrf-token": csrf }, body: JSON.stringify(body) });
  const doc = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
  if (!r.ok) throw new Error(doc.error || `HTTP ${r.status}`);
  return doc;
}

async function ack(a, button) {
  button.disabled = true;
  button.textContent = "发送中 sending…";
  try {
    await post("/api/ack", { event_id: a.event_id, station: a.station });
    button.textContent = "已发送 sent";
  } catch (err) {
    button.disabled = false;
    button.textContent = "确认 Ack";
    alert(`确认失败 Ack failed: ${err.message}`);
  }
}

function openAnnounce(target, label) {
  document.getElementById("announce-target").value = target;
  document.getElementById("announce-target-label").textContent = label;
  document.getElementById("announce-error").textContent = "";
  document.getElementById("announce-dialog").showModal();
}

document.addEventListener("click", (ev) => {
  const b = ev.target.closest("button.announce");
  if (b) openAnnounce(b.dataset.target, b.dataset.label);
});

document.getElementById("announce-form")?.addEventListener("submit", async (ev) => {
  if (ev.submitter?.value !== "send") return;
  ev.preventDefault();
  const body = { target: document.getElementById("announce-target").value, text: document.getElementById("announce-text").value,
                 priority: document.getElementById("announce-priority").value, repeat: Number(document.getElementById("announce-repeat").value) };
  try {
    const sent = await post("/api/announce", body);
    document.getElementById("announce-dialog").close();
    document.getElementById("announce-text").value = "";
    if (sent.not_sent.length) alert(`未发送 not sent to ${sent.not_sent.length} station(s) (offline or unreachable): ${sent.not_sent.map(stationName).join(", ")}`);
  } catch (err) {
    document.getElementById("announce-error").textContent = err.message;
  }
});

// a snapshot may reach the database a moment after its alarm: try again a few times
document.addEventListener("error", (ev) => {
  const img = ev.target;
  if (!(img instanceof HTMLImageElement) || !img.src.includes("/snapshot/")) return;
  const tries = Number(img.dataset.tries || 0);
  if (tries < 10) setTimeout(() => { img.dataset.tries = tries + 1; img.src = img.src.split("?")[0] + `?t=${tries + 1}`; }, 1500);
}, true);

if (document.getElementById("who")) {
  listen();
  setInterval(render, 5000);  // ages and durations
  setInterval(load, RESYNC_MS);
}
