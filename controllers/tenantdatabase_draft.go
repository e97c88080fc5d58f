package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/plan"
)

// A DataMap drafted from the live schema, on request (privacy.lethe.dev/draft-now): the
// worker reads the catalog and publishes the YAML in a ConfigMap it creates itself, which
// the TenantDatabase owns and status.draft names. The draft runs beside verification and
// needs no DataMap (it is how one starts); it has its own condition, DataMapDrafted, and
// leaves Ready, Reconciling and Stalled to verification.

// The manager replaces an earlier draft's ConfigMap with the new one.
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=delete

// draftConfigMapName is the ConfigMap one draft request is published in: one per
// draft-now value, since the worker may only create ConfigMaps, never replace one.
func draftConfigMapName(db, trigger string) string {
	suffix := "-datamap-draft-" + shortHash(trigger)
	// ConfigMap names are DNS subdomains: at most 253 characters.
	if max := 253 - len(suffix); len(db) > max {
		db = strings.TrimRight(db[:max], "-.")
	}
	return db + suffix
}

// withDraft runs the draft pass after verification's and merges their results: an error
// of either is returned, and the sooner requeue wins.
func (r *TenantDatabaseReconciler) withDraft(ctx context.Context, db *privacyv1alpha1.TenantDatabase,
	result ctrl.Result, err error) (ctrl.Result, error) {
	requeue, draftErr := r.reconcileDraft(ctx, db)
	if err == nil {
		err = draftErr
	}
	if requeue > 0 && (result.RequeueAfter == 0 || requeue < result.RequeueAfter) {
		result.RequeueAfter = requeue
	}
	return result, err
}

// reconcileDraft runs (or keeps waiting for) the draft Job the annotation asks for, and
// records its outcome once.
func (r *TenantDatabaseReconciler) reconcileDraft(ctx context.Context, db *privacyv1alpha1.TenantDatabase) (time.Duration, error) {
	trigger := db.Annotations[privacyv1alpha1.DraftNowAnnotation]
	last := db.Status.Draft
	if trigger == "" || (last != nil && last.Trigger == trigger && last.CompletedAt != nil) {
		return 0, nil
	}
	conds := conditions{list: &db.Status.Conditions, generation: db.Generation}
	if missing, err := r.missingDraftSecret(ctx, db); err != nil {
		return 0, err
	} else if missing != "" {
		r.draftFailed(db, conds, privacyv1alpha1.ReasonSecretNotFound,
			fmt.Sprintf("Secret %q not found in namespace %s: the draft Job needs the database login", missing, db.Namespace), false)
		return recheckSecrets, nil
	}
	cm, job, err := BuildJob(r.Jobs, r.draftWork(db, trigger))
	if err != nil {
		return 0, err
	}
	live, err := ensureJob(ctx, r.Client, r.Scheme, db, cm, job)
	if err != nil {
		return 0, err
	}
	draft := &privacyv1alpha1.DataMapDraft{Trigger: trigger, Job: live.Name}
	if last != nil {
		draft.ConfigMap = last.ConfigMap
	}
	db.Status.Draft = draft
	if finished, _ := jobFinished(live); !finished {
		conds.set(privacyv1alpha1.ConditionDataMapDrafted, metav1.ConditionUnknown, privacyv1alpha1.ReasonDrafting,
			fmt.Sprintf("draft Job %s is reading the schema", live.Name))
		return 0, nil // the Job watch brings us back
	}
	completed := metav1.Time{Time: r.Clock.Now()}
	if c := finishedAt(live); c != nil {
		completed = *c
	}
	draft.CompletedAt = &completed
	report, reportErr := readReport(ctx, r.APIReader, live)
	return 0, r.recordDraft(ctx, db, conds, live, report, reportErr)
}

// draftWork is the draft plan for the database: no DataMap, a ConfigMap to publish in.
func (r *TenantDatabaseReconciler) draftWork(db *privacyv1alpha1.TenantDatabase, trigger string) WorkerJob {
	target := &plan.DraftConfigMap{
		Name: draftConfigMapName(db.Name, trigger), Namespace: db.Namespace, DataMapName: db.Spec.DataMapRef,
		OwnerAPIVersion: privacyv1alpha1.GroupVersion.String(), OwnerKind: kindTenantDatabase,
		OwnerName: db.Name, OwnerUID: string(db.UID),
		Labels: map[string]string{
			LabelManagedBy: ManagedByLethe, LabelComponent: "datamap-draft",
			LabelOwnerKind: kindTenantDatabase, LabelOwnerName: labelValue(db.Name), LabelDatabase: labelValue(db.Name),
		},
	}
	return WorkerJob{
		Owner: db, OwnerKind: kindTenantDatabase, Database: db, Key: trigger,
		Plan: plan.Plan{Kind: plan.KindDraft, Now: r.Clock.Now().UTC(), Options: plan.Options{Draft: target}},
	}
}

