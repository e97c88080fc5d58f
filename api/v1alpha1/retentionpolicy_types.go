package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ActivityColumn names a timestamp column as "table.column".
// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]{0,62}\.[A-Za-z_][A-Za-z0-9_]{0,62}$`
// +kubebuilder:validation:MaxLength=127
type ActivityColumn string

// ConditionValue is a value a condition compares its column with. It is bound as a
// parameter, never written into SQL. NUL cannot be stored or compared by PostgreSQL (and
// means nothing in a name or a date), so it is refused here rather than failing mid-run.
// +kubebuilder:validation:MaxLength=128
// +kubebuilder:validation:XValidation:rule="!self.contains('\\u0000')",message="a condition value must not contain a NUL character (\\u0000): databases cannot store or compare it"
type ConditionValue string

// Condition is a structured filter on one column. Values are bound as parameters by the
// worker; there is no way to write SQL here.
// +kubebuilder:validation:XValidation:rule="self.op in ['isNull', 'notNull'] ? (!has(self.value) && !has(self.values)) : true",message="isNull and notNull take no value"
// +kubebuilder:validation:XValidation:rule="self.op == 'in' ? (has(self.values) && size(self.values) > 0 && !has(self.value)) : true",message="op in needs values (a list) and no value"
// +kubebuilder:validation:XValidation:rule="self.op in ['eq', 'ne', 'lt', 'gt'] ? (has(self.value) && !has(self.values)) : true",message="ops eq, ne, lt and gt need one value"
type Condition struct {
	// Column to compare.
	Column Identifier `json:"column"`
	// Op is eq, ne, in, isNull, notNull, lt or gt.
	// +kubebuilder:validation:Enum=eq;ne;in;isNull;notNull;lt;gt
	Op string `json:"op"`
	// Value for eq, ne, lt and gt.
	// +optional
	Value *ConditionValue `json:"value,omitempty"`
	// Values for in.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Values []ConditionValue `json:"values,omitempty"`
}

// RetentionRule says: rows of Table matching Where and (older than OlderThan by Column, or
// whose data subject has been inactive for InactiveFor) get Action.
// +kubebuilder:validation:XValidation:rule="!(has(self.olderThan) && has(self.inactiveFor))",message="a rule uses olderThan or inactiveFor, not both"
// +kubebuilder:validation:XValidation:rule="has(self.olderThan) == has(self.column)",message="olderThan needs column (the date the age is measured from), and column is only used with olderThan"
// +kubebuilder:validation:XValidation:rule="has(self.inactiveFor) == has(self.activity)",message="inactiveFor needs activity (the table.column timestamps that show activity), and activity is only used with inactiveFor"
// +kubebuilder:validation:XValidation:rule="has(self.olderThan) || has(self.inactiveFor) || has(self.where) || (has(self.allRows) && self.allRows)",message="a rule needs olderThan, inactiveFor or where: a rule matching every row is refused (set allRows: true if every row is what you mean)"
// +kubebuilder:validation:XValidation:rule="!has(self.where) || size(self.where) > 0",message="where: [] spares no row: leave where out, or give at least one condition"
// +kubebuilder:validation:XValidation:rule="!has(self.activity) || size(self.activity) > 0",message="activity: [] names no timestamp: give the table.column timestamps that show activity"
// +kubebuilder:validation:XValidation:rule="!has(self.where) || self.where.map(c, has(c.values) ? size(c.values) : 1).sum() <= 64",message="a rule's conditions hold at most 64 values in all"
// +kubebuilder:validation:XValidation:rule="!has(self.columns) || self.action == 'anonymize'",message="columns are the columns to anonymize: only with action anonymize"
// +kubebuilder:validation:XValidation:rule="!has(self.includeOrphans) || !self.includeOrphans || has(self.inactiveFor)",message="includeOrphans is about rows reaching no data subject: only with inactiveFor"
type RetentionRule struct {
	// Name of the rule, unique in the policy; it labels metrics and status.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
	// Table the rule applies to; it must be in the database's DataMap.
	Table Identifier `json:"table"`
	// Action is anonymize (mask the columns) or delete (the rows).
	Action Action `json:"action"`
	// Columns to anonymize (default: every masked column of the table in the DataMap).
	// +kubebuilder:validation:MaxItems=64
	// +optional
	Columns []Identifier `json:"columns,omitempty"`
	// OlderThan matches rows whose Column is older than this (ISO 8601, e.g. P3M).
	// +optional
	OlderThan ISODuration `json:"olderThan,omitempty"`
	// Column is the date column OlderThan is measured on.
	// +optional
	Column Identifier `json:"column,omitempty"`
	// InactiveFor matches rows whose data subject shows no activity for this long.
	// +optional
	InactiveFor ISODuration `json:"inactiveFor,omitempty"`
	// Activity lists the timestamps, as table.column, that show a subject's activity: in the
	// rule's table or in tables linked to the same subject.
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Activity []ActivityColumn `json:"activity,omitempty"`
	// Where narrows the rule with structured conditions, all of which must hold.
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Where []Condition `json:"where,omitempty"`
	// IncludeOrphans lets an inactiveFor rule also select rows whose link reaches no data
	// subject (a booking whose customer_id is NULL). Without it they are never selected.
	// +optional
	IncludeOrphans bool `json:"includeOrphans,omitempty"`
	// Guards name rows the rule must leave, besides the DataMap table's own guards.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Guards []Guard `json:"guards,omitempty"`
	// AllRows says the rule may match every row of its table. Without it, a run in which
	// the rule's condition matches every row (a condition that spares nothing, such as
	// notNull on a NOT NULL column) is refused before anything changes in the database.
	// +optional
	AllRows bool `json:"allRows,omitempty"`
	// MaxRows refuses a run in which the rule would change more rows than this, before
	// anything changes in the database (0: no limit in rows). Unlike the policy's
	// maxRowsPerRun, which stops a run part-way and continues at the next, this refuses.
	// +kubebuilder:validation:Minimum=0
	// +optional
	MaxRows int64 `json:"maxRows,omitempty"`
	// MaxPercent refuses a run in which the rule would change more than this percentage of
	// its table's rows, before anything changes in the database. Default 90 (100 with
	// allRows).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	MaxPercent int32 `json:"maxPercent,omitempty"`
}

