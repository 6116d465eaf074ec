/* Staff dashboard: swap in a fresh table body every 10 s (server-rendered, escaped HTML). */
(function () {
  "use strict";
  var rows = document.getElementById("intake-rows");
  var status = document.getElementById("refresh-status");
  if (!rows) return;
  var url = rows.dataset.url;
  var failures = 0;
  async function refresh() {
    if (document.hidden) return;
    try {
      var res = await fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "text/html" } });
      if (res.redirected || res.status === 401 || res.status === 403) {
        status.textContent = "Signed out: reload the page to sign in again.";
        return;
      }
      if (!res.ok) throw new Error(String(res.status));
      var doc = new DOMParser().parseFromString("<table><tbody>" + (await res.text()) + "</tbody></table>", "text/html");
      rows.replaceChildren.apply(rows, Array.prototype.slice.call(doc.querySelector("tbody").childNodes));
      rows.dataset.refreshed = String(Date.now());
      if (failures) status.textContent = "";
      failures = 0;
    } catch (e) {
      failures += 1;
      status.textContent = "Could not refresh (" + failures + "); retrying.";
    }
  }
  setInterval(refresh, Number(rows.dataset.interval || 10000));
  document.addEventListener("visibilitychange", refresh);
})();
