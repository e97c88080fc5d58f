package controllers

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
)

// progress groups the selected databases by the request's state in each.
type progress struct {
	total                                       int
	finished, notFound, ambiguous, failed       []string
	guarded                                     []string
	retrying, running, previewed, waiting, none []string
	messages                                    []string
}

func summariseTargets(er *privacyv1alpha1.ErasureRequest, dbs []privacyv1alpha1.TenantDatabase) progress {
	p := progress{total: len(dbs)}
	for _, db := range dbs {
		t := er.Status.GetTarget(db.Name)
		if t == nil {
			p.none = append(p.none, db.Name)
			continue
		}
		switch t.State {
		case privacyv1alpha1.TargetDone:
			p.finished = append(p.finished, db.Name)
		case privacyv1alpha1.TargetNotFound:
			p.finished = append(p.finished, db.Name)
			p.notFound = append(p.notFound, db.Name)
		case privacyv1alpha1.TargetAmbiguous:
			p.ambiguous = append(p.ambiguous, db.Name)
		case privacyv1alpha1.TargetGuarded:
			p.guarded = append(p.guarded, db.Name)
			p.messages = append(p.messages, db.Name+": "+t.Message)
		case privacyv1alpha1.TargetFailed:
			p.failed = append(p.failed, db.Name)
			p.messages = append(p.messages, db.Name+": "+t.Message)
		case privacyv1alpha1.TargetRetrying:
			p.retrying = append(p.retrying, db.Name)
			p.messages = append(p.messages, db.Name+": "+t.Message)
		case privacyv1alpha1.TargetRunning, privacyv1alpha1.TargetPreviewing:
			p.running = append(p.running, db.Name)
		case privacyv1alpha1.TargetPreviewed:
			p.previewed = append(p.previewed, db.Name)
		default:
			p.waiting = append(p.waiting, db.Name)
			if t.Message != "" {
				p.messages = append(p.messages, db.Name+": "+t.Message)
			}
		}
	}
	return p
}

// summarise turns the targets of the selected databases into conditions, the phase,
// the done/total column and, once every database is done, the receipt.
func (r *ErasureRequestReconciler) summarise(er *privacyv1alpha1.ErasureRequest, conds conditions,
	dbs []privacyv1alpha1.TenantDatabase, now time.Time) {
	p := summariseTargets(er, dbs)
	er.Status.Databases = fmt.Sprintf("%d/%d", len(p.finished), p.total)
	er.Status.ObservedGeneration = er.Generation
	r.needsInformation(er, conds, p)
	switch {
	case p.total == 0:
		msg := "the databaseSelector matches no TenantDatabase in namespace " + er.Namespace
		conds.notReady(privacyv1alpha1.ReasonNoDatabasesSelected, msg)
		conds.set(privacyv1alpha1.ConditionComplete, metav1.ConditionFalse, privacyv1alpha1.ReasonNoDatabasesSelected, msg)
		er.Status.Phase = privacyv1alpha1.ErasurePending
	case len(p.notFound) == p.total:
		r.notFound(er, conds, p, now)
	case len(p.finished) == p.total:
		r.complete(er, conds, p, now)
	case len(p.ambiguous) > 0:
		msg := fmt.Sprintf("the identifier matches more than one subject in %s: nothing was changed there", strings.Join(p.ambiguous, ", "))
		conds.stalled(privacyv1alpha1.ReasonAmbiguousSubject, msg)
		r.notComplete(conds, privacyv1alpha1.ReasonAmbiguousSubject, msg)
		er.Status.Phase = privacyv1alpha1.ErasureNeedsInformation
	case len(p.guarded) > 0:
		msg := "a guard keeps rows the erasure would change, so nothing was changed in " + strings.Join(p.guarded, ", ") +
			"; it is tried again every hour: " + strings.Join(p.messages, "; ")
		conds.stalled(privacyv1alpha1.ReasonGuarded, msg)
		r.notComplete(conds, privacyv1alpha1.ReasonGuarded, msg)
		er.Status.Phase = privacyv1alpha1.ErasureNeedsInformation
	case len(p.failed) > 0:
		msg := "retrying will not help: " + strings.Join(p.messages, "; ")
		if !meta.IsStatusConditionTrue(er.Status.Conditions, privacyv1alpha1.ConditionStalled) {
			r.event(er, corev1.EventTypeWarning, privacyv1alpha1.ReasonErasureFailed, "Erase", msg)
		}
		conds.stalled(privacyv1alpha1.ReasonErasureFailed, msg)
		r.notComplete(conds, privacyv1alpha1.ReasonErasureFailed, msg)
		er.Status.Phase = privacyv1alpha1.ErasureFailed
	case !er.Approved():
		r.awaitApproval(er, conds, p)
	default:
		r.inProgress(er, conds, p)
	}
}

