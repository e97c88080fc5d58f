package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ExportFormat is a format of the export: json (always delivered) or csv (one file per table).
// +kubebuilder:validation:Enum=json;csv
type ExportFormat string

// Export formats.
const (
	ExportJSON ExportFormat = "json"
	ExportCSV  ExportFormat = "csv"
)

// AccessRequestSpec is one data subject's right of access and to data portability
// (GDPR Art. 15 and 20). It is fixed at creation; a deadline extension can be added once.
// +kubebuilder:validation:XValidation:rule="self.subject == oldSelf.subject",message="spec.subject is immutable: file a new AccessRequest for another subject"
// +kubebuilder:validation:XValidation:rule="has(self.databaseSelector) == has(oldSelf.databaseSelector) && (!has(self.databaseSelector) || self.databaseSelector == oldSelf.databaseSelector)",message="spec.databaseSelector is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.formats) == has(oldSelf.formats) && (!has(self.formats) || self.formats == oldSelf.formats)",message="spec.formats is immutable"
// +kubebuilder:validation:XValidation:rule="has(self.expireAfter) == has(oldSelf.expireAfter) && (!has(self.expireAfter) || self.expireAfter == oldSelf.expireAfter)",message="spec.expireAfter is immutable"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.deadlineExtension) || (has(self.deadlineExtension) && self.deadlineExtension == oldSelf.deadlineExtension)",message="spec.deadlineExtension cannot be changed or removed once given"
type AccessRequestSpec struct {
	// Subject is the data subject, by identity type and a Secret holding the identifier.
	Subject ErasureSubject `json:"subject"`
	// DatabaseSelector picks TenantDatabases in the request's namespace (absent: all).
	// +optional
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || self.matchExpressions.all(e, e.operator in ['In', 'NotIn', 'Exists', 'DoesNotExist'])",message="databaseSelector.matchExpressions: operator must be In, NotIn, Exists or DoesNotExist"
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || self.matchExpressions.all(e, e.operator in ['In', 'NotIn'] == (has(e.values) && size(e.values) > 0))",message="databaseSelector.matchExpressions: In and NotIn need values, Exists and DoesNotExist take none"
	DatabaseSelector *metav1.LabelSelector `json:"databaseSelector,omitempty"`
	// Formats of the export: json (one document) and, with csv, one CSV file per table.
	// +kubebuilder:default={json}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=2
	// +kubebuilder:validation:XValidation:rule="'json' in self",message="formats must include json: the document says which category each column is"
	// +listType=set
	// +optional
	Formats []ExportFormat `json:"formats,omitempty"`
	// ExpireAfter is how long the export Secrets are kept after delivery (ISO 8601,
	// default P30D); then they are deleted and the Expired condition says so.
	// +kubebuilder:default=P30D
	// +optional
	ExpireAfter ISODuration `json:"expireAfter,omitempty"`
	// DeadlineExtension adds one or two months to the deadline, with a reason.
	// +optional
	DeadlineExtension *DeadlineExtension `json:"deadlineExtension,omitempty"`
}

// AccessPhase is a one-word summary of where a request stands.
// +kubebuilder:validation:Enum=Pending;Running;Complete;NotFound;Expired;Failed
type AccessPhase string

// Phases of an AccessRequest.
const (
	AccessPending  AccessPhase = "Pending"
	AccessRunning  AccessPhase = "Running"
	AccessComplete AccessPhase = "Complete"
	// AccessNotFound: the identifier matches no subject in any selected database; nothing
	// was exported. Finished, but a person should look.
	AccessNotFound AccessPhase = "NotFound"
	AccessExpired  AccessPhase = "Expired"
	AccessFailed   AccessPhase = "Failed"
)

// ExportState is where the request stands in one database.
// +kubebuilder:validation:Enum=Pending;Running;Delivered;NotFound;Retrying;Failed
type ExportState string

// States of an export in one database.
const (
	// ExportPending: waiting for the database's schema to be verified.
	ExportPending ExportState = "Pending"
	// ExportRunning: an export Job is running.
	ExportRunning ExportState = "Running"
	// ExportDelivered: the export is in its Secret.
	ExportDelivered ExportState = "Delivered"
	// ExportNotFound: the identifier matches no subject in this database.
	ExportNotFound ExportState = "NotFound"
	// ExportRetrying: the last run failed in a way retrying may fix.
	ExportRetrying ExportState = "Retrying"
	// ExportFailed: the last run failed in a way retrying will not fix.
	ExportFailed ExportState = "Failed"
)

