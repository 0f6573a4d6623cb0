// The review page's keyboard shortcuts and time-spent counter (no inline script: CSP).
// a accept, e edit, o override, r reject, x escalate (each selects the decision and moves the focus
// to what it needs next), Ctrl+Enter submits, n claims the next item. Keys typed into a field are
// left alone. The counter adds up the time the page is visible and posts it as time_spent_ms.
(function () {
  "use strict";
  var KEYS = { a: "accept", e: "edit", o: "override", r: "reject", x: "escalate" };

  function typing(target) {
    if (!target || !target.tagName) { return false; }
    var tag = target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable) { return true; }
    return tag === "INPUT" && target.type !== "radio" && target.type !== "checkbox";
  }

  function submit(form) {
    if (typeof form.requestSubmit === "function") { form.requestSubmit(); } else { form.submit(); }
  }

  function setUp() {
    var form = document.getElementById("decision-form");
    var claim = document.getElementById("claim-next");
    var started = null;
    var spent = 0;
    var hidden = form ? form.querySelector("input[name=time_spent_ms]") : null;
    var shown = document.getElementById("time-spent");

    function total() { return spent + (started === null ? 0 : Date.now() - started); }
    function paint() {
      if (!shown) { return; }
      var seconds = Math.floor(total() / 1000);
      var rest = seconds % 60;
      shown.textContent = Math.floor(seconds / 60) + ":" + (rest < 10 ? "0" : "") + rest;
    }

    if (form && hidden) {
      spent = parseInt(hidden.value || "0", 10) || 0; // a re-rendered form goes on counting
      started = document.visibilityState === "hidden" ? null : Date.now();
      document.addEventListener("visibilitychange", function () {
        if (document.visibilityState === "hidden") {
          if (started !== null) { spent += Date.now() - started; started = null; }
        } else if (started === null) {
          started = Date.now();
        }
      });
      paint();
      window.setInterval(paint, 1000);
      form.addEventListener("submit", function () { hidden.value = String(Math.round(total())); });
      // Changing a field while "accept" (or nothing) is chosen means the reviewer is editing.
      form.querySelectorAll("[data-output]").forEach(function (field) {
        field.addEventListener("input", function () {
          var chosen = form.querySelector("input[name=decision]:checked");
          if (!chosen || chosen.value === "accept") {
            var edit = form.querySelector("input[name=decision][value=edit]");
            if (edit) { edit.checked = true; }
          }
        });
      });
    }

    document.addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
        if (form) { event.preventDefault(); submit(form); }
        return;
      }
      if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
      var key = event.key.toLowerCase();
      if (key === "n" && claim) { event.preventDefault(); submit(claim); return; }
      var decision = KEYS[key];
      if (!decision || !form) { return; }
      var radio = form.querySelector("input[name=decision][value=" + decision + "]");
      if (!radio) { return; }
      event.preventDefault();
      radio.checked = true;
      var next;
      if (decision === "edit" || decision === "override") {
        next = form.querySelector("[data-output]");
      } else if (decision === "accept") {
        next = form.querySelector("button[type=submit]");
      } else {
        next = form.querySelector("#reason_code");
      }
      (next || radio).focus();
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
