// Package api is the HTTP front end of Entity Enricher: a fasthttp server with fasthttp/router
// routes, credential resolution, role and scope checks, request decoding with limits, the one
// mapping from domain errors to HTTP statuses, and JSON responses shaped as the OpenAPI document says.
//
// The package talks to storage and to the enrichment engine only through the small interfaces
// it declares (store.go); it never imports actors/ or storage/. A *Server is safe for
// concurrent use once built; handlers never keep a *fasthttp.RequestCtx or its byte slices
// past their return.
package api
