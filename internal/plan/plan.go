// Package plan defines the contract between Lethe's controllers and its worker: the plan a
// Job runs (JSON in a ConfigMap, never personal data) and the report the worker writes back
// (JSON in the pod's termination message).
package plan

import "time"

// Kind is what a plan asks the worker to do.
type Kind string

// Plan kinds.
const (
	// KindVerify checks the DataMap against the live schema.
	KindVerify Kind = "verify"
	// KindPreview counts the rows rules or subjects would touch, changing nothing.
	KindPreview Kind = "preview"
	// KindRetention applies retention rules.
	KindRetention Kind = "retention"
	// KindErasure anonymizes or deletes the rows of one or more subjects.
	KindErasure Kind = "erasure"
	// KindExport exports one subject's rows.
	KindExport Kind = "export"
	// KindDraft proposes a DataMap from the live schema's catalog (no row is read).
	KindDraft Kind = "draft"
)

// Plan is one unit of work against one database.
type Plan struct {
	Kind     Kind     `json:"kind"`
	Database Database `json:"database"`
	DataMap  DataMap  `json:"dataMap"`
	// Rules are the retention rules (retention, and preview of retention).
	Rules []Rule `json:"rules,omitempty"`
	// Subjects are the data subjects (erasure, export, and preview of erasure).
	Subjects []Subject `json:"subjects,omitempty"`
	// Now is the reference time for every duration in the plan, set by the controller so
	// that a re-run of the same plan judges ages the same way.
	Now     time.Time `json:"now"`
	Options Options   `json:"options,omitempty"`
}

// Database says how the worker reaches the database. Secrets are files mounted from
// Kubernetes Secrets; the plan holds only their paths.
type Database struct {
	// Engine is postgres, mysql or mariadb.
	Engine string `json:"engine"`
	Host   string `json:"host"`
	Port   int    `json:"port"`
	Name   string `json:"name"`
	// AllowLinkLocal lets the worker connect when the host resolves to a link-local or
	// cloud metadata address (the manager's --allow-link-local-hosts); refused otherwise.
	AllowLinkLocal bool `json:"allowLinkLocal,omitempty"`
	// UsernameFile and PasswordFile hold the login.
	UsernameFile string `json:"usernameFile"`
	PasswordFile string `json:"passwordFile"`
	TLS          TLS    `json:"tls,omitempty"`
}

// TLS modes for the database connection.
const (
	TLSDisable    = "disable"
	TLSRequire    = "require"
	TLSVerifyFull = "verify-full"
)

// TLS is the database connection's TLS setting. Mode defaults to require.
type TLS struct {
	Mode string `json:"mode,omitempty"`
	// CAFile is the CA bundle for verify-full.
	CAFile string `json:"caFile,omitempty"`
	// ServerName overrides the name checked in the server's certificate.
	ServerName string `json:"serverName,omitempty"`
}

// DataMap is where personal data lives in the schema.
type DataMap struct {
	Tables []Table `json:"tables"`
	// IdentityTypes say how identifiers of a type are compared (absent: the type's
	// default, see internal/identifier).
	IdentityTypes map[string]IdentityType `json:"identityTypes,omitempty"`
}

// IdentityType is how identifiers of one identity type are compared.
type IdentityType struct {
	// Normalize lists the normalisation steps (trim, lowercase, digits, or exact alone).
	Normalize []string `json:"normalize"`
}

// Table is one table of the DataMap.
type Table struct {
	Name       string   `json:"name"`
	PrimaryKey []string `json:"primaryKey"`
	// Identifiers maps an identity type (email, customerId, ...) to the column holding it.
	// A table with identifiers is a subject table: its rows are data subjects.
	Identifiers map[string]string `json:"identifiers,omitempty"`
	// SubjectVia links the table to its parent on the way to the subject table: this
	// table's Columns reference the parent's ReferencedColumns.
	SubjectVia *Link `json:"subjectVia,omitempty"`
	// ReferencedBy links the table to a table on the way to the subject table whose
	// Columns reference this table's ReferencedColumns.
	ReferencedBy *Link      `json:"referencedBy,omitempty"`
	Columns      []Column   `json:"columns,omitempty"`
	LegalHold    *LegalHold `json:"legalHold,omitempty"`
	// Guards name rows that must survive every erasure and retention run.
	Guards []Guard `json:"guards,omitempty"`
	// OnErasure is anonymize (default) or delete.
	OnErasure string `json:"onErasure,omitempty"`
}

