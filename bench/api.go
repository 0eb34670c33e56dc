package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/entity-enricher/enricher/transport/client"
)

// api is a raw-HTTP JSON caller, authenticated with benchKey: the overhead scenario's direct
// calls to the fake upstream. It is safe for concurrent use.
type api struct {
	base string
	hc   *http.Client
}

func newAPI(base string, conns int) *api {
	return &api{base: base, hc: &http.Client{Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: 0}}}
}

// call sends body (JSON) and decodes a 2xx answer into out (nil: discard). A non-2xx status
// is an error carrying the answer's body.
func (a *api) call(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("X-API-Key", benchKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// sseEvent is one frame of a job stream: its id, its type and its raw data.
type sseEvent struct {
	ID   int64
	Type string
	Data []byte
	At   time.Time // when the frame was read
}

// readSSE parses frames from r until a terminal event or the end of r. The harness's raw
// subscribers use it (thousands of them, each a bare connection); everything else goes
// through transport/client.
func readSSE(r io.Reader, fn func(sseEvent)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if ev.Data == nil {
				continue
			}
			var head struct {
				Type string `json:"type"`
			}
			_ = json.Unmarshal(ev.Data, &head)
			ev.Type, ev.At = head.Type, time.Now()
			fn(ev)
			if head.Type == "completed" || head.Type == "failed" || head.Type == "cancelled" {
				return nil
			}
			ev = sseEvent{}
		case bytes.HasPrefix(line, []byte("id: ")):
			ev.ID, _ = strconv.ParseInt(string(line[4:]), 10, 64)
		case bytes.HasPrefix(line, []byte("data: ")):
			ev.Data = append([]byte(nil), line[6:]...)
		}
	}
	return sc.Err()
}

// benchClient is the Go client of the server at base, with conns idle connections kept.
func benchClient(base string, conns int) *client.Client {
	return client.New(base, client.WithAPIKey(benchKey), client.WithHTTPClient(&http.Client{
		Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns}}))
}
