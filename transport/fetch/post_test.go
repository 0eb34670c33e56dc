package fetch

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
)

func TestCheckURLRefusesWhatFetchRefuses(t *testing.T) {
	f := New(Config{})
	for _, tt := range []struct{ url, want string }{
		{"http://127.0.0.1:9/hook", "loopback"},
		{"http://169.254.169.254/latest", "link-local"},
		{"http://[fd00::1]/hook", "private"},
		{"http://localhost/hook", "loopback"},
		{"gopher://example.com/", "only http and https"},
		{"https://user:pw@example.com/", "user info"},
		{"https:///nohost", "host is required"},
	} {
		t.Run(tt.url, func(t *testing.T) {
			err := f.CheckURL(context.Background(), tt.url)
			require.True(t, enricher.IsKind(err, enricher.KindInvalid), "%v", err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
	require.NoError(t, New(Config{AllowPrivate: true}).CheckURL(context.Background(), "http://127.0.0.1:9/hook"),
		"fetch_allow_private lifts the check")
}

func TestPostSendsHeadersAndReturnsTheStatus(t *testing.T) {
	var got http.Header
	var body []byte
	srv := listenOn(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, body = r.Header.Clone(), must(io.ReadAll(r.Body))
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	f := New(Config{AllowPrivate: true})
	status, err := f.Post(context.Background(), srv.URL+"/hook", http.Header{"Webhook-Id": {"abc"}}, []byte(`{"a":1}`))
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, status)
	require.Equal(t, "abc", got.Get("webhook-id"))
	require.Equal(t, `{"a":1}`, string(body))

	status, err = f.Post(context.Background(), srv.URL+"/moved", nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusTemporaryRedirect, status, "redirects are not followed")
}

func TestPostConnectsOnlyToCheckedAddresses(t *testing.T) {
	reached := false
	srv := listenOn(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))
	// The dialer checks the address at connect time, whatever CheckURL said before.
	f := New(Config{allowAddr: func(ip netip.Addr) error { return PublicAddr(ip) }})
	_, err := f.Post(context.Background(), srv.URL, nil, []byte("{}"))
	require.True(t, enricher.IsKind(err, enricher.KindInvalid))
	require.Contains(t, err.Error(), "loopback")
	require.False(t, reached)
}

func TestPostTimesOut(t *testing.T) {
	srv := listenOn(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	f := New(Config{AllowPrivate: true, Timeout: 200 * time.Millisecond})
	_, err := f.Post(context.Background(), srv.URL, nil, nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "did not answer")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
