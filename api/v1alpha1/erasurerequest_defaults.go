package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Annotations of the four-eyes admission policy (config/admission): who filed the
// request and who approved it, each checked against the API server's userInfo.
const (
	RequestedByAnnotation = "privacy.lethe.dev/requested-by"
	ApprovedByAnnotation  = "privacy.lethe.dev/approved-by"
)

// ApprovalRequired says whether the erasure waits for approval.
func (r *ErasureRequest) ApprovalRequired() bool {
	return r.Spec.Approval != nil && r.Spec.Approval.Required
}

// Approved says whether the request may run: approved, or no approval required.
func (r *ErasureRequest) Approved() bool {
	return !r.ApprovalRequired() || r.Spec.Approval.Approved
}

// GetExtensionMonths returns the months the deadline is extended by (0 without extension).
func (r *ErasureRequest) GetExtensionMonths() int {
	if r.Spec.DeadlineExtension == nil {
		return 0
	}
	return int(r.Spec.DeadlineExtension.Months)
}

// GetTarget returns the request's target for a database, or nil.
func (s *ErasureRequestStatus) GetTarget(database string) *ErasureTarget {
	for i := range s.Targets {
		if s.Targets[i].Database == database {
			return &s.Targets[i]
		}
	}
	return nil
}

// Finished says whether the request is done in this database: erased or nothing to erase.
func (t *ErasureTarget) Finished() bool {
	return t.State == TargetDone || t.State == TargetNotFound
}

// GetConditions returns the status conditions.
func (r *ErasureRequest) GetConditions() []metav1.Condition { return r.Status.Conditions }
