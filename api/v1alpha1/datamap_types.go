package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Identifier is a table or column name. The pattern is deliberately narrow: names are also
// checked against the live catalog and quoted by the worker, but a name that could carry
// SQL never gets that far.
// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]{0,62}$`
// +kubebuilder:validation:MaxLength=63
type Identifier string

// Category is the kind of personal data a column holds.
// +kubebuilder:validation:Enum=contact;name;identifier;online-identifier;demographic;location;financial;free-text;behavioural;special;other
type Category string

// Strategy is how a column is masked.
// +kubebuilder:validation:Enum=nullify;redact;hash;fakeEmail;generalize;keep
type Strategy string

// Action is what happens to a table's rows.
// +kubebuilder:validation:Enum=anonymize;delete
type Action string

// Actions.
const (
	ActionAnonymize Action = "anonymize"
	ActionDelete    Action = "delete"
)

// ISODuration is an ISO 8601 duration with calendar units, such as P30D, P3M or P7Y. It is
// longer than zero and at most 100 years, weighing a year as 365.25 days and a month as a
// twelfth of that (the worker's internal/duration draws the same line).
// +kubebuilder:validation:Pattern=`^P([0-9]{1,9}Y)?([0-9]{1,9}M)?([0-9]{1,9}W)?([0-9]{1,9}D)?(T([0-9]{1,9}H)?([0-9]{1,9}M)?([0-9]{1,9}S)?)?$`
// +kubebuilder:validation:MaxLength=40
// +kubebuilder:validation:XValidation:rule="self != 'P' && !self.endsWith('T')",message="an ISO 8601 duration needs at least one amount, such as P30D, P3M or P7Y"
// +kubebuilder:validation:XValidation:rule="self.matches('[1-9]')",message="a zero duration (P0D, PT0S) is refused: as a rule's age it matches every row; give an amount greater than zero"
// +kubebuilder:validation:XValidation:rule="(self.matches('[0-9]+Y') ? int(self.find('[0-9]+Y').find('[0-9]+')) * 31557600 : 0) + (self.find('^P[0-9YMWD]*').matches('[0-9]+M') ? int(self.find('^P[0-9YMWD]*').find('[0-9]+M').find('[0-9]+')) * 2629800 : 0) + (self.matches('[0-9]+W') ? int(self.find('[0-9]+W').find('[0-9]+')) * 604800 : 0) + (self.matches('[0-9]+D') ? int(self.find('[0-9]+D').find('[0-9]+')) * 86400 : 0) + (self.matches('[0-9]+H') ? int(self.find('[0-9]+H').find('[0-9]+')) * 3600 : 0) + (self.find('T.*').matches('[0-9]+M') ? int(self.find('T.*').find('[0-9]+M').find('[0-9]+')) * 60 : 0) + (self.matches('[0-9]+S') ? int(self.find('[0-9]+S').find('[0-9]+')) * 1 : 0) <= 3155760000",message="a duration longer than 100 years is refused: no retention period or legal hold is that long"
type ISODuration string

// Mask is a masking strategy with its parameters.
// +kubebuilder:validation:XValidation:rule="(self.strategy == 'generalize') == has(self.to)",message="mask.to is required with strategy generalize, and only allowed with it"
// +kubebuilder:validation:XValidation:rule="!has(self.to) || !(self.to in ['bucket', 'prefix']) || (has(self.width) && self.width > 0)",message="generalize to bucket or prefix needs a width greater than 0"
// +kubebuilder:validation:XValidation:rule="!has(self.value) || self.strategy == 'redact'",message="mask.value is the constant of strategy redact and only allowed with it"
type Mask struct {
	// Strategy: nullify, redact (a constant), hash (keyed HMAC-SHA256), fakeEmail,
	// generalize, or keep.
	Strategy Strategy `json:"strategy"`
	// Value is redact's constant (default REDACTED).
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!self.contains('\\u0000')",message="mask.value must not contain a NUL character (\\u0000): databases cannot store it"
	// +optional
	Value string `json:"value,omitempty"`
	// To is generalize's target: year or month (dates), bucket (numbers), network (IP
	// addresses), prefix (text such as postcodes).
	// +kubebuilder:validation:Enum=year;month;bucket;network;prefix
	// +optional
	To string `json:"to,omitempty"`
	// Width is the bucket width, the prefix length in characters, or the IPv4 network
	// prefix length in bits.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000000
	// +optional
	Width int32 `json:"width,omitempty"`
}

// Column is one personal column.
// +kubebuilder:validation:XValidation:rule="!(self.category in ['contact', 'name', 'identifier', 'online-identifier']) || self.mask.strategy != 'keep'",message="strategy keep would leave a direct identifier in place: categories contact, name, identifier and online-identifier must be masked"
// +kubebuilder:validation:XValidation:rule="self.mask.strategy != 'fakeEmail' || self.category == 'contact'",message="strategy fakeEmail is for category contact (e-mail addresses)"
// +kubebuilder:validation:XValidation:rule="!has(self.mask.to) || self.mask.to != 'network' || self.category == 'online-identifier'",message="generalize to network is for category online-identifier (IP addresses)"
// +kubebuilder:validation:XValidation:rule="self.category != 'special' || self.mask.strategy in ['nullify', 'redact']",message="special-category data (GDPR Art. 9) may only be nullified or redacted"
type Column struct {
	// Name of the column.
	Name Identifier `json:"name"`
	// Category of personal data the column holds.
	Category Category `json:"category"`
	// Mask is how the column is anonymized.
	Mask Mask `json:"mask"`
}

