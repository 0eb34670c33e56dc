package enricher

import (
	"errors"
	"fmt"
)

// Kind classifies an error for every boundary of the server. The transport layer maps each Kind
// to one HTTP status (see transport/api), so a Kind states what the client did or should do,
// not where the error came from. The list is append-only.
type Kind uint8

const (
	// KindInternal is an unexpected failure; its message is never shown to clients.
	KindInternal Kind = iota
	// KindInvalid is bad client input (400).
	KindInvalid
	// KindUnauthenticated is a missing, unknown, expired or revoked credential (401).
	KindUnauthenticated
	// KindForbidden is a valid credential without the role or scope needed (403).
	KindForbidden
	// KindNotFound is an unknown object, or one of another organization (404).
	KindNotFound
	// KindConflict is a state conflict such as a taken name or a finished job (409).
	KindConflict
	// KindTooLarge is a request body over the configured limit (413).
	KindTooLarge
	// KindTooMany is a rate or admission limit (429).
	KindTooMany
	// KindUnavailable is a server shutting down or storage failing (503).
	KindUnavailable
	// KindTimeout is a blocking call that waited past its deadline (504).
	KindTimeout
	// KindInsufficientStorage is a write refused because the data directory's filesystem is
	// below its free-space threshold (507); it passes once space returns.
	KindInsufficientStorage
)

var kindNames = [...]string{
	KindInternal:            "internal",
	KindInvalid:             "invalid",
	KindUnauthenticated:     "unauthenticated",
	KindForbidden:           "forbidden",
	KindNotFound:            "not_found",
	KindConflict:            "conflict",
	KindTooLarge:            "too_large",
	KindTooMany:             "too_many",
	KindUnavailable:         "unavailable",
	KindTimeout:             "timeout",
	KindInsufficientStorage: "insufficient_storage",
}

// String returns the lower-case name of k.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Error is the domain error. Message is safe to show to a client for every Kind but
// KindInternal; Problems lists one message per problem for validation failures; Err is the
// cause, kept for logs and errors.Is/As, never shown to clients.
type Error struct {
	Kind     Kind
	Message  string
	Problems []string
	Err      error
}

// Error returns the message, followed by the cause when there is one.
func (e *Error) Error() string {
	switch {
	case e.Err != nil && e.Message != "":
		return e.Message + ": " + e.Err.Error()
	case e.Err != nil:
		return e.Err.Error()
	default:
		return e.Message
	}
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of kind k whose client message is the formatted text.
func Errorf(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error of kind k with a client message and a cause kept for the log.
func Wrap(k Kind, err error, message string) error {
	return &Error{Kind: k, Message: message, Err: err}
}

// Invalid returns a KindInvalid error listing every problem; Message summarises them as
// "<what> is invalid: N problems" (or the single problem when there is one).
func Invalid(what string, problems []string) error {
	msg := fmt.Sprintf("%s is invalid: %d problems", what, len(problems))
	if len(problems) == 1 {
		msg = problems[0]
	}
	return &Error{Kind: KindInvalid, Message: msg, Problems: problems}
}

// ErrorKind returns the Kind of err: the Kind of the first *Error in its chain, else
// KindInternal. A nil err has no kind and returns KindInternal too; callers check nil first.
func ErrorKind(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// IsKind reports whether err carries kind k.
func IsKind(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

// PublicMessage returns the client-safe message of err: the message of the first *Error in its
// chain, or "internal error" for internal and foreign errors.
func PublicMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != KindInternal && e.Message != "" {
		return e.Message
	}
	return "internal error"
}
