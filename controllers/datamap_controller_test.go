package controllers

import (
	"strings"
	"testing"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
)

func via(table string) *privacyv1alpha1.Link {
	return &privacyv1alpha1.Link{Table: privacyv1alpha1.Identifier(table)}
}

func TestUnreachableSubjectsFindsLoopsAndDeadEnds(t *testing.T) {
	subject := privacyv1alpha1.Table{Name: "customers", Identifiers: map[string]privacyv1alpha1.Identifier{"email": "email"}}
	cases := []struct {
		name   string
		tables []privacyv1alpha1.Table
		want   []string
	}{
		{"every table reaches the subject", []privacyv1alpha1.Table{subject,
			{Name: "bookings", SubjectVia: via("customers")}, {Name: "booking_items", SubjectVia: via("bookings")}}, nil},
		{"a table the subject's row references", []privacyv1alpha1.Table{subject,
			{Name: "addresses", ReferencedBy: via("customers")}, {Name: "address_notes", SubjectVia: via("addresses")}}, nil},
		{"a loop through referencedBy", []privacyv1alpha1.Table{subject,
			{Name: "a", ReferencedBy: via("b")}, {Name: "b", SubjectVia: via("a")}},
			[]string{"table a links in a loop (a → b → a)", "table b links in a loop (b → a → b)"}},
		{"a loop never reaches it", []privacyv1alpha1.Table{subject,
			{Name: "a", SubjectVia: via("b")}, {Name: "b", SubjectVia: via("a")}},
			[]string{"table a links in a loop (a → b → a)", "table b links in a loop (b → a → b)"}},
		{"a link to a missing table", []privacyv1alpha1.Table{subject, {Name: "notes", SubjectVia: via("authors")}},
			[]string{"table notes links to table authors, which is not in the DataMap"}},
		{"neither identifiers nor a link", []privacyv1alpha1.Table{subject, {Name: "orphans"}},
			[]string{"table orphans neither identifies data subjects nor links to a table that does"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := unreachableSubjects(&privacyv1alpha1.DataMap{Spec: privacyv1alpha1.DataMapSpec{Tables: tc.tables}})
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("problem %d = %q, want it to start with %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}
