package enricher

import (
	"errors"
	"time"
)

// TimeLayout is the wire format of every timestamp: RFC 3339, UTC, millisecond precision.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Time is a point in time that encodes as TimeLayout. The zero Time encodes as
// null. Use NewTime to build one: it normalises to UTC and milliseconds.
type Time struct{ time.Time }

// NewTime returns t in UTC truncated to milliseconds.
func NewTime(t time.Time) Time { return Time{t.UTC().Truncate(time.Millisecond)} }

// NewTimePtr returns a pointer to NewTime(t).
func NewTimePtr(t time.Time) *Time { v := NewTime(t); return &v }

// MarshalJSON encodes t as a TimeLayout string, or null when t is zero.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	b := make([]byte, 0, len(TimeLayout)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, TimeLayout)
	return append(b, '"'), nil
}

// UnmarshalJSON accepts any RFC 3339 string or null.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = Time{}
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return errors.New("time must be an RFC 3339 string")
	}
	v, err := time.Parse(time.RFC3339Nano, string(b[1:len(b)-1]))
	if err != nil {
		return err
	}
	*t = NewTime(v)
	return nil
}

// FormatTime formats t in TimeLayout.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }
