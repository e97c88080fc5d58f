// Package draft proposes a DataMap from a database's catalog: which tables hold the data
// subjects, how every other table with personal data links to them (only along foreign
// keys), and which columns look personal, with a category and a mask that Lethe's own
// schema verification accepts on that column.
//
// It reads the catalog only — names, types, keys — never a row: a draft holds no
// personal data. Everything taken from names is a guess, and the draft says so next to
// it; what it cannot describe (a table that reaches no data subject, a name a DataMap
// cannot hold) is listed in comments, so the reader knows it was seen.
package draft

import (
	"regexp"

	"github.com/lethe-operator/lethe/internal/engine"
	"github.com/lethe-operator/lethe/internal/plan"
)

// Options name the drafted DataMap.
type Options struct {
	// Name is the DataMap's metadata.name.
	Name string
	// Namespace, when set, is the DataMap's metadata.namespace.
	Namespace string
	// Source describes the database in the draft's first comment.
	Source string
}

// Draft is a proposed DataMap and what was seen while making it.
type Draft struct {
	// Tables are the DataMap's tables: subject tables first, then by distance from them.
	Tables []*Table
	// Unlinked are tables with personal-looking columns that the DataMap cannot reach.
	Unlinked []Note
	// Plain are the tables where nothing personal was found.
	Plain []Note
	// Undescribable are tables whose name or keys a DataMap cannot hold.
	Undescribable []Note
	// Seen is the number of tables in the catalog.
	Seen int
	opts Options
}

// Note is a remark about one table.
type Note struct {
	Table string
	Text  string
}

// Table is one table of the draft.
type Table struct {
	Name       string
	PrimaryKey []string
	// Subject, when set, says why the table is taken to hold the data subjects.
	Subject     string
	Identifiers []Identifier
	// Link is how the table reaches its subject.
	Link *Link
	// LinkChoice, when set, says which other foreign keys could have been the link.
	LinkChoice string
	Columns    []Column
	// Notes are comments on the table: keys left alone, references not described.
	Notes []string
}

// Link is one foreign key on a table's way to its subject: from the table to its parent
// (subjectVia), or from a described table to this one
// (referencedBy).
type Link struct {
	FK           *engine.ForeignKey
	ReferencedBy bool
}

// From is the table whose link this is.
func (l *Link) From() *engine.Table {
	if l.ReferencedBy {
		return l.FK.RefTable
	}
	return l.FK.Table
}

// Next is the table the link leads to, one step nearer to the subject.
func (l *Link) Next() *engine.Table {
	if l.ReferencedBy {
		return l.FK.Table
	}
	return l.FK.RefTable
}

// Identifier is an identity type and the column holding it.
type Identifier struct {
	Type   string
	Column string
}

// Column is a column that looks personal, and how the draft proposes to mask it.
type Column struct {
	Name     string
	Category string
	Mask     plan.Mask
	// Why says what the column seems to hold.
	Why string
}

// identifier is the pattern of a DataMap table or column name (api/v1alpha1.Identifier).
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// Build drafts a DataMap from the catalog.
func Build(cat *engine.Catalog, opts Options) *Draft {
	b := newBuilder(cat)
	b.chooseSubjects()
	b.measure()
	b.linkTables()
	d := b.draft()
	d.opts = opts
	return d
}

// Guesses counts what the draft guessed: subject tables, identifiers, columns, link
// choices and the hash key.
func (d *Draft) Guesses() int {
	n := 0
	for _, t := range d.Tables {
		if t.Subject != "" {
			n += 2 // the table and its identifiers
		}
		if t.LinkChoice != "" {
			n++
		}
		n += len(t.Columns)
	}
	if d.UsesHash() {
		n++
	}
	return n
}

// UsesHash says whether a column is masked with hash, which needs the DataMap's hash key.
func (d *Draft) UsesHash() bool {
	for _, t := range d.Tables {
		for _, c := range t.Columns {
			if c.Mask.Strategy == plan.StrategyHash {
				return true
			}
		}
	}
	return false
}