// ConcurrencyPolicy says what happens when a run is due while the last one still runs.
// +kubebuilder:validation:Enum=Forbid;Allow
type ConcurrencyPolicy string

// Concurrency policies.
const (
	ConcurrencyForbid ConcurrencyPolicy = "Forbid"
	ConcurrencyAllow  ConcurrencyPolicy = "Allow"
)

// RetentionPolicySpec is a storage-limitation schedule for the TenantDatabases it selects.
type RetentionPolicySpec struct {
	// DatabaseSelector picks TenantDatabases in the policy's namespace (empty: all).
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || self.matchExpressions.all(e, e.operator in ['In', 'NotIn', 'Exists', 'DoesNotExist'])",message="databaseSelector.matchExpressions: operator must be In, NotIn, Exists or DoesNotExist"
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || self.matchExpressions.all(e, e.operator in ['In', 'NotIn'] == (has(e.values) && size(e.values) > 0))",message="databaseSelector.matchExpressions: In and NotIn need values, Exists and DoesNotExist take none"
	DatabaseSelector metav1.LabelSelector `json:"databaseSelector"`
	// Schedule in cron format (minute hour day-of-month month day-of-week), in TimeZone,
	// or a descriptor such as @daily.
	// +kubebuilder:validation:MinLength=6
	// +kubebuilder:validation:MaxLength=100
	// +kubebuilder:validation:Pattern=`^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$`
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('TZ=') && !self.startsWith('CRON_TZ=')",message="the schedule's time zone goes in spec.timeZone, not in a TZ= or CRON_TZ= prefix"
	// +kubebuilder:validation:XValidation:rule="self.startsWith('@') || size(self.findAll('[!-~]+')) != 5 || self.findAll('[!-~]+')[0].split(',').all(p, p.split('/')[0].findAll('[0-9]+').all(n, size(n) <= 2 && int(n) <= 59))",message="the schedule's minute field is out of range: it takes 0-59"
	// +kubebuilder:validation:XValidation:rule="self.startsWith('@') || size(self.findAll('[!-~]+')) != 5 || self.findAll('[!-~]+')[1].split(',').all(p, p.split('/')[0].findAll('[0-9]+').all(n, size(n) <= 2 && int(n) <= 23))",message="the schedule's hour field is out of range: it takes 0-23"
	// +kubebuilder:validation:XValidation:rule="self.startsWith('@') || size(self.findAll('[!-~]+')) != 5 || self.findAll('[!-~]+')[2].split(',').all(p, p.split('/')[0].findAll('[0-9]+').all(n, size(n) <= 2 && int(n) >= 1 && int(n) <= 31))",message="the schedule's day-of-month field is out of range: it takes 1-31"
	// +kubebuilder:validation:XValidation:rule="self.startsWith('@') || size(self.findAll('[!-~]+')) != 5 || self.findAll('[!-~]+')[3].split(',').all(p, p.split('/')[0].findAll('[0-9]+').all(n, size(n) <= 2 && int(n) >= 1 && int(n) <= 12))",message="the schedule's month field is out of range: it takes 1-12"
	// +kubebuilder:validation:XValidation:rule="self.startsWith('@') || size(self.findAll('[!-~]+')) != 5 || self.findAll('[!-~]+')[4].split(',').all(p, p.split('/')[0].findAll('[0-9]+').all(n, size(n) <= 1 && int(n) <= 6))",message="the schedule's day-of-week field is out of range: it takes 0-6"
	// +kubebuilder:validation:XValidation:rule="self.startsWith('@') || size(self.findAll('[!-~]+')) != 5 || !(self.findAll('[!-~]+')[4] == '*' || self.findAll('[!-~]+')[4] == '?') || !self.findAll('[!-~]+')[2].matches('^[0-9]{1,2}(,[0-9]{1,2})*$') || !self.findAll('[!-~]+')[3].matches('^[0-9A-Za-z]{1,3}(,[0-9A-Za-z]{1,3})*$') || self.findAll('[!-~]+')[2].split(',').exists(d, int(d) <= 29) || self.findAll('[!-~]+')[3].split(',').exists(m, !(m.lowerAscii() in ['2', '02', 'feb', '4', '04', '6', '06', '9', '09', '11', 'apr', 'jun', 'sep', 'nov'])) || (self.findAll('[!-~]+')[2].split(',').exists(d, int(d) <= 30) && self.findAll('[!-~]+')[3].split(',').exists(m, !(m.lowerAscii() in ['2', '02', 'feb'])))",message="the schedule never fires: none of its months has that day of the month (such as 30 February or 31 April)"
	Schedule string `json:"schedule"`
	// TimeZone of the schedule (IANA name, default UTC). Local is refused: it would be the
	// zone of whichever manager Pod runs the policy.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9_+/-]*$`
	// +kubebuilder:validation:XValidation:rule="self != 'Local'",message="timeZone Local would follow the manager Pod's zone: name an IANA zone such as Europe/Copenhagen, or UTC"
	// +optional
	TimeZone string `json:"timeZone,omitempty"`
	// Rules to apply at each run.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:XValidation:rule="self.map(r, has(r.where) ? r.where.map(c, has(c.values) ? size(c.values) : 1).sum() : 0).sum() <= 256",message="the rules' conditions hold at most 256 values in all"
	Rules []RetentionRule `json:"rules"`
	// DryRun counts the rows each rule would touch without changing any.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
	// Suspend stops future runs; a run under way finishes.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
	// BatchSize is the rows per batch and transaction in the database.
	// +kubebuilder:default=5000
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=100000
	// +optional
	BatchSize int32 `json:"batchSize,omitempty"`
	// MaxRowsPerRun caps the rows each rule changes in one run (0: no cap).
	// +kubebuilder:validation:Minimum=0
	// +optional
	MaxRowsPerRun int64 `json:"maxRowsPerRun,omitempty"`
	// Parallelism splits each database's run into this many primary-key ranges, run as
	// an Indexed Job, for very large tables.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=32
	// +optional
	Parallelism int32 `json:"parallelism,omitempty"`
	// ConcurrencyPolicy: Forbid (default) skips a database whose last run still runs.
	// +kubebuilder:default=Forbid
	// +optional
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`
	// SuccessfulRunsHistoryLimit is how many finished successful runs are listed and
	// whose Jobs are kept.
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=50
	// +optional
	SuccessfulRunsHistoryLimit *int32 `json:"successfulRunsHistoryLimit,omitempty"`
	// FailedRunsHistoryLimit is how many failed runs are listed and whose Jobs are kept.
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=50
	// +optional
	FailedRunsHistoryLimit *int32 `json:"failedRunsHistoryLimit,omitempty"`
}

// RuleResult is what one rule did (or would do, in a dry run) in one database.
type RuleResult struct {
	// Rule name.
	Rule string `json:"rule"`
	// Table the rule applies to.
	Table string `json:"table"`
	// Outcome: anonymized, deleted, wouldAnonymize, wouldDelete, or for rows left in
	// place: retained (legal hold), referenced (anonymized, not deleted: rows of
	// referencedBy still point at them), shared (used by rows the rule does not cover) or
	// guarded (a guard keeps them); refused: the rows the rule would have changed in a
	// run refused before anything changed.
	Outcome string `json:"outcome"`
	// Rows touched (or that would be).
	Rows int64 `json:"rows"`
	// RetainedUntil is, for retained rows, when the last of them leaves its legal hold.
	// +optional
	RetainedUntil *metav1.Time `json:"retainedUntil,omitempty"`
	// Basis is, for retained rows, the legal hold's basis.
	// +optional
	Basis string `json:"basis,omitempty"`
	// ReferencedBy names, for referenced and shared rows, the tables whose rows point at them.
	// +optional
	ReferencedBy []string `json:"referencedBy,omitempty"`
	// Reason explains guarded rows (the guard that keeps them).
	// +optional
	Reason string `json:"reason,omitempty"`
}

// Run results.
const (
	RunRunning   = "Running"
	RunSucceeded = "Succeeded"
	RunFailed    = "Failed"
	RunSkipped   = "Skipped"
)

// DatabaseRun is one run of the policy on one database.
type DatabaseRun struct {
	// Database is the TenantDatabase's name.
	Database string `json:"database"`
	// Job running it.
	// +optional
	Job string `json:"job,omitempty"`
	// Result: Running, Succeeded, Failed or Skipped.
	Result string `json:"result"`
	// Reason is, for a failed or skipped run, a code for why: the worker's error code
	// (RuleMatchesEveryRow, RuleAboveCeiling, Unreachable, ...) or the controller's
	// (DataMapNotFound, RuleTableNotMapped, PlanTooLarge).
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message explains a failure or a skip.
	// +optional
	Message string `json:"message,omitempty"`
	// CompletionTime of the Job.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// Rules are the rows per rule and outcome.
	// +optional
	Rules []RuleResult `json:"rules,omitempty"`
}

// Run is one scheduled (or requested) run across the selected databases.
type Run struct {
	// ScheduledTime is the cron tick (or the time a run-now request was seen).
	ScheduledTime metav1.Time `json:"scheduledTime"`
	// Trigger is schedule, or the run-now annotation's value.
	Trigger string `json:"trigger"`
	// DryRun is true when the run only counted rows.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
	// Result: Running, Succeeded (every database), Failed (any database), or Skipped (the
	// selector picked no database).
	Result string `json:"result"`
	// Rows changed (or that would be) across databases and rules.
	Rows int64 `json:"rows"`
	// Databases lists each database's run.
	// +optional
	Databases []DatabaseRun `json:"databases,omitempty"`
}

// RetentionPolicyStatus is what the policy did and will do.
type RetentionPolicyStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, Reconciling, Stalled, Suspended.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// NextRunTime is the next cron tick.
	// +optional
	NextRunTime *metav1.Time `json:"nextRunTime,omitempty"`
	// LastScheduledTime is the last tick a run was started for.
	// +optional
	LastScheduledTime *metav1.Time `json:"lastScheduledTime,omitempty"`
	// LastRunTime is when the last run finished.
	// +optional
	LastRunTime *metav1.Time `json:"lastRunTime,omitempty"`
	// RowsLastRun is the rows the last finished run changed (or would have, dry).
	// +optional
	RowsLastRun int64 `json:"rowsLastRun"`
	// LastRunNow is the privacy.lethe.dev/run-now value last acted on.
	// +optional
	LastRunNow string `json:"lastRunNow,omitempty"`
	// Current is the run under way, if any.
	// +optional
	Current *Run `json:"current,omitempty"`
	// History lists finished runs, newest first, bounded by the history limits.
	// +kubebuilder:validation:MaxItems=100
	// +optional
	History []Run `json:"history,omitempty"`
}

// RetentionPolicy anonymizes or deletes personal data that has outlived its purpose, on a
// schedule, in every TenantDatabase it selects.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rp,categories=lethe
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Suspend",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Dry run",type=boolean,JSONPath=`.spec.dryRun`,priority=1
// +kubebuilder:printcolumn:name="Last run",type=date,JSONPath=`.status.lastRunTime`
// +kubebuilder:printcolumn:name="Rows last run",type=integer,JSONPath=`.status.rowsLastRun`
// +kubebuilder:printcolumn:name="Next run",type=date,JSONPath=`.status.nextRunTime`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type RetentionPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   RetentionPolicySpec   `json:"spec,omitempty"`
	Status RetentionPolicyStatus `json:"status,omitempty"`
}

// RetentionPolicyList is a list of RetentionPolicies.
// +kubebuilder:object:root=true
type RetentionPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RetentionPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&RetentionPolicy{}, &RetentionPolicyList{})
}
