// Keeps research job status blocks up to date. Any element with data-research-status-url is
// refreshed from that URL (an HTML partial rendered and sanitised by the server) until the
// partial says the job is finished. No inline script is needed, so a strict CSP can apply.
(function () {
  "use strict";
  var INITIAL_MS = 2000;
  var MAX_MS = 15000;

  function isTerminal(el) {
    return el.hasAttribute("data-research-terminal") ||
      el.querySelector("[data-research-terminal]") !== null;
  }

  function poll(el, delay) {
    window.setTimeout(function () {
      fetch(el.getAttribute("data-research-status-url"), {
        credentials: "same-origin",
        headers: { "Accept": "text/html" },
        cache: "no-store"
      }).then(function (response) {
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.text();
      }).then(function (html) {
        el.innerHTML = html;
        if (isTerminal(el)) {
          el.setAttribute("data-research-terminal", "1");
          // A finished job can no longer be cancelled: hide its button without a reload.
          var section = el.closest(".research-job");
          var cancel = section && section.querySelector(".research-job-cancel");
          if (cancel) { cancel.hidden = true; }
          return;
        }
        poll(el, Math.min(MAX_MS, delay * 1.5));
      }).catch(function () {
        poll(el, MAX_MS);  // the page stays; try again later
      });
    }, delay);
  }

  function start() {
    var nodes = document.querySelectorAll("[data-research-status-url]");
    Array.prototype.forEach.call(nodes, function (el) {
      if (!isTerminal(el)) { poll(el, INITIAL_MS); }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
