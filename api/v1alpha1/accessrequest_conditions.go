package v1alpha1

// Condition types of AccessRequests (besides Ready, Reconciling, Stalled, Complete and
// DeadlineExceeded, shared with ErasureRequests).
const (
	// ConditionExpired is True once the export Secrets were deleted after expireAfter.
	ConditionExpired = "Expired"
)

// Reasons of AccessRequest conditions and Events (besides those shared with
// ErasureRequests: SubjectSecretNotFound, FingerprintKeyNotFound, NoDatabasesSelected,
// SubjectNotFound, DeadlinePassed, WithinDeadline).
const (
	// ReasonExporting: export Jobs are running.
	ReasonExporting = "Exporting"
	// ReasonExported: every selected database is exported (or does not know the subject).
	ReasonExported = "Exported"
	// ReasonExportTooLarge: a database's export is larger than a Secret can hold;
	// nothing was delivered.
	ReasonExportTooLarge = "ExportTooLarge"
	// ReasonExportFailed: an export run failed in a way retrying will not fix.
	ReasonExportFailed = "ExportFailed"
	// ReasonExportRetrying: an export run failed; it is retried.
	ReasonExportRetrying = "ExportRetrying"
	// ReasonExportSecretConflict: a Secret of the export's name exists and is not the
	// request's own.
	ReasonExportSecretConflict = "ExportSecretConflict"
	// ReasonExportSecretMissing: a delivered export Secret is gone before its expiry.
	ReasonExportSecretMissing = "ExportSecretMissing"
	// ReasonExportExpired: expireAfter passed and the export Secrets were deleted.
	ReasonExportExpired = "ExportExpired"
	// ReasonNotExpired: the export Secrets are kept until expiresAt.
	ReasonNotExpired = "NotExpired"
	// ReasonInvalidExpireAfter: spec.expireAfter is not an ISO 8601 duration.
	ReasonInvalidExpireAfter = "InvalidExpireAfter"
)
