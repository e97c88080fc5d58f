package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TransferMechanism is the legal ground for transferring personal data outside the
// EU/EEA (GDPR Chapter V).
// +kubebuilder:validation:Enum=adequacy;scc;bcr;derogation;none
type TransferMechanism string

// Transfer mechanisms, with the GDPR article each rests on.
const (
	// TransferAdequacy relies on an EU adequacy decision for the country (Art. 45).
	TransferAdequacy TransferMechanism = "adequacy"
	// TransferSCC relies on the Commission's standard contractual clauses (Art. 46(2)(c)).
	TransferSCC TransferMechanism = "scc"
	// TransferBCR relies on binding corporate rules approved by a supervisory authority (Art. 47).
	TransferBCR TransferMechanism = "bcr"
	// TransferDerogation relies on a derogation for a specific situation (Art. 49).
	TransferDerogation TransferMechanism = "derogation"
	// TransferNone declares no mechanism: right inside the EU/EEA, a violation outside it.
	TransferNone TransferMechanism = "none"
)

// Date is a calendar date, YYYY-MM-DD.
// +kubebuilder:validation:Format=date
type Date string

// DataProcessingAgreement is the contract binding the subprocessor (GDPR Art. 28(4)).
type DataProcessingAgreement struct {
	// Reference identifies the signed agreement: a contract number or a document URL.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Reference string `json:"reference"`
	// SignedOn is the date the agreement was signed.
	SignedOn Date `json:"signedOn"`
}

// SubprocessorSpec describes one subprocessor as the register publishes it.
// +kubebuilder:validation:XValidation:rule="!has(self.until) || self.until > self.since",message="until must be a date after since"
type SubprocessorSpec struct {
	// LegalName is the subprocessor's registered company name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	LegalName string `json:"legalName"`
	// Purpose says, in a sentence, what the subprocessor does with the data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Purpose string `json:"purpose"`
	// Services are the services or functions used, e.g. "e-mail delivery".
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=128
	// +optional
	Services []string `json:"services,omitempty"`
	// Country where the data is processed: an ISO 3166-1 alpha-2 code such as DE or US.
	// +kubebuilder:validation:Pattern=`^[A-Z]{2}$`
	// +kubebuilder:validation:XValidation:rule="self != 'UK'",message="use GB, the ISO 3166-1 code of the United Kingdom, not UK"
	// +kubebuilder:validation:XValidation:rule="self != 'EL'",message="use GR, the ISO 3166-1 code of Greece, not EL"
	Country string `json:"country"`
	// TransferMechanism is the legal ground for a transfer outside the EU/EEA: adequacy,
	// scc, bcr, derogation or none (the default, right only inside the EU/EEA).
	// +kubebuilder:default=none
	// +optional
	TransferMechanism TransferMechanism `json:"transferMechanism,omitempty"`
	// DataCategories are the categories of personal data the subprocessor receives, in
	// the vocabulary of DataMap columns.
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	DataCategories []Category `json:"dataCategories"`
	// DPA is the data processing agreement with the subprocessor.
	DPA DataProcessingAgreement `json:"dpa"`
	// Contact is the subprocessor's privacy contact: an e-mail address or a URL.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Contact string `json:"contact,omitempty"`
	// Since is the date the subprocessor starts (or started) receiving data. A date in
	// the future announces a planned change.
	Since Date `json:"since"`
	// Until is the date the subprocessor stops receiving data, announced ahead.
	// +optional
	Until Date `json:"until,omitempty"`
}

// SubprocessorStatus is what Lethe last concluded about the subprocessor.
type SubprocessorStatus struct {
	// ObservedGeneration is the generation the status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Compliant, Ready, Reconciling, Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Subprocessor is one subprocessor that receives personal data: what for, where, and
// under which transfer mechanism. Lethe checks the transfer, publishes the register of
// all Subprocessors and notifies subscribers of every change.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=subp,categories=lethe
// +kubebuilder:printcolumn:name="Legal name",type=string,JSONPath=`.spec.legalName`,priority=1
// +kubebuilder:printcolumn:name="Country",type=string,JSONPath=`.spec.country`
// +kubebuilder:printcolumn:name="Mechanism",type=string,JSONPath=`.spec.transferMechanism`
// +kubebuilder:printcolumn:name="Compliant",type=string,JSONPath=`.status.conditions[?(@.type=="Compliant")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Compliant")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Subprocessor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   SubprocessorSpec   `json:"spec,omitempty"`
	Status SubprocessorStatus `json:"status,omitempty"`
}

// GetTransferMechanism returns the transfer mechanism, none when unset.
func (s *Subprocessor) GetTransferMechanism() TransferMechanism {
	if s.Spec.TransferMechanism == "" {
		return TransferNone
	}
	return s.Spec.TransferMechanism
}

// SubprocessorList is a list of Subprocessors.
// +kubebuilder:object:root=true
type SubprocessorList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Subprocessor `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Subprocessor{}, &SubprocessorList{})
}
