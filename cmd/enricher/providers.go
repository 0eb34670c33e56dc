package main

import (
	"github.com/entity-enricher/enricher/actors"
	"github.com/entity-enricher/enricher/transport/api"
	"github.com/entity-enricher/enricher/transport/llm"
	"github.com/entity-enricher/enricher/transport/llm/sim"
)

// newProviders builds one client per available provider whose wire protocol is implemented.
func newProviders(cat *llm.Catalog, seed int64) map[string]actors.Provider {
	out := map[string]actors.Provider{}
	for _, p := range cat.Providers() {
		if !p.Available {
			continue
		}
		switch p.Protocol {
		case "sim":
			profiles := map[string]sim.Profile{}
			for name, sp := range cat.SimProfiles() {
				profiles[name] = sim.Profile{BaseLatencyMS: sp.BaseLatencyMS, MSPerOutputToken: sp.MSPerOutputToken,
					Jitter: sp.Jitter, TimeoutMS: sp.TimeoutMS, Faults: sp.Faults}
			}
			out[p.Name] = actors.Provider{Impl: sim.New(sim.Config{Seed: seed, Profiles: profiles}), Concurrency: p.MaxConcurrency}
		}
	}
	return out
}

// engineAPI adapts actors.Engine to the front end's Engine interface.
type engineAPI struct{ *actors.Engine }

// Subscribe returns the engine's stream as an api.EventStream.
func (e engineAPI) Subscribe(org, id string) (api.EventStream, error) {
	s, err := e.Engine.Subscribe(org, id)
	if err != nil {
		return nil, err
	}
	return s, nil
}
