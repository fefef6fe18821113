// Client pages: load a step's video only when tapped (keeps Today light and private),
// playing inline on iPhones; print button on the whole-plan page; the calendar link's
// Copy button on Settings (hidden without JS: the page offers two links as well).
// Today: ticks in place (the server answers JSON) and the guided routine's timer.
// Without this script every form posts and every link loads a page, which also works.
(function () {
  "use strict";

  function copied(button, ok) {
    var status = document.querySelector("[data-copy-status]");
    if (status) {
      status.textContent = ok
        ? "Copied. Paste it into your calendar app's \u201cAdd subscribed calendar\u201d."
        : "Couldn't copy here. Use one of the buttons above instead.";
    }
  }

  function copyText(button) {
    var text = button.value;
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(
        function () { copied(button, true); },
        function () { copied(button, false); }
      );
      return;
    }
    var box = document.createElement("textarea");
    box.value = text;
    box.setAttribute("readonly", "");
    box.style.position = "fixed";
    box.style.opacity = "0";
    document.body.appendChild(box);
    box.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (error) { ok = false; }
    box.remove();
    copied(button, ok);
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-copy]"), function (button) {
    button.hidden = false;
  });

  function frameFor(link) {
    var box = document.createElement("div");
    box.className = "video-frame";
    var kind = link.getAttribute("data-kind");
    var src = link.getAttribute("data-src");
    var player;
    if (kind === "mp4") {
      player = document.createElement("video");
      player.src = src;
      player.controls = true;
      player.autoplay = true;
      player.setAttribute("playsinline", "");
    } else {
      player = document.createElement("iframe");
      player.src = src;
      player.title = link.getAttribute("data-title") || "Exercise video";
      player.allow = "autoplay; encrypted-media; fullscreen; picture-in-picture";
      player.allowFullscreen = true;
      player.referrerPolicy = "strict-origin-when-cross-origin";
    }
    box.appendChild(player);
    return box;
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(".video-load");
    if (link) {
      event.preventDefault();
      var frame = frameFor(link);
      link.replaceWith(frame);
      var player = frame.firstChild;
      if (player.focus) { player.focus(); }
      return;
    }
    var copier = event.target.closest && event.target.closest("button[data-copy]");
    if (copier) { copyText(copier); return; }
    var printer = event.target.closest && event.target.closest("[data-print]");
    if (printer) { window.print(); }
  });

  // --- Ticking in place ----------------------------------------------------------------

  function announce(text) {
    var box = document.querySelector("[data-announce]");
    if (box) { box.textContent = ""; window.setTimeout(function () { box.textContent = text; }, 50); }
  }

  function swap(old, html) {
    if (!old || !html) { return null; }
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    var fresh = holder.firstElementChild;
    old.replaceWith(fresh);
    return fresh;
  }

  function post(form) {
    // getAttribute: the form has an input named "action", which form.action would return.
    return fetch(form.getAttribute("action"), {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { Accept: "application/json" }
    }).then(function (response) {
      if (!response.ok) { throw new Error(response.status); }
      return response.json();
    });
  }

  function busy(form) {
    // A double tap sends one post; the server keeps one tick whatever arrives.
    if (form.getAttribute("aria-busy") === "true") { return true; }
    form.setAttribute("aria-busy", "true");
    Array.prototype.forEach.call(form.querySelectorAll("button"), function (b) { b.disabled = true; });
    return false;
  }

  function tick(form) {
    if (busy(form)) { return; }
    post(form).then(function (data) {
      var card = form.closest("[data-step-card]");
      if (data.queued) {  // no signal: the service worker kept the tick (docs/offline.md)
        form.insertAdjacentHTML("afterend", '<p class="queued-note"></p>');
        form.nextElementSibling.textContent = data.message;
        announce(data.message);
        return;
      }
      if (data.card) {
        var fresh = swap(card, data.card);
        swap(document.querySelector('[data-slot-head="' + data.slot + '"]'), data.head);
        swap(document.querySelector("[data-checkin-card]"), data.checkin);
        var button = fresh && fresh.querySelector("button");
        if (button) { button.focus(); }
      } else {
        window.location.reload();
      }
      announce(data.said);
    }).catch(function () { form.submit(); });  // the plain post still works
  }

  // --- The guided routine: "Done, next" ticks, then the next step without a reload ----

  function go(url, push) {
    fetch(url, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok || response.redirected) { throw new Error(response.status); }
      return response.text();
    }).then(function (html) {
      var page = new DOMParser().parseFromString(html, "text/html");
      var main = page.querySelector("main");
      if (!main || !main.querySelector("[data-guided]")) { throw new Error("not a step"); }
      stopTimer();
      document.querySelector("main").replaceWith(main);
      document.title = page.title;
      if (push) { window.history.pushState({ guided: true }, "", url); }
      window.scrollTo(0, 0);
      var heading = main.querySelector("h1");
      if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
      startTimerBox();
    }).catch(function () { window.location.assign(url); });
  }

  window.addEventListener("popstate", function () {
    if (document.querySelector("[data-guided]")) { go(window.location.href, false); }
  });

  function doneNext(form) {
    if (busy(form)) { return; }
    var next = window.location.pathname + "?" + new URLSearchParams({
      routine: form.elements.slot.value, step: form.elements.then.value
    });
    post(form).then(function () { go(next, true); }).catch(function () { form.submit(); });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!window.fetch || !window.FormData || !form.matches) { return; }
    if (form.matches("form[data-tick]")) { event.preventDefault(); tick(form); }
    if (form.matches("form[data-guided-done]")) { event.preventDefault(); doneNext(form); }
  });

  document.addEventListener("click", function (event) {
    var next = event.target.closest && event.target.closest("a[data-guided-next]");
    if (next && window.fetch && !event.metaKey && !event.ctrlKey) {
      event.preventDefault();
      go(next.href, true);
    }
  });

  // --- The timer: heat (20 minutes) or a hold ----------------------------------------
  // Time comes from the start stamp (kept in sessionStorage), never from counting ticks,
  // so it stays right when the screen locks or the tab sleeps. The end beep is scheduled
  // on the audio clock at the start, which plays on in the background where the browser
  // allows; the screen is kept awake (Wake Lock) while the timer runs, where supported.

  var running = null;

  function clockText(ms) {
    var seconds = Math.ceil(ms / 1000);
    var minutes = Math.floor(seconds / 60);
    var rest = seconds % 60;
    return minutes ? minutes + ":" + (rest < 10 ? "0" : "") + rest : seconds + " s";
  }

  function beep(audio, at) {
    if (!audio) { return; }
    [0, 0.35, 0.7].forEach(function (offset) {
      var tone = audio.createOscillator();
      var gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.value = 0.25;
      tone.connect(gain).connect(audio.destination);
      tone.start(at + offset);
      tone.stop(at + offset + 0.2);
    });
  }

  function stopTimer() {
    if (!running) { return; }
    window.clearTimeout(running.timeout);
    if (running.lock) { running.lock.release().catch(function () {}); }
    if (running.audio) { running.audio.close().catch(function () {}); }
    running = null;
  }

  function startTimerBox() {
    var box = document.querySelector("[data-timer]");
    if (!box) { return; }
    var ms = Number(box.getAttribute("data-ms"));
    var key = "aftercare-timer-" + box.getAttribute("data-key");
    var holds = Number(box.getAttribute("data-holds") || 0);
    var clock = box.querySelector("[data-clock]");
    var status = box.querySelector("[data-timer-status]");
    var say = box.querySelector("[data-timer-say]");
    var button = box.querySelector("[data-timer-start]");
    var store = window.sessionStorage;
    var state = JSON.parse(store.getItem(key) || "{}");  // {start: ms, held: count}
    var held = state.held || 0;

    function label(over) {
      if (!holds) { return over ? "Start again" : button.getAttribute("data-label"); }
      return held >= holds ? "Start another hold" : "Start hold " + (held + 1) + " of " + holds;
    }

    function show() {
      if (!running || running.box !== box) { return; }
      var left = running.start + ms - Date.now();
      if (left > 0) {
        clock.textContent = clockText(left);
        running.timeout = window.setTimeout(show, Math.min(1000, left % 1000 || 1000));
        return;
      }
      var audio = running.audio;
      if (audio && audio.currentTime < running.beepAt - 0.5) {  // the scheduled beep didn't play
        if (audio.state === "suspended") { audio.resume().catch(function () {}); }
        beep(audio, audio.currentTime);
      }
      if (navigator.vibrate) { navigator.vibrate([300, 150, 300]); }
      if (holds) { held += 1; }
      store.setItem(key, JSON.stringify({ held: held, over: true }));
      clock.textContent = "0 s";
      box.classList.add("is-over");
      var text = holds ? "Release. Hold " + held + (holds > 1 ? " of " + holds : "") + " done." : "Time's up.";
      status.textContent = text;
      say.textContent = text;
      button.textContent = label(true);
      button.hidden = false;
      var lock = running.lock;
      running.lock = null;
      if (lock) { lock.release().catch(function () {}); }
      window.setTimeout(function () { if (running && running.box === box) { stopTimer(); } }, 2000);
    }

    function run(start) {
      stopTimer();
      var Audio = window.AudioContext || window.webkitAudioContext;
      var audio = null;
      try { audio = Audio ? new Audio() : null; } catch (error) { audio = null; }
      running = { box: box, start: start, audio: audio, lock: null, beepAt: 0, show: show };
      if (audio) {
        running.beepAt = audio.currentTime + Math.max(0, (start + ms - Date.now()) / 1000);
        beep(audio, running.beepAt);
      }
      if (navigator.wakeLock) {
        navigator.wakeLock.request("screen").then(function (lock) {
          if (running && running.box === box) { running.lock = lock; } else { lock.release(); }
        }).catch(function () {});
      }
      store.setItem(key, JSON.stringify({ start: start, held: held }));
      box.classList.remove("is-over");
      button.hidden = true;
      status.textContent = holds ? "Hold\u2026" : "The timer is running. It keeps time if your screen locks.";
      say.textContent = holds ? "Hold." : "Timer started.";
      show();
    }

    button.setAttribute("data-label", button.textContent);
    button.hidden = false;
    button.onclick = function () { run(Date.now()); };
    if (state.start && state.start + ms > Date.now()) { run(state.start); }  // back to a running timer
    else if (state.start || state.over) {  // it ended while the page was away
      box.classList.add("is-over");
      if (state.start && !holds) { status.textContent = "Time's up."; clock.textContent = "0 s"; }
      button.textContent = label(true);
    }
  }

  // Back from a locked screen or a sleeping tab: the clock jumps to the true time.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState !== "visible" || !running) { return; }
    window.clearTimeout(running.timeout);
    if (navigator.wakeLock && !running.lock && !running.box.classList.contains("is-over")) {
      navigator.wakeLock.request("screen").then(function (lock) {
        if (running) { running.lock = lock; } else { lock.release(); }
      }).catch(function () {});
    }
    running.show();
  });

  startTimerBox();
})();
