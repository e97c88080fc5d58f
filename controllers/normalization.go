package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/identifier"
)

// subjectNormalization is how the DataMaps of the databases a request selects compare
// identifiers of its identity type, so that the fingerprint normalises the identifier as
// the worker's lookup does. With no DataMap saying otherwise it is the type's default.
// DataMaps that disagree make reason and msg say so: the fingerprint would fit one of
// them only.
func subjectNormalization(ctx context.Context, c client.Reader, er *privacyv1alpha1.ErasureRequest) (n identifier.Normalization, reason, msg string, err error) {
	typ := er.Spec.Subject.Type
	list := &privacyv1alpha1.TenantDatabaseList{}
	if err := c.List(ctx, list, client.InNamespace(er.Namespace)); err != nil {
		return nil, "", "", err
	}
	byDataMap := map[string]identifier.Normalization{}
	for _, db := range list.Items {
		if !selects(er, &db) || db.Spec.DataMapRef == "" {
			continue
		}
		if _, done := byDataMap[db.Spec.DataMapRef]; done {
			continue
		}
		dm := &privacyv1alpha1.DataMap{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: db.Namespace, Name: db.Spec.DataMapRef}, dm); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return nil, "", "", err
		}
		var configured []string
		if it, ok := dm.Spec.IdentityTypes[typ]; ok {
			configured = make([]string, len(it.Normalize))
			for i, s := range it.Normalize {
				configured[i] = string(s)
			}
		}
		norm, err := identifier.For(typ, configured)
		if err != nil {
			return nil, privacyv1alpha1.ReasonConflictingNormalization, fmt.Sprintf("DataMap %s: %v", dm.Name, err), nil
		}
		byDataMap[dm.Name] = norm
	}
	n = identifier.Default(typ)
	var names []string
	for name, norm := range byDataMap {
		names = append(names, fmt.Sprintf("%s (%s)", name, norm))
	}
	sort.Strings(names)
	for i, name := range sortedKeys(byDataMap) {
		if i == 0 {
			n = byDataMap[name]
		} else if !byDataMap[name].Equal(n) {
			return nil, privacyv1alpha1.ReasonConflictingNormalization, fmt.Sprintf(
				"the selected databases' DataMaps compare %s identifiers differently: %s; give them the same identityTypes.%s.normalize, or select databases of one DataMap",
				typ, strings.Join(names, ", "), typ), nil
		}
	}
	return n, "", "", nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
