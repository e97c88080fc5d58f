package v1alpha1

// Condition types of ErasureRequests (besides Ready, Reconciling and Stalled).
const (
	// ConditionComplete is True once every selected database is done and the
	// post-erasure check found no identifying value left.
	ConditionComplete = "Complete"
	// ConditionApproved is True once a request that needs approval is approved.
	ConditionApproved = "Approved"
	// ConditionAwaitingApproval is True while a previewed request waits for approval.
	ConditionAwaitingApproval = "AwaitingApproval"
	// ConditionDeadlineExceeded is True when the deadline passed before completion.
	ConditionDeadlineExceeded = "DeadlineExceeded"
	// ConditionNeedsInformation is True when the identifier is ambiguous in some
	// database: nothing was changed there, and a person must tell the subjects apart.
	ConditionNeedsInformation = "NeedsInformation"
)

// Reasons of ErasureRequest conditions and Events.
const (
	// ReasonFingerprintKeyNotFound: the fingerprint key Secret is missing in the
	// operator's namespace.
	ReasonFingerprintKeyNotFound = "FingerprintKeyNotFound"
	// ReasonSubjectSecretNotFound: the Secret (or key) holding the identifier is missing.
	ReasonSubjectSecretNotFound = "SubjectSecretNotFound"
	// ReasonNoDatabases: the selector matches no TenantDatabase.
	ReasonNoDatabasesSelected = "NoDatabasesSelected"
	// ReasonWaitingForDatabase: a selected database is not Ready (schema not verified).
	ReasonWaitingForDatabase = "WaitingForDatabase"
	// ReasonPreviewing: preview Jobs are counting the rows.
	ReasonPreviewing = "Previewing"
	// ReasonPreviewed: the preview counts are in status; approval is awaited.
	ReasonPreviewed = "Previewed"
	// ReasonApprovalNotRequired: the request runs without approval.
	ReasonApprovalNotRequired = "NotRequired"
	// ReasonApprovedByUser: spec.approval.approved was set.
	ReasonApprovedByUser = "Approved"
	// ReasonQueued: the request waits for its batch's Job.
	ReasonQueued = "Queued"
	// ReasonErasing: erasure Jobs are running.
	ReasonErasing = "Erasing"
	// ReasonErased: every selected database is done.
	ReasonErased = "Erased"
	// ReasonSubjectNotFound: the identifier matched no subject in any selected database.
	ReasonSubjectNotFound = "SubjectNotFound"
	// ReasonConflictingNormalization: the DataMaps of the selected databases compare the
	// request's identity type differently, so no one fingerprint fits them all.
	ReasonConflictingNormalization = "ConflictingNormalization"
	// ReasonGuarded: erasing the subject would remove or anonymize a row a guard keeps
	// (the last administrator of an account); nothing was changed for it there.
	ReasonGuarded = "Guarded"
	// ReasonAmbiguousSubject: the identifier matched several subjects in a database.
	ReasonAmbiguousSubject = "AmbiguousSubject"
	// ReasonErasureFailed: an erasure run failed; it is retried with backoff.
	ReasonErasureFailed = "ErasureFailed"
	// ReasonIdentifiersRemain: the post-erasure check still found identifying values.
	ReasonIdentifiersRemain = "IdentifiersRemain"
	// ReasonDeadlinePassed: the deadline passed before the request was complete.
	ReasonDeadlinePassed = "DeadlinePassed"
	// ReasonWithinDeadline: the deadline has not passed, or the request completed in time.
	ReasonWithinDeadline = "WithinDeadline"
	// ReasonUnambiguous: every database found at most one subject.
	ReasonUnambiguous = "Unambiguous"
	// ReasonNoRetentionCoverage warns that retained rows have no RetentionPolicy rule
	// to remove them once their legal hold ends.
	ReasonNoRetentionCoverage = "NoRetentionCoverage"
)
