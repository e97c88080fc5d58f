package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Engine is the database engine of a TenantDatabase.
// +kubebuilder:validation:Enum=postgres;mysql;mariadb
type Engine string

// Database engines Lethe can work with.
const (
	EnginePostgres Engine = "postgres"
	EngineMySQL    Engine = "mysql"
	EngineMariaDB  Engine = "mariadb"
)

// SecretKeyRef points at one key of a Secret in the object's namespace.
type SecretKeyRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Name string `json:"name"`
	// Key within the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}

// CredentialsRef names the Secret holding a database login. Only the worker pod reads it.
type CredentialsRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Name string `json:"name"`
	// UsernameKey is the Secret key holding the user name.
	// +kubebuilder:default=username
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +optional
	UsernameKey string `json:"usernameKey,omitempty"`
	// PasswordKey is the Secret key holding the password.
	// +kubebuilder:default=password
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +optional
	PasswordKey string `json:"passwordKey,omitempty"`
}

// TLSMode is how the worker secures its database connection.
// +kubebuilder:validation:Enum=disable;require;verify-full
type TLSMode string

// TLS modes.
const (
	TLSDisable    TLSMode = "disable"
	TLSRequire    TLSMode = "require"
	TLSVerifyFull TLSMode = "verify-full"
)

// DatabaseTLS configures TLS to the database.
// +kubebuilder:validation:XValidation:rule="self.mode != 'verify-full' || has(self.caSecretRef)",message="tls.mode verify-full needs caSecretRef: the CA that signed the database's certificate"
type DatabaseTLS struct {
	// Mode is disable, require (encrypt, do not verify the certificate) or verify-full.
	// +kubebuilder:default=require
	// +optional
	Mode TLSMode `json:"mode,omitempty"`
	// CASecretRef is the CA bundle (PEM) that verify-full checks the server against.
	// +optional
	CASecretRef *SecretKeyRef `json:"caSecretRef,omitempty"`
	// ServerName is the name checked in the server's certificate (default: host).
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ServerName string `json:"serverName,omitempty"`
}

// TenantDatabaseSpec says how to reach one tenant's database and which DataMap describes it.
type TenantDatabaseSpec struct {
	// Engine of the database: postgres, mysql or mariadb.
	Engine Engine `json:"engine"`
	// Host name or address of the database server. Link-local addresses (169.254.0.0/16,
	// fe80::/10) and cloud metadata endpoints are refused: that is where the node's cloud
	// credentials are served, never a database.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([-A-Za-z0-9.:]*[A-Za-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="!self.contains(':') || isIP(self)",message="spec.host is neither a host name nor a plain IP address (the port goes in spec.port; IPv4-mapped IPv6 addresses are refused)"
	// +kubebuilder:validation:XValidation:rule="isIP(self) || !self.matches('(^|[.])(0[xX][0-9A-Fa-f]*|[0-9]+)$')",message="spec.host looks like an IPv4 address in another form than a.b.c.d (decimal, octal, hex or out of range): write it as a.b.c.d"
	// +kubebuilder:validation:XValidation:rule="!isIP(self) || !ip(self).isLinkLocalUnicast()",message="spec.host is a link-local address (169.254.0.0/16, fe80::/10), where cloud metadata services answer: Lethe does not connect there"
	// +kubebuilder:validation:XValidation:rule="!isIP(self) || !(string(ip(self)) in ['169.254.169.254', 'fd00:ec2::254', '100.100.100.200', '168.63.129.16'])",message="spec.host is a cloud metadata endpoint: Lethe does not connect there"
	// +kubebuilder:validation:XValidation:rule="!(self.lowerAscii() in ['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal', 'metadata.tencentyun.com', 'api.metadata.cloud.ibm.com', 'metadata.platformequinix.com'])",message="spec.host is a cloud metadata service name: Lethe does not connect there"
	Host string `json:"host"`
	// Port of the database server.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`
	// Database is the name of the database holding the tenant's data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_$-]*$`
	Database string `json:"database"`
	// CredentialsSecretRef names the Secret with the login (keys username and password by default).
	CredentialsSecretRef CredentialsRef `json:"credentialsSecretRef"`
	// TLS to the database; defaults to mode require.
	// +kubebuilder:default={mode: require}
	// +optional
	TLS *DatabaseTLS `json:"tls,omitempty"`
	// DataMapRef names the DataMap, in the same namespace, that describes this database's schema.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	DataMapRef string `json:"dataMapRef"`
	// HostedBy names the Subprocessors that host or can reach this database; the
	// TenantDatabase reports when one is missing, not compliant, or not disclosed for the
	// DataMap's categories.
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=253
	// +optional
	HostedBy []string `json:"hostedBy,omitempty"`
	// VerifyInterval is how often the schema is verified against the DataMap even when
	// nothing changed (a Go duration, at least 1m).
	// +kubebuilder:default="24h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m')",message="verifyInterval must be a duration of at least 1m, such as 24h"
	// +optional
	VerifyInterval string `json:"verifyInterval,omitempty"`
}

