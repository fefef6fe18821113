// Time-zone inputs (<input list> + <datalist data-zones>): the page carries a dozen likely
// zones; the full list is a cached static JSON file, fetched once on first focus. The
// server checks whatever is typed, so without this script the input still works.
(function () {
  "use strict";

  function fill(list) {
    if (list.getAttribute("data-loaded")) { return; }
    list.setAttribute("data-loaded", "1");
    fetch(list.getAttribute("data-zones"), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(function (names) {
        var have = {};
        Array.prototype.forEach.call(list.options, function (o) { have[o.value] = true; });
        var more = document.createDocumentFragment();
        names.forEach(function (name) {
          if (have[name]) { return; }
          var option = document.createElement("option");
          option.value = name;
          more.appendChild(option);
        });
        list.appendChild(more);
      })
      .catch(function () { list.removeAttribute("data-loaded"); });
  }

  document.addEventListener("focusin", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[list]")) { return; }
    var list = document.getElementById(input.getAttribute("list"));
    if (list && list.hasAttribute("data-zones")) { fill(list); }
  });
})();
