package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ErasureSubject says who is to be forgotten, without saying it: the identifier lives in
// a Secret, so nothing personal needs to sit in the resource or in Git.
type ErasureSubject struct {
	// Type is the identity type, as the DataMaps name it in their tables' identifiers
	// (email, customerId, phone, ...).
	// +kubebuilder:validation:Pattern=`^[a-z][A-Za-z0-9]{0,31}$`
	// +kubebuilder:validation:MaxLength=32
	Type string `json:"type"`
	// SecretRef is the Secret key holding the identifier. Only the worker pods read it;
	// the manager reads it once to compute the fingerprint.
	SecretRef SecretKeyRef `json:"secretRef"`
}

// Approval is the four-eyes gate of a request: when required, a preview runs first and
// the erasure waits until someone other than the requester approves.
// +kubebuilder:validation:XValidation:rule="!(has(self.approved) && self.approved) || (has(self.required) && self.required)",message="approval.approved only makes sense with approval.required"
type Approval struct {
	// Required holds the erasure until it is approved.
	// +optional
	Required bool `json:"required,omitempty"`
	// Approved releases the erasure; it can be set once and never taken back.
	// +optional
	Approved bool `json:"approved,omitempty"`
}

// DeadlineExtension extends the one-month deadline by up to two months where requests
// are complex or numerous (GDPR Art. 12(3)); the subject must be told why.
type DeadlineExtension struct {
	// Months added to the deadline: 1 or 2.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=2
	Months int32 `json:"months"`
	// Reason for the extension, as given to the data subject.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason"`
}

// ErasureRequestSpec is one data subject's right to be forgotten (GDPR Art. 17).
// Everything that defines the request is fixed at creation; only approval can move
// forward, and a deadline extension can be added once.
// +kubebuilder:validation:XValidation:rule="self.subject == oldSelf.subject",message="spec.subject is immutable: file a new ErasureRequest for another subject"
// +kubebuilder:validation:XValidation:rule="has(self.databaseSelector) == has(oldSelf.databaseSelector) && (!has(self.databaseSelector) || self.databaseSelector == oldSelf.databaseSelector)",message="spec.databaseSelector is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.action) == has(oldSelf.action) && (!has(self.action) || self.action == oldSelf.action)",message="spec.action is immutable"
// +kubebuilder:validation:XValidation:rule="(has(self.approval) && has(self.approval.required) && self.approval.required) == (has(oldSelf.approval) && has(oldSelf.approval.required) && oldSelf.approval.required)",message="spec.approval.required is immutable"
// +kubebuilder:validation:XValidation:rule="!(has(oldSelf.approval) && has(oldSelf.approval.approved) && oldSelf.approval.approved) || (has(self.approval) && has(self.approval.approved) && self.approval.approved)",message="spec.approval.approved cannot be taken back once true"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.deadlineExtension) || (has(self.deadlineExtension) && self.deadlineExtension == oldSelf.deadlineExtension)",message="spec.deadlineExtension cannot be changed or removed once given"
type ErasureRequestSpec struct {
	// Subject is the data subject, by identity type and a Secret holding the identifier.
	Subject ErasureSubject `json:"subject"`
	// DatabaseSelector picks TenantDatabases in the request's namespace (absent: all).
	// +optional
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || self.matchExpressions.all(e, e.operator in ['In', 'NotIn', 'Exists', 'DoesNotExist'])",message="databaseSelector.matchExpressions: operator must be In, NotIn, Exists or DoesNotExist"
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || self.matchExpressions.all(e, e.operator in ['In', 'NotIn'] == (has(e.values) && size(e.values) > 0))",message="databaseSelector.matchExpressions: In and NotIn need values, Exists and DoesNotExist take none"
	DatabaseSelector *metav1.LabelSelector `json:"databaseSelector,omitempty"`
	// Action overrides the DataMap's onErasure for every table: anonymize or delete.
	// Absent: each table's onErasure.
	// +optional
	Action Action `json:"action,omitempty"`
	// Approval, when required, holds the erasure after a preview until it is approved.
	// +optional
	Approval *Approval `json:"approval,omitempty"`
	// DeadlineExtension adds one or two months to the deadline, with a reason.
	// +optional
	DeadlineExtension *DeadlineExtension `json:"deadlineExtension,omitempty"`
}

