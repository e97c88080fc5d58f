package controllers

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/plan"
)

// maxExportAttempts bounds the runs of one database's export that fail in a way a later
// run may not (the database unreachable, the API server refusing the Secret).
const maxExportAttempts = 3

// exportSecretName is the Secret one database's export is delivered in.
func exportSecretName(request, database string) string {
	name := request + "-" + database
	// Secret names are DNS subdomains: at most 253 characters.
	if len(name) > 253 {
		name = strings.TrimRight(name[:241], "-.") + "-" + shortHash(request, database)
	}
	return name
}

// exportWork is the export Job for one database: the plan names the Secret to deliver
// into, owned by the request.
func (r *AccessRequestReconciler) exportWork(ar *privacyv1alpha1.AccessRequest, db *privacyv1alpha1.TenantDatabase,
	dm *privacyv1alpha1.DataMap, attempt int32) WorkerJob {
	secret := &plan.ExportSecret{
		Name: exportSecretName(ar.Name, db.Name), Namespace: ar.Namespace,
		OwnerAPIVersion: privacyv1alpha1.GroupVersion.String(), OwnerKind: kindAccessRequest,
		OwnerName: ar.Name, OwnerUID: string(ar.UID),
		Formats: ar.GetFormats(), Source: db.Name,
		Labels: map[string]string{
			LabelManagedBy: ManagedByLethe, LabelComponent: "export",
			LabelOwnerKind: kindAccessRequest, LabelOwnerName: labelValue(ar.Name), LabelDatabase: labelValue(db.Name),
		},
	}
	return WorkerJob{
		Owner: ar, OwnerKind: kindAccessRequest, Database: db, HashKey: dm.Spec.HashKeySecretRef,
		// A retry after a failed run is a new Job.
		Key: strconv.Itoa(int(attempt)),
		Plan: plan.Plan{Kind: plan.KindExport, DataMap: dataMapPlan(dm), Now: r.Clock.Now().UTC(),
			Options: plan.Options{ExportSecret: secret}},
		Subjects: []SubjectSecret{{ID: ar.Name, Type: ar.Spec.Subject.Type, SecretRef: ar.Spec.Subject.SecretRef}},
	}
}

// target returns the request's target for the database, adding a Pending one.
func accessTarget(ar *privacyv1alpha1.AccessRequest, database string) *privacyv1alpha1.AccessTarget {
	if t := ar.Status.GetTarget(database); t != nil {
		return t
	}
	ar.Status.Targets = append(ar.Status.Targets, privacyv1alpha1.AccessTarget{Database: database, State: privacyv1alpha1.ExportPending})
	return &ar.Status.Targets[len(ar.Status.Targets)-1]
}

// anyFailed says whether the export failed for good in a selected database.
func anyFailed(ar *privacyv1alpha1.AccessRequest, dbs []privacyv1alpha1.TenantDatabase) bool {
	for _, db := range dbs {
		if t := ar.Status.GetTarget(db.Name); t != nil && t.State == privacyv1alpha1.ExportFailed {
			return true
		}
	}
	return false
}

// exportFrom runs (or keeps waiting for) the database's export Job and records its
// outcome in the target; with start false it only follows a Job already there.
func (r *AccessRequestReconciler) exportFrom(ctx context.Context, ar *privacyv1alpha1.AccessRequest,
	db *privacyv1alpha1.TenantDatabase, start bool) error {
	t := accessTarget(ar, db.Name)
	if t.Finished() || t.State == privacyv1alpha1.ExportFailed {
		return nil
	}
	if !meta.IsStatusConditionTrue(db.Status.Conditions, privacyv1alpha1.ConditionSchemaVerified) {
		t.State = privacyv1alpha1.ExportPending
		t.Message = fmt.Sprintf("waiting for TenantDatabase %s: its schema is not verified (%s)", db.Name,
			reasonOf(db.Status.Conditions, privacyv1alpha1.ConditionReady))
		return nil
	}
	dm := &privacyv1alpha1.DataMap{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: db.Namespace, Name: db.Spec.DataMapRef}, dm); err != nil {
		if apierrors.IsNotFound(err) {
			t.State, t.Message = privacyv1alpha1.ExportPending, fmt.Sprintf("waiting for DataMap %s of TenantDatabase %s", db.Spec.DataMapRef, db.Name)
			return nil
		}
		return err
	}
	cm, job, err := BuildJob(r.Jobs, r.exportWork(ar, db, dm, t.Attempts))
	if err != nil {
		return err
	}
	var live *batchv1.Job
	if start {
		if live, err = ensureJob(ctx, r.Client, r.Scheme, ar, cm, job); err != nil {
			return err
		}
	} else {
		live = &batchv1.Job{}
		if err := r.Get(ctx, client.ObjectKeyFromObject(job), live); err != nil {
			return client.IgnoreNotFound(err)
		}
	}
	t.Job = live.Name
	if finished, _ := jobFinished(live); !finished {
		t.State, t.Message = privacyv1alpha1.ExportRunning, "export Job "+live.Name+" is running"
		return nil // the Job watch brings us back
	}
	report, reportErr := readReport(ctx, r.APIReader, live)
	return r.fold(ctx, ar, t, live, report, reportErr)
}

