// Remember the agent's time zone (times are shown in it) and count down to the next code resend.
(function () {
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone) { document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/console; SameSite=Strict"; }
  } catch (e) { /* older browsers: the server's default zone is used */ }
  document.addEventListener("DOMContentLoaded", function () {
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
  });
})();
