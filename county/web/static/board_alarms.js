// The board's alarms (loaded before app.js on the board pages; uses its `state`, `el`, `when`, `T`...):
// the table with its filters (kept in the URL query, so a link can be shared), open and overdue first
// and loud, ended ones muted and collapsed below; each alarm's case (from /api/board/cases), its
// updates counted, its latest snapshot and its loudspeaker plays; the alarm page's card, its
// snapshots and its lifecycle with runs of updates collapsed.
"use strict";

var boardHooks = globalThis.boardHooks || (globalThis.boardHooks = { render: [], alarm: [], loaded: [] });
const MAX_ENDED_SHOWN = 200;  // open alarms always; of the ended ones, the newest
const ENDED_VISIBLE = 5;  // ended alarms shown before "show all"
const CASES_POLL_MS = 15_000;
const FILTERS = ["status", "town", "kind", "from", "to"];
let filters = readFilters();
let endedOpen = false;

// ------------------------------------------------------------------ cases and filters

async function loadCases() {
  try {
    const r = await fetch("/api/board/cases", { credentials: "same-origin" });
    if (!r.ok) return;  // the board goes on with the cases it knew
    state.cases = new Map(Object.entries((await r.json()).cases));
    schedule();
  } catch (err) { /* offline a moment: the next poll */ }
}
const caseOf = (a) => state.cases.get(a.key) || null;

function readFilters() {
  const q = new URLSearchParams(location.search);
  return Object.fromEntries(FILTERS.map((k) => [k, q.get(k) || ""]));
}

function writeFilters() {
  const q = new URLSearchParams(location.search);
  for (const k of FILTERS) filters[k] ? q.set(k, filters[k]) : q.delete(k);
  history.replaceState(null, "", location.pathname + (q.toString() ? `?${q}` : ""));
}

function matches(a) {
  const c = caseOf(a), open = a.state !== "cleared";
  if (filters.status === "open" && !open && !(c && c.overdue)) return false;
  if (filters.status === "unaccepted" && !((open && a.state !== "acked") || (c && c.case_state === "dispatched"))) return false;
  if (filters.status === "overdue" && !(c && c.overdue)) return false;
  if (filters.town && !a.station.startsWith(filters.town + "/")) return false;
  if (filters.kind && a.alarm !== filters.kind) return false;
  if (!filters.from && !filters.to) return true;
  const day = dayOf(a.raised_at);
  return !(filters.from && day < filters.from) && !(filters.to && day > filters.to);
}

// the form's choices: every township and kind the board knows (and the one a shared link names)
function fillFilterForm() {
  const form = document.getElementById("alarm-filters");
  if (!form) return;
  const towns = new Map(), kinds = new Map();
  for (const s of state.stations.values()) towns.set(`${s.county}/${s.town}`, townName(s));
  for (const a of state.alarms.values()) kinds.set(a.alarm, kindLabel(a));
  for (const k of Object.keys(KIND)) if (!kinds.has(k)) kinds.set(k, word(KIND, k));
  for (const [id, values, chosen] of [["f-town", towns, filters.town], ["f-kind", kinds, filters.kind]]) {
    if (chosen && !values.has(chosen)) values.set(chosen, chosen);
    const select = document.getElementById(id);
    const key = [...values].join("|");
    if (select.dataset.key === key) continue;
    select.dataset.key = key;
    select.replaceChildren(el("option", { value: "" }, T("全部", "all")), ...[...values].sort((x, y) => x[1].localeCompare(y[1], "zh-CN"))
      .map(([v, label]) => el("option", { value: v }, label)));
    select.value = chosen;
  }
  for (const k of ["status", "from", "to"]) {
    const input = form.elements[k];
    if (document.activeElement !== input && input.value !== filters[k]) input.value = filters[k];
  }
}

