// Swagger UI from vendored files; validatorUrl null so nothing is sent off the machine.
(function () {
  var specUrl = document.getElementById("api-docs-script").dataset.specUrl;
  window.ui = SwaggerUIBundle({
    url: specUrl,
    dom_id: "#swagger-ui",
    validatorUrl: null,
    deepLinking: true,
  });
})();