// ForeignKey names columns of another table.
type ForeignKey struct {
	// Table is the referenced table; it must be in the same DataMap.
	Table Identifier `json:"table"`
	// Columns of the referenced table, pairwise with the referencing columns.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	Columns []Identifier `json:"columns"`
}

// SubjectVia links a table to its parent on the way to the data subject.
// +kubebuilder:validation:XValidation:rule="size(self.columns) == size(self.references.columns)",message="subjectVia.columns and subjectVia.references.columns must pair up: give the same number of each"
type SubjectVia struct {
	// Columns of this table that reference the parent.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	Columns []Identifier `json:"columns"`
	// References is the parent table and its columns.
	References ForeignKey `json:"references"`
}

// LegalHold is a legal duty to keep a table's rows, e.g. bookkeeping law for invoices.
type LegalHold struct {
	// Basis names the legal basis, e.g. bookkeeping-law.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Basis string `json:"basis"`
	// RetainFor is how long rows are kept (ISO 8601, e.g. P7Y).
	RetainFor ISODuration `json:"retainFor"`
	// From is the date column the retention period runs from.
	From Identifier `json:"from"`
}

// Table is where personal data lives in one table.
// +kubebuilder:validation:XValidation:rule="has(self.identifiers) != has(self.subjectVia)",message="a table either identifies data subjects (identifiers) or links to a table that does (subjectVia): give exactly one"
// +kubebuilder:validation:XValidation:rule="!has(self.subjectVia) || self.subjectVia.references.table != self.name",message="subjectVia must reference another table"
type Table struct {
	// Name of the table.
	Name Identifier `json:"name"`
	// PrimaryKey columns, in order.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	PrimaryKey []Identifier `json:"primaryKey"`
	// Identifiers maps an identity type (email, customerId, phone, ...) to the column
	// holding it; a table with identifiers holds the data subjects themselves.
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=16
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^[a-z][A-Za-z0-9]{0,31}$'))",message="identity types are short camelCase words such as email, customerId or phone"
	// +optional
	Identifiers map[string]Identifier `json:"identifiers,omitempty"`
	// SubjectVia links this table to its parent on the way to the subject table.
	// +optional
	SubjectVia *SubjectVia `json:"subjectVia,omitempty"`
	// Columns holding personal data, with their masking.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	// +optional
	Columns []Column `json:"columns,omitempty"`
	// LegalHold keeps rows for a legal retention period, even against erasure requests.
	// +optional
	LegalHold *LegalHold `json:"legalHold,omitempty"`
	// OnErasure is what an erasure request does to this table's rows by default.
	// +kubebuilder:default=anonymize
	// +optional
	OnErasure Action `json:"onErasure,omitempty"`
}

// DataMapSpec describes where personal data lives in a schema shared by many tenants.
// +kubebuilder:validation:XValidation:rule="self.tables.all(t, !has(t.subjectVia) || self.tables.exists(u, u.name == t.subjectVia.references.table))",message="subjectVia.references.table must name a table in this DataMap"
// +kubebuilder:validation:XValidation:rule="self.tables.exists(t, has(t.identifiers))",message="at least one table must identify data subjects (identifiers)"
// +kubebuilder:validation:XValidation:rule="has(self.hashKeySecretRef) || !self.tables.exists(t, has(t.columns) && t.columns.exists(c, c.mask.strategy == 'hash'))",message="strategy hash needs hashKeySecretRef: the Secret holding the HMAC key"
type DataMapSpec struct {
	// Tables holding personal data.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	Tables []Table `json:"tables"`
	// HashKeySecretRef is the HMAC key for strategy hash. Keep it the same across
	// databases so pseudonyms match everywhere.
	// +optional
	HashKeySecretRef *SecretKeyRef `json:"hashKeySecretRef,omitempty"`
}

// DataMapStatus is what Lethe last observed about the DataMap.
type DataMapStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// UsedBy is the number of TenantDatabases that use this DataMap.
	// +optional
	UsedBy int32 `json:"usedBy"`
	// SubjectTables are the tables that identify data subjects.
	// +optional
	SubjectTables []string `json:"subjectTables,omitempty"`
}

// DataMap says where personal data lives in a schema shared by many tenant databases:
// tables, how each links to the data subject, personal columns and their masking, and
// legal holds.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dm,categories=lethe
// +kubebuilder:printcolumn:name="Used by",type=integer,JSONPath=`.status.usedBy`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DataMap struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   DataMapSpec   `json:"spec,omitempty"`
	Status DataMapStatus `json:"status,omitempty"`
}

// DataMapList is a list of DataMaps.
// +kubebuilder:object:root=true
type DataMapList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DataMap `json:"items"`
}

func init() {
	SchemeBuilder.Register(&DataMap{}, &DataMapList{})
}
