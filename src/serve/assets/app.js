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

  // A note is required: a ready-made one or the moderator's own words. Say so before posting
  // (the server refuses it too), without losing anything typed.
  document.querySelectorAll("form").forEach(function (form) {
    var preset = form.querySelector("select.preset");
    var text = form.querySelector("textarea[name=note]");
    if (!preset || !text) { return; }
    form.addEventListener("submit", function (e) {
      if (preset.value === "" && text.value.trim() === "") {
        e.preventDefault();
        say(form, "Choose a ready-made note or write one first.");
        preset.focus();
      }
    });
  });
  function say(form, message) {
    var p = form.querySelector(".say");
    if (!p) {
      p = document.createElement("p");
      p.className = "say";
      p.setAttribute("role", "alert");
      form.insertBefore(p, form.querySelector("button[type=submit]"));
    }
    p.textContent = message;
  }

  // Keyboard shortcuts (listed under "Keyboard" on the page). None fires while typing in a text
  // field; Esc leaves the field. An action key goes to its form (choose a note with the arrow
  // keys), the same key again submits it.
  function typing(el) {
    if (!el) { return false; }
    var tag = el.tagName;
    if (tag === "TEXTAREA" || el.isContentEditable) { return true; }
    return tag === "INPUT" && ["checkbox", "radio", "submit", "button", "hidden", "reset"].indexOf(el.type) < 0;
  }
  function follow(id) {
    var a = document.getElementById(id);
    if (a) { window.location.href = a.href; return true; }
    return false;
  }
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) { return; }
    var active = document.activeElement;
    if (e.key === "Escape") {
      if (typing(active) || (active && active.tagName === "SELECT")) { active.blur(); return; }
      var back = document.querySelector('[data-key="Escape"]');
      if (back) { back.click(); }
      return;
    }
    if (typing(active)) { return; }
    var key = e.key;
    var done = true;
    if (key === "?") {
      var keys = document.getElementById("keys");
      if (keys) { keys.open = !keys.open; if (keys.open) { keys.scrollIntoView({ block: "nearest" }); } }
    } else if (key === "n" || key === "j") {
      done = follow("next");
    } else if (key === "k") {
      done = follow("previous");
    } else if (key === "q") {
      done = follow("to-queue");
    } else {
      var form = document.querySelector('form[data-key="' + key + '"]');
      if (!form) { return; }
      if (form.id === "confirm-form" || form.classList.contains("armed")) {
        form.requestSubmit();
      } else {
        document.querySelectorAll("form.armed").forEach(function (f) { f.classList.remove("armed"); });
        form.classList.add("armed");
        form.scrollIntoView({ block: "center" });
        var target = form.id === "caption-form" ? form.querySelector("textarea[name=caption]") : form.querySelector("select.preset");
        if (target) { target.focus(); }
        if (form.id !== "caption-form") {
          say(form, "Choose a note (arrow keys), then press " + key + " again.");
        }
      }
    }
    if (done) { e.preventDefault(); }
  });
});
