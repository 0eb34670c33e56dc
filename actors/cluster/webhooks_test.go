package cluster

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
)

// fakeHolder holds the keys in held; err fails every call.
type fakeHolder struct {
	held map[string]bool
	err  error
}

func (f fakeHolder) Hold(key string) (bool, error) { return f.held[key], f.err }

// fakeWebhooks has one due delivery.
type fakeWebhooks struct{}

func (fakeWebhooks) DueWebhooks(time.Time, int) ([]*enricher.WebhookDelivery, error) {
	return []*enricher.WebhookDelivery{{ID: "d1"}}, nil
}
func (fakeWebhooks) NextWebhookDue(time.Time) (time.Time, bool, error) {
	return time.Time{}, false, nil
}
func (fakeWebhooks) UpdateWebhook(*enricher.WebhookDelivery) error { return nil }
func (fakeWebhooks) WebhookSecret(string) (*enricher.WebhookSecret, error) {
	return nil, enricher.Errorf(enricher.KindNotFound, "none")
}

// Only the node holding the deliverer's lock finds deliveries due.
func TestOneDeliverer(t *testing.T) {
	tests := []struct {
		name    string
		holder  fakeHolder
		due     int
		wantErr bool
	}{
		{"holder delivers", fakeHolder{held: map[string]bool{webhooksKey: true}}, 1, false},
		{"others find nothing due", fakeHolder{}, 0, false},
		{"lock unreadable", fakeHolder{err: errors.New("down")}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			due, err := OneDeliverer(fakeWebhooks{}, tt.holder).DueWebhooks(time.Now(), 10)
			require.Equal(t, tt.wantErr, err != nil)
			require.Len(t, due, tt.due)
		})
	}
}
