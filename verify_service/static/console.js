// Remember the agent's time zone (times are shown in it), count down to the next code resend, turn full-width
// digits and letters from a Japanese IME into ASCII, and put the cursor where the agent types next.
(function () {
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone) { document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/console; SameSite=Strict"; }
  } catch (e) { /* older browsers: the server's default zone is used */ }

  var halfWidth = function (value) {
    return value.replace(/[\uFF01-\uFF5E]/g, function (ch) {
      return String.fromCharCode(ch.charCodeAt(0) - 0xFEE0);
    }).replace(/\u3000/g, " ");
  };

  var countdown = function () {
    var el = document.querySelector(".countdown");
    if (!el) { return; }
    var left = parseInt(el.getAttribute("data-seconds"), 10) || 0;
    var template = el.textContent.replace(String(left), "{s}");
    var tick = function () {
      if (left <= 0) { el.textContent = el.getAttribute("data-done"); return; }
      el.textContent = template.replace("{s}", String(left));
      left -= 1;
      setTimeout(tick, 1000);
    };
    tick();
  };

  var normaliseInputs = function () {
    var fields = document.querySelectorAll("input[data-half-width]");
    Array.prototype.forEach.call(fields, function (field) {
      var fix = function () {
        var fixed = halfWidth(field.value);
        if (fixed !== field.value) { field.value = fixed; }
      };
      // Not on every keystroke: rewriting the value while the IME is composing would break the composition.
      field.addEventListener("compositionend", fix);
      field.addEventListener("change", fix);
      if (field.form) { field.form.addEventListener("submit", fix); }
    });
  };

  var focusNext = function () {
    var form = document.getElementById("verify-form");
    var next = form && form.getAttribute("data-next");
    if (!next) { return; }
    var field = form.querySelector("input[name=" + next + "]");
    if (!field) { return; }
    field.focus();
    if (next === "account_id") { field.select(); } // the next caller's number replaces the last one
  };

  document.addEventListener("DOMContentLoaded", function () {
    countdown();
    normaliseInputs();
    focusNext();
  });
})();
