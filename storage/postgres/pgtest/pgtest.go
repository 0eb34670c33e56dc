// Package pgtest gives tests a PostgreSQL database of their own. It is imported by tests only.
//
// Tests that need PostgreSQL run when ENRICHER_TEST_DATABASE_URL names a server where they may
// create and drop databases (.ci/postgres/start.sh starts a throwaway one and prints its URL);
// without it they are skipped, saying so, and .ci/run fails when they did not run.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// URLEnv names the variable that holds the test server's URL.
const URLEnv = "ENRICHER_TEST_DATABASE_URL"

// Database creates a database named prefix_<random hex> on the server of
// ENRICHER_TEST_DATABASE_URL, drops it (closing its connections) when t ends, and returns its
// URL. Without the variable it skips t with a message naming what did not run.
func Database(t testing.TB, prefix, what string) string {
	t.Helper()
	base := os.Getenv(URLEnv)
	if base == "" {
		t.Skip(URLEnv + " is not set: " + what + " did not run (see .ci/postgres/start.sh)")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", URLEnv, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	name := prefix + "_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", URLEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}