// recordDraft turns the draft Job's report into status.draft, the condition and an Event.
func (r *TenantDatabaseReconciler) recordDraft(ctx context.Context, db *privacyv1alpha1.TenantDatabase, conds conditions,
	job *batchv1.Job, report *plan.Report, reportErr error) error {
	retry := fmt.Sprintf("; set %s to a new value to draft again", privacyv1alpha1.DraftNowAnnotation)
	switch {
	case reportErr != nil:
		r.draftFailed(db, conds, privacyv1alpha1.ReasonDraftFailed,
			fmt.Sprintf("draft Job %s failed: %v %s", job.Name, reportErr, jobFailureMessage(job))+retry, true)
		return nil
	case len(report.Errors) > 0 || report.Draft == nil:
		reason, msg := reportFailure(report)
		if reason == privacyv1alpha1.ReasonVerificationFailed {
			reason = privacyv1alpha1.ReasonDraftFailed
		}
		r.draftFailed(db, conds, reason, msg+retry, true)
		return nil
	}
	published := report.Draft
	owned, err := r.ownsConfigMap(ctx, db, published.ConfigMap)
	if err != nil {
		return err
	}
	if !owned {
		r.draftFailed(db, conds, privacyv1alpha1.ReasonDraftFailed,
			fmt.Sprintf("ConfigMap %s is missing or not owned by this TenantDatabase: delete it if it is in the way", published.ConfigMap)+retry, true)
		return nil
	}
	previous := db.Status.Draft.ConfigMap
	d := db.Status.Draft
	d.ConfigMap = published.ConfigMap
	d.TablesSeen, d.Tables, d.Guesses = int32(published.Seen), int32(published.Tables), int32(published.Guesses)
	msg := fmt.Sprintf("DataMap %q drafted from the live schema in ConfigMap %s (key %s): %d of %d tables described, %d guesses to review",
		db.Spec.DataMapRef, d.ConfigMap, plan.DraftKey, d.Tables, d.TablesSeen, d.Guesses)
	conds.set(privacyv1alpha1.ConditionDataMapDrafted, metav1.ConditionTrue, privacyv1alpha1.ReasonDraftPublished, msg)
	r.draftEvent(db, corev1.EventTypeNormal, privacyv1alpha1.ReasonDraftPublished, msg)
	if previous != "" && previous != d.ConfigMap {
		return r.deleteDraft(ctx, db, previous)
	}
	return nil
}

// draftFailed records a draft that did not publish; finished marks the request done, so
// only a new annotation value tries again.
func (r *TenantDatabaseReconciler) draftFailed(db *privacyv1alpha1.TenantDatabase, conds conditions, reason, msg string, finished bool) {
	if c := meta.FindStatusCondition(db.Status.Conditions, privacyv1alpha1.ConditionDataMapDrafted); c == nil || c.Reason != reason || c.Status != metav1.ConditionFalse {
		r.draftEvent(db, corev1.EventTypeWarning, reason, msg)
	}
	conds.set(privacyv1alpha1.ConditionDataMapDrafted, metav1.ConditionFalse, reason, msg)
	if !finished {
		return
	}
	if db.Status.Draft == nil {
		db.Status.Draft = &privacyv1alpha1.DataMapDraft{Trigger: db.Annotations[privacyv1alpha1.DraftNowAnnotation]}
	}
	if db.Status.Draft.CompletedAt == nil {
		db.Status.Draft.CompletedAt = &metav1.Time{Time: r.Clock.Now()}
	}
}

// missingDraftSecret returns the first Secret the draft Job mounts that does not exist.
func (r *TenantDatabaseReconciler) missingDraftSecret(ctx context.Context, db *privacyv1alpha1.TenantDatabase) (string, error) {
	names := []string{db.Spec.CredentialsSecretRef.Name}
	if db.Spec.TLS != nil && db.Spec.TLS.CASecretRef != nil {
		names = append(names, db.Spec.TLS.CASecretRef.Name)
	}
	for _, name := range names {
		if _, err := secretMeta(ctx, r.APIReader, db.Namespace, name); apierrors.IsNotFound(err) {
			return name, nil
		} else if err != nil {
			return "", err
		}
	}
	return "", nil
}

// ownsConfigMap says whether the ConfigMap exists and is the TenantDatabase's, from its
// metadata only.
func (r *TenantDatabaseReconciler) ownsConfigMap(ctx context.Context, db *privacyv1alpha1.TenantDatabase, name string) (bool, error) {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: db.Namespace, Name: name}, m); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	for _, ref := range m.OwnerReferences {
		if ref.UID == db.UID {
			return true, nil
		}
	}
	return false, nil
}

// deleteDraft deletes an earlier draft's ConfigMap, if it is still there and this
// TenantDatabase's.
func (r *TenantDatabaseReconciler) deleteDraft(ctx context.Context, db *privacyv1alpha1.TenantDatabase, name string) error {
	owned, err := r.ownsConfigMap(ctx, db, name)
	if err != nil || !owned {
		return err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: db.Namespace}}
	return client.IgnoreNotFound(r.Delete(ctx, cm))
}

func (r *TenantDatabaseReconciler) draftEvent(db *privacyv1alpha1.TenantDatabase, typ, reason, msg string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(db, nil, typ, reason, "Draft", "%s", msg)
	}
}
