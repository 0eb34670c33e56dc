package fetch

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
)

// CheckURL applies the guard of a fetch to rawURL without sending anything: http or https,
// no user info, at most 2048 characters, and every address the host resolves to allowed.
// Errors are KindInvalid with a detail naming the problem (webhook URLs at job start).
func (f *Fetcher) CheckURL(ctx context.Context, rawURL string) error {
	if len(rawURL) > 2048 {
		return invalid("url: at most 2048 characters")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return invalid("url: not a valid URL")
	}
	if err := checkURL(u); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", u.Hostname())
	if err != nil || len(ips) == 0 {
		return invalid("cannot resolve %s", u.Hostname())
	}
	for _, ip := range ips {
		if err := f.allowed(ip); err != nil {
			return err
		}
	}
	return nil
}

// maxPostAnswer is how much of a POST's answer is read (and dropped) before the connection
// closes; the status is all that matters.
const maxPostAnswer = 64 << 10

// Post sends body to rawURL with header through the same guarded dialer as Fetch: every
// resolved address is checked when the connection opens, so a host whose DNS changed since
// CheckURL is refused. Redirects are not followed (a 3xx is returned as the status). The whole
// exchange is bounded by the Fetcher's timeout. It returns the HTTP status, or a KindInvalid
// error with a client-safe detail (refused address, timeout, connection failure).
func (f *Fetcher) Post(ctx context.Context, rawURL string, header http.Header, body []byte) (int, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, invalid("url: not a valid URL")
	}
	if err := checkURL(u); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, invalid("url: not a valid URL")
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := f.do(req, f.poster)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxPostAnswer))
	_ = res.Body.Close()
	return res.StatusCode, nil
}
