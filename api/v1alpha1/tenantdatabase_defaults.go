package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// VerifyNowAnnotation on a TenantDatabase asks for a schema verification now; change its
// value to ask again.
const VerifyNowAnnotation = "privacy.lethe.dev/verify-now"

// DraftNowAnnotation on a TenantDatabase asks for a DataMap drafted from the live schema,
// published in a ConfigMap that status.draft names; change its value to draft again.
const DraftNowAnnotation = "privacy.lethe.dev/draft-now"

// DefaultVerifyInterval is how often a schema is verified when nothing changes.
const DefaultVerifyInterval = 24 * time.Hour

// GetVerifyInterval returns the verification interval, falling back to the default.
func (t *TenantDatabase) GetVerifyInterval() time.Duration {
	d, err := time.ParseDuration(t.Spec.VerifyInterval)
	if err != nil || d < time.Minute {
		return DefaultVerifyInterval
	}
	return d
}

// GetTLSMode returns the TLS mode, require by default.
func (t *TenantDatabase) GetTLSMode() TLSMode {
	if t.Spec.TLS == nil || t.Spec.TLS.Mode == "" {
		return TLSRequire
	}
	return t.Spec.TLS.Mode
}

// GetUsernameKey returns the credentials Secret's user-name key.
func (c CredentialsRef) GetUsernameKey() string {
	if c.UsernameKey == "" {
		return "username"
	}
	return c.UsernameKey
}

// GetPasswordKey returns the credentials Secret's password key.
func (c CredentialsRef) GetPasswordKey() string {
	if c.PasswordKey == "" {
		return "password"
	}
	return c.PasswordKey
}

// GetConditions returns the status conditions.
func (t *TenantDatabase) GetConditions() []metav1.Condition { return t.Status.Conditions }

// GetConditions returns the status conditions.
func (d *DataMap) GetConditions() []metav1.Condition { return d.Status.Conditions }
