// Small behaviours shared by every page. htmx sends the CSRF token from <body hx-headers>.
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
document.addEventListener("DOMContentLoaded", function () { focusableCode(document); });
document.addEventListener("htmx:afterSwap", function (event) { focusableCode(event.target); });
