package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
)

// DataMapReconciler checks each DataMap's internal consistency (every table reaches a
// data subject) and reports how many TenantDatabases use it. The schema itself is checked
// per database by the TenantDatabase controller.
type DataMapReconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder events.EventRecorder
}

// +kubebuilder:rbac:groups=privacy.lethe.dev,resources=datamaps,verbs=get;list;watch
// +kubebuilder:rbac:groups=privacy.lethe.dev,resources=datamaps/status,verbs=get;update;patch

// SetupWithManager registers the controller; TenantDatabases changing their dataMapRef
// update the count. It expects the TenantDatabase controller's dataMapRef index.
func (r *DataMapReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&privacyv1alpha1.DataMap{}).
		Watches(&privacyv1alpha1.TenantDatabase{}, handler.EnqueueRequestsFromMapFunc(
			func(_ context.Context, o client.Object) []reconcile.Request {
				db := o.(*privacyv1alpha1.TenantDatabase)
				return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: db.Namespace, Name: db.Spec.DataMapRef}}}
			})).
		Complete(r)
}

// Reconcile checks one DataMap and writes its status.
func (r *DataMapReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, err error) {
	dm := &privacyv1alpha1.DataMap{}
	if err := r.Get(ctx, req.NamespacedName, dm); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	base := dm.DeepCopy()
	defer func() {
		if patchErr := r.Status().Patch(ctx, dm, client.MergeFrom(base)); patchErr != nil && !apierrors.IsNotFound(patchErr) {
			err = patchErr
		}
	}()

	users := &privacyv1alpha1.TenantDatabaseList{}
	if err := r.List(ctx, users, client.InNamespace(dm.Namespace), client.MatchingFields{dataMapRefIndex: dm.Name}); err != nil {
		return ctrl.Result{}, err
	}
	dm.Status.UsedBy = int32(len(users.Items))
	dm.Status.SubjectTables = subjectTables(dm)

	conds := conditions{list: &dm.Status.Conditions, generation: dm.Generation}
	if problems := unreachableSubjects(dm); len(problems) > 0 {
		msg := strings.Join(problems, "; ")
		if !meta.IsStatusConditionTrue(dm.Status.Conditions, privacyv1alpha1.ConditionStalled) && r.Recorder != nil {
			r.Recorder.Eventf(dm, nil, corev1.EventTypeWarning, privacyv1alpha1.ReasonUnreachableSubject, "Check", "%s", msg)
		}
		conds.stalled(privacyv1alpha1.ReasonUnreachableSubject, msg)
	} else {
		conds.ready(privacyv1alpha1.ReasonConsistent, fmt.Sprintf("%d tables, each reaching a data subject; used by %d TenantDatabase(s)",
			len(dm.Spec.Tables), dm.Status.UsedBy))
	}
	dm.Status.ObservedGeneration = dm.Generation
	return ctrl.Result{}, nil
}

func subjectTables(dm *privacyv1alpha1.DataMap) []string {
	var out []string
	for _, t := range dm.Spec.Tables {
		if len(t.Identifiers) > 0 {
			out = append(out, string(t.Name))
		}
	}
	sort.Strings(out)
	return out
}

// unreachableSubjects follows each table's links (subjectVia or referencedBy) and reports
// the tables whose chain loops or ends at a table that is missing or identifies no subjects.
func unreachableSubjects(dm *privacyv1alpha1.DataMap) []string {
	byName := map[privacyv1alpha1.Identifier]privacyv1alpha1.Table{}
	for _, t := range dm.Spec.Tables {
		byName[t.Name] = t
	}
	var problems []string
	for _, t := range dm.Spec.Tables {
		if problem := chainProblem(t, byName); problem != "" {
			problems = append(problems, fmt.Sprintf("table %s %s", t.Name, problem))
		}
	}
	return problems
}

func chainProblem(t privacyv1alpha1.Table, byName map[privacyv1alpha1.Identifier]privacyv1alpha1.Table) string {
	seen := map[privacyv1alpha1.Identifier]bool{}
	for path := []string{string(t.Name)}; ; {
		if len(t.Identifiers) > 0 {
			return ""
		}
		link := t.SubjectVia
		if link == nil {
			link = t.ReferencedBy
		}
		if link == nil {
			return "neither identifies data subjects nor links to a table that does"
		}
		seen[t.Name] = true
		next, ok := byName[link.Table]
		path = append(path, string(link.Table))
		switch {
		case !ok:
			return fmt.Sprintf("links to table %s, which is not in the DataMap", link.Table)
		case seen[next.Name]:
			return "links in a loop (" + strings.Join(path, " → ") + ") and never reaches a data subject"
		}
		t = next
	}
}
