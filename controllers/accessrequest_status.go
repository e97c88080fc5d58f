package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/duration"
)

// summarise turns the targets of the selected databases into conditions, the phase, the
// done/total column and, once every database is done, the delivery.
func (r *AccessRequestReconciler) summarise(ctx context.Context, ar *privacyv1alpha1.AccessRequest, conds conditions,
	dbs []privacyv1alpha1.TenantDatabase, now time.Time, expireAfter duration.Duration) error {
	var finished, notFound, running, failed, retrying, waiting []string
	var failures, notes []string
	reason := ""
	for _, db := range dbs {
		t := accessTarget(ar, db.Name)
		switch t.State {
		case privacyv1alpha1.ExportDelivered:
			finished = append(finished, db.Name)
		case privacyv1alpha1.ExportNotFound:
			finished = append(finished, db.Name)
			notFound = append(notFound, db.Name)
		case privacyv1alpha1.ExportFailed:
			failed = append(failed, db.Name)
			failures = append(failures, db.Name+": "+t.Message)
			if reason == "" {
				reason = t.Reason
			}
		case privacyv1alpha1.ExportRetrying:
			retrying = append(retrying, db.Name)
			notes = append(notes, db.Name+": "+t.Message)
		case privacyv1alpha1.ExportRunning:
			running = append(running, db.Name)
		default:
			waiting = append(waiting, db.Name)
			if t.Message != "" {
				notes = append(notes, db.Name+": "+t.Message)
			}
		}
	}
	ar.Status.Databases = fmt.Sprintf("%d/%d", len(finished), len(dbs))
	ar.Status.ObservedGeneration = ar.Generation
	switch {
	case len(dbs) == 0:
		msg := "the databaseSelector matches no TenantDatabase in namespace " + ar.Namespace
		conds.notReady(privacyv1alpha1.ReasonNoDatabasesSelected, msg)
		conds.set(privacyv1alpha1.ConditionComplete, metav1.ConditionFalse, privacyv1alpha1.ReasonNoDatabasesSelected, msg)
		ar.Status.Phase = privacyv1alpha1.AccessPending
	case len(failed) > 0:
		if reason == "" {
			reason = privacyv1alpha1.ReasonExportFailed
		}
		msg := strings.Join(failures, "; ") + "; nothing is delivered: a partial export is withdrawn"
		withdrawn, err := r.withdraw(ctx, ar, dbs)
		if err != nil {
			return err
		}
		if len(withdrawn) > 0 {
			r.event(ar, corev1.EventTypeNormal, "ExportWithdrawn", "Withdraw", "deleted Secret(s) "+strings.Join(withdrawn, ", ")+": the export is incomplete")
		}
		r.stall(ar, conds, reason, msg)
	case len(notFound) == len(dbs):
		r.notFound(ar, conds, notFound)
	case len(finished) == len(dbs):
		r.complete(ar, conds, dbs, notFound, now, expireAfter)
	default:
		reason, phase := privacyv1alpha1.ReasonProgressing, privacyv1alpha1.AccessPending
		msg := fmt.Sprintf("%d of %d databases exported", len(finished), len(dbs))
		if len(running) > 0 {
			reason, phase = privacyv1alpha1.ReasonExporting, privacyv1alpha1.AccessRunning
			msg += "; exporting from " + strings.Join(running, ", ")
		}
		if len(retrying) > 0 {
			reason, phase = privacyv1alpha1.ReasonExportRetrying, privacyv1alpha1.AccessRunning
		}
		if len(notes) > 0 {
			msg += "; " + strings.Join(notes, "; ")
		}
		ar.Status.Phase = phase
		conds.reconciling(reason, msg)
		conds.set(privacyv1alpha1.ConditionComplete, metav1.ConditionFalse, reason, msg)
	}
	return nil
}

// complete records the delivery, once: the Secrets, when, and until when they are kept.
func (r *AccessRequestReconciler) complete(ar *privacyv1alpha1.AccessRequest, conds conditions,
	dbs []privacyv1alpha1.TenantDatabase, notFound []string, now time.Time, expireAfter duration.Duration) {
	var secrets []privacyv1alpha1.DeliveredSecret
	for _, db := range dbs {
		t := ar.Status.GetTarget(db.Name)
		if t.State != privacyv1alpha1.ExportDelivered {
			continue
		}
		secrets = append(secrets, privacyv1alpha1.DeliveredSecret{Name: t.Secret, Database: db.Name, Bytes: t.Bytes})
	}
	sort.Slice(secrets, func(i, j int) bool { return secrets[i].Name < secrets[j].Name })
	reason := privacyv1alpha1.ReasonExported
	msg := fmt.Sprintf("exported from %d database(s)", len(secrets))
	names := make([]string, len(secrets))
	for i, s := range secrets {
		names[i] = s.Name
	}
	expires := expireAfter.AddTo(now)
	ar.Status.Delivery = &privacyv1alpha1.Delivery{Secrets: secrets, CompletedAt: metav1.Time{Time: now},
		ExpiresAt: metav1.Time{Time: expires}}
	msg += fmt.Sprintf(" into Secret(s) %s, kept until %s", strings.Join(names, ", "), expires.UTC().Format(time.RFC3339))
	if len(notFound) > 0 {
		msg += "; not found in " + strings.Join(notFound, ", ")
	}
	ar.Status.Phase = privacyv1alpha1.AccessComplete
	conds.set(privacyv1alpha1.ConditionComplete, metav1.ConditionTrue, reason, msg)
	conds.ready(reason, msg)
	if c := meta.FindStatusCondition(ar.Status.Conditions, privacyv1alpha1.ConditionDeadlineExceeded); c != nil && c.Status != metav1.ConditionTrue {
		c.Message = "completed before the deadline " + ar.Status.Deadline.UTC().Format(time.RFC3339)
	}
	r.event(ar, corev1.EventTypeNormal, reason, "Complete", msg)
}