document.getElementById("alarm-filters")?.addEventListener("change", (ev) => {
  const form = ev.currentTarget;
  filters = Object.fromEntries(FILTERS.map((k) => [k, form.elements[k].value]));
  writeFilters();
  render();
});
document.getElementById("filters-clear")?.addEventListener("click", () => {
  filters = Object.fromEntries(FILTERS.map((k) => [k, ""]));
  writeFilters();
  render();
});
document.getElementById("ended-toggle")?.addEventListener("click", () => { endedOpen = !endedOpen; render(); });

// ------------------------------------------------------------------ order and rows

// 0: its case is overdue; 1: open and danger or critical; 2: open; 3: ended
function rank(a) {
  const c = caseOf(a);
  if (c && c.overdue) return 0;
  if (a.state === "cleared") return 3;
  return SEVERITY[a.severity] >= 2 ? 1 : 2;
}

function alarmOrder(a, b) {
  const ra = rank(a), rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 3) return (b.cleared_at || 0) - (a.cleared_at || 0);
  if (SEVERITY[b.severity] !== SEVERITY[a.severity]) return SEVERITY[b.severity] - SEVERITY[a.severity];
  return (b.raised_at || 0) - (a.raised_at || 0);
}

function lifecycle(a) {
  const parts = [el("span", { class: "state " + a.state }, stateLabel(a))];
  if (a.acked_at || a.acked_by) parts.push(el("span", { class: "acked-by" }, ` ✔ ${a.acked_by || ""} ${when(a.acked_at)}`));
  if (a.cleared_at) parts.push(el("span", { class: "cleared-at" }, ` ⏹ ${when(a.cleared_at)}`));
  if (a.updates) parts.push(el("div", { class: "updates", "data-updates": a.updates }, T(`更新 ×${a.updates}，最近 ${when(a.updated_at)}`, `updated ×${a.updates}, latest ${when(a.updated_at)}`)));
  if (a.plays) parts.push(el("div", { class: "plays", "data-plays": a.plays }, T(`已播报 ${a.plays} 次，最近 ${when(a.played_at)}`, `played ${a.plays}×, latest ${when(a.played_at)}`)));
  const c = caseOf(a);
  if (c) parts.push(el("div", { class: `case${c.overdue ? " overdue" : ""}`, "data-case-state": c.case_state },
    el("a", { href: `/cases/${c.case_id}` }, `${T("案件", "case")} #${c.case_id} ${c.case_state_label}`), c.overdue ? ` · ${T("超期", "overdue")}` : ""));
  return parts;
}

function ackButton(a) {
  if (a.state === "cleared" || a.state === "acked") return null;
  return el("button", { class: "ack", "data-event-id": a.event_id, onclick: (ev) => ack(a, ev.currentTarget) }, T("确认", "Ack"));
}

// how long an alarm has lasted (until now while open): refreshed in place
function lasted(a) {
  const end = a.cleared_at || now();
  return span(Math.max(0, end - (a.raised_at || end)));  // a station's clock a little ahead is no negative age
}

// the newest snapshot: `/snapshot/{id}` is the newest, `/snapshot/{id}/{n}` any of them
function snapshotSrc(a, n = a.snapshot_count || 1) {
  const path = n > 1 ? `${encodeURIComponent(a.event_id)}/${n}` : encodeURIComponent(a.event_id);
  return `/snapshot/${path}?station=${encodeURIComponent(a.station)}`;
}
const hasSnapshot = (a) => Boolean(a.snapshot_sha256 || a.snapshot_count);