// fold records a finished export Job's report in the target.
func (r *AccessRequestReconciler) fold(ctx context.Context, ar *privacyv1alpha1.AccessRequest, t *privacyv1alpha1.AccessTarget,
	job *batchv1.Job, report *plan.Report, reportErr error) error {
	t.Reason, t.Tables, t.Bytes = "", nil, 0
	switch {
	case reportErr != nil:
		r.retry(t, privacyv1alpha1.ReasonExportFailed, fmt.Sprintf("export Job %s failed: %v %s", job.Name, reportErr, jobFailureMessage(job)))
	case len(report.Errors) > 0:
		e := report.Errors[0]
		msg := fmt.Sprintf("%s: %s", e.Code, e.Message)
		switch e.Code {
		case plan.ErrExportTooLarge:
			t.State, t.Reason, t.Message = privacyv1alpha1.ExportFailed, privacyv1alpha1.ReasonExportTooLarge, e.Message
			if report.Delivery != nil {
				t.Bytes = report.Delivery.Bytes
			}
		case plan.ErrUnreachable, plan.ErrTimeout, plan.ErrInternal, plan.ErrDeliveryFailed:
			r.retry(t, e.Code, msg)
		default:
			t.State, t.Reason, t.Message = privacyv1alpha1.ExportFailed, e.Code, msg
		}
	case hasOutcome(report, plan.OutcomeAmbiguous):
		t.State, t.Reason = privacyv1alpha1.ExportFailed, privacyv1alpha1.ReasonAmbiguousSubject
		t.Message = "the identifier matches more than one subject here: nothing was exported; file a request with a more specific identifier type"
	case report.Delivery == nil && hasOutcome(report, plan.OutcomeNotFound):
		t.State, t.Message = privacyv1alpha1.ExportNotFound, "the identifier matches no subject here"
	case report.Delivery == nil:
		t.State, t.Reason, t.Message = privacyv1alpha1.ExportFailed, privacyv1alpha1.ReasonExportFailed,
			fmt.Sprintf("export Job %s reported success without delivering", job.Name)
	default:
		return r.delivered(ctx, ar, t, report)
	}
	return nil
}

// delivered checks that the Secret the worker names is there and the request's own (a
// re-run finds the Secret of an earlier one), from its metadata only.
func (r *AccessRequestReconciler) delivered(ctx context.Context, ar *privacyv1alpha1.AccessRequest, t *privacyv1alpha1.AccessTarget, report *plan.Report) error {
	d := report.Delivery
	meta, err := secretMeta(ctx, r.APIReader, ar.Namespace, d.Secret)
	switch {
	case apierrors.IsNotFound(err):
		r.retry(t, privacyv1alpha1.ReasonExportSecretMissing, fmt.Sprintf("the worker delivered Secret %s, which is not there", d.Secret))
		return nil
	case err != nil:
		return err
	}
	owned := false
	for _, ref := range meta.OwnerReferences {
		owned = owned || ref.UID == ar.UID
	}
	if !owned {
		t.State, t.Reason = privacyv1alpha1.ExportFailed, privacyv1alpha1.ReasonExportSecretConflict
		t.Message = fmt.Sprintf("Secret %s exists and is not owned by this request: delete or rename it, and file the request again", d.Secret)
		return nil
	}
	t.State, t.Secret, t.Bytes = privacyv1alpha1.ExportDelivered, d.Secret, d.Bytes
	t.Message = fmt.Sprintf("delivered in Secret %s (%d bytes)", d.Secret, d.Bytes)
	for _, res := range report.Results {
		if res.Outcome == plan.OutcomeExported {
			t.Tables = append(t.Tables, privacyv1alpha1.ExportedTable{Name: res.Table, Rows: res.Rows})
		}
	}
	return nil
}

// retry counts a failed run; after maxExportAttempts the target fails for good.
func (r *AccessRequestReconciler) retry(t *privacyv1alpha1.AccessTarget, reason, msg string) {
	t.Attempts++
	t.Reason, t.Message = reason, msg
	t.State = privacyv1alpha1.ExportRetrying
	if t.Attempts >= maxExportAttempts {
		t.State = privacyv1alpha1.ExportFailed
		t.Message = fmt.Sprintf("%s (after %d attempts)", msg, t.Attempts)
	}
}

func hasOutcome(report *plan.Report, outcome string) bool {
	for _, res := range report.Results {
		if res.Outcome == outcome {
			return true
		}
	}
	return false
}
