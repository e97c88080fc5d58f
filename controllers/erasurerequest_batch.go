package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/plan"
)

// Defaults of the erasure batches.
const (
	// DefaultErasureWindow is how long a database's first pending request waits for
	// others to join its Job.
	DefaultErasureWindow = 10 * time.Second
	// DefaultErasureRetryBackoff is the first wait after a failed run; it doubles per attempt.
	DefaultErasureRetryBackoff = 30 * time.Second
	// DefaultErasureBatchSize caps the subjects of one Job.
	DefaultErasureBatchSize = 100
	// DefaultErasureBurstHold is how much longer than the window a due batch may wait
	// for requests that select its database and are still being fingerprinted or
	// queued, so that a burst of requests shares one Job per database.
	DefaultErasureBurstHold = 30 * time.Second
	// batchReconciles is how many databases the batch controller serves at once.
	batchReconciles = 4
	// retryFailed is how soon a run that failed for good (a schema problem) is tried
	// again, in case a person fixed it.
	retryFailed = time.Hour
)

// ErasureBatchReconciler runs ErasureRequests per TenantDatabase: it coalesces the
// database's pending requests into one preview or erasure Job (owned by the database),
// and folds each finished Job's report back into every request it covered. It is the
// only writer of status.targets; the ErasureRequestReconciler reads them.
type ErasureBatchReconciler struct {
	client.Client
	// APIReader reads Pods, Jobs about to be created and Secret metadata uncached.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  events.EventRecorder
	Jobs      JobSettings
	Clock     clock.PassiveClock
	// Window is how long a batch stays open after its first request.
	Window time.Duration
	// RetryBackoff is the first wait after a failed run.
	RetryBackoff time.Duration
	// BatchSize caps the subjects of one Job.
	BatchSize int
	// BurstHold is how much longer than Window a due batch waits for arriving requests.
	BurstHold time.Duration
}

// +kubebuilder:rbac:groups=privacy.lethe.dev,resources=erasurerequests,verbs=get;list;watch
// +kubebuilder:rbac:groups=privacy.lethe.dev,resources=erasurerequests/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=privacy.lethe.dev,resources=tenantdatabases,verbs=get;list;watch
// +kubebuilder:rbac:groups=privacy.lethe.dev,resources=datamaps,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list

// SetupWithManager registers the controller, keyed by TenantDatabase.
func (r *ErasureBatchReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.Window <= 0 {
		r.Window = DefaultErasureWindow
	}
	if r.RetryBackoff <= 0 {
		r.RetryBackoff = DefaultErasureRetryBackoff
	}
	if r.BatchSize <= 0 {
		r.BatchSize = DefaultErasureBatchSize
	}
	if r.BurstHold <= 0 {
		r.BurstHold = DefaultErasureBurstHold
	}
	erasureJobs := predicate.NewPredicateFuncs(func(o client.Object) bool {
		k := o.GetLabels()[LabelPlanKind]
		return k == string(plan.KindErasure) || k == string(plan.KindPreview)
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("erasurerequest-batch").
		Watches(&privacyv1alpha1.TenantDatabase{}, &handler.EnqueueRequestForObject{}).
		Watches(&privacyv1alpha1.ErasureRequest{}, handler.EnqueueRequestsFromMapFunc(r.databasesOf)).
		Watches(&batchv1.Job{}, handler.EnqueueRequestForOwner(mgr.GetScheme(), mgr.GetRESTMapper(),
			&privacyv1alpha1.TenantDatabase{}, handler.OnlyControllerOwner()), builder.WithPredicates(erasureJobs)).
		WithOptions(controller.Options{MaxConcurrentReconciles: batchReconciles}).
		Complete(r)
}

// databasesOf maps a request to the databases it selects.
func (r *ErasureBatchReconciler) databasesOf(ctx context.Context, obj client.Object) []reconcile.Request {
	er := obj.(*privacyv1alpha1.ErasureRequest)
	dbs, err := selectDatabases(ctx, r.Client, er)
	if err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(dbs))
	for _, db := range dbs {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&db)})
	}
	return reqs
}

// pass is one reconcile of one database: its requests and what changed in them.
type pass struct {
	db       *privacyv1alpha1.TenantDatabase
	dm       *privacyv1alpha1.DataMap
	now      time.Time
	requests []*privacyv1alpha1.ErasureRequest
	bases    []*privacyv1alpha1.ErasureRequest
	coverage *retentionCoverage
	requeue  time.Duration
	// fresh are the requests queued in this pass.
	fresh map[types.UID]bool
	// arriving counts, per plan kind, the requests that select the database and are
	// still being fingerprinted: recently created, no fingerprint yet, not stalled.
	arriving map[plan.Kind]int
}

