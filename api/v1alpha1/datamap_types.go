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

// ColumnRef names a column of the table itself ("issued_at") or of another table of the
// DataMap ("invoice.issued_at").
// +kubebuilder:validation:Pattern=`^([A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_]{0,62}$`
// +kubebuilder:validation:MaxLength=127
type ColumnRef string

// Link is one step from a table towards its data subject, along a foreign key. Columns
// are always the referencing side and ReferencedColumns the key they point at, as in
// SQL's FOREIGN KEY (columns) REFERENCES table (referencedColumns). Where exactly one
// foreign key runs between the two tables, naming the table is enough.
// +kubebuilder:validation:XValidation:rule="!has(self.referencedColumns) || (has(self.columns) && size(self.columns) == size(self.referencedColumns))",message="referencedColumns pair up with columns: give columns, and as many of each"
// +kubebuilder:validation:XValidation:rule="!has(self.unenforced) || !self.unenforced || has(self.columns)",message="an unenforced link has no foreign key to derive its columns from: give columns"
type Link struct {
	// Table is the other table of the link, one step closer to the data subject; it must
	// be in the same DataMap.
	Table Identifier `json:"table"`
	// Columns are the referencing columns: this table's for subjectVia, Table's for
	// referencedBy. Absent: taken from the one foreign key between the two tables.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Columns []Identifier `json:"columns,omitempty"`
	// ReferencedColumns are the key columns Columns point at, pairwise. Absent: taken
	// from the foreign key, or the referenced table's primaryKey for an unenforced link.
	// They must be the primary key or a NOT NULL unique key of the referenced table.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	// +optional
	ReferencedColumns []Identifier `json:"referencedColumns,omitempty"`
	// Unenforced says on purpose that no foreign key backs the link in the database (an
	// application-level reference). Without it, such a link is refused at verification.
	// +optional
	Unenforced bool `json:"unenforced,omitempty"`
}

// HoldCoverage is what a legal hold keeps.
// +kubebuilder:validation:Enum=record;row
type HoldCoverage string

// Hold coverages.
const (
	// HoldCoversRecord keeps the held row and every row linked below it by subjectVia
	// (an invoice and its lines): the record the law asks to keep.
	HoldCoversRecord HoldCoverage = "record"
	// HoldCoversRow keeps only the held row itself.
	HoldCoversRow HoldCoverage = "row"
)

// LegalHold is a legal duty to keep a table's rows, e.g. bookkeeping law for invoices.
type LegalHold struct {
	// Basis names the legal basis, e.g. bookkeeping-law.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Basis string `json:"basis"`
	// RetainFor is how long rows are kept (ISO 8601, e.g. P7Y).
	RetainFor ISODuration `json:"retainFor"`
	// From is the date column the retention period runs from: a column of this table,
	// or table.column of a table this one links to on the way to its subject (an
	// invoice line's hold running from its invoice's issued_at).
	From ColumnRef `json:"from"`
	// Covers is record (default: the held rows and the rows linked below them, which are
	// kept with the same basis and date) or row (only the held rows).
	// +kubebuilder:default=record
	// +optional
	Covers HoldCoverage `json:"covers,omitempty"`
}

// Guard names rows that must survive every erasure and retention run: at least
// KeepAtLeast rows matching Where in each group of rows sharing the Per columns (the last
// administrator of an account).
type Guard struct {
	// Name of the guard, for reports and messages.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
	// Where selects the guarded rows; all conditions must hold.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	Where []Condition `json:"where"`
	// Per groups the rows (account_id: at least KeepAtLeast per account). Absent: the
	// whole table is one group.
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Per []Identifier `json:"per,omitempty"`
	// KeepAtLeast is how many matching rows each group keeps untouched (default 1).
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	KeepAtLeast int32 `json:"keepAtLeast,omitempty"`
}

// NormalizeStep is one step of identifier normalisation.
// +kubebuilder:validation:Enum=trim;lowercase;digits;exact
type NormalizeStep string

