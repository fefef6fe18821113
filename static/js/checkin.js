// The check-in, in place (without this file the page still works, everything visible):
// - "Yes" to the warning signs opens the list and hides the pain questions; "No" closes it.
//   "None of these after all" goes back to the check-in.
// - "Both legs" or "woken by pain" asks the matching warning sign again, under the answer;
//   it must be answered before the check-in is saved.
(function () {
  "use strict";

  var form = document.querySelector("form[data-checkin]");
  if (!form) { return; }
  var details = form.querySelector("details.signs-list");
  var after = form.querySelector("#after-warning");
  var asked = form.querySelector("[data-reask-asked]");
  var none = form.querySelector("input[name=signs_none]");
  // sign -> [the answer's field, the value that asks it] (forms.REASKS)
  var REASKS = { legs_weak: ["legs", "both"], night_pain: ["sleep", "woken"] };

  function checked(name) {
    var input = form.querySelector("input[name=" + name + "]:checked");
    return input ? input.value : "";
  }

  function signBoxes() {
    return form.querySelectorAll("input[name=safety_signs]");
  }

  function showWarning() {
    var answer = checked("warning");
    var yes = answer === "yes";
    if (details) {
      if (yes) { details.open = true; }
      // A ticked sign stays in sight: it counts even with "No" (never drop a red flag).
      var ticked = form.querySelector("input[name=safety_signs]:checked");
      if (answer === "no" && !ticked) { details.open = false; }
      details.classList.toggle("disclosed", yes);
    }
    if (after) { after.hidden = yes; }
  }

  function showReasks() {
    var shown = [];
    Object.keys(REASKS).forEach(function (sign) {
      var group = form.querySelector("[data-reask=" + sign + "]");
      if (!group) { return; }
      var on = checked(REASKS[sign][0]) === REASKS[sign][1];
      if (on && group.hidden) {
        group.hidden = false;
      } else if (!on && !group.hidden) {
        group.hidden = true;
        group.querySelectorAll("input").forEach(function (input) { input.checked = false; });
      }
      if (on) { shown.push(sign); }
    });
    if (asked) { asked.value = shown.join(","); }
  }

  function noneAfterAll() {
    // "None of these after all": untick the signs, answer No and carry on below.
    signBoxes().forEach(function (box) { box.checked = false; });
    var no = form.querySelector("input[name=warning][value=no]");
    if (no) { no.checked = true; }
    showWarning();
    var first = after && after.querySelector("input");
    if (first) { first.focus(); }
  }

  form.addEventListener("change", function (event) {
    var name = event.target.name;
    if (name === "warning") {
      if (event.target.value === "yes" && none) { none.checked = false; }
      showWarning();
    } else if (name === "signs_none" && event.target.checked) {
      noneAfterAll();
    } else if (name === "safety_signs" && event.target.checked && none) {
      none.checked = false;
    } else if (name in { legs: 1, sleep: 1 }) {
      showReasks();
    }
  });

  form.addEventListener("submit", function (event) {
    // A re-ask on screen must be answered (the server says so too, after a round trip).
    var open = form.querySelectorAll("[data-reask]:not([hidden])");
    for (var i = 0; i < open.length; i++) {
      if (!open[i].querySelector("input:checked") && !(after && after.hidden)) {
        event.preventDefault();
        open[i].classList.add("has-error");
        var note = open[i].querySelector(".invalid-feedback");
        if (!note) {
          note = document.createElement("p");
          note.className = "invalid-feedback";
          note.id = "err-" + open[i].id;
          note.textContent = "Please answer this one before we save: it keeps you safe.";
          open[i].querySelector("legend").after(note);
          open[i].setAttribute("aria-describedby", note.id);
        }
        open[i].querySelector("input").focus();
        return;
      }
    }
  });

  showWarning();
  showReasks();
})();
