// The agent console's page script. Without it every form still posts and every page still renders; with it:
// - the agent's time zone is remembered (times are shown in it);
// - full-width digits and letters from a Japanese IME become ASCII (after the composition, never during it);
// - the PIN field shows no digits (screen recordings) while the IME keeps working in it;
// - Enter in a field presses that field's own button (Enter in the approval reason never runs Verify);
// - a form cannot be sent twice while its request is in flight;
// - "Send code", "Send approval request" and the Refresh links work without reloading, so what the agent typed
//   (the PIN above all) stays in its field; the page is never sent a PIN back;
// - the contact card, a pending approval and the current call's checks refresh themselves every few seconds.
(function () {
  "use strict";
  var POLL_MS = 3000;

  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone) { document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/console; SameSite=Strict"; }
  } catch (e) { /* older browsers: the server's default zone is used */ }

  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };

  var halfWidth = function (value) {
    return value.replace(/[\uFF01-\uFF5E]/g, function (ch) {
      return String.fromCharCode(ch.charCodeAt(0) - 0xFEE0);
    }).replace(/\u3000/g, " ");
  };

  var countdownTimer = null;
  var countdown = function () {
    clearTimeout(countdownTimer);
    var el = document.querySelector(".countdown");
    if (!el) { return; }
    var left = parseInt(el.getAttribute("data-seconds"), 10) || 0;
    var template = el.textContent.replace(String(left), "{s}");
    var tick = function () {
      if (left <= 0) { el.textContent = el.getAttribute("data-done"); return; }
      el.textContent = template.replace("{s}", String(left));
      left -= 1;
      countdownTimer = setTimeout(tick, 1000);
    };
    tick();
  };

  var normaliseInputs = function () {
    each(document.querySelectorAll("input[data-half-width]"), function (field) {
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

  // type=password would hide the digits too, but browsers switch the IME off there. A text field masked by CSS
  // keeps the IME; where the browser cannot mask it, a password field is the lesser evil.
  var maskSecrets = function () {
    var masks = window.CSS && CSS.supports && CSS.supports("-webkit-text-security", "disc");
    each(document.querySelectorAll("input[data-secret]"), function (field) {
      if (!masks) { field.type = "password"; }
      ["copy", "cut", "dragstart"].forEach(function (name) {
        field.addEventListener(name, function (event) { event.preventDefault(); });
      });
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

  // Enter in a field presses the button the field names (data-enter), not the form's first button.
  var enterDefaults = function () {
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || event.isComposing || event.keyCode === 229) { return; } // confirms an IME word
      var name = event.target && event.target.getAttribute && event.target.getAttribute("data-enter");
      var button = name && document.getElementById(name);
      if (!button || button.disabled) { return; }
      event.preventDefault();
      button.click();
    });
  };

  var fetchPage = function (url, options, polling) {
    options.credentials = "same-origin";
    options.headers = { "X-Console-Poll": polling ? "1" : "0" };
    return fetch(url, options).then(function (response) {
      if (/\/console\/login$/.test(response.url.split("?")[0])) { // signed out meanwhile (idle, elsewhere)
        window.location.assign(response.url); // the sign-in page, not a customer's data left on screen
        throw new Error("signed out");
      }
      return response.text();
    }).then(function (html) { return new DOMParser().parseFromString(html, "text/html"); });
  };

  // Replace the page's slots with the fetched page's (a slot the fetched page lacks stays as it is).
  var swap = function (doc, ids) {
    ids.forEach(function (id) {
      var mine = document.getElementById(id);
      var theirs = doc.getElementById(id);
      if (mine && theirs) { mine.replaceWith(document.importNode(theirs, true)); }
    });
    if (ids.indexOf("code-slot") !== -1) { countdown(); } // a new code's countdown (a poll leaves it running)
  };

  // An action's error or notice replaces the ones shown before.
  var showMessages = function (doc) {
    var slot = document.getElementById("messages-slot");
    if (!slot) { return; }
    each(document.querySelectorAll("main > .error, main > .notice"), function (el) { el.remove(); });
    slot.innerHTML = "";
    each(doc.querySelectorAll("main > .error, main > .notice"), function (el) {
      slot.appendChild(document.importNode(el, true));
    });
  };

  var setBusy = function (form, busy) {
    if (busy) { form.setAttribute("data-busy", "1"); } else { form.removeAttribute("data-busy"); }
    each(form.querySelectorAll("button"), function (button) { button.disabled = busy; });
  };

  // Only what the action needs leaves the page: never the PIN or the code.
  var LIVE_FIELDS = ["csrf_token", "account_id", "channel", "ticket_ref", "call_ref", "flow", "reason"];

  var sendLive = function (form, button) {
    var data = new FormData();
    LIVE_FIELDS.forEach(function (name) {
      var field = form.elements.namedItem(name);
      if (field && field.value) { data.append(name, halfWidth(field.value).trim()); }
    });
    setBusy(form, true);
    fetchPage(button.getAttribute("formaction") || form.action, { method: "POST", body: data }, false)
      .then(function (doc) {
        swap(doc, button.getAttribute("data-live").split(" "));
        showMessages(doc);
        if (doc.getElementById("code-sent") || (button.id === "send-approval" && doc.getElementById("approval-status"))) {
          document.getElementById("flow").value = "level2"; // a level-1 answer will say it is not enough
        }
        var code = form.elements.namedItem("code");
        if (doc.getElementById("code-sent") && code) { code.focus(); }
      })
      .catch(function () { /* signed out (the login page is opening) or offline: the form is as it was */ })
      .then(function () { setBusy(form, false); });
  };

  var guardSubmits = function () {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      var button = event.submitter;
      if (form.getAttribute("data-busy")) { event.preventDefault(); return; } // a second press: ignored
      if (button && button.hasAttribute("data-live") && window.fetch && window.DOMParser) {
        event.preventDefault();
        sendLive(form, button);
        return;
      }
      form.setAttribute("data-busy", "1");
      // Disabled only after this event: a disabled button's name and value would drop out of the submission.
      setTimeout(function () { setBusy(form, true); }, 0);
    });
    window.addEventListener("pageshow", function () { // back to this page from the browser's cache
      each(document.querySelectorAll("form[data-busy]"), function (form) { setBusy(form, false); });
    });
  };

  var liveLinks = function () {
    document.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("a[data-live]");
      if (!link || !window.fetch) { return; }
      event.preventDefault();
      fetchPage(link.href, { method: "GET" }, false).then(function (doc) {
        swap(doc, link.getAttribute("data-live").split(" "));
      }).catch(function () { /* keep what is shown */ });
    });
  };

  var inFlight = {};
  var poll = function () {
    each(document.querySelectorAll("[data-poll]"), function (el) {
      var id = el.id;
      if (!id || inFlight[id]) { return; }
      inFlight[id] = true;
      fetchPage(el.getAttribute("data-poll"), { method: "GET" }, true).then(function (doc) {
        swap(doc, [id]);
      }).catch(function () { /* try again at the next tick */ }).then(function () { inFlight[id] = false; });
    });
  };

  document.addEventListener("DOMContentLoaded", function () {
    countdown();
    normaliseInputs();
    maskSecrets();
    enterDefaults();
    guardSubmits();
    liveLinks();
    focusNext();
    if (window.fetch && window.DOMParser) { setInterval(poll, POLL_MS); }
  });
})();
