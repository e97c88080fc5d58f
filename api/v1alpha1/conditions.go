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
	// ConditionDataMapDrafted says whether the DataMap draft asked for with
	// privacy.lethe.dev/draft-now is published (status.draft names its ConfigMap).
	ConditionDataMapDrafted = "DataMapDrafted"
)

// Reasons used by more than one kind.
const (
	// ReasonSucceeded means the last reconciliation finished and all is well.
	ReasonSucceeded = "Succeeded"
	// ReasonProgressing means work is under way.
	ReasonProgressing = "Progressing"
	// ReasonInvalidSpec means the spec passed admission but cannot be acted on.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonPlanTooLarge: the plan (the DataMap, the rules) does not fit in the ConfigMap
	// a worker Job reads it from; the message gives its size.
	ReasonPlanTooLarge = "PlanTooLarge"
)

// Reasons of TenantDatabase conditions.
const (
	// ReasonDataMapNotFound: the DataMap named by dataMapRef does not exist.
	ReasonDataMapNotFound = "DataMapNotFound"
	// ReasonDataMapInvalid: the DataMap is not consistent (see its conditions).
	ReasonDataMapInvalid = "DataMapInvalid"
	// ReasonSecretNotFound: a Secret the worker needs does not exist.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonVerifying: a schema verification Job is running.
	ReasonVerifying = "Verifying"
	// ReasonSchemaMatches: the live schema matches the DataMap.
	ReasonSchemaMatches = "SchemaMatches"
	// ReasonSchemaMismatch: the live schema differs from the DataMap (see status.mismatches).
	ReasonSchemaMismatch = "SchemaMismatch"
	// ReasonDatabaseUnreachable: the worker could not connect to the database.
	ReasonDatabaseUnreachable = "DatabaseUnreachable"
	// ReasonAuthenticationFailed: the database refused the login from the credentials Secret.
	ReasonAuthenticationFailed = "AuthenticationFailed"
	// ReasonVerificationFailed: the verification Job failed without a usable report.
	ReasonVerificationFailed = "VerificationFailed"
	// ReasonDrafting: a Job is drafting a DataMap from the live schema.
	ReasonDrafting = "Drafting"
	// ReasonDraftPublished: the drafted DataMap is in the ConfigMap status.draft names.
	ReasonDraftPublished = "DraftPublished"
	// ReasonDraftFailed: the draft Job failed; the message says why.
	ReasonDraftFailed = "DraftFailed"
	// ReasonHostNotAllowed: the host is, or resolves to, a link-local or cloud metadata
	// address, which the worker does not connect to.
	ReasonHostNotAllowed = "HostNotAllowed"
)

// Reasons of DataMap conditions.
const (
	// ReasonUnreachableSubject: a table's chain of links (subjectVia, referencedBy) does not
	// reach a subject table.
	ReasonUnreachableSubject = "UnreachableSubject"
	// ReasonConsistent: every table reaches a data subject.
	ReasonConsistent = "Consistent"
)
