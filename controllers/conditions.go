package controllers

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
)

// conditions sets kstatus-style conditions on one object, stamping its generation.
type conditions struct {
	list       *[]metav1.Condition
	generation int64
}

func (c conditions) set(typ string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(c.list, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: message, ObservedGeneration: c.generation,
	})
}

// ready marks the object reconciled and healthy.
func (c conditions) ready(reason, message string) {
	c.set(privacyv1alpha1.ConditionReady, metav1.ConditionTrue, reason, message)
	meta.RemoveStatusCondition(c.list, privacyv1alpha1.ConditionReconciling)
	meta.RemoveStatusCondition(c.list, privacyv1alpha1.ConditionStalled)
}

// reconciling marks work under way.
func (c conditions) reconciling(reason, message string) {
	c.set(privacyv1alpha1.ConditionReconciling, metav1.ConditionTrue, reason, message)
	c.set(privacyv1alpha1.ConditionReady, metav1.ConditionUnknown, reason, message)
	meta.RemoveStatusCondition(c.list, privacyv1alpha1.ConditionStalled)
}

// stalled marks a problem that needs a person: retrying alone will not fix it.
func (c conditions) stalled(reason, message string) {
	c.set(privacyv1alpha1.ConditionStalled, metav1.ConditionTrue, reason, message)
	c.set(privacyv1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
	meta.RemoveStatusCondition(c.list, privacyv1alpha1.ConditionReconciling)
}

// notReady marks a problem that may go away by itself (retried later).
func (c conditions) notReady(reason, message string) {
	c.set(privacyv1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
	meta.RemoveStatusCondition(c.list, privacyv1alpha1.ConditionReconciling)
	meta.RemoveStatusCondition(c.list, privacyv1alpha1.ConditionStalled)
}

// reasonOf is the reason of the condition of that type ("" when there is none).
func reasonOf(conds []metav1.Condition, typ string) string {
	if c := meta.FindStatusCondition(conds, typ); c != nil {
		return c.Reason
	}
	return ""
}

// stalledWith says whether the object is already Stalled for this reason (so the Event
// for it was sent).
func stalledWith(conds []metav1.Condition, reason string) bool {
	return meta.IsStatusConditionTrue(conds, privacyv1alpha1.ConditionStalled) &&
		reasonOf(conds, privacyv1alpha1.ConditionStalled) == reason
}
