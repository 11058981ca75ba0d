// The county board in the browser: load /api/board once, then apply live records from
// /api/events (server-sent events). Records carry a revision; an older copy never replaces a
// newer one. Everything is built with DOM nodes and textContent: no station text is ever HTML.
// The board pages add their parts (board_alarms.js: the alarm table, filters, detail; board_alert.js:
// the banner and sound) through `boardHooks`, loaded before this file; other pages run without them.
"use strict";

var boardHooks = globalThis.boardHooks || { render: [], alarm: [], loaded: [] };
const SEVERITY = { info: 0, warning: 1, danger: 2, critical: 3 };
const LANG = document.body.dataset.lang === "en" ? "en" : "zh";
const T = (zh, en) => (LANG === "en" ? en : zh);
// the words of the fields the server did not label (an older server, or a record pushed before it knew)
const KIND = {
  water_level: ["水位", "water level"], flash_flood: ["山洪", "flash flood"], fire: ["火情", "fire"], smoke: ["烟雾", "smoke"],
  person_in_water_zone: ["有人涉水", "person in water zone"], possible_submersion: ["疑似溺水", "possible submersion"],
  sensor_stale: ["传感器无数据", "sensor stale"], disk_full: ["磁盘满", "disk full"], outbox_full: ["缓存满", "outbox full"],
};
const SEV_WORD = { info: ["提示", "info"], warning: ["警告", "warning"], danger: ["危险", "danger"], critical: ["紧急", "critical"] };
const STATE_WORD = { raised: ["新告警", "raised"], updated: ["更新", "updated"], acked: ["已确认", "acked"], cleared: ["已解除", "cleared"] };
const word = (table, key) => (table[key] ? T(...table[key]) : key);
const kindLabel = (a) => a.kind_label || word(KIND, a.alarm);
const sevLabel = (x) => x.severity_label || word(SEV_WORD, x.severity);
const stateLabel = (a) => a.state_label || word(STATE_WORD, a.state);
const alarmText = (a) => a.text || a.summary;
const state = { stations: new Map(), alarms: new Map(), commands: new Map(), notices: new Map(), cases: new Map(), offset: 0, operator: null };
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
// times in the county's zone (the server's --tz), always with the date; one formatter each, made once:
// building one per call cost 30x more than formatting (bench.web)
function formatter(options) {
  try {
    return new Intl.DateTimeFormat("zh-CN", { ...options, timeZone: document.body.dataset.tz || undefined });
  } catch (err) {  // an unknown zone name: the browser's own, rather than no page
    return new Intl.DateTimeFormat("zh-CN", options);
  }
}
const DATE_TIME = formatter({ month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
const DAY = formatter({ year: "numeric", month: "2-digit", day: "2-digit" });
const when = (epoch) => (epoch ? DATE_TIME.format(epoch * 1000).replaceAll("/", "-") : "-");
const dayOf = (epoch) => (epoch ? DAY.format(epoch * 1000).replaceAll("/", "-") : "");  // YYYY-MM-DD in the county's zone
const RESYNC_MS = 5 * 60 * 1000;  // the full board again: forgets what the server forgot
function span(seconds) {
  if (seconds === null || seconds === undefined || seconds < 0) return "-";
  if (seconds < 90) return `${Math.round(seconds)} ${T("秒", "s")}`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} ${T("分钟", "min")}`;
  return `${(seconds / 3600).toFixed(1)} ${T("小时", "h")}`;
}
function upsert(map, key, rec) {
  const old = map.get(key);
  if (!old || rec.rev >= old.rev) map.set(key, rec);
}

let loads = 0;
async function load() {
  const r = await fetch("/api/board", { credentials: "same-origin" });
  if (r.status === 401) { location.href = "/login"; return; }
  const b = await r.json();
  state.offset = b.now - Date.now() / 1000;
  state.operator = b.operator || null;
  // the server's board replaces ours (it prunes what ended long ago); a live record newer than it stays
  const fresh = (old) => new Map([...old].filter(([, rec]) => rec.rev > b.rev));
  const stations = fresh(state.stations), alarms = fresh(state.alarms), commands = fresh(state.commands), notices = fresh(state.notices);
  b.notices.forEach((n) => upsert(notices, n.key, n));
  b.stations.forEach((s) => upsert(stations, s.station, s));
  b.alarms.forEach((a) => upsert(alarms, a.key, a));  // key: station#event_id (a station names only its own alarms)
  b.commands.forEach((c) => upsert(commands, c.command_id, c));
  Object.assign(state, { stations, alarms, commands, notices });
  setLink(b.broker);
  loads += 1;
  for (const hook of boardHooks.loaded) await hook(loads === 1);
  render();
}

function setLink(brokerUp, streamUp = true) {
  const link = document.getElementById("link");
  if (!link) return;
  link.className = "link " + (!streamUp ? "down" : brokerUp ? "up" : "broker-down");
  link.title = !streamUp ? T("与服务器断开，正在重连", "lost the server; reconnecting") : brokerUp ? T("实时", "live")
    : T("服务器连不上消息服务器", "the server cannot reach the broker");
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
    boardHooks.alarm.forEach((hook) => hook(state.alarms.get(a.key)));
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

let pending = false;
function schedule() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => { pending = false; render(); });
}

// display names: the server's labels (directory file, then the birth message), else the station's own name, else its id
function stationName(path) {
  const s = state.stations.get(path);
  return (s && (s.labels?.station || s.name)) || path.split("/").pop();
}
const townName = (s) => s.labels?.town || s.town_name || s.town;
const villageName = (s) => s.labels?.village || s.village_name || s.village;
const alarmHref = (a) => `/alarms/${encodeURIComponent(a.event_id)}?station=${encodeURIComponent(a.station)}`;
const sevBadge = (x) => el("span", { class: "sev " + x.severity, "data-severity": x.severity }, sevLabel(x));

// ------------------------------------------------------------------ stations

const seenText = (s) => ` · ${span(s.last_seen ? now() - s.last_seen : null)}`;

function stationTile(s, openAlarms) {
  const status = s.online === null ? "unknown" : s.online ? "online" : "offline";
  const badges = openAlarms.sort((a, b) => SEVERITY[b.severity] - SEVERITY[a.severity]).map((a) =>
    el("a", { class: `badge ${a.severity} ${a.state}`, href: alarmHref(a), "data-event-id": a.event_id, title: alarmText(a) },
      kindLabel(a) + (a.state === "acked" ? " ✔" : "")));
  const problems = healthProblems(s.health || {});
  return el("div", { class: `tile ${status}${openAlarms.length ? " alarmed" : ""}`, "data-station": s.station, "data-online": status },
    el("a", { class: "name", href: `/stations/${s.station}` }, stationName(s.station)),
    el("div", { class: "id" }, s.station.split("/").pop()),
    el("div", { class: "presence" }, status === "online" ? T("在线", "online") : status === "offline"
      ? `${T("离线", "offline")}${s.reason ? " · " + s.reason : ""}` : T("未知", "unknown"), el("span", { class: "seen" }, seenText(s))),
    problems.length ? el("div", { class: "health", title: problems.join("\n") }, `⚠ ${problems.join(" · ")}`) : null,
    el("div", { class: "badges" }, badges));
}

// what of a station's latest health report an operator should look at
function healthProblems(h) {
  const out = [];
  const fine = new Set(["ok", "connected", "streaming"]);
  for (const [device, status] of Object.entries(h.devices || {})) if (!fine.has(status)) out.push(`${device}: ${status}`);
  if (h.queue_depth >= 100) out.push(`${T("积压", "backlog")} ${h.queue_depth}`);
  if (h.dropped_total > 0) out.push(`${T("丢弃", "dropped")} ${h.dropped_total}`);
  if (h.disk_free_bytes !== null && h.disk_free_bytes !== undefined && h.disk_free_bytes < 200 * 1024 * 1024) out.push(`${T("磁盘", "disk")} ${Math.round(h.disk_free_bytes / 1048576)} MiB`);
  if (h.cpu_temp_c >= 80) out.push(`${T("温度", "temperature")} ${Math.round(h.cpu_temp_c)} °C`);
  return out;
}

function renderNotices(filter) {
  const list = document.getElementById("notices");
  if (!list) return;
  const notices = [...state.notices.values()].filter(filter).sort((a, b) => (b.at || 0) - (a.at || 0) || b.rev - a.rev).slice(0, 30);
  list.replaceChildren(...notices.map((n) => el("li", { class: "notice", "data-notice": n.notice, "data-station": n.station },
    el("time", {}, when(n.at)), " ", sevBadge(n), " ", el("b", {}, stationName(n.station)), " ",
    el("code", {}, n.notice), " ", n.text || n.summary)));
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
  const key = sorted.map((s) => `${s.station}:${townName(s)}:${villageName(s)}`).join("|");
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
  if (count) count.textContent = `${sorted.filter((s) => s.online).length}/${sorted.length} ${T("在线", "online")}`;
}

function updateTownCounts(root) {
  for (const section of root.querySelectorAll("section.town")) {
    const tiles = section.querySelectorAll(".tile");
    const text = `${section.querySelectorAll('.tile[data-online="online"]').length}/${tiles.length} ${T("在线", "online")}`;
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
    const name = townName(all[0]);
    return el("section", { class: "town", "data-town": town },
      el("h3", {}, `${name} `, el("small", {}, `${online}/${all.length} ${T("在线", "online")}`),
        el("button", { class: "announce", "data-target": town, "data-label": name }, T("全乡镇广播", "Announce to township"))),
      ...[...villages].map(([village, stations]) => el("div", { class: "village", "data-village": village },
        el("h4", {}, villageName(stations[0])), el("div", { class: "tiles" }, stations.map((s) => tileCache.get(s.station).node)))));
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
      lapsed ? el("span", { class: "reply fail" }, T("没有回复：指令过期前站点没有收到（离线？），请重新发送", "no reply before it expired: the station did not get it (offline?); send it again"))
             : !final.length ? el("span", { class: "reply waiting" }, T("等待站点回复…", "waiting for the station…")) : null);
  }));
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
  boardHooks.render.forEach((hook) => hook(only));
  renderStations();
  renderCommands(only);
  renderNotices(only);
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
  button.textContent = T("发送中…", "sending…");
  try {
    await post("/api/ack", { event_id: a.event_id, station: a.station });
    button.textContent = T("已发送", "sent");
  } catch (err) {
    button.disabled = false;
    button.textContent = T("确认", "Ack");
    alert(`${T("确认失败：", "Ack failed: ")}${err.message}`);
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
    if (sent.not_sent.length) alert(`${T("未发送（离线或连不上）：", "not sent (offline or unreachable): ")}${sent.not_sent.map(stationName).join(", ")}`);
  } catch (err) {
    document.getElementById("announce-error").textContent = err.message;
  }
});

// a snapshot may reach the database a moment after its alarm: try again a few times
document.addEventListener("error", (ev) => {
  const img = ev.target;
  if (!(img instanceof HTMLImageElement) || !img.src.includes("/snapshot/")) return;
  const tries = Number(img.dataset.tries || 0);
  if (tries >= 10) return;
  setTimeout(() => { const u = new URL(img.src); u.searchParams.set("t", tries + 1); img.dataset.tries = tries + 1; img.src = u.href; }, 1500);
}, true);

if (document.getElementById("who") && document.body.dataset.page !== "map") {  // the map keeps its own stream (map.js)
  listen();
  setInterval(render, 5000);  // ages and durations
  setInterval(load, RESYNC_MS);
}
