package cluster

import (
	"time"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/actors"
)

// Holder takes and keeps a named lock of this node's session (storage/postgres.Locks).
type Holder interface {
	// Hold returns true when this node holds the lock key, taking it when it is free.
	Hold(key string) (bool, error)
}

// webhooksKey names the lock of the node that delivers webhooks.
const webhooksKey = "enricher:webhook-deliverer"

// OneDeliverer wraps a node's webhook store so that one node of the cluster at a time
// delivers webhooks: the node that holds the deliverer's lock (a session lock like the jobs'
// claims, so it moves to another node when its holder dies). On the other nodes nothing is
// ever due, and their delivery workers idle. Without it every node would send every due
// delivery. Deliveries in flight when the deliverer dies are sent again by the next one.
func OneDeliverer(store actors.WebhookStore, locks Holder) actors.WebhookStore {
	return oneDeliverer{WebhookStore: store, locks: locks}
}

type oneDeliverer struct {
	actors.WebhookStore
	locks Holder
}

// DueWebhooks returns the due deliveries on the node that holds (or now takes) the
// deliverer's lock, and none elsewhere.
func (o oneDeliverer) DueWebhooks(now time.Time, limit int) ([]*enricher.WebhookDelivery, error) {
	held, err := o.locks.Hold(webhooksKey)
	if err != nil || !held {
		return nil, err
	}
	return o.WebhookStore.DueWebhooks(now, limit)
}
