package api

import (
	"context"

	"github.com/entity-enricher/enricher"
)

type fetchRequest struct {
	URL  string              `json:"url"`
	Auth *enricher.FetchAuth `json:"auth"`
}

// handleBatchFetch serves POST /api/enrichment/batch/fetch. The auth values serve
// this one request and are neither stored nor logged.
func handleBatchFetch(c *call) error {
	var req fetchRequest
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	if req.URL == "" {
		return enricher.Errorf(enricher.KindInvalid, "url: required")
	}
	auth := enricher.FetchAuth{}
	if req.Auth != nil {
		auth = *req.Auth
	}
	entities, format, elapsed, err := c.s.deps.Fetcher.FetchEntities(context.Background(), req.URL, auth)
	if err != nil {
		return err
	}
	return c.ok(map[string]any{"entities": entities, "total": len(entities), "format": format, "fetch_time_ms": elapsed.Milliseconds()})
}