function alarmRow(a) {
  const c = caseOf(a), r = rank(a);
  return el("tr", { class: `alarm ${a.severity} ${a.state}${r <= 1 ? " loud" : ""}${c && c.overdue ? " overdue" : ""}${r === 3 ? " ended" : ""}`,
                    "data-event-id": a.event_id, "data-state": a.state, "data-station": a.station, "data-overdue": c && c.overdue ? "1" : "0" },
    el("td", {}, sevBadge(a)),
    el("td", {}, el("a", { href: alarmHref(a) }, kindLabel(a)), el("div", { class: "summary" }, alarmText(a))),
    el("td", {}, el("a", { href: `/stations/${a.station}` }, stationName(a.station)), el("div", { class: "source" }, a.source)),
    el("td", {}, when(a.raised_at)),
    el("td", { class: "duration" }, lasted(a)),
    el("td", {}, lifecycle(a)),
    el("td", {}, hasSnapshot(a) ? el("a", { href: alarmHref(a), class: "evidence-link" },
      el("img", { class: "thumb", src: snapshotSrc(a), alt: T("现场截图", "snapshot"), loading: "lazy" }),
      a.snapshot_count > 1 ? el("span", { class: "snap-count" }, `${a.snapshot_count} ${T("张", "shots")}`) : null) : "-"),
    el("td", {}, ackButton(a)));
}