// IdentityType says how the identifiers of one identity type are compared.
type IdentityType struct {
	// Normalize lists what is ignored when an identifier is compared: trim (leading and
	// trailing spaces), lowercase (letter case), digits (everything but the digits 0-9),
	// or exact alone (nothing). The same normalisation gives the subject's fingerprint,
	// finds its rows and checks that nothing is left after an erasure. Absent: e-mail
	// addresses are trimmed and lowercased, other types compared exactly.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=3
	// +kubebuilder:validation:XValidation:rule="!self.exists(s, s == 'exact') || size(self) == 1",message="exact means no normalisation: it stands alone"
	// +kubebuilder:validation:XValidation:rule="self.all(s, self.exists_one(t, t == s))",message="each normalisation step is listed once"
	Normalize []NormalizeStep `json:"normalize"`
}

// Table is where personal data lives in one table.
// +kubebuilder:validation:XValidation:rule="(has(self.identifiers) ? 1 : 0) + (has(self.subjectVia) ? 1 : 0) + (has(self.referencedBy) ? 1 : 0) == 1",message="a table either identifies data subjects (identifiers) or links towards a table that does (subjectVia or referencedBy): give exactly one"
// +kubebuilder:validation:XValidation:rule="!has(self.subjectVia) || self.subjectVia.table != self.name",message="subjectVia must name another table: a table is not its own way to a data subject (describe a self-reference such as reports_to as a column)"
// +kubebuilder:validation:XValidation:rule="!has(self.referencedBy) || self.referencedBy.table != self.name",message="referencedBy must name another table: a table is not its own way to a data subject (describe a self-reference such as reports_to as a column)"
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
	// SubjectVia links this table to its parent on the way to the subject table: this
	// table references the parent (an invoice references its customer).
	// +optional
	SubjectVia *Link `json:"subjectVia,omitempty"`
	// ReferencedBy links this table to a table on the way to the subject table that
	// references it (the customer references its address). Such rows may be shared:
	// they change only when every row referring to them is erased or anonymized.
	// +optional
	ReferencedBy *Link `json:"referencedBy,omitempty"`
	// Columns holding personal data, with their masking.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	// +optional
	Columns []Column `json:"columns,omitempty"`
	// LegalHold keeps rows for a legal retention period, even against erasure requests.
	// +optional
	LegalHold *LegalHold `json:"legalHold,omitempty"`
	// Guards name rows of this table that must survive every erasure and retention run.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Guards []Guard `json:"guards,omitempty"`
	// OnErasure is what an erasure request does to this table's rows by default.
	// +kubebuilder:default=anonymize
	// +optional
	OnErasure Action `json:"onErasure,omitempty"`
}

// DataMapSpec describes where personal data lives in a schema shared by many tenants.
// +kubebuilder:validation:XValidation:rule="self.tables.all(t, !has(t.subjectVia) || self.tables.exists(u, u.name == t.subjectVia.table))",message="subjectVia.table must name a table in this DataMap"
// +kubebuilder:validation:XValidation:rule="self.tables.all(t, !has(t.referencedBy) || self.tables.exists(u, u.name == t.referencedBy.table))",message="referencedBy.table must name a table in this DataMap"
// +kubebuilder:validation:XValidation:rule="self.tables.exists(t, has(t.identifiers))",message="at least one table must identify data subjects (identifiers)"
// +kubebuilder:validation:XValidation:rule="has(self.hashKeySecretRef) || !self.tables.exists(t, has(t.columns) && t.columns.exists(c, c.mask.strategy == 'hash'))",message="strategy hash needs hashKeySecretRef: the Secret holding the HMAC key"
type DataMapSpec struct {
	// Tables holding personal data.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	Tables []Table `json:"tables"`
	// IdentityTypes say how identifiers of each identity type are compared (e-mail:
	// trimmed and case-insensitive unless said otherwise here).
	// +kubebuilder:validation:MaxProperties=16
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^[a-z][A-Za-z0-9]{0,31}$'))",message="identity types are short camelCase words such as email, customerId or phone"
	// +optional
	IdentityTypes map[string]IdentityType `json:"identityTypes,omitempty"`
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
