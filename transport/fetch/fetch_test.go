package fetch

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
)

func TestRefusesNonPublicAddresses(t *testing.T) {
	f := New(Config{})
	tests := []struct{ url, want string }{
		{"http://127.0.0.1/x", "loopback"},
		{"http://10.0.0.1/x", "private"},
		{"http://169.254.169.254/latest/meta-data", "link-local"},
		{"http://[::1]:8080/x", "loopback"},
		{"http://localhost:9/x", "loopback"},
		{"http://[::ffff:127.0.0.1]/x", "loopback"},
		{"http://100.64.1.1/x", "reserved"},
		{"http://0.0.0.0/x", "unspecified"},
		{"ftp://example.com/x", "only http and https"},
		{"http://user:pw@example.com/x", "user info"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := f.Fetch(context.Background(), tt.url, enricher.FetchAuth{})
			require.Error(t, err)
			require.True(t, enricher.IsKind(err, enricher.KindInvalid), err.Error())
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

// listenOn starts a test server on a given loopback address.
func listenOn(t *testing.T, addr string, h http.Handler) *httptest.Server {
	ln, err := net.Listen("tcp", addr+":0")
	require.NoError(t, err)
	s := httptest.NewUnstartedServer(h)
	s.Listener = ln
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func TestRedirectToLoopbackIsRefused(t *testing.T) {
	target := listenOn(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the redirect target must not be reached")
	}))
	start := listenOn(t, "127.0.0.2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/secret", http.StatusFound)
	}))
	// Treat 127.0.0.2 as public for this test; everything else is checked for real.
	f := New(Config{allowAddr: func(ip netip.Addr) error {
		if ip == netip.MustParseAddr("127.0.0.2") {
			return nil
		}
		return PublicAddr(ip)
	}})
	_, err := f.Fetch(context.Background(), start.URL+"/list", enricher.FetchAuth{})
	require.Error(t, err)
	require.Contains(t, err.Error(), "loopback")
}

func TestCredentialsStayOnTheirHost(t *testing.T) {
	var seen []string
	other := listenOn(t, "127.0.0.3", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("X-Token")+"|"+r.Header.Get("Authorization"))
		w.Write([]byte(`[{"name": "a"}]`))
	}))
	start := listenOn(t, "127.0.0.2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("X-Token"))
		http.Redirect(w, r, other.URL+"/list", http.StatusFound)
	}))
	f := New(Config{AllowPrivate: true})
	res, err := f.Fetch(context.Background(), start.URL, enricher.FetchAuth{Type: "api_key", APIKeyHeader: "X-Token", APIKeyValue: "s3cret"})
	require.NoError(t, err)
	require.Len(t, res.Entities, 1)
	require.Equal(t, []string{"s3cret", "|"}, seen, "the key goes to the first host only")
}

func TestDecodeFormats(t *testing.T) {
	tests := []struct {
		name, ct, body, format string
		n                      int
		err                    string
	}{
		{"array", "application/json", `[{"name":"a"},{"name":"b","n":2}]`, "json", 2, ""},
		{"wrapped", "application/json", `{"meta":1,"results":[{"name":"a"}]}`, "json", 1, ""},
		{"ndjson", "application/x-ndjson", "{\"name\":\"a\"}\n\n{\"name\":\"b\"}\n", "ndjson", 2, ""},
		{"ndjson sniffed", "text/plain", "{\"name\":\"a\"}\n{\"name\":\"b\"}", "ndjson", 2, ""},
		{"csv", "text/csv", "name,country\nPfizer,US\nRoche,\n", "csv", 2, ""},
		{"not an object", "application/json", `[{"name":"a"}, 3, 4]`, "", 0, "item 1 is not an object"},
		{"no wrapper", "application/json", `{"rows":[{"a":1}]}`, "", 0, "no array"},
		{"too many", "application/json", `[{},{},{},{}]`, "", 0, "maximum is 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, format, err := Decode([]byte(tt.body), tt.ct, 3)
			if tt.err != "" {
				require.Error(t, err)
				require.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.format, format)
			require.Len(t, out, tt.n)
		})
	}
	out, _, err := Decode([]byte("name,country\nRoche,\n"), "text/csv", 10)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"name": "Roche"}, out[0], "empty cells are left out")
}

func TestLimits(t *testing.T) {
	srv := listenOn(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			http.NotFound(w, r)
		case "/big":
			w.Write([]byte("[" + strings.Repeat(`{"name":"xxxxxxxx"},`, 200) + `{"name":"x"}]`))
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
	}))
	f := New(Config{AllowPrivate: true, MaxBytes: 1000, Timeout: 300 * time.Millisecond})
	for _, tt := range []struct{ path, want string }{
		{"/missing", "remote returned 404"},
		{"/big", "larger than 1000 bytes"},
		{"/slow", "did not answer"},
	} {
		_, err := f.Fetch(context.Background(), srv.URL+tt.path, enricher.FetchAuth{})
		require.Error(t, err, tt.path)
		require.Contains(t, err.Error(), tt.want)
	}
}
