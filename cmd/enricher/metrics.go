package main

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// metrics holds the Prometheus metrics listed in the README in their own registry, with the Go runtime
// and process collectors. It implements api.Metrics and actors.Observer; every method is safe
// for concurrent use and does not block.
type metrics struct {
	reg            *prometheus.Registry
	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec
	jobsActive     *prometheus.GaugeVec
	jobsTotal      *prometheus.CounterVec
	llmCalls       *prometheus.CounterVec
	llmDuration    *prometheus.HistogramVec
	llmTokens      *prometheus.CounterVec
	llmCost        *prometheus.CounterVec
	llmRetries     *prometheus.CounterVec
	inflight       *prometheus.GaugeVec
	queued         *prometheus.GaugeVec
	queuedPeak     *prometheus.GaugeVec
	permits        *prometheus.GaugeVec
	permitShare    *prometheus.GaugeVec
	limit          *prometheus.GaugeVec
	peaks          sync.Map // provider -> *atomic.Int64, the most calls seen waiting
	sseSubscribers prometheus.Gauge
	sseDisconnects *prometheus.CounterVec
	sseCatchUps    prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "enricher_http_requests_total", Help: "HTTP requests by method, route pattern and status."}, []string{"method", "route", "status"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "enricher_http_request_duration_seconds", Help: "HTTP request duration by method and route pattern.", Buckets: prometheus.DefBuckets}, []string{"method", "route"})
	m.jobsActive = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "enricher_jobs_active", Help: "Jobs whose actor runs, by type."}, []string{"job_type"})
	m.jobsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "enricher_jobs_total", Help: "Finished jobs by type and terminal status."}, []string{"job_type", "status"})
	m.llmCalls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "enricher_llm_calls_total", Help: "Provider tries by provider, model and outcome."}, []string{"provider", "model", "outcome"})
	m.llmDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "enricher_llm_call_duration_seconds", Help: "Provider try duration.", Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}}, []string{"provider", "model"})
	m.llmTokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "enricher_llm_tokens_total", Help: "Billed tokens by model and direction (input, output)."}, []string{"model", "direction"})
	m.llmCost = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "enricher_llm_cost_usd_total", Help: "Billed cost in USD by model."}, []string{"model"})
	m.llmRetries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "enricher_llm_validation_retries_total", Help: "Answers that failed validation and were asked again, by model."}, []string{"model"})
	m.inflight = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "enricher_provider_inflight", Help: "Provider calls in flight."}, []string{"provider"})
	m.queued = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "enricher_provider_queued", Help: "Provider calls waiting."}, []string{"provider"})
	m.limit = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "enricher_provider_limit", Help: "Provider calls allowed in flight now: adapts between 1 and provider_concurrency."}, []string{"provider"})
	m.permits = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "enricher_provider_permits", Help: "Permits of the cluster-wide provider cap this node holds (cluster_provider_concurrency)."}, []string{"provider"})
	m.permitShare = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "enricher_provider_permit_share", Help: "The most permits this node keeps while another node waits for some; the whole cap otherwise."}, []string{"provider"})
	m.queuedPeak = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "enricher_provider_queued_peak", Help: "Most provider calls ever waiting at once since start (bounded by provider_queue)."}, []string{"provider"})
	m.sseSubscribers = prometheus.NewGauge(prometheus.GaugeOpts{Name: "enricher_sse_subscribers", Help: "Open event streams."})
	m.sseDisconnects = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "enricher_sse_disconnects_total", Help: "Ended event streams by reason."}, []string{"reason"})
	m.sseCatchUps = prometheus.NewCounter(prometheus.CounterOpts{Name: "enricher_sse_catchups_total", Help: "Times a slow event stream's buffer filled and it caught up from the stored log (the stream stays open)."})
	for _, c := range []prometheus.Collector{m.httpRequests, m.httpDuration, m.jobsActive, m.jobsTotal, m.llmCalls, m.llmDuration,
		m.llmTokens, m.llmCost, m.llmRetries, m.inflight, m.queued, m.queuedPeak, m.permits, m.permitShare, m.limit, m.sseSubscribers, m.sseDisconnects, m.sseCatchUps} {
		f(c)
	}
	return m
}

// handler serves the exposition format.
func (m *metrics) handler() fasthttp.RequestHandler {
	return fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
}

func (m *metrics) Request(method, route string, status int, d time.Duration) {
	m.httpRequests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(method, route).Observe(d.Seconds())
}
func (m *metrics) StreamOpened()  { m.sseSubscribers.Inc() }
func (m *metrics) StreamCatchUp() { m.sseCatchUps.Inc() }
func (m *metrics) StreamClosed(reason string) {
	m.sseSubscribers.Dec()
	m.sseDisconnects.WithLabelValues(reason).Inc()
}

func (m *metrics) LLMCall(provider, model, outcome string, d time.Duration) {
	m.llmCalls.WithLabelValues(provider, model, outcome).Inc()
	m.llmDuration.WithLabelValues(provider, model).Observe(d.Seconds())
}
func (m *metrics) LLMUsage(model string, in, out int, cost float64) {
	m.llmTokens.WithLabelValues(model, "input").Add(float64(in))
	m.llmTokens.WithLabelValues(model, "output").Add(float64(out))
	m.llmCost.WithLabelValues(model).Add(cost)
}
func (m *metrics) ValidationRetry(model string) { m.llmRetries.WithLabelValues(model).Inc() }
func (m *metrics) ProviderLimit(provider string, limit, _ int) {
	m.limit.WithLabelValues(provider).Set(float64(limit))
}
func (m *metrics) ProviderPermits(provider string, held, share int) {
	m.permits.WithLabelValues(provider).Set(float64(held))
	m.permitShare.WithLabelValues(provider).Set(float64(share))
}
func (m *metrics) ProviderLoad(provider string, inflight, queued int) {
	m.inflight.WithLabelValues(provider).Set(float64(inflight))
	m.queued.WithLabelValues(provider).Set(float64(queued))
	v, _ := m.peaks.LoadOrStore(provider, new(atomic.Int64))
	peak := v.(*atomic.Int64)
	for {
		p := peak.Load()
		if int64(queued) <= p {
			break
		}
		if peak.CompareAndSwap(p, int64(queued)) {
			m.queuedPeak.WithLabelValues(provider).Set(float64(queued))
			break
		}
	}
}
func (m *metrics) JobStarted(jobType string) { m.jobsActive.WithLabelValues(jobType).Inc() }
func (m *metrics) JobFinished(jobType, status string) {
	m.jobsActive.WithLabelValues(jobType).Dec()
	if status != "" {
		m.jobsTotal.WithLabelValues(jobType, status).Inc()
	}
}

// watchStorage exposes the free-space watchdog: enricher_storage_free_bytes (the last measure)
// and enricher_storage_low_space (1 while writes are refused). Without a watchdog (free
// reports false) nothing is registered.
func (m *metrics) watchStorage(free func() (uint64, bool), low func() bool) {
	if _, ok := free(); !ok {
		return
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "enricher_storage_free_bytes",
		Help: "Free bytes on the data directory's filesystem, as last measured (every second)."},
		func() float64 { f, _ := free(); return float64(f) }))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "enricher_storage_low_space",
		Help: "1 while free space is below min_free_disk_mb (writes refused with 507, job writes held), else 0."},
		func() float64 {
			if low() {
				return 1
			}
			return 0
		}))
}
