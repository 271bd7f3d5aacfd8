// consentgate review page: small conveniences only; every action also works without script.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var select = document.getElementById("face-number");
  // Clicking a face box (or its row in the table) chooses it in the "This face is…" form.
  document.querySelectorAll("[data-face]").forEach(function (el) {
    var n = el.getAttribute("data-face");
    el.addEventListener("click", function () {
      if (select) {
        select.value = n;
        select.focus();
      }
    });
    el.addEventListener("mouseenter", function () { mark(n, true); });
    el.addEventListener("mouseleave", function () { mark(n, false); });
  });
  function mark(n, on) {
    document.querySelectorAll('[data-face="' + n + '"]').forEach(function (x) {
      x.classList.toggle("hover", on);
    });
  }
});