// Link is one step towards the data subject along a foreign key: Columns (the
// referencing side) reference ReferencedColumns (a key), pairwise. Table is the other
// table of the link. Absent columns are derived from the catalog's one foreign key
// between the two tables; Unenforced says no foreign key backs the link, on purpose.
type Link struct {
	Table             string   `json:"table"`
	Columns           []string `json:"columns,omitempty"`
	ReferencedColumns []string `json:"referencedColumns,omitempty"`
	Unenforced        bool     `json:"unenforced,omitempty"`
}

// Column is a personal column and how to mask it.
type Column struct {
	Name     string `json:"name"`
	Category string `json:"category,omitempty"`
	Mask     Mask   `json:"mask"`
}

// Masking strategies.
const (
	StrategyNullify    = "nullify"
	StrategyRedact     = "redact"
	StrategyHash       = "hash"
	StrategyFakeEmail  = "fakeEmail"
	StrategyGeneralize = "generalize"
	StrategyKeep       = "keep"
)

// Generalize targets.
const (
	GeneralizeYear    = "year"
	GeneralizeMonth   = "month"
	GeneralizeBucket  = "bucket"
	GeneralizeNetwork = "network"
	GeneralizePrefix  = "prefix"
)

// Mask is a masking strategy with its parameters.
type Mask struct {
	Strategy string `json:"strategy"`
	// Value is the constant for redact (default "REDACTED").
	Value string `json:"value,omitempty"`
	// To is the generalize target: year, month, bucket, network, prefix.
	To string `json:"to,omitempty"`
	// Width is the bucket width (bucket), the prefix length in characters (prefix), or
	// the network prefix length in bits for IPv4 (network; default 24, IPv6 uses 48).
	Width int `json:"width,omitempty"`
}

// Legal hold coverages.
const (
	HoldCoversRecord = "record"
	HoldCoversRow    = "row"
)

// LegalHold keeps a table's rows for RetainFor (ISO 8601) from the date in column From
// (a column of the table, or "table.column" of a table it links to on the way to its
// subject). Covers is record (default: the rows linked below held rows are kept too) or
// row.
type LegalHold struct {
	Basis     string `json:"basis"`
	RetainFor string `json:"retainFor"`
	From      string `json:"from"`
	Covers    string `json:"covers,omitempty"`
}

// Guard keeps at least KeepAtLeast rows matching Where per group of rows sharing the Per
// columns from being anonymized or deleted.
type Guard struct {
	Name        string      `json:"name"`
	Where       []Condition `json:"where"`
	Per         []string    `json:"per,omitempty"`
	KeepAtLeast int         `json:"keepAtLeast,omitempty"`
}

// Actions a rule or table can take.
const (
	ActionAnonymize = "anonymize"
	ActionDelete    = "delete"
)

// Rule is a retention rule: rows of Table matching Where and (older than OlderThan by
// Column, or whose subject has been inactive for InactiveFor judged by Activity) get Action.
type Rule struct {
	Name   string `json:"name"`
	Table  string `json:"table"`
	Action string `json:"action"`
	// Columns to anonymize (default: every masked column of the table in the DataMap).
	Columns     []string `json:"columns,omitempty"`
	OlderThan   string   `json:"olderThan,omitempty"`
	Column      string   `json:"column,omitempty"`
	InactiveFor string   `json:"inactiveFor,omitempty"`
	// Activity lists "table.column" timestamps; tables other than Table must link to it
	// through the DataMap.
	Activity []string    `json:"activity,omitempty"`
	Where    []Condition `json:"where,omitempty"`
	// IncludeOrphans lets an inactivity rule select rows that reach no data subject.
	IncludeOrphans bool `json:"includeOrphans,omitempty"`
	// Guards name rows the rule must leave, besides its table's guards.
	Guards []Guard `json:"guards,omitempty"`
	// AllRows lets the rule match every row of its table; without it such a run is
	// refused (ErrRuleMatchesEveryRow).
	AllRows bool `json:"allRows,omitempty"`
	// MaxRows and MaxPercent are the rule's ceiling: a run in which it would change more
	// rows, or more of its table, is refused before anything changes (ErrRuleAboveCeiling).
	// MaxRows 0 is no limit in rows; MaxPercent 0 is DefaultMaxPercent (100 with AllRows).
	MaxRows    int64 `json:"maxRows,omitempty"`
	MaxPercent int   `json:"maxPercent,omitempty"`
}

