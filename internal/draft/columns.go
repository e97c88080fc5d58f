package draft

import (
	"slices"
	"strings"
	"unicode"

	"github.com/lethe-operator/lethe/internal/engine"
	"github.com/lethe-operator/lethe/internal/mask"
	"github.com/lethe-operator/lethe/internal/plan"
)

// clue is one kind of personal data a column's name and type can suggest.
type clue struct {
	// label says what the column seems to hold, in the guess comment.
	label    string
	category string
	// weak clues (a bare "name", "notes", "city") also name non-personal data (a product's
	// name, a shop's city): they count only in tables already tied to a data subject.
	weak bool
	// personTable restricts the clue to tables whose rows look like people.
	personTable bool
	kinds       []mask.ValueKind
	match       func(w words) bool
	// masks are tried in order; the first that Lethe's verification accepts on the column
	// is proposed.
	masks []plan.Mask
}

var (
	maskFakeEmail = plan.Mask{Strategy: plan.StrategyFakeEmail}
	maskRedact    = plan.Mask{Strategy: plan.StrategyRedact}
	maskNullify   = plan.Mask{Strategy: plan.StrategyNullify}
	maskHash      = plan.Mask{Strategy: plan.StrategyHash}
	maskNetwork   = plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeNetwork}
	maskYear      = plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeYear}
	// Two characters of a postcode name a region, not a street (UK "SW", Dutch "10").
	maskPrefix = plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizePrefix, Width: 2}
)

func bucket(width int) plan.Mask {
	return plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeBucket, Width: width}
}

var (
	text    = []mask.ValueKind{mask.KindText}
	textInt = []mask.ValueKind{mask.KindText, mask.KindInteger}
)

// clues are checked in order; a column gets the first that matches. The categories and
// strategies respect the DataMap's admission rules (fakeEmail only for contact, network
// only for online-identifier, special data only nullified or redacted, no keep).
var clues = []clue{
	{label: "an e-mail address", category: "contact", kinds: text,
		match: func(w words) bool { return w.has("email", "mail") || w.joinedHas("email") },
		masks: []plan.Mask{maskFakeEmail, maskRedact, maskNullify, maskHash}},
	{label: "an IP address", category: "online-identifier", kinds: []mask.ValueKind{mask.KindText, mask.KindInet},
		match: func(w words) bool { return w.has("ip") || w.joinedHas("ipaddr", "remoteaddr") },
		masks: []plan.Mask{maskNetwork, maskNullify, maskHash}},
	{label: "a browser's user agent", category: "online-identifier", kinds: text,
		match: func(w words) bool { return w.joinedHas("useragent") },
		masks: []plan.Mask{maskRedact, maskNullify, maskHash}},
	{label: "a phone number", category: "contact", kinds: textInt,
		match: func(w words) bool {
			return w.has("phone", "mobile", "telephone", "tel", "fax", "msisdn", "cellphone") || w.joinedHas("phone")
		},
		masks: []plan.Mask{maskRedact, maskNullify, maskHash}},
	{label: "a birth date", category: "demographic",
		kinds: []mask.ValueKind{mask.KindDate, mask.KindTimestamp, mask.KindText, mask.KindInteger},
		match: func(w words) bool {
			return w.has("birth", "birthday", "birthdate", "dob", "born") || w.joinedHas("birth")
		},
		masks: []plan.Mask{maskYear, bucket(10), maskRedact, maskNullify}},
	{label: "a postcode", category: "location", kinds: textInt,
		match: func(w words) bool {
			return w.has("postcode", "zip", "zipcode", "postalcode", "plz") || w.joinedHas("postcode", "postalcode", "zipcode")
		},
		masks: []plan.Mask{maskPrefix, bucket(1000), maskRedact, maskNullify}},
	{label: "a national identity, passport or tax number", category: "identifier", kinds: textInt,
		match: func(w words) bool {
			return w.has("ssn", "tin", "nin", "bsn") || w.joinedHas("nationalid", "passport", "socialsecurity", "taxid",
				"taxnumber", "driverlicen", "drivinglicen", "idnumber", "idcard", "nationalinsurance", "personalnumber")
		},
		masks: []plan.Mask{maskRedact, maskHash, maskNullify}},
	{label: "a bank account or card number", category: "financial", kinds: textInt,
		match: func(w words) bool {
			return w.has("iban", "bic") || w.joinedHas("cardnumber", "creditcard", "accountnumber", "bankaccount", "ccnumber",
				"sortcode", "routingnumber")
		},
		masks: []plan.Mask{maskRedact, maskHash, maskNullify}},
	{label: "a user name", category: "identifier", kinds: text,
		match: func(w words) bool {
			return w.joined == "username" || w.joined == "login" || w.joined == "loginname" || w.joined == "screenname"
		},
		masks: []plan.Mask{maskRedact, maskHash, maskNullify}},
	{label: "a person's name", category: "name", kinds: text,
		match: func(w words) bool {
			if w.has("surname", "forename", "firstname", "lastname", "fullname", "givenname", "familyname", "nickname") {
				return true
			}
			return w.has("name") && w.has("first", "last", "full", "given", "family", "middle", "maiden", "display", "nick",
				"legal", "preferred", "contact", "billing", "shipping", "recipient", "holder", "cardholder", "customer",
				"user", "person", "sur", "fore", "sender", "delivery", "emergency", "reviewer", "author", "guest", "patient")
		},
		masks: []plan.Mask{maskRedact, maskNullify, maskHash}},
	{label: "a postal address", category: "location", kinds: text,
		match: func(w words) bool {
			if w.has("email", "mail", "ip", "mac", "web", "url") {
				return false
			}
			return w.has("address", "addr", "street", "address1", "address2", "line1", "line2", "housenumber", "apartment") ||
				w.joinedHas("street", "addressline")
		},
		masks: []plan.Mask{maskRedact, maskNullify, maskHash}},
	{label: "a person's name", category: "name", kinds: text, weak: true, personTable: true,
		match: func(w words) bool { return w.joined == "name" },
		masks: []plan.Mask{maskRedact, maskNullify, maskHash}},
	{label: "a city", category: "location", kinds: text, weak: true,
		match: func(w words) bool { return w.has("city", "town") },
		masks: []plan.Mask{maskRedact, maskNullify}},
	{label: "a geographic position", category: "location", weak: true,
		kinds: []mask.ValueKind{mask.KindDecimal, mask.KindText, mask.KindOther},
		match: func(w words) bool { return w.has("latitude", "longitude", "lat", "lng", "lon", "geo", "geolocation") },
		masks: []plan.Mask{bucket(1), maskNullify}},
	{label: "a gender", category: "demographic", weak: true, kinds: []mask.ValueKind{mask.KindText, mask.KindOther},
		match: func(w words) bool { return w.has("gender", "sex") },
		masks: []plan.Mask{maskRedact, maskNullify}},
	{label: "health, religion or ethnicity (special-category data)", category: "special", weak: true,
		kinds: []mask.ValueKind{mask.KindText, mask.KindOther},
		match: func(w words) bool {
			return w.has("health", "diagnosis", "medical", "allergy", "allergies", "religion", "ethnicity", "disability",
				"medication", "disabilities")
		},
		masks: []plan.Mask{maskRedact, maskNullify}},
	{label: "free text", category: "free-text", weak: true, kinds: text,
		match: func(w words) bool {
			return w.has("body", "message", "comment", "comments", "note", "notes", "remarks", "bio", "biography", "about",
				"feedback", "reason", "instructions")
		},
		masks: []plan.Mask{maskRedact, maskNullify}},
}

