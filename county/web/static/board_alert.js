// A new danger on the board pages (loaded before app.js; uses its `state`, `el`, `T`, `ack`...): a banner at the
// top of every board page until the alarm is acknowledged or the operator dismisses it, and a short sound if the
// operator turned sound on. Per operator: the sound switch and the banner's alarms are kept in localStorage under
// the account's name, so the banner follows from page to page. Alarms already there when a page opens make no
// sound; the sound is a Web Audio oscillator (no file to download). Browsers start audio only after a click: the
// switch's click starts it, and with sound left on from an earlier visit, the first click or key on the page does.
"use strict";

var boardHooks = globalThis.boardHooks || (globalThis.boardHooks = { render: [], alarm: [], loaded: [] });
const ALERT_SEVERITIES = new Set(["danger", "critical"]);
const BANNER_SHOWN = 3;  // the newest dangers in the banner; more are counted, each stays on the board's list
const BEEP_GAP_MS = 3000;  // a burst of dangers (a storm over a county) sounds once, not once per station
const alert_ = { known: new Set(), openedAt: null, audio: null, beepedAt: 0 };

const accountKey = (what) => `board.${what}.${state.operator?.name || "-"}`;
const soundOn = () => localStorage.getItem(accountKey("sound")) === "1";
function bannerKeys() {
  try { return JSON.parse(localStorage.getItem(accountKey("banner")) || "[]"); } catch (err) { return []; }
}
const saveBanner = (keys) => localStorage.setItem(accountKey("banner"), JSON.stringify(keys.slice(-50)));
const alerting = (a) => a && ALERT_SEVERITIES.has(a.severity) && (a.state === "raised" || a.state === "updated");

function audio() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return null;
  if (!alert_.audio) alert_.audio = new Ctx();
  if (alert_.audio.state === "suspended") alert_.audio.resume();
  return alert_.audio;
}

// three short tones; `window.__lastBeep` tells a test (or a curious technician) that it played and why
function beep(reason) {
  const ctx = audio();
  if (!ctx) return;
  const t0 = ctx.currentTime + 0.02;
  [880, 660, 880].forEach((hz, i) => {
    const osc = ctx.createOscillator(), gain = ctx.createGain();
    const t = t0 + i * 0.22;
    osc.type = "square";
    osc.frequency.value = hz;
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.25, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.18);
    osc.connect(gain).connect(ctx.destination);
    osc.start(t);
    osc.stop(t + 0.2);
  });
  window.__lastBeep = { reason, at: Date.now(), state: ctx.state };
}

function raise(a) {
  alert_.known.add(a.key);
  const keys = bannerKeys();
  if (!keys.includes(a.key)) saveBanner([...keys, a.key]);
  if (soundOn() && Date.now() - alert_.beepedAt >= BEEP_GAP_MS) {
    alert_.beepedAt = Date.now();
    beep(a.key);
  }
}

// live: an alarm becomes danger or critical (new, or escalated) after the page opened
function onAlarm(a) {
  if (alert_.openedAt === null || !alerting(a) || alert_.known.has(a.key)) return;
  raise(a);
}

// the first load: what is there is old news; a later one (after a lost connection) may bring alarms raised meanwhile
function onLoaded(first) {
  for (const a of state.alarms.values()) {
    if (!alerting(a) || alert_.known.has(a.key)) continue;
    if (first || (a.raised_at || 0) < alert_.openedAt) alert_.known.add(a.key);
    else raise(a);
  }
  if (first) alert_.openedAt = now();
  renderSoundSwitch();
}

function renderBanner() {
  const root = document.getElementById("danger-banner");
  if (!root || alert_.openedAt === null) return;
  const keys = bannerKeys();
  const live = keys.filter((k) => { const a = state.alarms.get(k); return !a || alerting(a); });  // unknown here: another page may know it
  if (live.length !== keys.length) saveBanner(live);
  const known = live.map((k) => state.alarms.get(k)).filter(Boolean);
  const shown = known.slice(-BANNER_SHOWN).reverse();  // newest first
  // rebuilt only when what it says changes (not on every update of an alarm: the banner moves the whole page)
  const key = shown.map((a) => `${a.key}:${a.severity}:${a.state}`).join(",") + `|${known.length}`;
  if (root.dataset.key === key) return;
  root.dataset.key = key;
  root.hidden = shown.length === 0;
  const more = known.length - shown.length;
  root.replaceChildren(...shown.map((a) => el("div", { class: `banner-item ${a.severity}`, "data-key": a.key, "data-event-id": a.event_id },
    el("b", {}, `⚠ ${sevLabel(a)} · ${kindLabel(a)}`), " ", el("a", { href: alarmHref(a) }, `${stationName(a.station)}${T("：", ": ")}${alarmText(a)}`), " ",
    el("time", {}, when(a.raised_at)), " ",
    el("button", { type: "button", class: "ack", onclick: (ev) => ack(a, ev.currentTarget) }, T("确认", "Ack")), " ",
    el("button", { type: "button", class: "dismiss", onclick: () => { saveBanner(bannerKeys().filter((k) => k !== a.key)); renderBanner(); } },
      T("关闭提示", "Dismiss")))),
    more > 0 ? el("div", { class: "banner-more" }, T(`另有 ${more} 条新的危险告警，见下方列表`, `${more} more new danger alarms: see the list below`)) : "");
}

function renderSoundSwitch() {
  const button = document.getElementById("sound-toggle");
  if (!button) return;
  const on = soundOn();
  button.setAttribute("aria-pressed", on ? "true" : "false");
  button.textContent = on ? T("声音提醒：开", "Sound: on") : T("声音提醒：关", "Sound: off");
}

document.getElementById("sound-toggle")?.addEventListener("click", () => {
  const on = !soundOn();
  localStorage.setItem(accountKey("sound"), on ? "1" : "0");
  if (on) beep("switch");  // inside the click: the browser lets audio start, and the operator hears what a danger sounds like
  renderSoundSwitch();
});
// sound left on from an earlier visit: the page's first click or key starts audio
for (const kind of ["pointerdown", "keydown"]) document.addEventListener(kind, () => { if (soundOn()) audio(); }, { once: true });

boardHooks.alarm.push(onAlarm);
boardHooks.loaded.push(onLoaded);
boardHooks.render.push(renderBanner);
