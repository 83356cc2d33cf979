// Job list: changing the status filter applies it at once (the form still works without JS).
document.addEventListener("change", function (event) {
  if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
});
