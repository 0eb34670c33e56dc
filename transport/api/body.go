package api

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"net"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher"
)

// readTimeout bounds reading a request's headers and JSON body; an NDJSON body streams as
// long as its client keeps sending (the deadline moves with every read, streamBody).
const readTimeout = 60 * time.Second

// ctxStreamed is the user-value key set on requests whose body their handler streams.
const ctxStreamed = "enricher.streamed"

// ndjsonType is the content type of the streamed batch start form.
const ndjsonType = "application/x-ndjson"

// streamedRoutes are the routes that read an NDJSON body as it arrives.
var streamedRoutes = map[string]bool{"/api/enrichment/batch/start": true, "/api/batch/start": true}

// readBody runs before routing and authentication. It leaves an NDJSON batch start's body
// unread (its handler streams it; a declared length over MaxStreamBodyBytes is 413 here) and
// reads every other body whole, up to MaxBodyBytes (413 beyond).
func (s *Server) readBody(ctx *fasthttp.RequestCtx) error {
	declared := int64(ctx.Request.Header.ContentLength())
	if ctx.IsPost() && streamedRoutes[string(ctx.Path())] && isNDJSON(ctx) {
		if declared > s.cfg.MaxStreamBodyBytes {
			return enricher.Errorf(enricher.KindTooLarge, "request body is larger than %d bytes", s.cfg.MaxStreamBodyBytes)
		}
		ctx.SetUserValue(ctxStreamed, true)
		return nil
	}
	if !ctx.Request.IsBodyStream() {
		return nil
	}
	tooLarge := enricher.Errorf(enricher.KindTooLarge, "request body is larger than %d bytes", s.cfg.MaxBodyBytes)
	if declared > int64(s.cfg.MaxBodyBytes) {
		return tooLarge
	}
	// Sized from the declared length (already checked against the cap), so a big body is read
	// into one buffer instead of a chain of growing copies; it is not copied again.
	buf := bytes.NewBuffer(make([]byte, 0, max(declared, 0)+bytes.MinRead))
	_, err := buf.ReadFrom(io.LimitReader(ctx.RequestBodyStream(), int64(s.cfg.MaxBodyBytes)+1))
	var netErr net.Error
	switch {
	case errors.As(err, &netErr) && netErr.Timeout():
		return timeoutError{}
	case err != nil:
		return enricher.Errorf(enricher.KindInvalid, "malformed HTTP request")
	case buf.Len() > s.cfg.MaxBodyBytes:
		return tooLarge
	}
	ctx.Request.SetBodyRaw(buf.Bytes())
	return nil
}

// timeoutError is a request whose body did not arrive in time (408).
type timeoutError struct{}

func (timeoutError) Error() string { return "request timeout" }

// bodyError answers an error met while reading a body: 408 for a timeout, else writeError.
func (s *Server) bodyError(ctx *fasthttp.RequestCtx, err error) {
	if errors.As(err, new(timeoutError)) {
		writeJSON(ctx, fasthttp.StatusRequestTimeout, errorBody{Detail: "request timeout"})
		return
	}
	writeError(ctx, s.log, err)
}

// isNDJSON reports whether the request declares an NDJSON body.
func isNDJSON(ctx *fasthttp.RequestCtx) bool {
	mt, _, err := mime.ParseMediaType(string(ctx.Request.Header.ContentType()))
	return err == nil && mt == ndjsonType
}

// streamed reports whether this call's body is left to its handler to stream.
func (c *call) streamed() bool {
	v, _ := c.ctx.UserValue(ctxStreamed).(bool)
	return v
}

// streamBody returns the request body of a streamed call as a reader that fails with a 413
// past max bytes, copies every byte to tee (nil: none), and moves the connection's read
// deadline forward as data arrives, so a long upload is bounded by idleness, not length.
func (c *call) streamBody(max int64, tee io.Writer) io.Reader {
	r := &limitedBody{ctx: c.ctx, r: c.ctx.RequestBodyStream(), max: max}
	if tee != nil {
		return io.TeeReader(r, tee)
	}
	return r
}

// limitedBody is a streamed request body with a size limit and a moving read deadline.
type limitedBody struct {
	ctx      *fasthttp.RequestCtx
	r        io.Reader
	max, n   int64
	deadline time.Time
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if now := time.Now(); now.After(b.deadline.Add(-readTimeout / 2)) {
		b.deadline = now.Add(readTimeout)
		_ = b.ctx.SetReadDeadline(b.deadline) // a connection without deadlines keeps none
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > b.max {
		return n, enricher.Errorf(enricher.KindTooLarge, "request body is larger than %d bytes", b.max)
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return n, timeoutError{}
	}
	return n, err
}

// lineReader reads the non-empty lines of an NDJSON body, counting every line (empty ones
// too) so errors can name the line as the client numbers it.
type lineReader struct {
	r    *bufio.Reader
	buf  []byte
	line int
}

func newLineReader(r io.Reader) *lineReader { return &lineReader{r: bufio.NewReaderSize(r, 64<<10)} }

// errLineTooLong is a line over the limit given to next.
var errLineTooLong = errors.New("line too long")

// next returns the next non-empty line (trimmed of surrounding white space, valid until the
// following call) and its number; io.EOF after the last. A line longer than max bytes is
// errLineTooLong; read errors pass through.
func (l *lineReader) next(max int) ([]byte, int, error) {
	for {
		l.buf = l.buf[:0]
		for {
			part, err := l.r.ReadSlice('\n')
			if len(l.buf)+len(part) > max+1 { // +1: the newline
				l.line++
				return nil, l.line, errLineTooLong
			}
			l.buf = append(l.buf, part...)
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, l.line + 1, err
			}
			if len(l.buf) == 0 && err != nil {
				return nil, l.line, io.EOF
			}
			break
		}
		l.line++
		if t := bytes.TrimSpace(l.buf); len(t) > 0 {
			return t, l.line, nil
		}
	}
}
