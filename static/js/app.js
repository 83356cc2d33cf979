// Small behaviours shared by every page. htmx sends the CSRF token from <body hx-headers>.
// Scripts run: the phone-width menu may hide the links behind its button (see app.css).
document.documentElement.classList.add("js");

document.addEventListener("click", function (event) {
  // Buttons that copy a value: <button data-copy="#selector">.
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var source = document.querySelector(button.dataset.copy);
  if (!source) return;
  navigator.clipboard.writeText(source.value || source.textContent.trim()).then(function () {
    button.textContent = "Copied";
  });
});

// Code blocks may scroll sideways: make them focusable so keyboard users can scroll them.
function focusableCode(root) {
  root.querySelectorAll("pre:not([tabindex])").forEach(function (pre) {
    pre.tabIndex = 0;
  });
}
// Tables and wide figures scroll inside themselves at phone width (app.css): while one
// does, it takes the keyboard focus too, so it can be scrolled with the arrow keys; it
// leaves the tab order again when the window is wide enough to show it whole.
var SCROLLERS = "main table, .table-scroll, .map-scroll, main .overflow-auto";
function focusableScrollers() {
  document.querySelectorAll(SCROLLERS).forEach(function (el) {
    var scrolls = el.scrollWidth > el.clientWidth + 1;
    if (scrolls && !el.hasAttribute("tabindex")) {
      el.tabIndex = 0;
      el.dataset.scrollFocus = "";
      if (el.tagName !== "TABLE" && !el.hasAttribute("role")) {
        // A focusable box needs a role and a name; a table keeps its own semantics.
        var caption = el.querySelector("caption, figcaption");
        el.setAttribute("role", "region");
        el.setAttribute("aria-label", caption ? caption.textContent.trim() : "Scrollable content");
      }
    } else if (!scrolls && "scrollFocus" in el.dataset) {
      el.removeAttribute("tabindex");
      delete el.dataset.scrollFocus;
      if (el.getAttribute("role") === "region") {
        el.removeAttribute("role");
        el.removeAttribute("aria-label");
      }
    }
  });
}
document.addEventListener("DOMContentLoaded", function () {
  focusableCode(document);
  focusableScrollers();
});
document.addEventListener("htmx:afterSwap", function (event) {
  focusableCode(event.target);
  focusableScrollers();
});
window.addEventListener("resize", focusableScrollers);

// The phone-width menu button shows and hides the navigation links (Escape closes it).
document.addEventListener("click", function (event) {
  var toggle = event.target.closest(".nav-toggle");
  if (!toggle) return;
  var open = toggle.getAttribute("aria-expanded") !== "true";
  toggle.setAttribute("aria-expanded", open ? "true" : "false");
  toggle.closest("nav").classList.toggle("nav-open", open);
});
document.addEventListener("keydown", function (event) {
  if (event.key !== "Escape") return;
  var toggle = document.querySelector('.nav-toggle[aria-expanded="true"]');
  if (!toggle) return;
  toggle.setAttribute("aria-expanded", "false");
  toggle.closest("nav").classList.remove("nav-open");
  toggle.focus();
});
