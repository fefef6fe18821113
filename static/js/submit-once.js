// Forms marked data-submit-once (they create something): one click sends one post. The
// submit button disables itself and says "Saving…"; the form is aria-busy. Going back to
// the page (bfcache) gives the button back. The server's submission key
// (aftercare/submissions.py) is what holds when this script did not run.
(function () {
  "use strict";

  var SAVING = "Saving\u2026";

  function buttons(form) {
    return form.querySelectorAll("button:not([type=button]):not([type=reset]), input[type=submit]");
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-submit-once")) { return; }
    if (form.getAttribute("aria-busy") === "true") { event.preventDefault(); return; }
    if (event.defaultPrevented) { return; }  // another script stopped this submit
    form.setAttribute("aria-busy", "true");
    var clicked = event.submitter || buttons(form)[0];
    // After this event: the browser has read the form (a disabled button would not be sent).
    window.setTimeout(function () {
      buttons(form).forEach(function (button) {
        button.disabled = true;
        if (button === clicked) {
          button.setAttribute("data-label", button.tagName === "INPUT" ? button.value : button.textContent);
          if (button.tagName === "INPUT") { button.value = SAVING; } else { button.textContent = SAVING; }
        }
      });
    }, 0);
  });

  // Back to a page from the back-forward cache: the form is usable again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submit-once][aria-busy=true]").forEach(function (form) {
      form.removeAttribute("aria-busy");
      buttons(form).forEach(function (button) {
        button.disabled = false;
        var label = button.getAttribute("data-label");
        if (label !== null) {
          if (button.tagName === "INPUT") { button.value = label; } else { button.textContent = label; }
          button.removeAttribute("data-label");
        }
      });
    });
  });
})();
