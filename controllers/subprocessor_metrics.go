package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/lethe-operator/lethe/internal/notify"
)

// Metrics of the Subprocessor register. Alert on
// lethe_subprocessor_undelivered_revisions > 0 for an hour: a subscriber keeps failing.
var (
	registerRevision = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "lethe_subprocessor_register_revision",
		Help: "Revision of the published Subprocessor register.",
	})
	registerEntries = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "lethe_subprocessor_register_entries",
		Help: "Subprocessors in the published register.",
	})
	subprocessorsNotCompliant = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "lethe_subprocessors_not_compliant",
		Help: "Subprocessors whose transfer of personal data is not compliant.",
	})
	notifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lethe_subprocessor_notifications_total",
		Help: "Register change notifications POSTed to subscribers, by subscriber and result (delivered, failed).",
	}, []string{"subscriber", "result"})
	undeliveredRevisions = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "lethe_subprocessor_undelivered_revisions",
		Help: "Register revisions a subscriber has not received yet.",
	}, []string{"subscriber"})
)

func init() {
	metrics.Registry.MustRegister(registerRevision, registerEntries, subprocessorsNotCompliant, notifications, undeliveredRevisions)
}

// observeRegister updates the gauges from the saved state.
func observeRegister(state *notify.State, notCompliant int) {
	registerRevision.Set(float64(state.Register.Revision))
	registerEntries.Set(float64(len(state.Register.Entries)))
	subprocessorsNotCompliant.Set(float64(notCompliant))
	undeliveredRevisions.Reset() // forget removed subscribers
	for name, p := range state.Subscribers {
		undeliveredRevisions.WithLabelValues(name).Set(float64(max(state.Register.Revision-p.Delivered, 0)))
	}
}