// emailClue is the clue of e-mail addresses, which identify subjects.
var emailClue = &clues[0]

// clueFor returns the first clue the column's name and type match, or nil.
func clueFor(col *engine.Column, personTable bool) *clue {
	w := split(col.Name)
	for i := range clues {
		c := &clues[i]
		if slices.Contains(c.kinds, col.Kind) && (!c.personTable || personTable) && c.match(w) {
			return c
		}
	}
	return nil
}

// hashKey stands in for the HMAC key when checking whether hash fits a column: the key's
// value does not change what fits.
var hashKey = []byte("draft")

// fittingMask returns the first of the clue's masks that Lethe's verification accepts on
// the column (mask.Compile is the check verification makes), or false.
func fittingMask(t *engine.Table, col *engine.Column, c *clue) (plan.Mask, bool) {
	for _, m := range c.masks {
		if _, err := mask.Compile(m, t.MaskColumn(col), hashKey); err == nil {
			return m, true
		}
	}
	return plan.Mask{}, false
}

// words is a name split into lowercase words ("billingEmail", "billing_email" and
// "BILLING_EMAIL" all give billing, email), and those words joined.
type words struct {
	list   []string
	joined string
}

func (w words) has(any ...string) bool {
	for _, a := range any {
		if slices.Contains(w.list, a) {
			return true
		}
	}
	return false
}

func (w words) joinedHas(any ...string) bool {
	for _, a := range any {
		if strings.Contains(w.joined, a) {
			return true
		}
	}
	return false
}

// last is the head noun of a compound name ("user_sessions" is about sessions).
func (w words) last() string {
	if len(w.list) == 0 {
		return ""
	}
	return w.list[len(w.list)-1]
}

// split cuts a name at underscores, digits-to-letters boundaries and case changes:
// "ipAddress" → ip, address; "IPAddress" → ip, address; "address_line1" → address, line1.
func split(name string) words {
	var list []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			list = append(list, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	runes := []rune(name)
	for i, r := range runes {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
			continue
		case unicode.IsUpper(r) && len(cur) > 0:
			prevLower := unicode.IsLower(runes[i-1]) || unicode.IsDigit(runes[i-1])
			nextLower := i+1 < len(runes) && unicode.IsLower(runes[i+1])
			if prevLower || (unicode.IsUpper(runes[i-1]) && nextLower) {
				flush()
			}
		}
		cur = append(cur, r)
	}
	flush()
	return words{list: list, joined: strings.Join(list, "")}
}

// people are head nouns of tables whose rows are people.
var people = []string{"user", "customer", "client", "member", "person", "people", "contact", "employee", "staff",
	"patient", "student", "subscriber", "guest", "profile", "applicant", "candidate", "traveller", "traveler",
	"passenger", "buyer", "donor", "volunteer", "attendee", "participant", "resident", "learner", "driver", "rider",
	"author", "owner", "seller", "lead", "prospect", "visitor", "player", "account"}

// personTable says whether a table's name says its rows are people.
func personTable(name string) bool {
	return slices.Contains(people, singular(split(name).last()))
}

// singular is a plain English singular, good enough for table names.
func singular(w string) string {
	switch {
	case w == "people":
		return "person"
	case w == "staff":
		return w
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		return w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "sses"), strings.HasSuffix(w, "xes"):
		return w[:len(w)-2]
	case strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && len(w) > 3:
		return w[:len(w)-1]
	}
	return w
}
