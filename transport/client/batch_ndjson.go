package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
)

// StartBatchNDJSON starts a batch from an NDJSON body read from body: its first line is the
// options object (a BatchRequest without entities), every later non-empty line one entity
// object. The body is streamed to the server, never held whole, so a batch may hold up to the
// server's max_batch_entities_stream entities (see Options). With IdempotencyKey, a repeat
// must send the same bytes to get the first start's job back.
func (c *Client) StartBatchNDJSON(ctx context.Context, body io.Reader, opts ...StartOption) (*Started, error) {
	var out Started
	r := request{method: "POST", path: "/api/enrichment/batch/start", raw: body, contentType: "application/x-ndjson",
		headers: startHeaders(opts)}
	return &out, c.do(ctx, r, &out)
}

// StartBatchEntities starts an NDJSON batch with options (whose Entities must be nil) and the
// entities entities yields, encoded one per line as they are sent. The encoding runs in a
// goroutine that ends before StartBatchEntities returns. An entity that cannot be encoded
// aborts the start with its error.
func (c *Client) StartBatchEntities(ctx context.Context, options BatchRequest, entities iter.Seq[any], opts ...StartOption) (*Started, error) {
	if options.Entities != nil {
		return nil, errors.New("client: StartBatchEntities takes the entities from the iterator, not options.Entities")
	}
	head, err := json.Marshal(options)
	if err != nil {
		return nil, fmt.Errorf("encode batch options: %w", err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- writeNDJSON(pw, head, entities)
	}()
	started, err := c.StartBatchNDJSON(ctx, pr, opts...)
	_ = pr.CloseWithError(errors.New("request ended")) // ends a writer the request stopped reading
	if werr := <-done; werr != nil {                   // the body was cut short: that is why the request failed
		return nil, werr
	}
	return started, err
}

// writeNDJSON writes head and one line per entity to pw and closes it. It returns an entity's
// encoding error; a write error means the request stopped reading, which the request reports.
func writeNDJSON(pw *io.PipeWriter, head []byte, entities iter.Seq[any]) error {
	w := bufio.NewWriterSize(pw, 64<<10)
	err := func() error {
		if _, err := w.Write(append(head, '\n')); err != nil {
			return nil
		}
		i := 0
		for e := range entities {
			line, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("encode entity %d: %w", i, err)
			}
			if _, err := w.Write(append(line, '\n')); err != nil {
				return nil
			}
			i++
		}
		_ = w.Flush()
		return nil
	}()
	if err != nil {
		pw.CloseWithError(err)
		return err
	}
	pw.Close()
	return nil
}
