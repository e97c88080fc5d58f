package register

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
)

func subprocessor(name, country string, categories ...privacyv1alpha1.Category) privacyv1alpha1.Subprocessor {
	return privacyv1alpha1.Subprocessor{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: privacyv1alpha1.SubprocessorSpec{
			LegalName: name + " Inc.", Purpose: "sends e-mail", Country: country,
			DataCategories: categories, Since: "2025-01-01",
			DPA: privacyv1alpha1.DataProcessingAgreement{Reference: "DPA-1", SignedOn: "2024-12-01"},
		},
	}
}

func TestEntriesAreSortedNormalizedAndSkipDeletions(t *testing.T) {
	b := subprocessor("b", "US", "name", "contact")
	b.Spec.Services = []string{"sms", "e-mail"}
	gone := subprocessor("c", "DE", "contact")
	gone.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	entries := Entries([]privacyv1alpha1.Subprocessor{b, gone, subprocessor("a", "DE", "contact")})
	if len(entries) != 2 || entries[0].Name != "a" || entries[1].Name != "b" {
		t.Fatalf("entries = %+v, want a and b", entries)
	}
	if got := strings.Join(entries[1].DataCategories, ","); got != "contact,name" {
		t.Errorf("categories = %s, want sorted contact,name", got)
	}
	if got := strings.Join(entries[1].Services, ","); got != "e-mail,sms" {
		t.Errorf("services = %s, want sorted e-mail,sms", got)
	}
	if entries[1].TransferMechanism != "none" {
		t.Errorf("an unset mechanism is published as none, got %q", entries[1].TransferMechanism)
	}
}

func TestDigestIgnoresSetOrderButNotContent(t *testing.T) {
	x := subprocessor("a", "DE", "contact", "name")
	y := subprocessor("a", "DE", "name", "contact")
	z := subprocessor("a", "FR", "name", "contact")
	dx, dy, dz := Digest(Entries([]privacyv1alpha1.Subprocessor{x})), Digest(Entries([]privacyv1alpha1.Subprocessor{y})), Digest(Entries([]privacyv1alpha1.Subprocessor{z}))
	if dx != dy || dx == dz || !strings.HasPrefix(dx, "sha256:") {
		t.Errorf("digests %s %s %s: want the first two equal, the third different", dx, dy, dz)
	}
	if Digest(nil) != Digest([]Entry{}) {
		t.Error("no entries and an empty list must have the same digest")
	}
}

func TestDiff(t *testing.T) {
	before := Entries([]privacyv1alpha1.Subprocessor{subprocessor("a", "DE", "contact"), subprocessor("b", "US", "contact")})
	changedB := subprocessor("b", "IE", "contact", "name")
	after := Entries([]privacyv1alpha1.Subprocessor{changedB, subprocessor("c", "DE", "contact")})
	d := Diff(before, after)
	if len(d.Added) != 1 || d.Added[0].Name != "c" || len(d.Removed) != 1 || d.Removed[0].Name != "a" {
		t.Fatalf("diff = %+v, want c added and a removed", d)
	}
	if len(d.Changed) != 1 || d.Changed[0].Name != "b" || len(d.Changed[0].Fields) != 2 {
		t.Fatalf("changed = %+v, want b with two fields", d.Changed)
	}
	country := d.Changed[0].Fields[0]
	if country.Field != "country" || country.From != "US" || country.To != "IE" {
		t.Errorf("first field change = %+v, want country US -> IE", country)
	}
	if got := d.Summary(); got != "added c; removed a; changed b (country, dataCategories)" {
		t.Errorf("summary = %q", got)
	}
	if !Diff(after, after).Empty() {
		t.Error("a register compared with itself must have no changes")
	}
}

func TestJSONRoundTrips(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	entries := Entries([]privacyv1alpha1.Subprocessor{subprocessor("a", "DE", "contact")})
	r := Register{Revision: 3, Digest: Digest(entries), PublishedAt: &at, Entries: entries}
	back, err := Parse(r.JSON())
	if err != nil {
		t.Fatal(err)
	}
	if back.Revision != 3 || back.Digest != r.Digest || !back.PublishedAt.Equal(at) || Digest(back.Entries) != r.Digest {
		t.Errorf("round trip gave %+v, want %+v", back, r)
	}
	if empty := string(Register{Digest: Digest(nil)}.JSON()); !strings.Contains(empty, `"entries": []`) {
		t.Errorf("an empty register must list no entries as [], got %s", empty)
	}
}

func TestMarkdownEscapesCells(t *testing.T) {
	sp := subprocessor("a", "US", "contact")
	sp.Spec.Purpose = "firewall | CDN\nsees IP addresses"
	sp.Spec.TransferMechanism = privacyv1alpha1.TransferSCC
	r := Register{Revision: 1, Digest: "sha256:x", Entries: Entries([]privacyv1alpha1.Subprocessor{sp})}
	md := r.Markdown()
	want := "| a | a Inc. | firewall \\| CDN sees IP addresses |  | US | standard contractual clauses (GDPR Art. 46) | contact | DPA-1, signed 2024-12-01 |  | 2025-01-01 |  |\n"
	if !strings.HasSuffix(md, want) {
		t.Errorf("markdown:\n%s\nwant it to end with:\n%s", md, want)
	}
	if got := (Register{Digest: "sha256:x"}).Markdown(); !strings.Contains(got, "There are no subprocessors.") {
		t.Errorf("empty register markdown: %s", got)
	}
}