// needsInformation sets NeedsInformation from the ambiguous databases.
func (r *ErasureRequestReconciler) needsInformation(er *privacyv1alpha1.ErasureRequest, conds conditions, p progress) {
	if len(p.ambiguous) == 0 {
		conds.set(privacyv1alpha1.ConditionNeedsInformation, metav1.ConditionFalse, privacyv1alpha1.ReasonUnambiguous, "the identifier matches at most one subject per database")
		return
	}
	msg := fmt.Sprintf("the identifier matches more than one subject in %s: nothing was changed there; file a request with a more specific identifier type", strings.Join(p.ambiguous, ", "))
	if !meta.IsStatusConditionTrue(er.Status.Conditions, privacyv1alpha1.ConditionNeedsInformation) {
		r.event(er, corev1.EventTypeWarning, privacyv1alpha1.ReasonAmbiguousSubject, "Erase", msg)
	}
	conds.set(privacyv1alpha1.ConditionNeedsInformation, metav1.ConditionTrue, privacyv1alpha1.ReasonAmbiguousSubject, msg)
}

func (r *ErasureRequestReconciler) notComplete(conds conditions, reason, msg string) {
	conds.set(privacyv1alpha1.ConditionComplete, metav1.ConditionFalse, reason, msg)
}

// awaitApproval: previews run or ran; the erasure waits for approval.
func (r *ErasureRequestReconciler) awaitApproval(er *privacyv1alpha1.ErasureRequest, conds conditions, p progress) {
	er.Status.Phase = privacyv1alpha1.ErasureAwaitingApproval
	if len(p.previewed)+len(p.finished) < p.total {
		msg := fmt.Sprintf("preview under way: %d of %d databases counted", len(p.previewed)+len(p.finished), p.total)
		conds.reconciling(privacyv1alpha1.ReasonPreviewing, msg)
		conds.set(privacyv1alpha1.ConditionAwaitingApproval, metav1.ConditionFalse, privacyv1alpha1.ReasonPreviewing, msg)
		r.notComplete(conds, privacyv1alpha1.ReasonPreviewing, msg)
		return
	}
	msg := "the preview counts are in status.targets; set spec.approval.approved to run the erasure (another user than the requester)"
	if !meta.IsStatusConditionTrue(er.Status.Conditions, privacyv1alpha1.ConditionAwaitingApproval) {
		r.event(er, corev1.EventTypeNormal, privacyv1alpha1.ReasonPreviewed, "Preview", msg)
	}
	conds.set(privacyv1alpha1.ConditionAwaitingApproval, metav1.ConditionTrue, privacyv1alpha1.ReasonPreviewed, msg)
	// Waiting for a person is the expected state, not a fault: Ready with the reason.
	conds.ready(privacyv1alpha1.ReasonPreviewed, msg)
	r.notComplete(conds, privacyv1alpha1.ReasonPreviewed, msg)
}