// DefaultMaxPercent is the share of a table a rule may change in one run when it sets no
// MaxPercent. A condition that spares almost nothing (ne a value one row has, olderThan a
// date nearly every row passes) looks like this; a steady-state run of a sane rule changes
// a small part of its table.
const DefaultMaxPercent = 90

// Condition operators.
const (
	OpEq      = "eq"
	OpNe      = "ne"
	OpIn      = "in"
	OpIsNull  = "isNull"
	OpNotNull = "notNull"
	OpLt      = "lt"
	OpGt      = "gt"
)

// Condition is a structured filter on one column; Value or Values are bound as parameters.
type Condition struct {
	Column string   `json:"column"`
	Op     string   `json:"op"`
	Value  string   `json:"value,omitempty"`
	Values []string `json:"values,omitempty"`
}

// Subject is one data subject. The identifier itself is in ValueFile (a mounted Secret).
type Subject struct {
	// ID names the subject in the report (the request's name), never the identifier.
	ID        string `json:"id"`
	Type      string `json:"type"`
	ValueFile string `json:"valueFile"`
	// Action overrides the tables' OnErasure (anonymize or delete), when set.
	Action string `json:"action,omitempty"`
}

// Options tune execution.
type Options struct {
	// BatchSize is the number of rows per keyset batch and transaction (default 5000).
	BatchSize int `json:"batchSize,omitempty"`
	// MaxRows caps the rows changed per rule in one run (0: no cap).
	MaxRows int64 `json:"maxRows,omitempty"`
	// LockTimeout and StatementTimeout bound each statement (Go durations, e.g. "5s").
	LockTimeout      string `json:"lockTimeout,omitempty"`
	StatementTimeout string `json:"statementTimeout,omitempty"`
	// HashKeyFile holds the HMAC key for the hash strategy (a mounted Secret).
	HashKeyFile string `json:"hashKeyFile,omitempty"`
	// Draft is the ConfigMap a draft plan publishes its DataMap in.
	Draft *DraftConfigMap `json:"draft,omitempty"`
	// Shard restricts a run to one primary-key range of Count (an Indexed Job's index).
	Shard *Shard `json:"shard,omitempty"`
	// ExportDir is where an export plan writes its files.
	ExportDir string `json:"exportDir,omitempty"`
	// ExportSecret, when set, is the Secret the worker delivers an export plan's files
	// into, so the export reaches its reader without passing through the controller.
	ExportSecret *ExportSecret `json:"exportSecret,omitempty"`
}

// Export formats.
const (
	FormatJSON = "json"
	FormatCSV  = "csv"
)

// ExportSecret names the Secret an export is delivered in and the resource owning it.
// The worker creates it once with every file of the export, or not at all.
type ExportSecret struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// Owner* make the Secret owned by the request, so it goes when the request goes and
	// RBAC on the request's namespace governs who can read it.
	OwnerAPIVersion string `json:"ownerAPIVersion"`
	OwnerKind       string `json:"ownerKind"`
	OwnerName       string `json:"ownerName"`
	OwnerUID        string `json:"ownerUID"`
	// Formats are json (export.json, always) and csv (one <prefix><table>.csv per table).
	Formats []string `json:"formats,omitempty"`
	// Source names where the export comes from (a TenantDatabase): the key of the
	// document under "databases" in export.json and the prefix of the CSV keys.
	Source string `json:"source,omitempty"`
	// Labels are set on the Secret.
	Labels map[string]string `json:"labels,omitempty"`
}