// rows are rebuilt only when their record (or its case) changed; the rest is moved or has its clock text updated
const rowCache = new Map();  // alarm key -> {key, row}
function renderAlarms(filter) {
  const table = document.getElementById("alarms");
  if (!table) return;
  fillFilterForm();
  const mine = [...state.alarms.values()].filter(filter);
  const shownAll = mine.filter(matches).sort(alarmOrder);
  const ended = shownAll.filter((a) => rank(a) === 3);
  const alarms = shownAll.filter((a) => rank(a) < 3).concat(ended.slice(0, endedOpen ? MAX_ENDED_SHOWN : ENDED_VISIBLE));
  const body = table.querySelector("tbody");
  const rows = alarms.map((a) => {
    const c = caseOf(a);
    const key = `${a.rev}|${stationName(a.station)}|${c ? `${c.case_state}:${c.overdue}` : ""}`;
    let cached = rowCache.get(a.key);
    if (!cached || cached.key !== key) {
      const row = alarmRow(a);
      const old = cached && cached.row.querySelector("img.thumb");  // keep a loaded thumbnail instead of fetching it again
      const img = row.querySelector("img.thumb");
      if (old && img && old.src === img.src && old.complete && old.naturalWidth) img.replaceWith(old);
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
  const open = mine.filter((a) => a.state !== "cleared");
  const unacked = open.filter((a) => a.state !== "acked").length;
  document.title = (unacked ? `(${unacked}) ` : "") + document.title.replace(/^\(\d+\) /, "");
  const count = document.getElementById("open-count");
  if (count) count.textContent = T(`${open.length} 进行中，显示 ${shownAll.length} 条`, `${open.length} open, ${shownAll.length} shown`);
  const toggle = document.getElementById("ended-toggle");
  if (toggle) {
    toggle.hidden = ended.length <= ENDED_VISIBLE;
    toggle.textContent = endedOpen ? T("收起已结束的告警", "Fewer ended alarms") : T(`显示全部已结束的告警（${ended.length}）`, `Show all ${ended.length} ended alarms`);
  }
  const empty = document.getElementById("alarms-empty");
  if (empty) empty.hidden = alarms.length > 0;
}

// the page keeps open alarms and the newest ended ones it shows, nothing more
function forgetEnded(a) {
  if (!a || a.state !== "cleared") return;
  const gone = [...state.alarms.values()].filter((x) => x.state === "cleared");
  if (gone.length <= MAX_ENDED_SHOWN) return;
  gone.sort((x, y) => (y.cleared_at || 0) - (x.cleared_at || 0)).slice(MAX_ENDED_SHOWN).forEach((x) => state.alarms.delete(x.key));
}

// ------------------------------------------------------------------ the alarm page

let detailRev = null;
let timelineOpen = false;
async function refreshTimeline() {
  // the stored lifecycle steps, as the server renders them (escaped by its templates)
  const r = await fetch(location.pathname + location.search, { credentials: "same-origin" });
  if (!r.ok) return;
  const fresh = new DOMParser().parseFromString(await r.text(), "text/html").querySelector("ol.timeline");
  const old = document.querySelector("ol.timeline");
  if (fresh && old) { old.replaceWith(fresh); collapseTimeline(); render(); }
}

// runs of two or more `updated` steps: one line "更新 ×12，最近 …" and the latest step; all of them on request
function collapseTimeline() {
  const list = document.querySelector("ol.timeline");
  if (!list) return;
  list.querySelectorAll("li.updates-run").forEach((li) => li.remove());
  const items = [...list.querySelectorAll("li[data-state]")];
  let run = [];
  const flush = () => {
    if (run.length >= 2) {
      const latest = run[run.length - 1];
      run.forEach((li) => { li.hidden = !timelineOpen && li !== latest; });
      const at = when(Number(latest.dataset.ts));
      latest.before(el("li", { class: "updates-run", "data-count": run.length },
        T(`更新 ×${run.length}，最近 ${at}`, `updated ×${run.length}, latest ${at}`), " ",
        el("button", { type: "button", class: "expand", onclick: () => { timelineOpen = !timelineOpen; collapseTimeline(); } },
          timelineOpen ? T("收起", "collapse") : T("展开全部", "show all"))));
    }
    run = [];
  };
  for (const li of items) {
    if (li.dataset.state === "updated") run.push(li);
    else flush();
  }
  flush();
}

function renderSnapshots(a) {
  const root = document.getElementById("snapshots");
  if (!root || root.dataset.count === String(a.snapshot_count || 0)) return;
  root.dataset.count = String(a.snapshot_count || 0);
  if ((a.snapshot_count || 0) < 2) { root.replaceChildren(); return; }
  const big = document.getElementById("snapshot");
  if (big && !big.dataset.chosen) big.src = snapshotSrc(a);  // the newest, unless the operator picked another
  const items = [];
  for (let n = a.snapshot_count; n >= 1; n--) {
    items.push(el("button", { type: "button", class: "snap", "data-n": n, title: `${n}/${a.snapshot_count}`, onclick: () => {
      if (!big) return;
      big.dataset.chosen = String(n);
      big.src = snapshotSrc(a, n);
    } }, el("img", { class: "thumb", src: snapshotSrc(a, n), alt: `${n}`, loading: "lazy" }), `${n}/${a.snapshot_count}`));
  }
  root.replaceChildren(el("p", {}, T(`共 ${a.snapshot_count} 张截图（最新在前）`, `${a.snapshot_count} snapshots, newest first`)), ...items);
}

function renderAlarmDetail() {
  const root = document.getElementById("alarm-detail");
  if (!root) return;
  const a = state.alarms.get(root.dataset.key);
  if (!a) return;
  if (detailRev !== null && detailRev !== a.rev) setTimeout(refreshTimeline, 1000);  // once the ingest has stored the step
  detailRev = a.rev;
  root.dataset.state = a.state;
  const row = (th, ...td) => el("tr", {}, el("th", {}, th), el("td", {}, ...td));
  document.getElementById("detail-card").replaceChildren(el("table", { class: "facts" },
    row(T("级别", "Severity"), sevBadge(a)),
    row(T("告警", "Alarm"), `${kindLabel(a)} · ${a.source}`),
    row(T("摘要", "Summary"), alarmText(a)),
    row(T("开始", "Start"), when(a.raised_at)),
    row(T("持续", "Duration"), lasted(a)),
    el("tr", {}, el("th", {}, T("状态", "Lifecycle")), el("td", { id: "detail-state", "data-state": a.state }, lifecycle(a), " ", ackButton(a))),
    row(T("广播", "Loudspeaker"), el("span", { id: "detail-plays" }, a.plays ? T(`已播报 ${a.plays} 次，最近 ${when(a.played_at)}`,
      `played ${a.plays}×, latest ${when(a.played_at)}`) : T("站点未报告播报", "no play reported by the station")))));
  renderSnapshots(a);
}

boardHooks.render.push(renderAlarms, renderAlarmDetail);
boardHooks.alarm.push(forgetEnded);
boardHooks.loaded.push(loadCases);
document.addEventListener("DOMContentLoaded", collapseTimeline);  // after app.js has run
if (document.getElementById("who")) setInterval(loadCases, CASES_POLL_MS);
