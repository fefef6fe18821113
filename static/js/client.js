// Client pages: load a step's video only when tapped (keeps Today light and private),
// playing inline on iPhones; print button on the whole-plan page; the calendar link's
// Copy button on Settings (hidden without JS: the page offers two links as well).
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
})();
