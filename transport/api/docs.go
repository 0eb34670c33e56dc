package api

import (
	"bytes"
	"embed"
	"encoding/json"
	"path"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher"
)

// openAPIDocument is the OpenAPI 3.1 description of every route. It is the single
// source of the API documentation: GET /api/openapi.json serves it as is and GET /docs inlines
// it. TestOpenAPIMatchesRoutes keeps it in step with routeTable.
//
//go:embed openapi.json
var openAPIDocument []byte

// docsUI holds the page's static files: swagger-ui-dist's bundle, stylesheet and licenses
// (vendored unmodified from the npm package, see docsui/README.md) and init.js.
//
//go:embed docsui
var docsUI embed.FS

// docsCSP allows only this server's own scripts; swagger-ui sets inline styles and uses data:
// images in its stylesheet. "Try it out" calls go to this server (connect-src 'self').
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// docsPage returns the /docs HTML, built once: the document is inlined as a JSON data block
// (HTML-escaped, so no "</script>" can end it early) and the scripts and stylesheet are loaded
// from docs/assets/ relative to the page.
var docsPage = sync.OnceValue(func() []byte {
	var compact, escaped bytes.Buffer
	if err := json.Compact(&compact, openAPIDocument); err != nil {
		panic("api: embedded openapi.json is not valid JSON: " + err.Error())
	}
	json.HTMLEscape(&escaped, compact.Bytes())
	var b bytes.Buffer
	b.WriteString(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Entity Enricher API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script id="openapi-document" type="application/json">`)
	b.Write(escaped.Bytes())
	b.WriteString(`</script>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/assets/init.js"></script>
</body>
</html>
`)
	return b.Bytes()
})

// handleOpenAPI serves the OpenAPI document.
func handleOpenAPI(c *call) error {
	c.ctx.Response.Header.Set("Cache-Control", "no-store")
	c.ctx.SetStatusCode(fasthttp.StatusOK)
	c.ctx.SetContentType("application/json")
	c.ctx.SetBody(openAPIDocument)
	return nil
}

// handleDocs serves the interactive documentation page.
func handleDocs(c *call) error {
	h := &c.ctx.Response.Header
	h.Set("Content-Security-Policy", docsCSP)
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	c.ctx.SetStatusCode(fasthttp.StatusOK)
	c.ctx.SetContentType("text/html; charset=utf-8")
	c.ctx.SetBody(docsPage())
	return nil
}

// assetTypes are the content types of the files under docsui; other names are 404.
var assetTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".txt": "text/plain; charset=utf-8",
	"":     "text/plain; charset=utf-8", // LICENSE, NOTICE
}

// handleDocsAsset serves a static file of the documentation page. The files hold only the
// swagger-ui library and its licenses, so the route is public.
func handleDocsAsset(c *call) error {
	name, _ := c.ctx.UserValue("file").(string)
	ctype, known := assetTypes[path.Ext(name)]
	body, err := docsUI.ReadFile("docsui/" + name)
	if !known || err != nil || name != path.Base(name) {
		return enricher.Errorf(enricher.KindNotFound, "not found")
	}
	h := &c.ctx.Response.Header
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("X-Content-Type-Options", "nosniff")
	c.ctx.SetStatusCode(fasthttp.StatusOK)
	c.ctx.SetContentType(ctype)
	c.ctx.SetBody(body)
	return nil
}
