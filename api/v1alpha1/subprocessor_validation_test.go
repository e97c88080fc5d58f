package v1alpha1_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/lethe-operator/lethe/internal/testenv"
)

const validSubprocessor = `
apiVersion: privacy.lethe.dev/v1alpha1
kind: Subprocessor
metadata: {name: sendgrid}
spec:
  legalName: Twilio Inc.
  purpose: Sends booking confirmations by e-mail.
  country: US
  transferMechanism: scc
  dataCategories: [contact, name]
  dpa: {reference: DPA-2024-03, signedOn: "2024-03-01"}
  since: "2024-03-01"
`

// TestAdmissionRejectsBadSubprocessors checks that each wrong Subprocessor is refused
// with a message that says what to fix.
func TestAdmissionRejectsBadSubprocessors(t *testing.T) {
	env := testenv.Start(t)
	cases := []struct{ name, edit, want string }{
		{"until before since", `until: "2024-02-01"`, `until must be a date after since`},
		{"until equal to since", `until: "2024-03-01"`, `until must be a date after since`},
		{"UK for the United Kingdom", `country: UK`, `use GB, the ISO 3166-1 code of the United Kingdom, not UK`},
		{"EL for Greece", `country: EL`, `use GR, the ISO 3166-1 code of Greece, not EL`},
		{"country in lower case", `country: us`, `spec.country: Invalid value: "us": spec.country in body should match '^[A-Z]{2}$'`},
		{"country name", `country: USA`, `spec.country in body should match`},
		{"unknown mechanism", `transferMechanism: privacy-shield`, `spec.transferMechanism: Unsupported value: "privacy-shield"`},
		{"no data categories", `dataCategories: []`, `spec.dataCategories: Invalid value: 0: spec.dataCategories in body should have at least 1 items`},
		{"unknown data category", `dataCategories: [email]`, `spec.dataCategories[0]: Unsupported value: "email"`},
		{"duplicate data category", `dataCategories: [contact, contact]`, `spec.dataCategories[1]: Duplicate value: "contact"`},
		{"since not a date", `since: "1 March 2024"`, `spec.since in body must be of type date`},
		{"impossible date", `since: "2024-02-30"`, `spec.since in body must be of type date`},
		{"DPA without a date", `dpa: {reference: DPA-1}`, `spec.dpa.signedOn: Required value`},
		{"DPA without a reference", `dpa: {reference: "", signedOn: "2024-03-01"}`, `spec.dpa.reference in body should be at least 1 chars long`},
		{"empty legal name", `legalName: ""`, `spec.legalName in body should be at least 1 chars long`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := withSpecEdit(t, validSubprocessor, tc.edit)
			err := env.Client.Create(context.Background(), obj)
			if err == nil {
				t.Fatalf("the API server accepted it")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error does not say %q:\n%v", tc.want, err)
			}
		})
	}
	t.Run("missing dpa", func(t *testing.T) {
		obj := withSpecEdit(t, validSubprocessor, "")
		delete(obj.Object["spec"].(map[string]any), "dpa")
		if err := env.Client.Create(context.Background(), obj); err == nil || !strings.Contains(err.Error(), "spec.dpa: Required value") {
			t.Fatalf("want spec.dpa: Required value, got %v", err)
		}
	})
}

// TestAdmissionAcceptsTheSubprocessorSamples applies config/samples as they are, and
// checks that the mechanism defaults to none.
func TestAdmissionAcceptsTheSubprocessorSamples(t *testing.T) {
	env := testenv.Start(t)
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "config", "samples", "privacy_v1alpha1_subprocessor.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(data), "\n---\n")
	if len(docs) != 3 {
		t.Fatalf("want 3 sample Subprocessors, have %d", len(docs))
	}
	for _, doc := range docs {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Create(context.Background(), obj); err != nil {
			t.Fatalf("%s rejected: %v", obj.GetName(), err)
		}
		if obj.GetName() == "azure-storage" {
			if got, _, _ := unstructured.NestedString(obj.Object, "spec", "transferMechanism"); got != "none" {
				t.Errorf("transferMechanism defaulted to %q, want none", got)
			}
		}
	}
}