// ErasurePhase is a one-word summary of where a request stands.
// +kubebuilder:validation:Enum=Pending;AwaitingApproval;Running;Complete;NotFound;NeedsInformation;Failed
type ErasurePhase string

// Phases of an ErasureRequest.
const (
	ErasurePending          ErasurePhase = "Pending"
	ErasureAwaitingApproval ErasurePhase = "AwaitingApproval"
	ErasureRunning          ErasurePhase = "Running"
	ErasureComplete         ErasurePhase = "Complete"
	// ErasureNotFound: the identifier matches no subject in any selected database;
	// nothing was erased. Finished, but a person should look (a typo, the wrong identity
	// type, a database the selector misses).
	ErasureNotFound         ErasurePhase = "NotFound"
	ErasureNeedsInformation ErasurePhase = "NeedsInformation"
	ErasureFailed           ErasurePhase = "Failed"
)

// TargetState is where the request stands in one database.
// +kubebuilder:validation:Enum=Pending;Previewing;Previewed;Running;Done;NotFound;Ambiguous;Guarded;Retrying;Failed
type TargetState string

// States of a request in one database.
const (
	// TargetPending: waiting for the database to be ready or for the next batch.
	TargetPending TargetState = "Pending"
	// TargetPreviewing: a preview Job is counting the rows.
	TargetPreviewing TargetState = "Previewing"
	// TargetPreviewed: the counts are in tables; the erasure waits for approval.
	TargetPreviewed TargetState = "Previewed"
	// TargetRunning: an erasure Job is running.
	TargetRunning TargetState = "Running"
	// TargetDone: erased, and the post-erasure check found no identifying value left.
	TargetDone TargetState = "Done"
	// TargetNotFound: the identifier matches no subject in this database.
	TargetNotFound TargetState = "NotFound"
	// TargetAmbiguous: the identifier matches several subjects; nothing was changed.
	TargetAmbiguous TargetState = "Ambiguous"
	// TargetGuarded: erasing the subject would remove or anonymize a row a guard keeps
	// (the last administrator of an account); nothing was changed. It is tried again
	// later, after a person has dealt with the guard.
	TargetGuarded TargetState = "Guarded"
	// TargetRetrying: the last run failed in a way retrying may fix.
	TargetRetrying TargetState = "Retrying"
	// TargetFailed: the last run failed in a way retrying will not fix.
	TargetFailed TargetState = "Failed"
)

// TableOutcome is what happened (or, in a preview, would happen) to one table's rows.
type TableOutcome struct {
	// Name of the table.
	Name string `json:"name"`
	// Outcome: anonymized, deleted, wouldAnonymize, wouldDelete, notFound, ambiguous or
	// failed, or for rows left in place: retained (legal hold), referenced (anonymized,
	// not deleted: rows of referencedBy still point at them), shared (also used by rows
	// that are not erased: another subject's, a shop's, a staff member's) or guarded (a
	// guard keeps them; nothing was changed for the subject).
	Outcome string `json:"outcome"`
	// Rows is the number of rows.
	Rows int64 `json:"rows"`
	// RetainedUntil is when a legal hold on retained rows ends.
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
	// CoveredBy is the RetentionPolicy rule (policy/rule) that will anonymize or delete
	// retained rows once the hold ends.
	// +optional
	CoveredBy string `json:"coveredBy,omitempty"`
	// Warning is set when retained rows need attention: NoRetentionCoverage means no
	// RetentionPolicy rule will remove them once the hold ends.
	// +optional
	Warning string `json:"warning,omitempty"`
}