// DraftConfigMap names the ConfigMap a drafted DataMap is published in and the resource
// owning it. The worker creates it once, immutable; a new draft is a new ConfigMap.
type DraftConfigMap struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// DataMapName is the drafted DataMap's metadata.name.
	DataMapName string `json:"dataMapName"`
	// Owner* make the ConfigMap owned by the TenantDatabase, so it goes when that goes.
	OwnerAPIVersion string `json:"ownerAPIVersion"`
	OwnerKind       string `json:"ownerKind"`
	OwnerName       string `json:"ownerName"`
	OwnerUID        string `json:"ownerUID"`
	// Labels are set on the ConfigMap.
	Labels map[string]string `json:"labels,omitempty"`
}

// DraftKey is the ConfigMap key holding a drafted DataMap.
const DraftKey = "datamap.yaml"

// Shard is one of Count primary-key ranges. Index -1 means: read JOB_COMPLETION_INDEX.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// Outcomes in a report.
const (
	OutcomeAnonymized = "anonymized"
	OutcomeDeleted    = "deleted"
	OutcomeRetained   = "retained"
	// OutcomeReferenced: rows a delete kept (and anonymized) because rows that stay
	// still point at them (Result.ReferencedBy names their tables).
	OutcomeReferenced = "referenced"
	// OutcomeShared: rows kept as they are because rows that are not erased (another
	// subject's, a table outside the subject's data) still use them.
	OutcomeShared = "shared"
	// OutcomeGuarded: rows a guard keeps; an erasure changes nothing for the subject.
	OutcomeGuarded        = "guarded"
	OutcomeNotFound       = "notFound"
	OutcomeAmbiguous      = "ambiguous"
	OutcomeWouldAnonymize = "wouldAnonymize"
	OutcomeWouldDelete    = "wouldDelete"
	OutcomeExported       = "exported"
	OutcomeFailed         = "failed"
	// OutcomeRefused: the rows a rule would have changed in a run refused before anything
	// changed (see ErrRuleMatchesEveryRow and ErrRuleAboveCeiling).
	OutcomeRefused = "refused"
)

// Error codes in a report, so controllers can tell failures apart.
const (
	ErrUnreachable       = "Unreachable"
	ErrAuthentication    = "AuthenticationFailed"
	ErrMissingTable      = "MissingTable"
	ErrMissingColumn     = "MissingColumn"
	ErrIncompatible      = "IncompatibleStrategy"
	ErrTimeout           = "Timeout"
	ErrInvalidPlan       = "InvalidPlan"
	ErrUnknownIdentifier = "UnknownIdentifier"
	ErrInternal          = "Internal"
	// ErrExportTooLarge: the export does not fit in a Secret; nothing was delivered.
	ErrExportTooLarge = "ExportTooLarge"
	// ErrDeliveryFailed: the export Secret or draft ConfigMap could not be created (API
	// access, RBAC).
	ErrDeliveryFailed = "DeliveryFailed"
	// ErrDraftTooLarge: the drafted DataMap does not fit in a ConfigMap; nothing was published.
	ErrDraftTooLarge = "DraftTooLarge"
	// ErrRuleMatchesEveryRow: a rule without AllRows matched every row of its table; the
	// run was refused before anything changed in the database.
	ErrRuleMatchesEveryRow = "RuleMatchesEveryRow"
	// ErrRuleAboveCeiling: a rule would have changed more rows than its MaxRows or
	// MaxPercent allow; the run was refused before anything changed in the database.
	ErrRuleAboveCeiling = "RuleAboveCeiling"
	// ErrHostNotAllowed: the database host is, or resolves to, a link-local or cloud
	// metadata address, and the plan does not allow it.
	ErrHostNotAllowed = "HostNotAllowed"
)

// Retryable says whether a failure with this error code may go away when the same plan
// runs again: the database was unreachable or slow, the run was cut short, the API server
// refused a write. Every other code is a fixed outcome (the plan, the schema or a rule is
// wrong): the worker exits with ExitFinal and the Job is not retried.
func Retryable(code string) bool {
	switch code {
	case ErrUnreachable, ErrTimeout, ErrInternal, ErrDeliveryFailed:
		return true
	}
	return false
}

