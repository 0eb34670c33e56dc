package actors

import "time"

// Observer is told what the engine does, for metrics. Implementations must be safe for
// concurrent use and must not block: they are called from actors.
type Observer interface {
	// LLMCall is one provider try: its outcome ("success" or an error kind) and duration.
	LLMCall(provider, model, outcome string, d time.Duration)
	// LLMUsage is one billed response.
	LLMUsage(model string, inputTokens, outputTokens int, costUSD float64)
	// ValidationRetry is an answer that failed validation and is asked again.
	ValidationRetry(model string)
	// ProviderLoad is a provider's calls in flight and waiting, after a change.
	ProviderLoad(provider string, inflight, queued int)
	// ProviderLimit is a provider's adaptive limit of calls in flight and its ceiling, at
	// start and after every change.
	ProviderLimit(provider string, limit, ceiling int)
	// ProviderPermits is, under a cluster-wide cap (cluster_provider_concurrency), the
	// provider's permits this node holds and its share (the most it keeps while another node
	// waits for permits; the whole cap otherwise), after every change; both 0 once the node
	// stops.
	ProviderPermits(provider string, held, share int)
	// JobStarted and JobFinished bracket a job's actor; status is "" when it stopped without
	// ending (shutdown), else the terminal status.
	JobStarted(jobType string)
	JobFinished(jobType, status string)
	// StreamCatchUp is a subscriber whose live buffer filled: its stream switches to reading
	// the stored log and rejoins the live feed (it is not ended).
	StreamCatchUp()
}

// nopObserver observes nothing.
type nopObserver struct{}

func (nopObserver) LLMCall(string, string, string, time.Duration) {}
func (nopObserver) LLMUsage(string, int, int, float64)            {}
func (nopObserver) ValidationRetry(string)                        {}
func (nopObserver) ProviderLoad(string, int, int)                 {}
func (nopObserver) ProviderLimit(string, int, int)                {}
func (nopObserver) ProviderPermits(string, int, int)              {}
func (nopObserver) JobStarted(string)                             {}
func (nopObserver) JobFinished(string, string)                    {}
func (nopObserver) StreamCatchUp()                                {}
