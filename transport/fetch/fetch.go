// Package fetch downloads entity lists for batch enrichment: one GET to a
// user-given URL with an SSRF guard, limits on time, size and redirects, and decoding of JSON
// arrays, wrapped arrays, NDJSON and CSV. A Fetcher is safe for concurrent use. Credentials
// passed in an enricher.FetchAuth serve one request and are never stored or logged.
package fetch

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/entity-enricher/enricher"
)

// Config sets a Fetcher's limits. Zero values mean the defaults.
type Config struct {
	Timeout      time.Duration // whole exchange; default 10s
	MaxBytes     int64         // body; default 20 MiB
	MaxEntities  int           // items; default 10000
	AllowPrivate bool          // lift the address check (trusted networks); default false
	// allowAddr, when set, replaces the address check (tests).
	allowAddr func(netip.Addr) error
}

// Result is what a fetch found.
type Result struct {
	Entities []map[string]any
	Format   string // json | ndjson | csv
	Elapsed  time.Duration
}

// Fetcher makes guarded GETs.
type Fetcher struct {
	cfg    Config
	client *http.Client
	poster *http.Client // same transport, no redirects (Post)
}

// authHeaderKey carries the name of an API-key header to strip on cross-host redirects.
type authHeaderKey struct{}

// maxRedirects is fixed by the contract.
const maxRedirects = 5

// New returns a Fetcher for cfg.
func New(cfg Config) *Fetcher {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 20 << 20
	}
	if cfg.MaxEntities <= 0 {
		cfg.MaxEntities = 10000
	}
	f := &Fetcher{cfg: cfg}
	dialer := &net.Dialer{Timeout: cfg.Timeout}
	transport := &http.Transport{
		Proxy: nil, // a proxy would bypass the address check
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
			if err != nil {
				return nil, invalid("cannot resolve %s", host)
			}
			for _, ip := range ips {
				if err := f.allowed(ip); err != nil {
					return nil, err
				}
			}
			// Connect to the address that was checked: no second lookup.
			return dialer.DialContext(ctx, network, net.JoinHostPort(ips[0].Unmap().String(), port))
		},
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConns:          0,
		DisableKeepAlives:     true,
	}
	f.client = &http.Client{Transport: transport, Timeout: cfg.Timeout, CheckRedirect: f.checkRedirect}
	f.poster = &http.Client{Transport: transport, Timeout: cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return f
}

func invalid(format string, args ...any) error {
	return enricher.Errorf(enricher.KindInvalid, format, args...)
}

// allowed refuses addresses that are not on the public internet.
func (f *Fetcher) allowed(ip netip.Addr) error {
	if f.cfg.allowAddr != nil {
		return f.cfg.allowAddr(ip)
	}
	if f.cfg.AllowPrivate {
		return nil
	}
	return PublicAddr(ip)
}

var blocked = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"), // shared address space
	netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("255.255.255.255/32"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64 can reach private IPv4
}

// PublicAddr returns nil for a public unicast address, else an error naming why not.
func PublicAddr(ip netip.Addr) error {
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		return invalid("the URL resolves to a loopback address (%s)", ip)
	case ip.IsPrivate():
		return invalid("the URL resolves to a private address (%s)", ip)
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return invalid("the URL resolves to a link-local address (%s)", ip)
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return invalid("the URL resolves to a multicast address (%s)", ip)
	case ip.IsUnspecified():
		return invalid("the URL resolves to an unspecified address (%s)", ip)
	}
	for _, p := range blocked {
		if p.Contains(ip) {
			return invalid("the URL resolves to a reserved address (%s)", ip)
		}
	}
	return nil
}

func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return invalid("more than %d redirects", maxRedirects)
	}
	if err := checkURL(req.URL); err != nil {
		return err
	}
	if req.URL.Host != via[0].URL.Host { // credentials are not sent to another host
		req.Header.Del("Authorization")
		if h, ok := req.Context().Value(authHeaderKey{}).(string); ok {
			req.Header.Del(h)
		}
	}
	return nil
}

func checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return invalid("url: only http and https are allowed")
	}
	if u.User != nil {
		return invalid("url: user info is not allowed in the URL; use auth")
	}
	if u.Hostname() == "" {
		return invalid("url: a host is required")
	}
	return nil
}

// Fetch GETs rawURL with auth and decodes the entities it returns.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string, auth enricher.FetchAuth) (*Result, error) {
	start := time.Now()
	if len(rawURL) > 2048 {
		return nil, invalid("url: at most 2048 characters")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, invalid("url: not a valid URL")
	}
	if err := checkURL(u); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, invalid("url: not a valid URL")
	}
	req.Header.Set("Accept", "application/json, application/x-ndjson, text/csv;q=0.9, */*;q=0.5")
	switch auth.Type {
	case "", "none":
	case "bearer":
		req.Header.Set("Authorization", "Bearer "+auth.BearerToken)
	case "api_key":
		h := auth.APIKeyHeader
		if h == "" {
			h = "X-API-Key"
		}
		req.Header.Set(h, auth.APIKeyValue)
		req = req.WithContext(context.WithValue(req.Context(), authHeaderKey{}, h))
	case "basic":
		req.SetBasicAuth(auth.Username, auth.Password)
	default:
		return nil, invalid("auth.auth_type: unknown value %q", auth.Type)
	}
	res, err := f.do(req, f.client)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return nil, invalid("remote returned %d", res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, f.cfg.MaxBytes+1))
	if err != nil {
		return nil, invalid("reading the response failed: %v", errors.Unwrap(err))
	}
	if int64(len(body)) > f.cfg.MaxBytes {
		return nil, invalid("the response is larger than %d bytes", f.cfg.MaxBytes)
	}
	entities, format, err := Decode(body, res.Header.Get("Content-Type"), f.cfg.MaxEntities)
	if err != nil {
		return nil, err
	}
	return &Result{Entities: entities, Format: format, Elapsed: time.Since(start)}, nil
}

// do sends req with client and turns transport failures into client-safe 400s.
func (f *Fetcher) do(req *http.Request, client *http.Client) (*http.Response, error) {
	res, err := client.Do(req)
	if err == nil {
		return res, nil
	}
	var de *enricher.Error
	if errors.As(err, &de) {
		return nil, de
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil, invalid("the remote did not answer within %s", f.cfg.Timeout)
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return nil, invalid("fetching the URL failed: %s", msg)
}
