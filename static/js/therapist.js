// Therapist pages: copy the client's link; show only the chosen protocol's step tweaks.
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) { return; }
    var field = document.querySelector(button.getAttribute("data-copy"));
    field.select();
    var done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard) {
      navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  });

  var select = document.getElementById("id_protocol");
  var sections = document.querySelectorAll(".protocol-steps");
  function showChosen() {
    sections.forEach(function (section) {
      section.hidden = select && section.getAttribute("data-protocol") !== select.value;
    });
  }
  if (select && sections.length > 1) {
    select.addEventListener("change", showChosen);
    showChosen();
  }
})();
