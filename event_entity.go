package enricher

// EntityPayload is implemented by the event payloads an entity of a batch emits:
// WithEntityIndex returns a copy of the payload with its entity_index set to i (nil outside
// batches). The receiver is a value, so the original is never changed.
type EntityPayload interface {
	WithEntityIndex(i *int) any
}

// WithEntityIndex returns a copy of e with its entity_index set to i.
func (e ModelStartedEvent) WithEntityIndex(i *int) any {
	e.EntityIndex = i
	return e
}

// WithEntityIndex returns a copy of e with its entity_index set to i.
func (e WaterfallEscalatedEvent) WithEntityIndex(i *int) any {
	e.EntityIndex = i
	return e
}

// WithEntityIndex returns a copy of e with its entity_index set to i.
func (e AttemptFailedEvent) WithEntityIndex(i *int) any {
	e.EntityIndex = i
	return e
}

// WithEntityIndex returns a copy of e with its entity_index set to i.
func (e ExpertiseCompletedEvent) WithEntityIndex(i *int) any {
	e.EntityIndex = i
	return e
}

// WithEntityIndex returns a copy of e with its entity_index set to i.
func (e ModelCompletedEvent) WithEntityIndex(i *int) any {
	e.EntityIndex = i
	return e
}

// WithEntityIndex returns a copy of e with its entity_index set to i.
func (e ClassificationStartedEvent) WithEntityIndex(i *int) any {
	e.EntityIndex = i
	return e
}

// WithEntityIndex returns a copy of e with its entity_index set to i.
func (e ClassificationCompletedEvent) WithEntityIndex(i *int) any {
	e.EntityIndex = i
	return e
}

// WithEntityIndex returns a copy of e with its entity_index set to i.
func (e MismatchPauseEvent) WithEntityIndex(i *int) any {
	e.EntityIndex = i
	return e
}

// WithEntityIndex returns a copy of e with its entity_index set to i.
func (e FusionStartedEvent) WithEntityIndex(i *int) any {
	e.EntityIndex = i
	return e
}

// WithEntityIndex returns a copy of e with its entity_index set to i.
func (e ConflictsDetectedEvent) WithEntityIndex(i *int) any {
	e.EntityIndex = i
	return e
}

// WithEntityIndex returns a copy of e with its entity_index set to i.
func (e ArbitrationStartedEvent) WithEntityIndex(i *int) any {
	e.EntityIndex = i
	return e
}

// WithEntityIndex returns a copy of e with its entity_index set to i.
func (e ArbitrationCompletedEvent) WithEntityIndex(i *int) any {
	e.EntityIndex = i
	return e
}

// WithEntityIndex returns a copy of e with its entity_index set to i.
func (e FusionCompletedEvent) WithEntityIndex(i *int) any {
	e.EntityIndex = i
	return e
}

// WithEntityIndex returns a copy of e with its entity_index set to i.
func (e ErrorEvent) WithEntityIndex(i *int) any {
	e.EntityIndex = i
	return e
}
