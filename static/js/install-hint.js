// "Add to home screen", offered once the client has ticked a first step (docs/offline.md):
// the browser's own install prompt where there is one (Chrome, Edge, Samsung Internet),
// the two taps on an iPhone or iPad (Safari has no prompt). "No thanks" is remembered on
// this phone; nothing shows once the plan runs as an installed app.
(function () {
  "use strict";

  var hint = document.querySelector("[data-install-hint]");
  if (!hint || !window.localStorage) { return; }
  var TICKED = "aftercare.ticked";
  var DISMISSED = "aftercare.installHint";
  var prompt = null;

  function installed() {
    return window.matchMedia("(display-mode: standalone)").matches || window.navigator.standalone === true;
  }

  function iosSafari() {
    var ua = navigator.userAgent;
    var ios = /iPhone|iPad|iPod/.test(ua) || (navigator.platform === "MacIntel" && navigator.maxTouchPoints > 1);
    return ios && /Safari/.test(ua) && !/CriOS|FxiOS|EdgiOS/.test(ua);
  }

  function show() {
    if (installed() || localStorage.getItem(DISMISSED) || !localStorage.getItem(TICKED)) { return; }
    if (prompt) {
      hint.querySelector("[data-install-prompt]").hidden = false;
    } else if (iosSafari()) {
      hint.querySelector("[data-install-ios]").hidden = false;
    } else {
      return;  // no way to install here: say nothing
    }
    hint.hidden = false;
  }

  window.addEventListener("beforeinstallprompt", function (event) {
    event.preventDefault();  // ours comes after the first tick, not on the first visit
    prompt = event;
    show();
  });

  window.addEventListener("appinstalled", function () {
    hint.hidden = true;
    localStorage.setItem(DISMISSED, "installed");
  });

  hint.querySelector("[data-install-button]").addEventListener("click", function () {
    if (!prompt) { return; }
    prompt.prompt();
    prompt.userChoice.then(function (choice) {
      if (choice.outcome === "accepted") { localStorage.setItem(DISMISSED, "installed"); }
      hint.hidden = true;
      prompt = null;
    });
  });

  hint.querySelector("[data-install-dismiss]").addEventListener("click", function () {
    localStorage.setItem(DISMISSED, "dismissed");
    hint.hidden = true;
  });

  // A tick: a Done button (a form post, or Today's own script posting it for the page).
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest(".btn-done, form[action$='/c/done/'] button");
    if (!button) { return; }
    localStorage.setItem(TICKED, "1");
    window.setTimeout(show, 800);  // when the page stays (no reload), after the tick shows
  }, true);

  show();
})();
