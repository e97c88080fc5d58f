package v1alpha1

// Condition types shared by Lethe's kinds. Ready, Reconciling and Stalled follow kstatus,
// so kubectl wait, Flux and Argo CD read them without custom health checks.
const (
	// ConditionReady is True when the object is fully reconciled and healthy.
	ConditionReady = "Ready"
	// ConditionReconciling is True while the controller is working towards the spec.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when progress needs a change by a person; its reason says what.
	ConditionStalled = "Stalled"
	// ConditionSchemaVerified says whether a TenantDatabase's schema matches its DataMap.
	ConditionSchemaVerified = "SchemaVerified"
)

// Reasons used by more than one kind.
const (
	// ReasonSucceeded means the last reconciliation finished and all is well.
	ReasonSucceeded = "Succeeded"
	// ReasonProgressing means work is under way.
	ReasonProgressing = "Progressing"
	// ReasonInvalidSpec means the spec passed admission but cannot be acted on.
	ReasonInvalidSpec = "InvalidSpec"
)
