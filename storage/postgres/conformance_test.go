package postgres

import (
	"context"
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/storage/postgres/pgtest"
	"github.com/entity-enricher/enricher/storage/storagetest"
)

// testDatabase creates a database of its own for this test, dropped when t ends (pgtest).
func testDatabase(t testing.TB) string {
	t.Helper()
	return pgtest.Database(t, "enricher_test", "the PostgreSQL tests")
}

// schemaURL creates a fresh schema in the database at dbURL and returns the URL that opens
// stores in it.
func schemaURL(t *testing.T, dbURL string, n int64) string {
	t.Helper()
	schema := fmt.Sprintf("t%d", n)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("pool_max_conns", "4")
	u.RawQuery = q.Encode()
	return u.String()
}

// schemaOpener opens each store in a fresh schema of the database at dbURL, so the suite's
// parallel tests each start empty.
func schemaOpener(dbURL string) storagetest.Opener {
	var n atomic.Int64
	return func(t *testing.T) storagetest.Backend {
		t.Helper()
		db, err := Open(Config{URL: schemaURL(t, dbURL, n.Add(1))})
		require.NoError(t, err)
		return db
	}
}

// TestConformance runs the storage conformance suite against PostgreSQL.
func TestConformance(t *testing.T) {
	storagetest.Run(t, schemaOpener(testDatabase(t)))
}
