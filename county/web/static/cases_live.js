// The dispatcher's case list refreshes itself: it polls /cases/stamp (a few bytes) and, only when a case in
// the account's scope was opened or moved, fetches this same page (filters kept) and swaps the table in.
// The HTML comes from this server's own template (escaped there), never from a station or a phone as such.
"use strict";
(function () {
  const section = document.getElementById("cases");
  if (!section || !section.dataset.stamp) return;
  const POLL_MS = 2000;
  let stamp = section.dataset.stamp;
  let busy = false;

  async function refresh() {
    const r = await fetch(location.href, { credentials: "same-origin", cache: "no-store" });
    if (!r.ok) return;
    const doc = new DOMParser().parseFromString(await r.text(), "text/html");
    const fresh = doc.getElementById("cases");
    const table = section.querySelector("table.cases");
    const newTable = fresh && fresh.querySelector("table.cases");
    if (!table || !newTable) return;
    table.replaceWith(document.importNode(newTable, true));
    const count = section.querySelector("h2 .count");
    const newCount = fresh.querySelector("h2 .count");
    if (count && newCount) count.textContent = newCount.textContent;
    stamp = fresh.dataset.stamp || stamp;
    section.dataset.stamp = stamp;
    const note = document.getElementById("cases-live");
    if (note) note.hidden = false;
  }

  async function poll() {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const r = await fetch("/cases/stamp", { credentials: "same-origin", cache: "no-store" });
      if (r.ok) {
        const now = (await r.json()).stamp;
        if (now && now !== stamp) await refresh();
      }
    } catch (e) {
      // a weak link: try again at the next tick
    } finally {
      busy = false;
    }
  }

  setInterval(poll, POLL_MS);
  document.addEventListener("visibilitychange", poll);
  window.__casesPoll = poll;  // tests call it instead of waiting for the timer
})();
