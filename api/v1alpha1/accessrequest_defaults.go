package v1alpha1

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultExpireAfter is how long an export is kept when spec.expireAfter is not set.
const DefaultExpireAfter ISODuration = "P30D"

// GetExpireAfter returns spec.expireAfter, or DefaultExpireAfter.
func (r *AccessRequest) GetExpireAfter() ISODuration {
	if r.Spec.ExpireAfter == "" {
		return DefaultExpireAfter
	}
	return r.Spec.ExpireAfter
}

// GetFormats returns the export formats, json always first.
func (r *AccessRequest) GetFormats() []string {
	out := []string{string(ExportJSON)}
	if slices.Contains(r.Spec.Formats, ExportCSV) {
		out = append(out, string(ExportCSV))
	}
	return out
}

// GetExtensionMonths returns the months the deadline is extended by (0 without extension).
func (r *AccessRequest) GetExtensionMonths() int {
	if r.Spec.DeadlineExtension == nil {
		return 0
	}
	return int(r.Spec.DeadlineExtension.Months)
}

// GetTarget returns the request's target for a database, or nil.
func (s *AccessRequestStatus) GetTarget(database string) *AccessTarget {
	for i := range s.Targets {
		if s.Targets[i].Database == database {
			return &s.Targets[i]
		}
	}
	return nil
}

// Finished says whether the export from this database is done: delivered, or nothing to export.
func (t *AccessTarget) Finished() bool {
	return t.State == ExportDelivered || t.State == ExportNotFound
}

// GetConditions returns the status conditions.
func (r *AccessRequest) GetConditions() []metav1.Condition { return r.Status.Conditions }
