package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// RunNowAnnotation on a RetentionPolicy starts a run now; change its value to run again.
const RunNowAnnotation = "privacy.lethe.dev/run-now"

// Condition types and reasons of RetentionPolicies.
const (
	// ConditionSuspended is True while spec.suspend stops runs.
	ConditionSuspended = "Suspended"
	// ReasonInvalidSchedule: the schedule or time zone cannot be parsed.
	ReasonInvalidSchedule = "InvalidSchedule"
	// ReasonRuleTableNotMapped: a rule names a table the database's DataMap does not map.
	ReasonRuleTableNotMapped = "RuleTableNotMapped"
	// ReasonRunning: a run is under way.
	ReasonRunning = "Running"
	// ReasonRunFailed: the last run failed in at least one database.
	ReasonRunFailed = "RunFailed"
	// ReasonScheduled: waiting for the next tick.
	ReasonScheduled = "Scheduled"
	// ReasonSuspended: spec.suspend is true.
	ReasonSuspended = "Suspended"
	// ReasonNoDatabases: the selector matches no TenantDatabase.
	ReasonNoDatabases = "NoDatabases"
	// ReasonInvalidSelector: the databaseSelector cannot be turned into a label selector.
	ReasonInvalidSelector = "InvalidSelector"
)

// GetTimeZone returns the schedule's time zone, UTC by default.
func (p *RetentionPolicy) GetTimeZone() string {
	if p.Spec.TimeZone == "" {
		return "UTC"
	}
	return p.Spec.TimeZone
}

// GetBatchSize returns the batch size, 5000 by default.
func (p *RetentionPolicy) GetBatchSize() int {
	if p.Spec.BatchSize <= 0 {
		return 5000
	}
	return int(p.Spec.BatchSize)
}

// GetParallelism returns the number of primary-key ranges, 1 by default.
func (p *RetentionPolicy) GetParallelism() int32 {
	if p.Spec.Parallelism < 1 {
		return 1
	}
	return p.Spec.Parallelism
}

// GetSuccessfulRunsHistoryLimit returns the successful-runs history limit, 3 by default.
func (p *RetentionPolicy) GetSuccessfulRunsHistoryLimit() int {
	if p.Spec.SuccessfulRunsHistoryLimit == nil {
		return 3
	}
	return int(*p.Spec.SuccessfulRunsHistoryLimit)
}

// GetFailedRunsHistoryLimit returns the failed-runs history limit, 3 by default.
func (p *RetentionPolicy) GetFailedRunsHistoryLimit() int {
	if p.Spec.FailedRunsHistoryLimit == nil {
		return 3
	}
	return int(*p.Spec.FailedRunsHistoryLimit)
}

// GetConditions returns the status conditions.
func (p *RetentionPolicy) GetConditions() []metav1.Condition { return p.Status.Conditions }
