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
	Name string `json:"name"`
	// Key within the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// SecretRef names a Secret in the object's namespace.
type SecretRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// TenantDatabaseSpec says how to reach one tenant's database and which DataMap describes it.
type TenantDatabaseSpec struct {
	// Engine of the database.
	Engine Engine `json:"engine"`
	// Host name or address of the database server.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Host string `json:"host"`
	// Port of the database server.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`
	// Database is the name of the database (schema, for MySQL) holding the tenant's data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Database string `json:"database"`
	// CredentialsSecretRef names the Secret holding the database login: keys `username`
	// and `password`. Only the worker pod reads it; the manager never does.
	CredentialsSecretRef SecretRef `json:"credentialsSecretRef"`
	// DataMapRef names the DataMap, in the same namespace, that describes this database's schema.
	// +kubebuilder:validation:MinLength=1
	DataMapRef string `json:"dataMapRef"`
}

// TenantDatabaseStatus is what Lethe last observed about the database.
type TenantDatabaseStatus struct {
	// ObservedGeneration is the generation the status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, Reconciling, Stalled, SchemaVerified.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// TenantDatabase is one tenant's database that Lethe keeps GDPR-compliant.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=tdb,categories=lethe
// +kubebuilder:printcolumn:name="Engine",type=string,JSONPath=`.spec.engine`
// +kubebuilder:printcolumn:name="DataMap",type=string,JSONPath=`.spec.dataMapRef`
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
