// The document window while a file waits for the antivirus: every 3 s, where the scans
// stand (GET /espace/pieces/{pièce}/analyses), each verdict put by its file, until none
// waits (10 minutes at most). The page loads this only then: no other page pays for it,
// and the Wasm bundle stays as it is. Without JavaScript, a reload shows the verdict.
// Each verdict is also said to a screen reader (RGAA 7.5): a clean file or one that
// could not be scanned in the window's `role="status"` region, a virus by an alert
// added when it is found.
(function () {
  var place = document.querySelector("[data-scans]");
  if (!place) return;
  var url = place.getAttribute("data-scans");
  var news = document.querySelector("[data-scan-news]");
  var rounds = 0;
  function say(region, lines) {
    if (region && lines.length) region.textContent = lines.join(" ");
  }
  function alarm(lines) {
    if (!lines.length || !news) return;
    var alert = document.createElement("p");
    alert.className = "visually-hidden";
    alert.setAttribute("role", "alert");
    alert.textContent = lines.join(" ");
    news.parentNode.insertBefore(alert, news.nextSibling);
  }
  function round() {
    if (++rounds > 200) return;
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (files) {
        var waiting = !files;
        var calm = [], alarming = [];
        (files || []).forEach(function (file) {
          if (file.scan === "pending") waiting = true;
          var shown = document.querySelector('[data-scan-id="' + file.id + '"]');
          if (!shown || shown.getAttribute("data-scan") === file.scan) return;
          var item = shown.closest("li");
          var named = item && item.querySelector(".file-name");
          var name = named ? "« " + named.textContent + " » : " : "";
          if (file.text === null) {
            shown.remove();
            calm.push(name + "analyse antivirus terminée, aucun virus.");
            return;
          }
          shown.textContent = file.text;
          shown.setAttribute("data-scan", file.scan);
          if (file.scan === "infected") {
            alarming.push(name + file.text);
            // Its bytes are gone: nothing to see any more; the focus, if it was on
            // « Voir », goes to the verdict instead of being lost.
            var look = item && item.querySelector('a[href*="voir="]');
            if (look) {
              if (document.activeElement === look) {
                shown.setAttribute("tabindex", "-1");
                shown.focus();
              }
              look.remove();
            }
          } else {
            calm.push(name + file.text);
          }
        });
        say(news, calm);
        alarm(alarming);
        if (waiting) setTimeout(round, 3000);
      }, function () { setTimeout(round, 3000); });
  }
  setTimeout(round, 3000);
})();
