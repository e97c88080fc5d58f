package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Lethe's Prometheus metrics. Labels name Lethe's own objects and rules, never data.
var (
	rowsProcessed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lethe_rows_processed_total",
		Help: "Rows anonymized or deleted by Lethe's retention policies, by policy, rule, table and action.",
	}, []string{"namespace", "policy", "rule", "table", "action"})

	retentionRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lethe_retention_runs_total",
		Help: "Retention runs per database, by policy and result (succeeded, failed, skipped).",
	}, []string{"namespace", "policy", "result"})

	retentionRunDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "lethe_retention_run_duration_seconds",
		Help:    "Duration of retention runs per database, from Job creation to completion.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 16),
	}, []string{"namespace", "policy"})

	schemaVerified = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "lethe_tenantdatabase_schema_verified",
		Help: "1 when the TenantDatabase's schema matches its DataMap, 0 when it does not.",
	}, []string{"namespace", "tenantdatabase"})
)

func init() {
	metrics.Registry.MustRegister(rowsProcessed, retentionRuns, retentionRunDuration, schemaVerified)
}

// forgetPolicyMetrics drops a deleted policy's series.
func forgetPolicyMetrics(namespace, name string) {
	labels := prometheus.Labels{"namespace": namespace, "policy": name}
	rowsProcessed.DeletePartialMatch(labels)
	retentionRuns.DeletePartialMatch(labels)
	retentionRunDuration.DeletePartialMatch(labels)
}
