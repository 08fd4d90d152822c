// The document window while a file waits for the antivirus: every 3 s, where the scans
// stand (GET /espace/pieces/{pièce}/analyses), each verdict put by its file, until none
// waits (10 minutes at most). The page loads this only then: no other page pays for it,
// and the Wasm bundle stays as it is. Without JavaScript, a reload shows the verdict.
(function () {
  var place = document.querySelector("[data-scans]");
  if (!place) return;
  var url = place.getAttribute("data-scans");
  var rounds = 0;
  function round() {
    if (++rounds > 200) return;
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (files) {
        var waiting = !files;
        (files || []).forEach(function (file) {
          if (file.scan === "pending") waiting = true;
          var shown = document.querySelector('[data-scan-id="' + file.id + '"]');
          if (!shown) return;
          if (file.text === null) { shown.remove(); return; }
          shown.textContent = file.text;
          shown.setAttribute("data-scan", file.scan);
          if (file.scan === "infected") {
            shown.setAttribute("role", "alert");
            // Its bytes are gone: nothing to see any more.
            var item = shown.closest("li");
            var look = item && item.querySelector('a[href*="voir="]');
            if (look) look.remove();
          }
        });
        if (waiting) setTimeout(round, 3000);
      }, function () { setTimeout(round, 3000); });
  }
  setTimeout(round, 3000);
})();
