package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/controllers"
	"github.com/lethe-operator/lethe/internal/testenv"
)

const (
	// namespace holds the demo's resources, as `kubectl apply -k config/samples` would.
	namespace = "default"
	// operatorNamespace holds the operator's own objects (the fingerprint key, the
	// Subprocessor register), as lethe-system does in a cluster.
	operatorNamespace = "lethe-system"
)

// cluster is the local control plane and the manager running on it.
type cluster struct {
	env    *testenv.Env
	client client.Client
}

// startCluster starts kube-apiserver and etcd with Lethe's CRDs, then the manager with
// every controller and the local job runner.
func (d *demo) startCluster(ctx context.Context, root, binary string) error {
	d.progress.step("starting kube-apiserver and etcd (bin/k8s) with Lethe's CRDs")
	env, err := testenv.StartEnv()
	if err != nil {
		return err
	}
	d.cluster = &cluster{env: env, client: env.Client}
	d.defer_(func() { _ = env.Stop() })
	if err := ctx.Err(); err != nil {
		return err
	}

	d.progress.step("starting the manager: every controller, and the local job runner for the Jobs")
	for _, ns := range []string{operatorNamespace} {
		if err := d.client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	// The key of the subjects' fingerprints; in a cluster you create it once (Helm's NOTES say how).
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if err := d.client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: controllers.DefaultFingerprintKeySecret, Namespace: operatorNamespace},
		Data:       map[string][]byte{"key": key},
	}); err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:  env.Scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
	})
	if err != nil {
		return err
	}
	jobs := controllers.DefaultJobSettings()
	jobs.ActiveDeadlineSeconds = 120
	if err := controllers.Setup(mgr, controllers.Options{
		Jobs: jobs, LocalJobRunner: true, LocalJobRunnerBinary: binary, OperatorNamespace: operatorNamespace,
		// A short coalescing window: the demo files one request, nothing to wait for.
		Erasure: controllers.ErasureOptions{Window: time.Second, RetryBackoff: 2 * time.Second},
	}); err != nil {
		return err
	}
	mgrCtx, stopManager := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mgrCtx) }()
	d.defer_(func() { stopManager(); <-done })
	return nil
}

// samples builds config/samples with kustomize, as `kubectl apply -k` would.
func samples(root string) ([]*unstructured.Unstructured, error) {
	fsys := filesys.MakeFsOnDisk()
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, filepath.Join(root, "config", "samples"))
	if err != nil {
		return nil, fmt.Errorf("kustomize build config/samples: %w", err)
	}
	var objs []*unstructured.Unstructured
	for _, r := range resources.Resources() {
		m, err := r.Map()
		if err != nil {
			return nil, err
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
	return objs, nil
}

// applySamples creates the database login Secret and the samples, the TenantDatabase
// pointed at the local PostgreSQL; the ErasureRequest is kept for later. It waits for
// the schema to be verified.
func (d *demo) applySamples(ctx context.Context, root string) error {
	d.progress.step("applying config/samples (kustomize) with the TenantDatabase pointed at the local PostgreSQL")
	objs, err := samples(root)
	if err != nil {
		return err
	}
	pg := d.booking.server
	login := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "hotel-aurora-db", Namespace: namespace},
		Data:       map[string][]byte{"username": []byte(pg.User), "password": []byte(pg.Password), "ca.crt": pg.CACert},
	}
	if err := d.client.Create(ctx, login); err != nil {
		return err
	}
	for _, obj := range objs {
		switch obj.GetKind() {
		case "ErasureRequest":
			d.erasureSample = obj
			continue
		case "TenantDatabase":
			spec := obj.Object["spec"].(map[string]any)
			spec["host"], spec["port"], spec["database"] = "localhost", int64(pg.Port), d.booking.name
			spec["tls"] = map[string]any{"mode": "verify-full", "caSecretRef": map[string]any{"name": login.Name, "key": "ca.crt"}}
		}
		if err := d.create(ctx, obj); err != nil {
			return err
		}
	}
	d.progress.step("waiting for the TenantDatabase's schema check (a Job running `lethe worker`)")
	tdb := &privacyv1alpha1.TenantDatabase{}
	return d.waitFor(ctx, 90*time.Second, "TenantDatabase hotel-aurora to be SchemaVerified", func() (bool, error) {
		if err := d.client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "hotel-aurora"}, tdb); err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(tdb.Status.Conditions, privacyv1alpha1.ConditionSchemaVerified)
		if c != nil && c.Status == metav1.ConditionFalse {
			return false, fmt.Errorf("the schema does not match the DataMap: %s: %s", c.Reason, c.Message)
		}
		return c != nil && c.Status == metav1.ConditionTrue, nil
	})
}

// create creates obj, in the demo's namespace when the kind is namespaced.
func (d *demo) create(ctx context.Context, obj *unstructured.Unstructured) error {
	namespaced, err := d.client.IsObjectNamespaced(obj)
	if err != nil {
		return err
	}
	if namespaced {
		obj.SetNamespace(namespace)
	}
	if err := d.client.Create(ctx, obj); err != nil {
		b, _ := yaml.Marshal(obj.Object)
		return fmt.Errorf("applying %s %s: %w\n%s", obj.GetKind(), obj.GetName(), err, b)
	}
	return nil
}

// waitFor polls done until it says true, fails, or the wait times out.
func (d *demo) waitFor(ctx context.Context, limit time.Duration, what string, done func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	var last error
	for {
		ok, err := done()
		if ok && err == nil {
			return nil
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		last = err
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("waited %v for %s: %v", limit, what, last)
			}
			return fmt.Errorf("waited %v for %s", limit, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// patch merge-patches obj with what change does to it.
func (d *demo) patch(ctx context.Context, obj client.Object, change func()) error {
	if err := d.client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return err
	}
	base := obj.DeepCopyObject().(client.Object)
	change()
	return d.client.Patch(ctx, obj, client.MergeFrom(base))
}
