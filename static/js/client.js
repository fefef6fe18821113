// Client pages: load a step's video only when tapped (keeps Today light and private),
// playing inline on iPhones; print button on the whole-plan page.
(function () {
  "use strict";

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
    var printer = event.target.closest && event.target.closest("[data-print]");
    if (printer) { window.print(); }
  });
})();
