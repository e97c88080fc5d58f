package transfer

import (
	"strings"
	"testing"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
)

func TestAssess(t *testing.T) {
	tests := []struct {
		name      string
		country   string
		mechanism privacyv1alpha1.TransferMechanism
		compliant bool
		reason    string
		message   string
	}{
		{"EU member needs no mechanism", "DE", privacyv1alpha1.TransferNone, true, privacyv1alpha1.ReasonInsideEEA, "EU/EEA"},
		{"EEA outside the EU needs no mechanism", "NO", privacyv1alpha1.TransferNone, true, privacyv1alpha1.ReasonInsideEEA, "EU/EEA"},
		{"a mechanism inside the EEA is harmless", "IE", privacyv1alpha1.TransferSCC, true, privacyv1alpha1.ReasonInsideEEA, ""},
		{"adequacy with a decision", "JP", privacyv1alpha1.TransferAdequacy, true, privacyv1alpha1.ReasonAdequacyDecision, "2019/419"},
		{"adequacy with a partial decision says its scope", "US", privacyv1alpha1.TransferAdequacy, true, privacyv1alpha1.ReasonAdequacyDecision, "Data Privacy Framework"},
		{"adequacy without a decision", "IN", privacyv1alpha1.TransferAdequacy, false, privacyv1alpha1.ReasonNoAdequacyDecision, "no adequacy decision for IN"},
		{"standard contractual clauses", "US", privacyv1alpha1.TransferSCC, true, privacyv1alpha1.ReasonStandardContractualClauses, "Art. 46"},
		{"binding corporate rules", "IN", privacyv1alpha1.TransferBCR, true, privacyv1alpha1.ReasonBindingCorporateRules, "Art. 47"},
		{"derogation warns it is for occasional transfers", "BR", privacyv1alpha1.TransferDerogation, true, privacyv1alpha1.ReasonDerogation, "occasional"},
		{"none outside the EEA", "IN", privacyv1alpha1.TransferNone, false, privacyv1alpha1.ReasonNoTransferMechanism, "scc, bcr or derogation"},
		{"none with an adequacy decision points at adequacy", "CH", privacyv1alpha1.TransferNone, false, privacyv1alpha1.ReasonNoTransferMechanism, "set transferMechanism to adequacy"},
		{"unset mechanism counts as none", "US", "", false, privacyv1alpha1.ReasonNoTransferMechanism, ""},
		{"unassigned code", "XX", privacyv1alpha1.TransferSCC, false, privacyv1alpha1.ReasonUnknownCountry, "ISO 3166-1"},
		{"the EU's own code for Greece is not ISO", "EL", privacyv1alpha1.TransferNone, false, privacyv1alpha1.ReasonUnknownCountry, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Assess(tt.country, tt.mechanism)
			if got.Compliant != tt.compliant || got.Reason != tt.reason || !strings.Contains(got.Message, tt.message) {
				t.Errorf("Assess(%s, %s) = %+v; want compliant=%v reason=%s message containing %q",
					tt.country, tt.mechanism, got, tt.compliant, tt.reason, tt.message)
			}
		})
	}
}

func TestTablesAreConsistent(t *testing.T) {
	if len(eea) != 30 {
		t.Errorf("the EEA has 30 countries (27 EU + IS, LI, NO), the table %d", len(eea))
	}
	if len(isoCountries) != 249 {
		t.Errorf("ISO 3166-1 assigns 249 alpha-2 codes, the table has %d", len(isoCountries))
	}
	for c := range eea {
		if !IsCountry(c) {
			t.Errorf("EEA country %s is not in the ISO table", c)
		}
	}
	for _, d := range adequacyDecisions {
		if !IsCountry(d.Country) || InEEA(d.Country) {
			t.Errorf("adequacy decision for %s: not a third country in the ISO table", d.Country)
		}
		if len(d.Adopted) != len("2006-01-02") || d.Decision == "" {
			t.Errorf("adequacy decision for %s: needs a reference and a YYYY-MM-DD date", d.Country)
		}
	}
}
