package worker

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/lethe-operator/lethe/internal/draft"
	"github.com/lethe-operator/lethe/internal/engine"
	"github.com/lethe-operator/lethe/internal/plan"
)

// MaxDraftBytes is the largest drafted DataMap a ConfigMap takes: the API server refuses
// objects over 1 MiB, and the margin leaves room for metadata.
const MaxDraftBytes = 1_000_000

// checkDraftConfigMap refuses a draft plan that names no ConfigMap to publish in.
func checkDraftConfigMap(dc *plan.DraftConfigMap, r *runner) {
	if dc == nil || dc.Name == "" || dc.Namespace == "" || dc.DataMapName == "" ||
		dc.OwnerUID == "" || dc.OwnerKind == "" || dc.OwnerName == "" {
		r.failf(plan.ErrInvalidPlan, "a draft plan needs options.draft: the ConfigMap's name and namespace, the DataMap's name and the owner's apiVersion, kind, name and uid")
	}
}

// draft proposes a DataMap from the catalog and publishes it in the plan's ConfigMap. A
// termination message (4 KiB) is too small for the DataMap of a large schema, so the
// worker writes the ConfigMap itself, as an account that may only create ConfigMaps; the
// report names it and its counts. Only the catalog was read: the YAML holds no row value.
func (r *runner) draft(ctx context.Context, cat *engine.Catalog) {
	dc := r.plan.Options.Draft
	d := draft.Build(cat, draft.Options{Name: dc.DataMapName, Namespace: dc.Namespace,
		Source: fmt.Sprintf("database %q (%s)", r.plan.Database.Name, r.plan.Database.Engine)})
	doc := d.YAML()
	delivery := &plan.DraftDelivery{ConfigMap: dc.Name, Bytes: len(doc), Seen: d.Seen, Tables: len(d.Tables), Guesses: d.Guesses()}
	r.report.Draft = delivery
	r.logf("draft: %d tables seen, %d described, %d guesses, %d bytes", d.Seen, len(d.Tables), delivery.Guesses, len(doc))
	if len(doc) > MaxDraftBytes {
		r.failf(plan.ErrDraftTooLarge, "the drafted DataMap is %d bytes, more than the %d a ConfigMap can hold: nothing was published", len(doc), MaxDraftBytes)
		return
	}
	cs, err := coreClient()
	if err != nil {
		r.failf(plan.ErrDeliveryFailed, "cannot reach the Kubernetes API to create ConfigMap %s: %v", dc.Name, err)
		return
	}
	_, err = cs.ConfigMaps(dc.Namespace).Create(ctx, draftConfigMap(dc, doc), metav1.CreateOptions{FieldManager: "lethe-worker"})
	switch {
	case apierrors.IsAlreadyExists(err):
		delivery.Existed = true
		r.logf("draft ConfigMap %s already exists", dc.Name)
	case err != nil:
		r.failf(plan.ErrDeliveryFailed, "cannot create ConfigMap %s/%s: %v", dc.Namespace, dc.Name, err)
	default:
		r.logf("draft published in ConfigMap %s", dc.Name)
	}
}

// draftConfigMap is the ConfigMap holding the draft, owned by the TenantDatabase and
// immutable: a draft is a snapshot of the schema, and a new one is a new ConfigMap.
func draftConfigMap(dc *plan.DraftConfigMap, doc []byte) *corev1.ConfigMap {
	controller := true
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: dc.Name, Namespace: dc.Namespace, Labels: dc.Labels,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: dc.OwnerAPIVersion, Kind: dc.OwnerKind, Name: dc.OwnerName,
				UID: types.UID(dc.OwnerUID), Controller: &controller,
			}},
		},
		Immutable: &controller,
		Data:      map[string]string{plan.DraftKey: string(doc)},
	}
}
