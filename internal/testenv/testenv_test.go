package testenv

import (
	"context"
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
)

func TestCustomResourceRoundTripsThroughTheAPIServer(t *testing.T) {
	env := Start(t)
	ctx := context.Background()
	want := &privacyv1alpha1.TenantDatabase{
		ObjectMeta: metav1.ObjectMeta{Name: "hotel-aurora", Namespace: "default"},
		Spec: privacyv1alpha1.TenantDatabaseSpec{
			Engine: privacyv1alpha1.EnginePostgres, Host: "db.example", Port: 5432,
			Database: "aurora", DataMapRef: "booking-app",
			CredentialsSecretRef: privacyv1alpha1.CredentialsRef{Name: "aurora-db"},
		},
	}
	if err := env.Client.Create(ctx, want); err != nil {
		t.Fatalf("create: %v", err)
	}
	got := &privacyv1alpha1.TenantDatabase{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(want), got); err != nil {
		t.Fatalf("get: %v", err)
	}
	if !reflect.DeepEqual(got.Spec, want.Spec) || got.UID == "" {
		t.Fatalf("read back %+v (uid %q), want spec %+v", got.Spec, got.UID, want.Spec)
	}
}

func TestAPIServerRejectsAPortOutOfRange(t *testing.T) {
	env := Start(t)
	bad := &privacyv1alpha1.TenantDatabase{
		ObjectMeta: metav1.ObjectMeta{Name: "bad-port", Namespace: "default"},
		Spec: privacyv1alpha1.TenantDatabaseSpec{
			Engine: privacyv1alpha1.EnginePostgres, Host: "db.example", Port: 70000,
			Database: "aurora", DataMapRef: "booking-app",
			CredentialsSecretRef: privacyv1alpha1.CredentialsRef{Name: "aurora-db"},
		},
	}
	if err := env.Client.Create(context.Background(), bad); err == nil {
		t.Fatal("the API server accepted port 70000")
	}
}
