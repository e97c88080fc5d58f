package worker_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/lethe-operator/lethe/internal/jobrunner"
	"github.com/lethe-operator/lethe/internal/plan"
	"github.com/lethe-operator/lethe/internal/testenv"
	"github.com/lethe-operator/lethe/internal/worker"
)

// TestDeliver runs export plans that deliver into a Secret of a real API server, reached
// through $KUBECONFIG as the local job runner sets it.
func TestDeliver(t *testing.T) {
	env := testenv.Start(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := jobrunner.WriteKubeconfig(kubeconfig, env.Config, ""); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", kubeconfig)
	ctx := context.Background()
	// The request stand-in: any object gives the Secret an owner UID to point to.
	owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "req-alice", Namespace: "default"}}
	if err := env.Client.Create(ctx, owner); err != nil {
		t.Fatal(err)
	}
	exportPlan := func(tn *tenant, secret, identifier string, formats ...string) plan.Plan {
		p := tn.plan(plan.KindExport)
		p.Options.ExportDir = filepath.Join(t.TempDir(), "export")
		p.Subjects = []plan.Subject{tn.subject("req-alice", "email", identifier, "")}
		p.Options.ExportSecret = &plan.ExportSecret{
			Name: secret, Namespace: "default", OwnerAPIVersion: "v1", OwnerKind: "ConfigMap",
			OwnerName: owner.Name, OwnerUID: string(owner.UID), Formats: formats, Source: "aurora",
			Labels: map[string]string{"app.kubernetes.io/managed-by": "lethe"},
		}
		return p
	}
	getSecret := func(name string) (*corev1.Secret, error) {
		s := &corev1.Secret{}
		return s, env.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: name}, s)
	}

	for _, e := range engines {
		t.Run("SecretOwnedByTheRequest/"+e, func(t *testing.T) {
			tn := newTenant(t, e)
			setupBooking(tn)
			secretName := "req-alice-" + e
			p := exportPlan(tn, secretName, "alice@example.com", plan.FormatJSON, plan.FormatCSV)
			r := tn.mustSucceed(p)
			tables := []string{"customers", "bookings", "booking_guests", "invoices", "support_tickets"}
			wantKeys := []string{worker.ExportFile}
			for _, table := range tables {
				wantKeys = append(wantKeys, "aurora."+table+".csv")
			}
			if r.Delivery == nil || r.Delivery.Secret != secretName || r.Delivery.Existed || r.Delivery.Bytes <= 0 {
				t.Fatalf("report delivery = %+v", r.Delivery)
			}
			if got := slices.Sorted(slices.Values(r.Delivery.Keys)); !slices.Equal(got, slices.Sorted(slices.Values(wantKeys))) {
				t.Errorf("report keys = %v, want %v", got, wantKeys)
			}
			s, err := getSecret(secretName)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Data) != len(wantKeys) {
				t.Errorf("Secret keys: %d, want %d", len(s.Data), len(wantKeys))
			}
			var size int64
			for k, v := range s.Data {
				size += int64(len(k) + len(v))
			}
			if size != r.Delivery.Bytes {
				t.Errorf("report says %d bytes, the Secret holds %d", r.Delivery.Bytes, size)
			}
			refs := s.OwnerReferences
			if len(refs) != 1 || refs[0].UID != owner.UID || refs[0].Kind != "ConfigMap" || refs[0].Controller == nil || !*refs[0].Controller {
				t.Errorf("owner references = %+v", refs)
			}
			if s.Immutable == nil || !*s.Immutable || s.Labels["app.kubernetes.io/managed-by"] != "lethe" {
				t.Errorf("immutable %v, labels %v", s.Immutable, s.Labels)
			}
			var doc struct {
				Databases map[string]struct {
					Database string                                  `json:"database"`
					Tables   map[string][]map[string]json.RawMessage `json:"tables"`
				} `json:"databases"`
			}
			if err := json.Unmarshal(s.Data[worker.ExportFile], &doc); err != nil {
				t.Fatalf("export.json: %v\n%s", err, s.Data[worker.ExportFile])
			}
			aurora, ok := doc.Databases["aurora"]
			if !ok || aurora.Database != tn.Name || len(doc.Databases) != 1 {
				t.Fatalf("export.json databases: %v", doc.Databases)
			}
			if !strings.Contains(string(aurora.Tables["customers"][0]["email"]), `"alice@example.com"`) {
				t.Errorf("customers[0].email = %s", aurora.Tables["customers"][0]["email"])
			}
			records, err := csv.NewReader(strings.NewReader(string(s.Data["aurora.support_tickets.csv"]))).ReadAll()
			if err != nil || len(records) != 3 || !slices.Contains(records[0], "body") {
				t.Errorf("aurora.support_tickets.csv = %q (%v)", records, err)
			}

			// A re-run (a pod retried after the Secret was made) finds it and succeeds.
			again := tn.mustSucceed(p)
			if again.Delivery == nil || !again.Delivery.Existed {
				t.Errorf("second run delivery = %+v", again.Delivery)
			}
		})
	}

	t.Run("JSONOnly", func(t *testing.T) {
		tn := newTenant(t, engines[0])
		setupBooking(tn)
		r := tn.mustSucceed(exportPlan(tn, "req-alice-json", "alice@example.com"))
		if r.Delivery == nil || !slices.Equal(r.Delivery.Keys, []string{worker.ExportFile}) {
			t.Fatalf("delivery = %+v", r.Delivery)
		}
	})

	t.Run("NotFoundDeliversNothing", func(t *testing.T) {
		tn := newTenant(t, engines[0])
		setupBooking(tn)
		r := tn.mustSucceed(exportPlan(tn, "req-nobody", "nobody@example.com", plan.FormatCSV))
		if r.Delivery != nil {
			t.Errorf("delivery = %+v", r.Delivery)
		}
		if _, err := getSecret("req-nobody"); !apierrors.IsNotFound(err) {
			t.Errorf("Secret req-nobody: %v, want not found", err)
		}
	})

	for _, e := range engines {
		t.Run("TooLarge/"+e, func(t *testing.T) {
			tn := newTenant(t, e)
			setupBooking(tn)
			body := strings.Repeat("a long complaint. ", 2000) // 36,000 bytes
			for i := range 30 {
				tn.exec(fmt.Sprintf("INSERT INTO support_tickets VALUES (%d, 1, '%s', '2026-05-01 10:00:00')", 5000+i, body))
			}
			r := tn.run(exportPlan(tn, "req-alice-big-"+e, "alice@example.com", plan.FormatJSON, plan.FormatCSV))
			if r.Succeeded || len(r.Errors) != 1 || r.Errors[0].Code != plan.ErrExportTooLarge {
				t.Fatalf("report: succeeded %v, errors %+v", r.Succeeded, r.Errors)
			}
			if r.Delivery == nil || r.Delivery.Bytes <= worker.MaxExportBytes || len(r.Delivery.Keys) != 0 {
				t.Errorf("delivery = %+v", r.Delivery)
			}
			if !strings.Contains(r.Errors[0].Message, fmt.Sprint(r.Delivery.Bytes)) {
				t.Errorf("the message does not say the size: %s", r.Errors[0].Message)
			}
			if _, err := getSecret("req-alice-big-" + e); !apierrors.IsNotFound(err) {
				t.Errorf("Secret: %v, want not found: nothing partial is delivered", err)
			}
		})
	}

	t.Run("InvalidSecretPlan", func(t *testing.T) {
		tn := newTenant(t, engines[0])
		setupBooking(tn)
		p := exportPlan(tn, "req-alice-invalid", "alice@example.com")
		p.Options.ExportSecret.OwnerUID = ""
		r := tn.run(p)
		if r.Succeeded || len(r.Errors) != 1 || r.Errors[0].Code != plan.ErrInvalidPlan {
			t.Fatalf("report: succeeded %v, errors %+v", r.Succeeded, r.Errors)
		}
	})
}
