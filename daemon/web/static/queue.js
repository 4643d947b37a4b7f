// The queue offers a reload when new party mail reaches a ticket: every 30 seconds it asks
// /queue/arrivals how many messages came after the newest one the page was built with, and
// shows "N surel baru" with a reload link (also at once when the window regains focus) (role="status", read out by screen readers).
// It never reloads by itself: an officer may be in the middle of ticking rows for a bulk
// action. Without JavaScript the "Muat ulang antrean" link does the same.
(function () {
  var mark = document.getElementById("queue-refresh");
  var notice = document.getElementById("queue-arrivals");
  var reload = document.getElementById("queue-reload");
  if (!mark || !notice || !reload || !window.fetch) { return; }
  var latest = mark.getAttribute("data-latest");
  var EVERY_MS = 30000;

  function show(count) {
    notice.textContent = "";
    notice.appendChild(document.createTextNode(count + " surel baru masuk sejak antrean dimuat. "));
    var link = document.createElement("a");
    link.href = reload.getAttribute("href");
    link.id = "queue-arrivals-reload";
    link.textContent = "Muat ulang sekarang";
    notice.appendChild(link);
    notice.hidden = false;
  }

  function ask() {
    fetch("/queue/arrivals?after=" + encodeURIComponent(latest), {credentials: "same-origin",
                                                                   headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data && data["new"] > 0) { show(data["new"]); } })
      .catch(function () { /* offline for a moment: ask again next time */ });
  }

  window.setInterval(ask, EVERY_MS);
  window.addEventListener("focus", ask);  // back from another window: ask at once
})();