// notFound records that no selected database holds the subject: the request is finished
// but exported nothing, which a person should look at, so it is Stalled (not Ready, not
// Complete) with the identity type and the databases searched.
func (r *AccessRequestReconciler) notFound(ar *privacyv1alpha1.AccessRequest, conds conditions, searched []string) {
	msg := fmt.Sprintf("no subject with this %s identifier in any selected database (searched: %s): nothing was exported; "+
		"check the identifier and its type, or the databaseSelector, and file a new request", ar.Spec.Subject.Type, strings.Join(searched, ", "))
	if ar.Status.Phase != privacyv1alpha1.AccessNotFound {
		r.event(ar, corev1.EventTypeWarning, privacyv1alpha1.ReasonSubjectNotFound, "Search", msg)
	}
	ar.Status.Phase = privacyv1alpha1.AccessNotFound
	conds.stalled(privacyv1alpha1.ReasonSubjectNotFound, msg)
	conds.set(privacyv1alpha1.ConditionComplete, metav1.ConditionFalse, privacyv1alpha1.ReasonSubjectNotFound, msg)
}

// expire deletes the export Secrets once expireAfter has passed since delivery, and
// otherwise comes back then.
func (r *AccessRequestReconciler) expire(ctx context.Context, ar *privacyv1alpha1.AccessRequest, conds conditions, now time.Time) (ctrl.Result, error) {
	d := ar.Status.Delivery
	if d == nil {
		if ar.Status.Phase == "" {
			ar.Status.Phase = privacyv1alpha1.AccessComplete
		}
		return ctrl.Result{}, nil
	}
	if d.ExpiredAt != nil {
		ar.Status.Phase = privacyv1alpha1.AccessExpired
		return ctrl.Result{}, nil
	}
	expires := d.ExpiresAt.UTC().Format(time.RFC3339)
	if now.Before(d.ExpiresAt.Time) {
		conds.set(privacyv1alpha1.ConditionExpired, metav1.ConditionFalse, privacyv1alpha1.ReasonNotExpired, "the export Secrets are kept until "+expires)
		return ctrl.Result{RequeueAfter: d.ExpiresAt.Sub(now)}, nil
	}
	var deleted []string
	for _, s := range d.Secrets {
		gone, err := r.deleteOwnedSecret(ctx, ar, s.Name)
		if err != nil {
			return ctrl.Result{}, err
		}
		if gone {
			deleted = append(deleted, s.Name)
		}
	}
	d.ExpiredAt = &metav1.Time{Time: now}
	msg := fmt.Sprintf("expireAfter %s passed at %s: the export Secrets were deleted", ar.GetExpireAfter(), expires)
	conds.set(privacyv1alpha1.ConditionExpired, metav1.ConditionTrue, privacyv1alpha1.ReasonExportExpired, msg)
	conds.ready(privacyv1alpha1.ReasonExportExpired, msg)
	ar.Status.Phase = privacyv1alpha1.AccessExpired
	r.event(ar, corev1.EventTypeNormal, privacyv1alpha1.ReasonExportExpired, "Expire", msg+" ("+strings.Join(deleted, ", ")+")")
	return ctrl.Result{}, nil
}

// withdraw deletes the export Secrets already delivered for a request that cannot
// complete, so that nothing partial stays behind, and returns their names.
func (r *AccessRequestReconciler) withdraw(ctx context.Context, ar *privacyv1alpha1.AccessRequest, dbs []privacyv1alpha1.TenantDatabase) ([]string, error) {
	var deleted []string
	for _, db := range dbs {
		name := exportSecretName(ar.Name, db.Name)
		gone, err := r.deleteOwnedSecret(ctx, ar, name)
		if err != nil {
			return nil, err
		}
		if gone {
			deleted = append(deleted, name)
		}
		if t := ar.Status.GetTarget(db.Name); t != nil && t.State == privacyv1alpha1.ExportDelivered {
			t.Secret, t.Message = "", "withdrawn: the export failed in another database"
		}
	}
	return deleted, nil
}

// deleteOwnedSecret deletes the Secret if the request owns it, and says whether it did.
func (r *AccessRequestReconciler) deleteOwnedSecret(ctx context.Context, ar *privacyv1alpha1.AccessRequest, name string) (bool, error) {
	meta, err := secretMeta(ctx, r.APIReader, ar.Namespace, name)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	owned := false
	for _, ref := range meta.OwnerReferences {
		owned = owned || ref.UID == ar.UID
	}
	if !owned {
		return false, nil
	}
	// The UID precondition deletes exactly the Secret whose owner was checked.
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ar.Namespace}}
	err = r.Delete(ctx, secret, client.Preconditions{UID: &meta.UID})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}
