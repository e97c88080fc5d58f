// Package transfer decides whether a transfer of personal data to a country is lawful
// under GDPR Chapter V: the EU/EEA needs no mechanism, other countries need one, and
// adequacy needs an EU adequacy decision for the country.
package transfer

import (
	"fmt"
	"strings"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
)

// Assessment is the verdict on one transfer, ready to become the Compliant condition.
type Assessment struct {
	// Compliant is true when the transfer is lawful.
	Compliant bool
	// Reason is a CamelCase reason from api/v1alpha1.
	Reason string
	// Message explains the verdict to a person.
	Message string
}

// Assess judges a transfer of personal data to country under mechanism.
func Assess(country string, mechanism privacyv1alpha1.TransferMechanism) Assessment {
	switch {
	case !IsCountry(country):
		return Assessment{Reason: privacyv1alpha1.ReasonUnknownCountry,
			Message: fmt.Sprintf("%q is not an ISO 3166-1 alpha-2 country code", country)}
	case InEEA(country):
		return Assessment{Compliant: true, Reason: privacyv1alpha1.ReasonInsideEEA,
			Message: fmt.Sprintf("%s is in the EU/EEA: no transfer mechanism is needed", country)}
	}
	switch mechanism {
	case privacyv1alpha1.TransferAdequacy:
		return assessAdequacy(country)
	case privacyv1alpha1.TransferSCC:
		return Assessment{Compliant: true, Reason: privacyv1alpha1.ReasonStandardContractualClauses,
			Message: fmt.Sprintf("transfer to %s under standard contractual clauses (GDPR Art. 46(2)(c)); keep the transfer impact assessment with the DPA", country)}
	case privacyv1alpha1.TransferBCR:
		return Assessment{Compliant: true, Reason: privacyv1alpha1.ReasonBindingCorporateRules,
			Message: fmt.Sprintf("transfer to %s under binding corporate rules (GDPR Art. 47)", country)}
	case privacyv1alpha1.TransferDerogation:
		// Art. 49 is meant for occasional transfers (EDPB Guidelines 2/2018); say so
		// rather than refuse, because the facts that justify it are outside Lethe's view.
		return Assessment{Compliant: true, Reason: privacyv1alpha1.ReasonDerogation,
			Message: fmt.Sprintf("transfer to %s under an Art. 49 derogation: these suit occasional transfers only (EDPB Guidelines 2/2018), not a subprocessor's routine processing", country)}
	default:
		msg := fmt.Sprintf("%s is outside the EU/EEA: set transferMechanism to scc, bcr or derogation", country)
		if _, ok := AdequacyDecisionFor(country); ok {
			// The transfer would be lawful; the register must still say on which ground.
			msg = fmt.Sprintf("%s is outside the EU/EEA but has an EU adequacy decision: set transferMechanism to adequacy, or to scc or bcr", country)
		}
		return Assessment{Reason: privacyv1alpha1.ReasonNoTransferMechanism, Message: msg}
	}
}

func assessAdequacy(country string) Assessment {
	d, ok := AdequacyDecisionFor(country)
	if !ok {
		return Assessment{Reason: privacyv1alpha1.ReasonNoAdequacyDecision,
			Message: fmt.Sprintf("the EU has no adequacy decision for %s (table as of %s): use scc or bcr", country, AdequacyTableAsOf)}
	}
	msg := fmt.Sprintf("%s has an EU adequacy decision: %s of %s", country, d.Decision, d.Adopted)
	if d.Scope != "" {
		msg += "; it covers only " + d.Scope
	}
	return Assessment{Compliant: true, Reason: privacyv1alpha1.ReasonAdequacyDecision, Message: msg}
}

// eea are the EU member states plus Iceland, Liechtenstein and Norway. Greece is GR in
// ISO 3166-1 (the EU's own "EL" is not an ISO code).
var eea = setOf(`AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE
	IS LI NO`)

// InEEA reports whether country (ISO 3166-1 alpha-2) is in the EU/EEA.
func InEEA(country string) bool { return eea[country] }

// isoCountries are the officially assigned ISO 3166-1 alpha-2 codes.
var isoCountries = setOf(`AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL
	BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ
	DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
	GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR
	KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU
	MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
	QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH
	TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW`)

// IsCountry reports whether code is an assigned ISO 3166-1 alpha-2 country code.
func IsCountry(code string) bool { return isoCountries[code] }

func setOf(codes string) map[string]bool {
	set := map[string]bool{}
	for _, c := range strings.Fields(codes) {
		set[c] = true
	}
	return set
}