// Verification is the outcome of the last finished schema verification.
type Verification struct {
	// PlanHash identifies the DataMap and connection settings that were verified.
	PlanHash string `json:"planHash"`
	// Trigger is the privacy.lethe.dev/verify-now annotation value that was acted on.
	// +optional
	Trigger string `json:"trigger,omitempty"`
	// CompletedAt is when the verification Job finished.
	CompletedAt metav1.Time `json:"completedAt"`
	// Job is the name of the verification Job.
	Job string `json:"job"`
}

// SchemaMismatch is one difference between the DataMap and the live schema. It names
// tables and columns, never row values.
type SchemaMismatch struct {
	Table string `json:"table"`
	// +optional
	Column  string `json:"column,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// DataMapDraft is the DataMap last drafted from the live schema, on request
// (privacy.lethe.dev/draft-now). It holds names and counts; the YAML is in the ConfigMap.
type DataMapDraft struct {
	// Trigger is the privacy.lethe.dev/draft-now annotation value acted on.
	Trigger string `json:"trigger"`
	// Job is the draft Job.
	// +optional
	Job string `json:"job,omitempty"`
	// ConfigMap holds the drafted DataMap under the key datamap.yaml (owned by this
	// TenantDatabase). While a new draft runs, it still names the previous one.
	// +optional
	ConfigMap string `json:"configMap,omitempty"`
	// CompletedAt is when the draft Job finished.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`
	// TablesSeen is the number of tables in the catalog; Tables those the draft describes.
	// +optional
	TablesSeen int32 `json:"tablesSeen,omitempty"`
	// +optional
	Tables int32 `json:"tables,omitempty"`
	// Guesses is the number of guesses marked in the draft ("# guess:") to review.
	// +optional
	Guesses int32 `json:"guesses,omitempty"`
}

// TenantDatabaseStatus is what Lethe last observed about the database.
type TenantDatabaseStatus struct {
	// ObservedGeneration is the generation the status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, Reconciling, Stalled, SchemaVerified, SubprocessorsCompliant,
	// CategoriesDisclosed, DataMapDrafted.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// LastVerification is the last finished schema verification.
	// +optional
	LastVerification *Verification `json:"lastVerification,omitempty"`
	// NextVerificationTime is when the schema will be verified again.
	// +optional
	NextVerificationTime *metav1.Time `json:"nextVerificationTime,omitempty"`
	// Mismatches found by the last verification (at most 50 are listed).
	// +kubebuilder:validation:MaxItems=50
	// +optional
	Mismatches []SchemaMismatch `json:"mismatches,omitempty"`
	// Draft is the last DataMap drafted from the live schema.
	// +optional
	Draft *DataMapDraft `json:"draft,omitempty"`
}

// TenantDatabase is one tenant's database that Lethe keeps GDPR-compliant.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=tdb,categories=lethe
// +kubebuilder:printcolumn:name="Engine",type=string,JSONPath=`.spec.engine`
// +kubebuilder:printcolumn:name="DataMap",type=string,JSONPath=`.spec.dataMapRef`
// +kubebuilder:printcolumn:name="Schema",type=string,JSONPath=`.status.conditions[?(@.type=="SchemaVerified")].reason`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TenantDatabase struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   TenantDatabaseSpec   `json:"spec,omitempty"`
	Status TenantDatabaseStatus `json:"status,omitempty"`
}

// TenantDatabaseList is a list of TenantDatabases.
// +kubebuilder:object:root=true
type TenantDatabaseList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TenantDatabase `json:"items"`
}

func init() {
	SchemeBuilder.Register(&TenantDatabase{}, &TenantDatabaseList{})
}
