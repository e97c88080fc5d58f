package register

import (
	"fmt"
	"strings"
)

// mechanismNames are the transfer mechanisms as a reader of the register knows them.
var mechanismNames = map[string]string{
	"adequacy":   "adequacy decision (GDPR Art. 45)",
	"scc":        "standard contractual clauses (GDPR Art. 46)",
	"bcr":        "binding corporate rules (GDPR Art. 47)",
	"derogation": "derogation (GDPR Art. 49)",
	"none":       "none",
}

// Markdown returns register.md: a heading, the revision and a table a person can read
// or publish as it is.
func (r Register) Markdown() string {
	var b strings.Builder
	b.WriteString("# Subprocessors\n\n")
	fmt.Fprintf(&b, "Revision %d", r.Revision)
	if r.PublishedAt != nil {
		fmt.Fprintf(&b, ", published %s", r.PublishedAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	fmt.Fprintf(&b, ". Content digest `%s`.\n\n", r.Digest)
	if len(r.Entries) == 0 {
		b.WriteString("There are no subprocessors.\n")
		return b.String()
	}
	b.WriteString("| Subprocessor | Legal name | Purpose | Services | Country | Transfer mechanism | Data categories | DPA | Contact | Since | Until |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, e := range r.Entries {
		row := []string{
			e.Name, e.LegalName, e.Purpose, strings.Join(e.Services, ", "), e.Country,
			mechanismName(e.TransferMechanism), strings.Join(e.DataCategories, ", "),
			fmt.Sprintf("%s, signed %s", e.DPA.Reference, e.DPA.SignedOn), e.Contact, e.Since, e.Until,
		}
		for i := range row {
			row[i] = cell(row[i])
		}
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	return b.String()
}

func mechanismName(m string) string {
	if name, ok := mechanismNames[m]; ok {
		return name
	}
	return m
}

// cell escapes what would break a Markdown table row.
func cell(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}
