// The entry link's live view on the console's verify page: copy the URL, then poll the link's status until it
// is verified, locked, frozen or expired. Shows the server's words only (never a digit: a status holds none).
(function () {
  var poll = function (box) {
    var url = box.getAttribute("data-status-url");
    var every = (parseInt(box.getAttribute("data-poll-seconds"), 10) || 2) * 1000;
    var status = document.getElementById("entry-link-status");
    var detail = document.getElementById("entry-link-detail");
    var result = document.getElementById("entry-link-result");
    var tick = function () {
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}, cache: "no-store"})
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (!body) { return; } // signed out or gone: stop (the Refresh link still works)
          status.textContent = body.words;
          result.className = "result result-" + body.status;
          detail.textContent = body.detail;
          box.setAttribute("data-status", body.status);
          if (!body.done) { setTimeout(tick, every); }
        })
        .catch(function () { setTimeout(tick, every * 2); });
    };
    if (box.getAttribute("data-done") !== "true") { setTimeout(tick, every); }
  };

  var copy = function () {
    var button = document.getElementById("entry-link-copy");
    var field = document.getElementById("entry-link-url");
    if (!button || !field) { return; }
    button.addEventListener("click", function () {
      field.select();
      var done = function () { button.textContent = button.getAttribute("data-copied"); };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
      } else {
        document.execCommand("copy");
        done();
      }
    });
  };

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("entry-link");
    if (box) { poll(box); }
    copy();
  });
})();
