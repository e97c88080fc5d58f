package worker

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lethe-operator/lethe/internal/engine"
	"github.com/lethe-operator/lethe/internal/plan"
)

// A DataMap link is checked against the catalog's foreign keys: a link names the other
// table and, optionally, the columns; the columns come from the one foreign key between
// the two tables when not given, and a link no foreign key backs is refused unless it is
// marked unenforced. The referenced columns must be a key of their table, so that one
// row never reaches several rows through a step that should reach one.

// linkSpec is a table's link with the names of its two sides resolved.
type linkSpec struct {
	plan.Link
	field string // subjectVia or referencedBy
	// from holds the referencing columns, to the referenced key.
	from, to *table
}

// specOf returns t's link, or nil for a subject table. Both links at once is a mismatch.
func specOf(s *schema, t *table, mm *mismatches) *linkSpec {
	via, by := t.spec.SubjectVia, t.spec.ReferencedBy
	if via != nil && by != nil {
		mm.add(t.name(), "", plan.ErrInvalidPlan, "table %q has both subjectVia and referencedBy: a table takes one way to its data subject", t.name())
		return nil
	}
	l, field := via, "subjectVia"
	if l == nil {
		l, field = by, "referencedBy"
	}
	if l == nil {
		return nil
	}
	other, ok := s.byName[l.Table]
	if !ok {
		mm.add(t.name(), "", plan.ErrInvalidPlan, "%s of table %q names table %q, which is not a table of the DataMap in the database", field, t.name(), l.Table)
		return nil
	}
	if other == t {
		mm.add(t.name(), "", plan.ErrInvalidPlan, "%s of table %q names the table itself: describe a self-reference (such as reports_to) as a column", field, t.name())
		return nil
	}
	spec := &linkSpec{Link: *l, field: field, from: t, to: other}
	if field == "referencedBy" {
		spec.from, spec.to = other, t
	}
	return spec
}

// resolveLink sets t's parent and the columns that join t to it.
func resolveLink(s *schema, t *table, mm *mismatches) {
	l := specOf(s, t, mm)
	if l == nil {
		return
	}
	cols, refs, ok := l.columns(mm)
	if !ok {
		return
	}
	if !l.to.cat.IsKey(refs) {
		mm.add(t.name(), "", plan.ErrInvalidPlan,
			"%s of table %q: %s (%s) is neither the primary key nor a NOT NULL unique key of table %q, so one %s row could reach several %s rows: link to a key",
			l.field, t.name(), l.to.name(), columnNames(refs), l.to.name(), l.from.name(), l.to.name())
		return
	}
	t.parent, t.up = l.parentOf(t)
	if t.up {
		t.mine, t.theirs = refs, cols
	} else {
		t.mine, t.theirs = cols, refs
	}
	t.parent.children = append(t.parent.children, t)
}

// parentOf returns the parent of t and whether the link runs up (referencedBy).
func (l *linkSpec) parentOf(t *table) (*table, bool) {
	if l.from == t {
		return l.to, false
	}
	return l.from, true
}

// columns returns the referencing and referenced columns of the link, from the DataMap
// or from the catalog's foreign key, and checks that a foreign key backs them.
func (l *linkSpec) columns(mm *mismatches) (cols, refs []*engine.Column, ok bool) {
	fks := l.from.cat.ForeignKeysTo(l.to.cat)
	subject := l.owner()
	if len(l.Columns) == 0 {
		switch len(fks) {
		case 0:
			mm.add(subject.name(), "", plan.ErrInvalidPlan,
				"%s of table %q: no foreign key runs from table %q to table %q; name the columns, and set unenforced: true if the application keeps this link without one",
				l.field, subject.name(), l.from.name(), l.to.name())
			return nil, nil, false
		case 1:
			return fks[0].Columns, fks[0].RefColumns, true
		default:
			mm.add(subject.name(), "", plan.ErrInvalidPlan, "%s of table %q: %d foreign keys run from table %q to table %q (%s): name the columns of the one that leads to the data subject",
				l.field, subject.name(), len(fks), l.from.name(), l.to.name(), describeForeignKeys(fks))
			return nil, nil, false
		}
	}
	complete := true
	for _, name := range l.Columns {
		c, found := lookup(l.from.cat, name, l.field, mm)
		complete = complete && found
		cols = append(cols, c)
	}
	for _, name := range l.ReferencedColumns {
		c, found := lookup(l.to.cat, name, l.field+" referenced", mm)
		complete = complete && found
		refs = append(refs, c)
	}
	if !complete {
		return nil, nil, false
	}
	if len(refs) > 0 && len(refs) != len(cols) {
		mm.add(subject.name(), "", plan.ErrInvalidPlan, "%s of table %q needs as many columns as referencedColumns (got %d and %d)",
			l.field, subject.name(), len(cols), len(refs))
		return nil, nil, false
	}
	if fk := matchingForeignKey(fks, cols, refs); fk != nil {
		return cols, pairedRefs(fk, cols), true
	}
	if !l.Unenforced {
		mm.add(subject.name(), cols[0].Name, plan.ErrInvalidPlan,
			"%s of table %q: no foreign key of table %q on (%s) references table %q%s; fix the columns, or set unenforced: true if the application keeps this link without a foreign key",
			l.field, subject.name(), l.from.name(), columnNames(cols), l.to.name(), existingForeignKeys(fks))
		return nil, nil, false
	}
	if len(refs) == 0 {
		refs = l.to.pk
		if len(refs) != len(cols) || slices.Contains(refs, nil) {
			mm.add(subject.name(), "", plan.ErrInvalidPlan, "%s of table %q: %d columns cannot reference the %d-column primaryKey of table %q: give referencedColumns",
				l.field, subject.name(), len(cols), len(refs), l.to.name())
			return nil, nil, false
		}
	}
	return cols, refs, true
}

