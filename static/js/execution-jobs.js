// Job list: changing a filter applies it at once (the form still works without JS).
document.addEventListener("change", function (event) {
  if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
});

// Bulk cancel asks first; the live list does not refresh under a half-made selection.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.matches("form[data-confirm]") && !window.confirm(form.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});
document.addEventListener("htmx:beforeRequest", function (event) {
  var rows = event.detail.elt;
  if (rows && rows.id === "job-rows" && rows.querySelector("input[name=ids]:checked")) {
    event.preventDefault();
  }
});

// A running job shows how long it has run, ticking each second (the status poll swaps the
// element; the next tick finds the new one).
function tickElapsed() {
  document.querySelectorAll("[data-elapsed-since]").forEach(function (el) {
    var since = Date.parse(el.getAttribute("data-elapsed-since"));
    if (isNaN(since)) return;
    var seconds = Math.max(0, Math.floor((Date.now() - since) / 1000));
    el.textContent = seconds < 120 ? seconds + " s" : Math.floor(seconds / 60) + " min " + (seconds % 60) + " s";
  });
}
setInterval(tickElapsed, 1000);
document.addEventListener("DOMContentLoaded", tickElapsed);
// A poll answered 304 swaps in the browser's cached copy, whose text is from when it was
// rendered: correct it at once rather than on the next tick.
document.addEventListener("htmx:afterSwap", tickElapsed);

// The submit form sends once: a second click while the first submission is in flight is
// ignored (the button says so); coming back to the page (back button) re-enables it.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.matches("form[data-submit-once]") || event.defaultPrevented) return;
  if (form.dataset.submitting) {
    event.preventDefault();
    return;
  }
  form.dataset.submitting = "1";
  form.querySelectorAll("button[type=submit]").forEach(function (button) {
    button.setAttribute("aria-disabled", "true");
    button.setAttribute("aria-busy", "true");
  });
});
window.addEventListener("pageshow", function () {
  document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
    delete form.dataset.submitting;
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      button.removeAttribute("aria-disabled");
      button.removeAttribute("aria-busy");
    });
  });
});
