// The submission form shows the fields of the chosen kind only. Without JavaScript every field shows,
// each group saying which kind it is for, and the server ignores the fields of other kinds.
(function () {
  "use strict";
  var form = document.querySelector("form[data-kind-form]");
  if (!form) return;
  document.documentElement.classList.add("js");
  var groups = form.querySelectorAll("fieldset[data-kinds]");

  function update() {
    var chosen = form.querySelector('input[name="kind"]:checked');
    var kind = chosen ? chosen.value : "";
    groups.forEach(function (group) {
      var shown = group.getAttribute("data-kinds").split(" ").indexOf(kind) !== -1;
      group.hidden = !shown;
      group.disabled = !shown; // hidden fields are not sent
    });
  }

  form.addEventListener("change", function (event) {
    if (event.target.name === "kind") update();
  });
  update();
})();
