// init.js renders the OpenAPI document inlined in /docs with swagger-ui. It is a file of its
// own (not an inline script) so that the page's Content-Security-Policy can forbid inline
// scripts. A ?token= in the page URL pre-authorizes "Try it out" and is then removed from the
// address bar.
(function () {
  "use strict";
  var spec = JSON.parse(document.getElementById("openapi-document").textContent);
  var ui = SwaggerUIBundle({
    spec: spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    defaultModelsExpandDepth: 0,
    docExpansion: "list",
    syntaxHighlight: { activate: true, theme: "agate" }
  });
  var params = new URLSearchParams(window.location.search);
  var token = params.get("token");
  if (token) {
    ui.preauthorizeApiKey("BearerAuth", token);
    params.delete("token");
    var rest = params.toString();
    window.history.replaceState(null, "", window.location.pathname + (rest ? "?" + rest : "") + window.location.hash);
  }
  window.ui = ui;
})();
