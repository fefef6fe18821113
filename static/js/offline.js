// The installable app on the client's pages (docs/offline.md):
// - registers the service worker (/sw.js, scope /c/) and asks it to send what was saved
//   with no signal whenever a page opens or the phone comes back online;
// - on the logged-out page, tells it to forget this client's pages at once;
// - says what is going on: "saved on this phone", a page shown from the phone's copy,
//   what was sent once the signal came back, and what could not be sent.
(function () {
  "use strict";

  var script = document.currentScript;
  var main = document.getElementById("main");
  if (!("serviceWorker" in navigator) || !script || !main) { return; }

  function note(id, lines) {
    var box = document.getElementById(id);
    if (!box) {
      box = document.createElement("div");
      box.id = id;
      box.className = "offline-note";
      box.setAttribute("role", "status");
      main.insertBefore(box, main.firstChild);
    }
    box.textContent = "";
    lines.forEach(function (line) {
      var p = document.createElement("p");
      if (typeof line === "string") { p.textContent = line; } else { p.appendChild(line); }
      box.appendChild(p);
    });
    return box;
  }

  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }

  // The offline page: show the part its address asks for.
  function offlinePage() {
    var page = document.querySelector("[data-offline=page]");
    if (!page) { return; }
    var query = new URLSearchParams(location.search);
    if (location.pathname === "/c/offline/" && query.get("saved")) {
      page.hidden = true;
      document.querySelector("[data-offline=saved]").hidden = false;
      var signs = query.get("signs");
      if (signs) {
        // An emergency sign (or a "yes" with none ticked): the emergency advice, as the
        // server would give; otherwise the doctor's.
        var box = document.querySelector("[data-offline=emergency]");
        var emergency = box.getAttribute("data-emergency-signs").split(",");
        var urgent = signs === "yes" || signs.split(",").some(function (s) { return emergency.indexOf(s) >= 0; });
        document.querySelector(urgent ? "[data-offline=emergency]" : "[data-offline=doctor]").hidden = false;
        // The advice is the page's heading now; "saved" comes second.
        document.querySelector("[data-offline=saved] h1").setAttribute("aria-level", "2");
      }
    }
  }

  // A page opened from the phone's copy: say so, and which day it shows.
  function fromCopy() {
    if (navigator.onLine || document.querySelector("[data-offline]")) { return; }
    var meta = document.querySelector("meta[name=aftercare-day]");
    var now = new Date();
    var today = new Date(now.getTime() - now.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
    var lines = ["No signal: this is the copy kept on your phone. Ticks are saved on the phone and sent when you're back online."];
    if (meta && meta.content && meta.content !== today) {
      var day = new Date(meta.content + "T12:00:00");
      lines.push("This page is from " + day.toLocaleDateString(undefined, { weekday: "long", day: "numeric", month: "long" }) +
        ", so ticks on it count for that day.");
    }
    note("offline-copy", lines);
  }

  // What waits in the service worker's queue (the same IndexedDB database).
  function waiting(done) {
    if (!window.indexedDB) { return; }
    var open = indexedDB.open("aftercare-offline", 1);
    open.onupgradeneeded = function () { open.result.createObjectStore("queue", { keyPath: "id", autoIncrement: true }); };
    open.onsuccess = function () {
      var db = open.result;
      var all = db.transaction("queue", "readonly").objectStore("queue").getAll();
      all.onsuccess = function () { db.close(); done(all.result || []); };
    };
  }

  function dismissFailed() {
    var open = indexedDB.open("aftercare-offline", 1);
    open.onsuccess = function () {
      var db = open.result;
      var store = db.transaction("queue", "readwrite").objectStore("queue");
      store.getAll().onsuccess = function (event) {
        event.target.result.forEach(function (entry) { if (entry.failed) { store.delete(entry.id); } });
      };
    };
  }

  function showQueue() {
    waiting(function (entries) {
      var ticks = entries.filter(function (e) { return !e.failed && e.kind === "tick"; }).length;
      var checkins = entries.filter(function (e) { return !e.failed && e.kind === "checkin"; }).length;
      var saved = document.querySelector("[data-offline=saved]");
      if (saved && !saved.hidden) { ticks = checkins = 0; }  // this page says it already
      var failed = entries.filter(function (e) { return e.failed; });
      var lines = [];
      var what = [ticks && plural(ticks, "tick", "ticks"), checkins && plural(checkins, "check-in", "check-ins")];
      what = what.filter(Boolean);
      if (what.length) {
        lines.push(what.join(" and ") + " saved on this phone, will send when you're back online.");
      }
      if (failed.length) {
        var failedCheckins = failed.filter(function (e) { return e.kind === "checkin"; }).length;
        lines.push(failedCheckins
          ? "A check-in you made with no signal couldn't be saved. Please check in again."
          : "A tick you made with no signal couldn't be saved. Please tick it again.");
        var ok = document.createElement("button");
        ok.type = "button";
        ok.className = "link small";
        ok.textContent = "OK";
        ok.addEventListener("click", function () {
          dismissFailed();
          var box = document.getElementById("offline-queue");
          if (box) { box.remove(); }
        });
        lines.push(ok);
      }
      if (lines.length) { note("offline-queue", lines); }
    });
  }

  function askToSend() {
    if (navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage({ type: "replay" });
    }
  }

  navigator.serviceWorker.addEventListener("message", function (event) {
    var data = event.data || {};
    if (data.type === "replayed" && data.sent) {
      var box = document.getElementById("offline-queue");
      if (box) { box.remove(); }
      note("offline-queue", ["Back online: what you saved on this phone has been sent."]);
    }
    if (data.type === "replayed" && data.failed) { showQueue(); }
  });

  // Nobody logged in on this page (logged out, or the link ran out): no copy may stay.
  var loggedOut = !!document.querySelector("meta[name=aftercare-client][content=none]");
  navigator.serviceWorker.register(script.getAttribute("data-sw"), { scope: script.getAttribute("data-scope") })
    .then(function () { return navigator.serviceWorker.ready; })
    .then(function (registration) {
      if (loggedOut && registration.active) { registration.active.postMessage({ type: "forget", keepQueue: true }); }
      askToSend();
    })
    .catch(function () { /* an old browser or a private window: the pages work online as ever */ });

  window.addEventListener("online", function () {
    var copy = document.getElementById("offline-copy");
    if (copy) { copy.remove(); }
    askToSend();
  });
  offlinePage();
  fromCopy();
  showQueue();
})();
