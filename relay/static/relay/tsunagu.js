// Tsunagu: small progressive enhancements. Every screen works without this file.
(function () {
  "use strict";

  // Filter a long list of agencies as the user types (the list is server-rendered).
  function setupFilters() {
    document.querySelectorAll("[data-filter-for]").forEach(function (input) {
      var list = document.getElementById(input.getAttribute("data-filter-for"));
      if (!list) return;
      input.addEventListener("input", function () {
        var q = input.value.trim().toLowerCase();
        list.querySelectorAll("[data-filter-text]").forEach(function (item) {
          var text = item.getAttribute("data-filter-text").toLowerCase();
          var checked = item.querySelector("input:checked");
          item.hidden = q !== "" && text.indexOf(q) === -1 && !checked;
        });
        list.querySelectorAll(".group").forEach(function (group) {
          group.hidden = !group.querySelector("[data-filter-text]:not([hidden])");
        });
      });
    });
  }

  // Consent screen: show the fields of consent or of a lawful basis, whichever is chosen.
  function setupBasisToggle() {
    var radios = document.querySelectorAll("input[name='basis']");
    if (!radios.length) return;
    function apply() {
      var chosen = document.querySelector("input[name='basis']:checked");
      var lawful = chosen && chosen.value !== "consent";
      document.querySelectorAll("[data-basis='consent']").forEach(function (el) { el.hidden = lawful; });
      document.querySelectorAll("[data-basis='lawful']").forEach(function (el) { el.hidden = !lawful; });
    }
    radios.forEach(function (r) { r.addEventListener("change", apply); });
    apply();
  }

  function setupPrint() {
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupFilters();
    setupBasisToggle();
    setupPrint();
  });
})();
