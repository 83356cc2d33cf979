// Listing page "Try it": turn the input fields into a ready-to-send jobs request.
(function () {
  function build(form, output) {
    var inputs = {};
    var shots = 1024;
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name) return;
      if (field.name === "__shots") { shots = parseInt(field.value, 10) || 1024; return; }
      var type = field.dataset.inputType;
      var value = field.value;
      if (type === "number" || type === "integer") {
        value = Number(value);
        if (Number.isNaN(value)) value = 0;
      } else if (type === "boolean") {
        value = value === "true" || value === "1";
      }
      inputs[field.name] = value;
    });
    var body = JSON.stringify({ inputs: inputs, device: "aer-simulator", shots: shots });
    output.value = "curl -X POST " + form.dataset.apiUrl + " \\\n" +
      "  -H 'X-API-Key: <your subscription key>' -H 'Content-Type: application/json' \\\n" +
      "  -d '" + body + "'";
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("try-form");
    var output = document.getElementById("try-request");
    if (!form || !output) return;
    form.addEventListener("input", function () { build(form, output); });
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    build(form, output);
  });
})();
