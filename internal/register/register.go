// Package register builds the published register of Subprocessors: its entries, a
// content digest, the JSON and Markdown documents, and the diff between two versions.
package register

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
)

// Entry is one Subprocessor as the register publishes it: its spec, normalized so that
// the same facts always give the same bytes.
type Entry struct {
	Name              string   `json:"name"`
	LegalName         string   `json:"legalName"`
	Purpose           string   `json:"purpose"`
	Services          []string `json:"services,omitempty"`
	Country           string   `json:"country"`
	TransferMechanism string   `json:"transferMechanism"`
	DataCategories    []string `json:"dataCategories"`
	DPA               DPA      `json:"dpa"`
	Contact           string   `json:"contact,omitempty"`
	Since             string   `json:"since"`
	Until             string   `json:"until,omitempty"`
}

// DPA is the data processing agreement of an entry.
type DPA struct {
	Reference string `json:"reference"`
	SignedOn  string `json:"signedOn"`
}

// Register is the published document, register.json.
type Register struct {
	// Revision counts content changes; it never goes back.
	Revision int64 `json:"revision"`
	// Digest is "sha256:" and the hex SHA-256 of the entries' JSON.
	Digest string `json:"digest"`
	// PublishedAt is when this revision was first published; zero for revision 0.
	PublishedAt *time.Time `json:"publishedAt,omitempty"`
	// Entries, sorted by name.
	Entries []Entry `json:"entries"`
}

// EntryFor returns the register entry of a Subprocessor.
func EntryFor(sp *privacyv1alpha1.Subprocessor) Entry {
	categories := make([]string, 0, len(sp.Spec.DataCategories))
	for _, c := range sp.Spec.DataCategories {
		categories = append(categories, string(c))
	}
	// Services and categories are sets: sort them so reordering is not a change.
	slices.Sort(categories)
	services := slices.Clone(sp.Spec.Services)
	slices.Sort(services)
	return Entry{
		Name:              sp.Name,
		LegalName:         sp.Spec.LegalName,
		Purpose:           sp.Spec.Purpose,
		Services:          services,
		Country:           sp.Spec.Country,
		TransferMechanism: string(sp.GetTransferMechanism()),
		DataCategories:    categories,
		DPA:               DPA{Reference: sp.Spec.DPA.Reference, SignedOn: string(sp.Spec.DPA.SignedOn)},
		Contact:           sp.Spec.Contact,
		Since:             string(sp.Spec.Since),
		Until:             string(sp.Spec.Until),
	}
}

// Entries returns the entries of the Subprocessors that are not being deleted, sorted by name.
func Entries(subprocessors []privacyv1alpha1.Subprocessor) []Entry {
	entries := []Entry{}
	for i := range subprocessors {
		if subprocessors[i].DeletionTimestamp != nil {
			continue
		}
		entries = append(entries, EntryFor(&subprocessors[i]))
	}
	slices.SortFunc(entries, func(a, b Entry) int { return cmp.Compare(a.Name, b.Name) })
	return entries
}

// Digest returns "sha256:<hex>" of the entries' JSON: the register's content identity.
func Digest(entries []Entry) string {
	if entries == nil {
		entries = []Entry{}
	}
	data, err := json.Marshal(entries)
	if err != nil {
		// Entries hold only strings; marshalling cannot fail.
		panic(fmt.Sprintf("register: marshalling entries: %v", err))
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// JSON returns register.json: indented, with a trailing newline.
func (r Register) JSON() []byte {
	if r.Entries == nil {
		r.Entries = []Entry{}
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("register: marshalling the register: %v", err))
	}
	return append(data, '\n')
}

// Parse reads register.json.
func Parse(data []byte) (Register, error) {
	var r Register
	if err := json.Unmarshal(data, &r); err != nil {
		return Register{}, fmt.Errorf("parsing register.json: %w", err)
	}
	return r, nil
}