// ExportedTable is how many rows of one table the export holds.
type ExportedTable struct {
	// Name of the table.
	Name string `json:"name"`
	// Rows exported.
	Rows int64 `json:"rows"`
}

// AccessTarget is the request's progress in one TenantDatabase.
type AccessTarget struct {
	// Database is the TenantDatabase's name.
	Database string `json:"database"`
	// State of the export from this database.
	State ExportState `json:"state"`
	// Job is the last export Job.
	// +optional
	Job string `json:"job,omitempty"`
	// Attempts counts failed runs.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// Reason is the failure's code (ExportTooLarge, Unreachable, ...), when it failed.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message explains the state (errors name tables and codes, never values).
	// +optional
	Message string `json:"message,omitempty"`
	// Secret is the Secret holding this database's export, once delivered.
	// +optional
	Secret string `json:"secret,omitempty"`
	// Bytes is the export's size.
	// +optional
	Bytes int64 `json:"bytes,omitempty"`
	// Tables are the rows exported per table.
	// +listType=map
	// +listMapKey=name
	// +optional
	Tables []ExportedTable `json:"tables,omitempty"`
}

// DeliveredSecret is one Secret of the export: one per database where the subject was
// found. Its keys are export.json and, with csv, <database>.<table>.csv.
type DeliveredSecret struct {
	// Name of the Secret, in the request's namespace.
	Name string `json:"name"`
	// Database is the TenantDatabase the export in it comes from.
	Database string `json:"database"`
	// Bytes is the size of its data.
	Bytes int64 `json:"bytes"`
}

// Delivery is where the export is and until when.
type Delivery struct {
	// Secrets hold the export, one per database. Each export.json is
	// {"databases": {database: document}}: joining their "databases" objects gives the
	// request's one document.
	// +listType=map
	// +listMapKey=name
	// +optional
	Secrets []DeliveredSecret `json:"secrets,omitempty"`
	// CompletedAt is when the last database was exported.
	CompletedAt metav1.Time `json:"completedAt"`
	// ExpiresAt is when the Secrets are deleted (completedAt + spec.expireAfter).
	ExpiresAt metav1.Time `json:"expiresAt"`
	// ExpiredAt is when they were deleted.
	// +optional
	ExpiredAt *metav1.Time `json:"expiredAt,omitempty"`
}

// AccessRequestStatus is what Lethe has done about the request.
type AccessRequestStatus struct {
	// ObservedGeneration is the generation the status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Phase summarises the conditions.
	// +optional
	Phase AccessPhase `json:"phase,omitempty"`
	// Deadline is creation plus one calendar month, plus any extension (GDPR Art. 12(3)).
	// +optional
	Deadline *metav1.Time `json:"deadline,omitempty"`
	// SubjectFingerprint is a keyed HMAC-SHA256 of the normalised identifier, as for
	// ErasureRequests: requests for the same subject share it.
	// +optional
	SubjectFingerprint string `json:"subjectFingerprint,omitempty"`
	// Databases is "done/total" over the selected TenantDatabases.
	// +optional
	Databases string `json:"databases,omitempty"`
	// Conditions: Ready, Reconciling, Stalled, Complete, DeadlineExceeded, Expired.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Targets are the request's progress per TenantDatabase.
	// +listType=map
	// +listMapKey=database
	// +optional
	Targets []AccessTarget `json:"targets,omitempty"`
	// Delivery names the Secrets holding the export, once complete.
	// +optional
	Delivery *Delivery `json:"delivery,omitempty"`
}

// AccessRequest is one data subject's right of access and to portability across the
// selected TenantDatabases: an export in JSON (and CSV per table), delivered in Secrets
// owned by the request, with a deadline and an expiry.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ar,categories=lethe
// +kubebuilder:printcolumn:name="Fingerprint",type=string,JSONPath=`.status.subjectFingerprint`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Databases",type=string,JSONPath=`.status.databases`
// +kubebuilder:printcolumn:name="Deadline",type=string,format=date-time,JSONPath=`.status.deadline`
// +kubebuilder:printcolumn:name="Expires",type=string,format=date-time,JSONPath=`.status.delivery.expiresAt`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AccessRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   AccessRequestSpec   `json:"spec,omitempty"`
	Status AccessRequestStatus `json:"status,omitempty"`
}

// AccessRequestList is a list of AccessRequests.
// +kubebuilder:object:root=true
type AccessRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AccessRequest `json:"items"`
}

func init() {
	SchemeBuilder.Register(&AccessRequest{}, &AccessRequestList{})
}