// inProgress: approved (or not needing approval), some databases still to go.
func (r *ErasureRequestReconciler) inProgress(er *privacyv1alpha1.ErasureRequest, conds conditions, p progress) {
	reason, phase := privacyv1alpha1.ReasonQueued, privacyv1alpha1.ErasurePending
	msg := fmt.Sprintf("%d of %d databases done", len(p.finished), p.total)
	if len(p.running) > 0 {
		reason, phase = privacyv1alpha1.ReasonErasing, privacyv1alpha1.ErasureRunning
		msg += "; erasing in " + strings.Join(p.running, ", ")
	}
	if len(p.retrying) > 0 {
		reason, phase = privacyv1alpha1.ReasonErasureFailed, privacyv1alpha1.ErasureRunning
	}
	if len(p.messages) > 0 {
		msg += "; " + strings.Join(p.messages, "; ")
	}
	er.Status.Phase = phase
	conds.reconciling(reason, msg)
	r.notComplete(conds, reason, msg)
}

// notFound records that no selected database holds the subject: the request is finished
// (every database searched; the receipt says so) but erased nothing, which a person
// should look at (a typo, the wrong identity type, a database the selector misses). It
// is Stalled rather than Ready, so GitOps tools do not show it healthy, and it is not
// Complete, so `kubectl wait --for=condition=Complete` does not report an erasure.
func (r *ErasureRequestReconciler) notFound(er *privacyv1alpha1.ErasureRequest, conds conditions, p progress, now time.Time) {
	msg := fmt.Sprintf("no subject with this %s identifier in any selected database (searched: %s): nothing was erased; "+
		"check the identifier and its type, or the databaseSelector, and file a new request", er.Spec.Subject.Type, strings.Join(p.notFound, ", "))
	if er.Status.Receipt == nil || er.Status.Phase != privacyv1alpha1.ErasureNotFound {
		er.Status.Receipt = buildReceipt(string(er.UID), er.Status.SubjectFingerprint, finishedTargets(er, p), now)
		r.event(er, corev1.EventTypeWarning, privacyv1alpha1.ReasonSubjectNotFound, "Search", msg)
	}
	er.Status.Phase = privacyv1alpha1.ErasureNotFound
	conds.stalled(privacyv1alpha1.ReasonSubjectNotFound, msg)
	r.notComplete(conds, privacyv1alpha1.ReasonSubjectNotFound, msg)
	meta.RemoveStatusCondition(conds.list, privacyv1alpha1.ConditionAwaitingApproval)
}

// finishedTargets are the targets of the finished databases, by name.
func finishedTargets(er *privacyv1alpha1.ErasureRequest, p progress) []privacyv1alpha1.ErasureTarget {
	var targets []privacyv1alpha1.ErasureTarget
	for _, t := range er.Status.Targets {
		if contains(p.finished, t.Database) {
			targets = append(targets, t)
		}
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].Database < targets[j].Database })
	return targets
}

// complete records completion and the receipt, once.
func (r *ErasureRequestReconciler) complete(er *privacyv1alpha1.ErasureRequest, conds conditions, p progress, now time.Time) {
	reason, msg := privacyv1alpha1.ReasonErased, fmt.Sprintf("erased in %d database(s); nothing identifying is left", p.total-len(p.notFound))
	if len(p.notFound) > 0 {
		msg += "; not found in " + strings.Join(p.notFound, ", ")
	}
	er.Status.Receipt = buildReceipt(string(er.UID), er.Status.SubjectFingerprint, finishedTargets(er, p), now)
	er.Status.Phase = privacyv1alpha1.ErasureComplete
	conds.set(privacyv1alpha1.ConditionComplete, metav1.ConditionTrue, reason, msg)
	conds.ready(reason, msg)
	meta.RemoveStatusCondition(conds.list, privacyv1alpha1.ConditionAwaitingApproval)
	if c := meta.FindStatusCondition(er.Status.Conditions, privacyv1alpha1.ConditionDeadlineExceeded); c != nil && c.Status != metav1.ConditionTrue {
		c.Message = "completed before the deadline " + er.Status.Deadline.UTC().Format(time.RFC3339)
	}
	r.event(er, corev1.EventTypeNormal, reason, "Complete", msg+"; receipt "+er.Status.Receipt.Digest)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
