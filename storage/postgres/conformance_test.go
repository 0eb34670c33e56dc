package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/storage/storagetest"
)

// testDatabaseURL names the PostgreSQL server the tests use; they do not run without it
// (.ci/postgres/start.sh starts a throwaway one and prints its URL).
const testDatabaseURL = "ENRICHER_TEST_DATABASE_URL"

// testDatabase creates a database of its own for this test run on the server of
// ENRICHER_TEST_DATABASE_URL, dropped when t ends, and returns its URL. Without the variable
// the test is skipped, saying so.
func testDatabase(t testing.TB) string {
	t.Helper()
	base := os.Getenv(testDatabaseURL)
	if base == "" {
		t.Skip(testDatabaseURL + " is not set: the PostgreSQL tests did not run (see .ci/postgres/start.sh)")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	require.NoError(t, err)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "enricher_test_" + hex.EncodeToString(b)
	_, err = admin.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := admin.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)")
		require.NoError(t, err)
		require.NoError(t, admin.Close(ctx))
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	u.Path = "/" + name
	return u.String()
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