// Reconcile runs one pass for a TenantDatabase's erasure requests.
func (r *ErasureBatchReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	db := &privacyv1alpha1.TenantDatabase{}
	if err := r.Get(ctx, req.NamespacedName, db); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	p, err := r.newPass(ctx, db)
	if err != nil || len(p.requests) == 0 {
		return ctrl.Result{}, err
	}
	if err := r.run(ctx, p); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.patchRequests(ctx, p); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: p.requeue}, nil
}

// newPass collects the requests that select the database and are ready to act on:
// fingerprinted (so validated), not complete, not stalled on their Secret. It also
// counts the requests still arriving (see pass.arriving).
func (r *ErasureBatchReconciler) newPass(ctx context.Context, db *privacyv1alpha1.TenantDatabase) (*pass, error) {
	list := &privacyv1alpha1.ErasureRequestList{}
	// The cached objects are not copied wholesale: a burst puts thousands of requests in
	// the namespace, and only those selecting this database are copied below.
	if err := r.List(ctx, list, client.InNamespace(db.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	p := &pass{db: db, now: r.Clock.Now(), coverage: &retentionCoverage{c: r.Client, db: db}, fresh: map[types.UID]bool{},
		arriving: map[plan.Kind]int{}}
	arrivingSince := p.now.Add(-(r.Window + r.BurstHold))
	for i := range list.Items {
		cached := &list.Items[i]
		if !selects(cached, db) || cached.DeletionTimestamp != nil || meta.IsStatusConditionTrue(cached.Status.Conditions, privacyv1alpha1.ConditionComplete) {
			continue
		}
		if cached.Status.SubjectFingerprint == "" {
			if !meta.IsStatusConditionTrue(cached.Status.Conditions, privacyv1alpha1.ConditionStalled) && cached.CreationTimestamp.Time.After(arrivingSince) {
				p.arriving[kindFor(cached)]++
			}
			continue
		}
		if reasonOf(cached.Status.Conditions, privacyv1alpha1.ConditionStalled) == privacyv1alpha1.ReasonSubjectSecretNotFound {
			continue
		}
		p.bases = append(p.bases, cached.DeepCopy())
		p.requests = append(p.requests, cached.DeepCopy())
	}
	return p, nil
}

// kindFor is the plan kind a request runs next before it has a target: a preview until
// it is approved.
func kindFor(er *privacyv1alpha1.ErasureRequest) plan.Kind {
	if er.Approved() {
		return plan.KindErasure
	}
	return plan.KindPreview
}

// run folds finished Jobs, then starts the next batch of each plan kind when it is due.
func (r *ErasureBatchReconciler) run(ctx context.Context, p *pass) error {
	for _, er := range p.requests {
		if er.Status.GetTarget(p.db.Name) == nil {
			er.Status.Targets = append(er.Status.Targets, privacyv1alpha1.ErasureTarget{Database: p.db.Name, State: privacyv1alpha1.TargetPending})
		}
	}
	if ready, why, err := r.databaseReady(ctx, p); err != nil || !ready {
		for _, er := range p.requests {
			if t := er.Status.GetTarget(p.db.Name); t.State == privacyv1alpha1.TargetPending {
				t.Message = why
			}
		}
		return err
	}
	if err := r.foldFinished(ctx, p); err != nil {
		return err
	}
	for _, kind := range []plan.Kind{plan.KindPreview, plan.KindErasure} {
		if err := r.startBatch(ctx, p, kind); err != nil {
			return err
		}
	}
	return nil
}

// databaseReady says whether the database's schema is verified against its DataMap,
// and loads the DataMap.
func (r *ErasureBatchReconciler) databaseReady(ctx context.Context, p *pass) (bool, string, error) {
	if !meta.IsStatusConditionTrue(p.db.Status.Conditions, privacyv1alpha1.ConditionSchemaVerified) {
		return false, fmt.Sprintf("waiting for TenantDatabase %s: its schema is not verified (%s)", p.db.Name,
			reasonOf(p.db.Status.Conditions, privacyv1alpha1.ConditionReady)), nil
	}
	dm := &privacyv1alpha1.DataMap{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: p.db.Namespace, Name: p.db.Spec.DataMapRef}, dm); err != nil {
		if apierrors.IsNotFound(err) {
			return false, fmt.Sprintf("waiting for DataMap %s of TenantDatabase %s", p.db.Spec.DataMapRef, p.db.Name), nil
		}
		return false, "", err
	}
	p.dm = dm
	return true, "", nil
}

// candidates are the requests due to run a plan of this kind in the database now or
// later, oldest first, and the time the oldest was queued.
func (r *ErasureBatchReconciler) candidates(p *pass, kind plan.Kind) []*privacyv1alpha1.ErasureRequest {
	var out []*privacyv1alpha1.ErasureRequest
	for _, er := range p.requests {
		t := er.Status.GetTarget(p.db.Name)
		if !wants(er, t, kind) {
			continue
		}
		if t.QueuedAt == nil {
			// Newly queued requests wait one window in any case, so their queue time is
			// stored before any Job's name is derived from it.
			t.QueuedAt = &metav1.Time{Time: p.now.Truncate(time.Second)}
			p.fresh[er.UID] = true
		}
		out = append(out, er)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Status.GetTarget(p.db.Name).QueuedAt, out[j].Status.GetTarget(p.db.Name).QueuedAt
		if !a.Equal(b) {
			return a.Before(b)
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// wants says whether the request's target waits for a plan of this kind.
func wants(er *privacyv1alpha1.ErasureRequest, t *privacyv1alpha1.ErasureTarget, kind plan.Kind) bool {
	switch t.State {
	case privacyv1alpha1.TargetPending, privacyv1alpha1.TargetRetrying, privacyv1alpha1.TargetFailed, privacyv1alpha1.TargetGuarded:
		if kind == plan.KindPreview {
			return !er.Approved()
		}
		return er.Approved()
	case privacyv1alpha1.TargetPreviewed:
		return kind == plan.KindErasure && er.Approved()
	}
	return false
}

// startBatch starts one Job of this kind for the database's due requests once the
// oldest has waited the window, unless one is still running.
func (r *ErasureBatchReconciler) startBatch(ctx context.Context, p *pass, kind plan.Kind) error {
	all := r.candidates(p, kind)
	var due []*privacyv1alpha1.ErasureRequest
	var opens time.Time
	for _, er := range all {
		q := er.Status.GetTarget(p.db.Name).QueuedAt.Time
		if p.fresh[er.UID] {
			p.wake(r.Window)
			continue
		}
		if q.After(p.now) {
			p.wake(q.Sub(p.now))
			continue
		}
		if len(due) == 0 {
			opens = q.Add(r.Window)
		}
		if len(due) < r.BatchSize {
			due = append(due, er)
		}
	}
	// The controller learns each subject's outcome from the report in the worker's
	// termination message: a batch whose report would be cut to fit loses the subjects'
	// results, so a batch takes only as many subjects as its report has room for.
	fits := reportRoom(p.dm, kind, due)
	full := fits < len(due) || len(due) >= r.BatchSize
	due = due[:fits]
	if len(due) == 0 {
		return nil
	}
	if p.now.Before(opens) {
		p.wake(opens.Sub(p.now))
		return nil
	}
	if !full && r.holdForArrivals(p, kind, all, opens) {
		return nil
	}
	due, err := r.withSecrets(ctx, p, due)
	if err != nil || len(due) == 0 {
		return err
	}
	cm, job, err := r.buildJob(p, kind, due)
	if err != nil {
		return err
	}
	// One Job of a kind per database at a time: the next batch waits for it.
	active, err := activeJobs(ctx, r.Client, p.db.Namespace, kindTenantDatabase, p.db.Name, kind)
	if err != nil {
		return err
	}
	for _, other := range active {
		if other.Name != job.Name {
			return nil // the Job watch brings us back when it finishes
		}
	}
	existed := r.APIReader.Get(ctx, client.ObjectKeyFromObject(job), &batchv1.Job{}) == nil
	live, err := ensureJob(ctx, r.Client, r.Scheme, p.db, cm, job)
	if err != nil {
		return err
	}
	if !existed {
		erasureJobs.WithLabelValues(string(kind)).Inc()
	}
	state := privacyv1alpha1.TargetRunning
	if kind == plan.KindPreview {
		state = privacyv1alpha1.TargetPreviewing
	}
	for _, er := range due {
		t := er.Status.GetTarget(p.db.Name)
		t.State, t.Job, t.QueuedAt = state, live.Name, nil
		t.Message = fmt.Sprintf("%s Job %s is running (%d request(s) in the batch)", kind, live.Name, len(due))
		r.event(er, corev1.EventTypeNormal, "JobStarted", "Erase", fmt.Sprintf("%s Job %s started in TenantDatabase %s", kind, live.Name, p.db.Name))
	}
	return nil
}

// holdForArrivals says whether a due batch should wait for requests that will join it
// soon: requests selecting the database that are still being fingerprinted, or were
// queued in this very pass. It waits at most BurstHold past the window (and the caller
// does not ask once the batch is full). A burst of requests thus shares one Job per
// database (as far as the batch size allows) instead of a Job per window's worth of
// fingerprinting.
func (r *ErasureBatchReconciler) holdForArrivals(p *pass, kind plan.Kind, all []*privacyv1alpha1.ErasureRequest, opens time.Time) bool {
	deadline := opens.Add(r.BurstHold)
	if !p.now.Before(deadline) {
		return false
	}
	arriving := p.arriving[kind]
	for _, er := range all {
		if p.fresh[er.UID] {
			arriving++
		}
	}
	if arriving == 0 {
		return false
	}
	// Their status updates bring the next pass; the wake is a backstop.
	p.wake(min(deadline.Sub(p.now), time.Second))
	return true
}

// wake asks for the next pass after d at the latest.
func (p *pass) wake(d time.Duration) {
	if p.requeue == 0 || d < p.requeue {
		p.requeue = d
	}
}

// withSecrets drops requests whose identifier Secret is gone: the request reconciler
// stalls them with the reason, and the rest of the batch need not fail with them.
func (r *ErasureBatchReconciler) withSecrets(ctx context.Context, p *pass, due []*privacyv1alpha1.ErasureRequest) ([]*privacyv1alpha1.ErasureRequest, error) {
	out := due[:0]
	for _, er := range due {
		meta := &metav1.PartialObjectMetadata{}
		meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: er.Namespace, Name: er.Spec.Subject.SecretRef.Name}, meta)
		switch {
		case apierrors.IsNotFound(err):
			er.Status.GetTarget(p.db.Name).Message = "waiting: the Secret holding the identifier is missing"
		case err != nil:
			return nil, err
		default:
			out = append(out, er)
		}
	}
	return out, nil
}

// buildJob is the Job running the batch's plan. Subjects are ordered by name and the
// key is the batch's oldest queue time and attempts, so the same batch always gets the
// same Job name and a retry gets a new one.
func (r *ErasureBatchReconciler) buildJob(p *pass, kind plan.Kind, due []*privacyv1alpha1.ErasureRequest) (*corev1.ConfigMap, *batchv1.Job, error) {
	sorted := append([]*privacyv1alpha1.ErasureRequest(nil), due...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	w := WorkerJob{
		Owner: p.db, OwnerKind: kindTenantDatabase, Database: p.db, HashKey: p.dm.Spec.HashKeySecretRef,
		Plan: plan.Plan{Kind: kind, DataMap: dataMapPlan(p.dm), Now: p.now.UTC()},
	}
	var attempts int32
	var uids []string
	for _, er := range sorted {
		uids = append(uids, string(er.UID))
		w.Subjects = append(w.Subjects, SubjectSecret{
			ID: er.Name, Type: er.Spec.Subject.Type, Action: string(er.Spec.Action), SecretRef: er.Spec.Subject.SecretRef,
		})
		attempts += er.Status.GetTarget(p.db.Name).Attempts
	}
	oldest := due[0].Status.GetTarget(p.db.Name).QueuedAt.UTC().Format(time.RFC3339)
	w.Key = fmt.Sprintf("%s/%d", oldest, attempts)
	cm, job, err := BuildJob(r.Jobs, w)
	if err == nil {
		job.Annotations[AnnotationRequests] = strings.Join(uids, ",")
	}
	return cm, job, err
}

// patchRequests writes the changed statuses; a conflict retries the whole pass.
func (r *ErasureBatchReconciler) patchRequests(ctx context.Context, p *pass) error {
	for i, er := range p.requests {
		base := p.bases[i]
		if equality.Semantic.DeepEqual(base.Status, er.Status) {
			continue
		}
		patch := client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})
		if err := r.Status().Patch(ctx, er, patch); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("recording the outcome in ErasureRequest %s: %w", er.Name, err)
		}
	}
	return nil
}

func (r *ErasureBatchReconciler) event(obj runtime.Object, typ, reason, action, msg string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, typ, reason, action, "%s", msg)
	}
}
