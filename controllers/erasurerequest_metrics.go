package controllers

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
)

// Metrics of ErasureRequests. Labels name requests and tables, never subjects.
var (
	erasureRows = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lethe_erasure_rows_total",
		Help: "Rows erased or retained by ErasureRequests, by table and outcome (anonymized, deleted, retained).",
	}, []string{"table", "outcome"})

	erasureJobs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lethe_erasure_jobs_total",
		Help: "Worker Jobs started for ErasureRequests, by plan kind (erasure, preview).",
	}, []string{"kind"})

	// deadlines is read at scrape time, so seconds to deadline are current between
	// reconciles.
	deadlines = &deadlineCollector{
		clock: clock.RealClock{}, requests: map[types.NamespacedName]requestMetric{},
		seconds: prometheus.NewDesc("lethe_erasure_request_deadline_seconds",
			"Seconds until an unfinished ErasureRequest's deadline (negative once passed).",
			[]string{"namespace", "request"}, nil),
		phases: prometheus.NewDesc("lethe_requests",
			"Requests by kind and phase.", []string{"kind", "phase"}, nil),
	}
)

func init() {
	metrics.Registry.MustRegister(erasureRows, erasureJobs, deadlines)
}

type requestMetric struct {
	deadline time.Time
	phase    privacyv1alpha1.ErasurePhase
}

// deadlineCollector knows every ErasureRequest's deadline and phase, as last reconciled.
type deadlineCollector struct {
	mu       sync.Mutex
	clock    clock.PassiveClock
	requests map[types.NamespacedName]requestMetric
	seconds  *prometheus.Desc
	phases   *prometheus.Desc
}

// set records a request's deadline and phase; the clock is the reconciler's, so tests
// that move time see it in the metric too.
func (c *deadlineCollector) set(key types.NamespacedName, deadline time.Time, phase privacyv1alpha1.ErasurePhase, clk clock.PassiveClock) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clock = clk
	c.requests[key] = requestMetric{deadline: deadline, phase: phase}
}

func (c *deadlineCollector) forget(key types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.requests, key)
}

// Describe implements prometheus.Collector.
func (c *deadlineCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.seconds
	ch <- c.phases
}

// Collect implements prometheus.Collector.
func (c *deadlineCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	byPhase := map[privacyv1alpha1.ErasurePhase]float64{}
	for key, r := range c.requests {
		byPhase[r.phase]++
		// A finished request has no deadline left to meet: erased, or searched for in vain.
		if r.phase != privacyv1alpha1.ErasureComplete && r.phase != privacyv1alpha1.ErasureNotFound {
			ch <- prometheus.MustNewConstMetric(c.seconds, prometheus.GaugeValue, r.deadline.Sub(now).Seconds(), key.Namespace, key.Name)
		}
	}
	for phase, n := range byPhase {
		ch <- prometheus.MustNewConstMetric(c.phases, prometheus.GaugeValue, n, "ErasureRequest", string(phase))
	}
}
