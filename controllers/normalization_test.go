package controllers

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
)

// TestSubjectNormalizationFollowsTheSelectedDataMaps: the fingerprint normalises an
// identifier as the DataMaps of the databases the request selects compare it, and
// refuses to pick one when they disagree. A fake client is enough: only reads are made.
func TestSubjectNormalizationFollowsTheSelectedDataMaps(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := privacyv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	dataMap := func(name string, steps ...privacyv1alpha1.NormalizeStep) *privacyv1alpha1.DataMap {
		dm := &privacyv1alpha1.DataMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}}
		if len(steps) > 0 {
			dm.Spec.IdentityTypes = map[string]privacyv1alpha1.IdentityType{"phone": {Normalize: steps}}
		}
		return dm
	}
	db := func(name, dm, app string) *privacyv1alpha1.TenantDatabase {
		return &privacyv1alpha1.TenantDatabase{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"app": app}},
			Spec: privacyv1alpha1.TenantDatabaseSpec{DataMapRef: dm}}
	}
	objs := []client.Object{dataMap("digits", "digits"), dataMap("plain"), dataMap("also-digits", "digits"),
		db("a", "digits", "shop"), db("b", "also-digits", "shop"), db("c", "plain", "crm")}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
	request := func(typ, app string) *privacyv1alpha1.ErasureRequest {
		er := &privacyv1alpha1.ErasureRequest{ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "ns"}}
		er.Spec.Subject.Type = typ
		if app != "" {
			er.Spec.DatabaseSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}
		}
		return er
	}
	tests := []struct {
		typ, app, want, reason string
	}{
		{"phone", "shop", "digits", ""},
		{"phone", "crm", "exact", ""},
		{"email", "", "trim, lowercase", ""},
		{"phone", "", "", privacyv1alpha1.ReasonConflictingNormalization},
	}
	for _, tt := range tests {
		n, reason, msg, err := subjectNormalization(context.Background(), c, request(tt.typ, tt.app))
		if err != nil {
			t.Fatal(err)
		}
		if reason != tt.reason || (reason == "" && n.String() != tt.want) {
			t.Errorf("%s in %q: %q (%s %s), want %q (%s)", tt.typ, tt.app, n, reason, msg, tt.want, tt.reason)
		}
		if reason != "" && !strings.Contains(msg, "digits (digits)") {
			t.Errorf("message %q does not name the DataMaps and what they say", msg)
		}
	}
}