// ErasureTarget is the request's progress and outcome in one TenantDatabase.
type ErasureTarget struct {
	// Database is the TenantDatabase's name.
	Database string `json:"database"`
	// State of the request in this database.
	State TargetState `json:"state"`
	// Job is the last worker Job that ran (or runs) for the request here; several
	// requests may share it.
	// +optional
	Job string `json:"job,omitempty"`
	// QueuedAt is when the request became due to run here; requests of the same
	// database queued within the coalescing window share a Job.
	// +optional
	QueuedAt *metav1.Time `json:"queuedAt,omitempty"`
	// Attempts counts failed runs, for the retry backoff.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// LostReport is set when an erasure Job of the request disappeared before its report
	// was read: it may have erased the subject, so a later run that finds nothing says so.
	// +optional
	LostReport bool `json:"lostReport,omitempty"`
	// Message explains the state (errors name tables and codes, never values).
	// +optional
	Message string `json:"message,omitempty"`
	// Remaining counts identifying values the post-erasure check still found.
	// +optional
	Remaining int64 `json:"remaining,omitempty"`
	// Tables are the per-table outcomes (preview counts until the erasure ran); a table
	// can have two, e.g. rows anonymized and rows retained under a legal hold.
	// +listType=map
	// +listMapKey=name
	// +listMapKey=outcome
	// +optional
	Tables []TableOutcome `json:"tables,omitempty"`
}

// Receipt lets an auditor check the record of an erasure was not altered: Digest is
// SHA-256 over the canonical JSON of the request's UID, fingerprint, per-database and
// per-table outcomes and completion time (see Document).
type Receipt struct {
	// Digest is "sha256:" and the hex digest of Document.
	Digest string `json:"digest"`
	// CompletedAt is when the last database finished.
	CompletedAt metav1.Time `json:"completedAt"`
	// Document is the canonical JSON the digest is computed over.
	Document string `json:"document"`
}

// ErasureRequestStatus is what Lethe has done about the request.
type ErasureRequestStatus struct {
	// ObservedGeneration is the generation the status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Phase summarises the conditions.
	// +optional
	Phase ErasurePhase `json:"phase,omitempty"`
	// Deadline is creation plus one calendar month, plus any extension (GDPR Art. 12(3)).
	// +optional
	Deadline *metav1.Time `json:"deadline,omitempty"`
	// SubjectFingerprint is a keyed HMAC-SHA256 of the normalised identifier: it tells
	// requests for the same subject apart without revealing who it is.
	// +optional
	SubjectFingerprint string `json:"subjectFingerprint,omitempty"`
	// Databases is "done/total" over the selected TenantDatabases.
	// +optional
	Databases string `json:"databases,omitempty"`
	// Conditions: Ready, Reconciling, Stalled, Complete, Approved, AwaitingApproval,
	// DeadlineExceeded, NeedsInformation.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Targets are the request's progress and outcome per TenantDatabase.
	// +listType=map
	// +listMapKey=database
	// +optional
	Targets []ErasureTarget `json:"targets,omitempty"`
	// Receipt is set once the request is complete.
	// +optional
	Receipt *Receipt `json:"receipt,omitempty"`
}

// ErasureRequest is one data subject's right to be forgotten across the selected
// TenantDatabases, with a deadline, legal holds, optional approval and a receipt.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=er,categories=lethe
// +kubebuilder:printcolumn:name="Fingerprint",type=string,JSONPath=`.status.subjectFingerprint`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Databases",type=string,JSONPath=`.status.databases`
// +kubebuilder:printcolumn:name="Deadline",type=string,format=date-time,JSONPath=`.status.deadline`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ErasureRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ErasureRequestSpec   `json:"spec,omitempty"`
	Status ErasureRequestStatus `json:"status,omitempty"`
}

// ErasureRequestList is a list of ErasureRequests.
// +kubebuilder:object:root=true
type ErasureRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ErasureRequest `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ErasureRequest{}, &ErasureRequestList{})
}
