package llm

import (
	"context"
	"errors"
	"time"
)

// ErrorKind classifies a failed call. The values double as the error_code of model results,
// except KindQuotaExhausted, which is reported as rate_limited but never retried.
type ErrorKind string

// The error kinds.
const (
	KindRateLimited    ErrorKind = "rate_limited"
	KindQuotaExhausted ErrorKind = "quota_exhausted"
	KindOverloaded     ErrorKind = "overloaded"
	KindServerError    ErrorKind = "server_error"
	KindTimeout        ErrorKind = "timeout"
	KindAuth           ErrorKind = "auth_failed"
	KindBadRequest     ErrorKind = "bad_request"
	KindContextLength  ErrorKind = "context_length_exceeded"
	KindModelNotFound  ErrorKind = "model_not_found"
	KindCancelled      ErrorKind = "cancelled"
	// KindNotFound is an object of the vendor's that it does not know (a batch or file id:
	// expired, deleted, or never its own, as the simulator's batches after a restart).
	KindNotFound ErrorKind = "not_found"
)

// Retryable reports whether a call that failed with k may succeed when tried again.
func (k ErrorKind) Retryable() bool {
	switch k {
	case KindRateLimited, KindOverloaded, KindServerError, KindTimeout:
		return true
	}
	return false
}

// Error is a failed call. Message is safe to show (it never holds credentials); RetryAfter is
// the vendor's hint, 0 when none; Status is the HTTP status, 0 when there was no response.
type Error struct {
	Kind       ErrorKind
	Status     int
	RetryAfter time.Duration
	Message    string
	Err        error
}

// Error returns "<kind>: <message>".
func (e *Error) Error() string {
	if e.Message == "" && e.Err != nil {
		return string(e.Kind) + ": " + e.Err.Error()
	}
	return string(e.Kind) + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// KindOf classifies any error of a call: context cancellation is cancelled, a deadline is
// timeout, an *Error its kind, anything else a server_error (network failures).
func KindOf(err error) ErrorKind {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e.Kind
	case errors.Is(err, context.Canceled):
		return KindCancelled
	case errors.Is(err, context.DeadlineExceeded):
		return KindTimeout
	default:
		return KindServerError
	}
}
