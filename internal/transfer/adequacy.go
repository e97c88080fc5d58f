package transfer

// AdequacyDecision is an EU Commission decision that a country protects personal data
// adequately (GDPR Art. 45), so transfers there need no further safeguard.
type AdequacyDecision struct {
	// Country is the ISO 3166-1 alpha-2 code.
	Country string
	// Decision is the Commission decision's reference.
	Decision string
	// Adopted is the date the decision was adopted, YYYY-MM-DD.
	Adopted string
	// Scope limits a partial decision, e.g. to organisations under a framework; empty
	// when the decision covers the whole country.
	Scope string
}

// AdequacyTableAsOf is when adequacyDecisions was last compared with its source.
const AdequacyTableAsOf = "2025-07-01"

// adequacyDecisions lists the EU adequacy decisions in force.
//
// Source: European Commission, "Adequacy decisions",
// https://commission.europa.eu/law/law-topic/data-protection/international-dimension-data-protection/adequacy-decisions_en
//
// To update: compare with the source, add or remove a line, bump AdequacyTableAsOf.
// Pending when last compared: the renewal of the United Kingdom's decisions (its
// 2021 decision had a sunset clause) and a draft decision for Brazil. A withdrawn or
// annulled decision (Safe Harbour 2015, Privacy Shield 2020) must be removed at once.
var adequacyDecisions = []AdequacyDecision{
	{Country: "AD", Decision: "Commission Decision 2010/625/EU", Adopted: "2010-10-19"},
	{Country: "AR", Decision: "Commission Decision 2003/490/EC", Adopted: "2003-06-30"},
	{Country: "CA", Decision: "Commission Decision 2002/2/EC", Adopted: "2001-12-20",
		Scope: "commercial organisations subject to PIPEDA"},
	{Country: "CH", Decision: "Commission Decision 2000/518/EC", Adopted: "2000-07-26"},
	{Country: "FO", Decision: "Commission Decision 2010/146/EU", Adopted: "2010-03-05"},
	{Country: "GB", Decision: "Commission Implementing Decision (EU) 2021/1772", Adopted: "2021-06-28"},
	{Country: "GG", Decision: "Commission Decision 2003/821/EC", Adopted: "2003-11-21"},
	{Country: "IL", Decision: "Commission Decision 2011/61/EU", Adopted: "2011-01-31"},
	{Country: "IM", Decision: "Commission Decision 2004/411/EC", Adopted: "2004-04-28"},
	{Country: "JE", Decision: "Commission Decision 2008/393/EC", Adopted: "2008-05-08"},
	{Country: "JP", Decision: "Commission Implementing Decision (EU) 2019/419", Adopted: "2019-01-23",
		Scope: "private-sector organisations subject to the APPI"},
	{Country: "KR", Decision: "Commission Implementing Decision (EU) 2022/254", Adopted: "2021-12-17"},
	{Country: "NZ", Decision: "Commission Implementing Decision 2013/65/EU", Adopted: "2012-12-19"},
	{Country: "US", Decision: "Commission Implementing Decision (EU) 2023/1795 (EU-U.S. Data Privacy Framework)", Adopted: "2023-07-10",
		Scope: "organisations certified under the EU-U.S. Data Privacy Framework: check the subprocessor on the DPF list"},
	{Country: "UY", Decision: "Commission Implementing Decision 2012/484/EU", Adopted: "2012-08-21"},
}

// AdequacyDecisionFor returns the EU adequacy decision for country, if there is one.
func AdequacyDecisionFor(country string) (AdequacyDecision, bool) {
	for _, d := range adequacyDecisions {
		if d.Country == country {
			return d, true
		}
	}
	return AdequacyDecision{}, false
}
