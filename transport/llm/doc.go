// Package llm is the provider seam of Entity Enricher: the Provider interface every vendor
// adapter implements, the error kinds calls fail with, the transport retry policy, and the
// model catalog (built-in models, the models file, prices, availability from credentials).
//
// One sub-package per wire protocol implements Provider: sim (the built-in simulator), and the
// vendor adapters. Nothing here reads the environment: the caller passes lookups in.
package llm
