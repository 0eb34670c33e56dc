package storage_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/storage"
	"github.com/entity-enricher/enricher/storage/storagetest"
)

// TestConformance runs the storage conformance suite against the badger store, in memory.
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Backend {
		db, err := storage.Open(storage.Config{InMemory: true})
		require.NoError(t, err)
		return db
	})
}
