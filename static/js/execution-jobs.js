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