// owner is the table whose DataMap entry declares the link.
func (l *linkSpec) owner() *table {
	if l.field == "referencedBy" {
		return l.to
	}
	return l.from
}

// matchingForeignKey is the foreign key on exactly cols (in any order) that references
// refs pairwise, or any key when refs is empty.
func matchingForeignKey(fks []*engine.ForeignKey, cols, refs []*engine.Column) *engine.ForeignKey {
	for _, fk := range fks {
		if len(fk.Columns) != len(cols) {
			continue
		}
		match := true
		for i, c := range cols {
			j := slices.Index(fk.Columns, c)
			if j < 0 || (len(refs) > 0 && fk.RefColumns[j] != refs[i]) {
				match = false
				break
			}
		}
		if match {
			return fk
		}
	}
	return nil
}

// pairedRefs returns the columns fk references, in the order of cols.
func pairedRefs(fk *engine.ForeignKey, cols []*engine.Column) []*engine.Column {
	out := make([]*engine.Column, len(cols))
	for i, c := range cols {
		out[i] = fk.RefColumns[slices.Index(fk.Columns, c)]
	}
	return out
}

func describeForeignKeys(fks []*engine.ForeignKey) string {
	parts := make([]string, len(fks))
	for i, fk := range fks {
		parts[i] = fmt.Sprintf("(%s) → (%s)", columnNames(fk.Columns), columnNames(fk.RefColumns))
	}
	return strings.Join(parts, "; ")
}

func existingForeignKeys(fks []*engine.ForeignKey) string {
	if len(fks) == 0 {
		return " (there is no foreign key between them)"
	}
	return " (its foreign keys to it: " + describeForeignKeys(fks) + ")"
}

func columnNames(cols []*engine.Column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// reference is one way rows of another table point at rows of a table: a foreign key in
// the catalog or a DataMap link (an unenforced one has no foreign key).
type reference struct {
	from *engine.Table
	// cols of from reference refs of the table, pairwise.
	cols, refs []*engine.Column
	// mapped is from's DataMap table (nil when the DataMap does not describe it).
	mapped *table
	// link is set when this reference is the table's own referencedBy link from its parent.
	link bool
}

// incomingReferences lists every reference to t's rows, each once.
func incomingReferences(s *schema, t *table) []reference {
	var out []reference
	seen := map[string]bool{}
	add := func(from *engine.Table, cols, refs []*engine.Column, link bool) {
		key := from.Quoted
		for _, c := range cols {
			key += "\x00" + c.Quoted
		}
		if seen[key] {
			return
		}
		seen[key] = true
		out = append(out, reference{from: from, cols: cols, refs: refs, mapped: s.byName[from.Name], link: link})
	}
	if t.up && t.parent != nil {
		add(t.parent.cat, t.theirs, t.mine, true)
	}
	for _, c := range t.children {
		if !c.up {
			add(c.cat, c.mine, c.theirs, false)
		}
	}
	for _, fk := range t.cat.ReferencedBy {
		add(fk.Table, fk.Columns, fk.RefColumns, false)
	}
	return out
}