// Exit codes of the worker, which the Job's pod failure policy acts on.
const (
	// ExitSucceeded: the plan fully succeeded.
	ExitSucceeded = 0
	// ExitRetryable: the plan failed in a way a new pod may not (see Retryable); the
	// report says why. The Job retries up to its backoffLimit.
	ExitRetryable = 1
	// ExitUsage: the worker's command line was wrong; no report was written.
	ExitUsage = 2
	// ExitFinal: the plan was refused or failed with a fixed outcome (schema mismatch,
	// invalid plan, a rule refused); the report says why. The Job fails at once.
	ExitFinal = 3
)

// Report is what the worker writes to stdout and the termination message.
type Report struct {
	Kind      Kind      `json:"kind"`
	Succeeded bool      `json:"succeeded"`
	StartedAt time.Time `json:"startedAt"`
	// DurationMillis is the run's wall-clock time.
	DurationMillis int64 `json:"durationMillis"`
	// Results are rows per table, rule or subject, and outcome.
	Results []Result `json:"results,omitempty"`
	// Mismatches are the verify plan's findings.
	Mismatches []Mismatch `json:"mismatches,omitempty"`
	Errors     []Error    `json:"errors,omitempty"`
	// Remaining, after an erasure, counts identifying values still found per subject
	// (absent or zero means none is left).
	Remaining map[string]int64 `json:"remaining,omitempty"`
	// Truncated is set when the report was summarised to fit the termination message.
	Truncated bool `json:"truncated,omitempty"`
	// Delivery is where an export plan delivered its files (or, with ExportTooLarge,
	// how large they were).
	Delivery *Delivery `json:"delivery,omitempty"`
	// Draft is where a draft plan published its DataMap, and what it holds.
	Draft *DraftDelivery `json:"draft,omitempty"`
}

// DraftDelivery is a drafted DataMap published in a ConfigMap: its name and counts.
type DraftDelivery struct {
	ConfigMap string `json:"configMap"`
	Bytes     int    `json:"bytes"`
	// Seen is the number of tables in the catalog, Tables those the DataMap describes.
	Seen   int `json:"seen"`
	Tables int `json:"tables"`
	// Guesses is the number of guesses marked in the draft for a person to review.
	Guesses int `json:"guesses"`
	// Existed is set when the ConfigMap was already there (a re-run of a published plan);
	// the controller checks that it is the TenantDatabase's own.
	Existed bool `json:"existed,omitempty"`
}

// Delivery is an export delivered in a Secret. It names keys and sizes, never values.
type Delivery struct {
	Secret string `json:"secret"`
	// Keys are the Secret's keys (export.json, <prefix><table>.csv).
	Keys []string `json:"keys,omitempty"`
	// Bytes is the size of the export's data.
	Bytes int64 `json:"bytes"`
	// Existed is set when the Secret was already there (a re-run of a delivered plan);
	// the controller checks that it is the request's own.
	Existed bool `json:"existed,omitempty"`
}

// Result is the rows one rule or subject touched in one table with one outcome.
type Result struct {
	Table         string     `json:"table"`
	Rule          string     `json:"rule,omitempty"`
	Subject       string     `json:"subject,omitempty"`
	Outcome       string     `json:"outcome"`
	Rows          int64      `json:"rows"`
	RetainedUntil *time.Time `json:"retainedUntil,omitempty"`
	// Basis is the legal hold's basis, for retained rows.
	Basis string `json:"basis,omitempty"`
	// ReferencedBy names the tables whose rows point at referenced or shared rows.
	ReferencedBy []string `json:"referencedBy,omitempty"`
	// Reason explains guarded rows: the guard that keeps them.
	Reason string `json:"reason,omitempty"`
	// Capped is set when Options.MaxRows stopped the rule before it had gone through every
	// row: a later run continues where this one stopped.
	Capped bool `json:"capped,omitempty"`
}

// Mismatch is one difference between the DataMap and the live schema.
type Mismatch struct {
	Table   string `json:"table"`
	Column  string `json:"column,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error is a failure, with a code from the Err* constants.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Table   string `json:"table,omitempty"`
}
