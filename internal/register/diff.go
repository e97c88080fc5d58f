package register

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Changes is the difference between two revisions of the register.
type Changes struct {
	// Added are the new entries.
	Added []Entry `json:"added,omitempty"`
	// Removed are the entries that are gone, as they were.
	Removed []Entry `json:"removed,omitempty"`
	// Changed are the entries whose fields changed.
	Changed []Change `json:"changed,omitempty"`
}

// Change is one entry whose fields changed.
type Change struct {
	// Name of the Subprocessor.
	Name string `json:"name"`
	// Fields that changed, in the order of the entry's fields.
	Fields []FieldChange `json:"fields"`
	// Entry is the entry as it is now.
	Entry Entry `json:"entry"`
}

// FieldChange is one field's old and new value, named as in register.json.
type FieldChange struct {
	Field string `json:"field"`
	From  any    `json:"from"`
	To    any    `json:"to"`
}

// entryFields are the fields of an entry in register.json order, for the diff.
var entryFields = []struct {
	name  string
	value func(Entry) any
}{
	{"legalName", func(e Entry) any { return e.LegalName }},
	{"purpose", func(e Entry) any { return e.Purpose }},
	{"services", func(e Entry) any { return nonNil(e.Services) }},
	{"country", func(e Entry) any { return e.Country }},
	{"transferMechanism", func(e Entry) any { return e.TransferMechanism }},
	{"dataCategories", func(e Entry) any { return nonNil(e.DataCategories) }},
	{"dpa", func(e Entry) any { return e.DPA }},
	{"contact", func(e Entry) any { return e.Contact }},
	{"since", func(e Entry) any { return e.Since }},
	{"until", func(e Entry) any { return e.Until }},
}

// Diff compares two lists of entries, each sorted by name.
func Diff(before, after []Entry) Changes {
	var c Changes
	old := map[string]Entry{}
	for _, e := range before {
		old[e.Name] = e
	}
	seen := map[string]bool{}
	for _, e := range after {
		seen[e.Name] = true
		prev, ok := old[e.Name]
		if !ok {
			c.Added = append(c.Added, e)
			continue
		}
		if fields := changedFields(prev, e); len(fields) > 0 {
			c.Changed = append(c.Changed, Change{Name: e.Name, Fields: fields, Entry: e})
		}
	}
	for _, e := range before {
		if !seen[e.Name] {
			c.Removed = append(c.Removed, e)
		}
	}
	return c
}

func changedFields(before, after Entry) []FieldChange {
	var fields []FieldChange
	for _, f := range entryFields {
		from, to := f.value(before), f.value(after)
		if !sameJSON(from, to) {
			fields = append(fields, FieldChange{Field: f.name, From: from, To: to})
		}
	}
	return fields
}

// Empty reports whether nothing changed.
func (c Changes) Empty() bool {
	return len(c.Added) == 0 && len(c.Removed) == 0 && len(c.Changed) == 0
}

// Summary says in one line what changed, naming Subprocessors and fields only.
func (c Changes) Summary() string {
	var parts []string
	if len(c.Added) > 0 {
		parts = append(parts, "added "+strings.Join(entryNames(c.Added), ", "))
	}
	if len(c.Removed) > 0 {
		parts = append(parts, "removed "+strings.Join(entryNames(c.Removed), ", "))
	}
	for _, ch := range c.Changed {
		names := make([]string, 0, len(ch.Fields))
		for _, f := range ch.Fields {
			names = append(names, f.Field)
		}
		parts = append(parts, fmt.Sprintf("changed %s (%s)", ch.Name, strings.Join(names, ", ")))
	}
	if len(parts) == 0 {
		return "no changes"
	}
	return strings.Join(parts, "; ")
}

func entryNames(entries []Entry) []string {
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name)
	}
	return names
}

// nonNil makes an absent list and an empty one the same value, in the diff and in JSON.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func sameJSON(a, b any) bool {
	x, errA := json.Marshal(a)
	y, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(x) == string(y)
}
