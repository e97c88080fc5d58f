package draft

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lethe-operator/lethe/internal/engine"
)

// candidate is one catalog table while the draft is made.
type candidate struct {
	cat *engine.Table
	// key is the primary key, or else a NOT NULL unique key.
	key []*engine.Column
	// problem says why a DataMap cannot hold the table ("" when it can).
	problem string
	person  bool
	// email is the column that would identify the table's rows as subjects.
	email   *engine.Column
	subject string
	// dist is the number of foreign-key steps to the nearest subject table (-1: none).
	dist int
	// link is the table's way to its subject; fallback a link one step nearer to one.
	link, fallback *Link
	choice         string
	// strong is set when a column looks personal whatever the table is tied to.
	strong  bool
	columns []Column
	notes   []string
	include bool
}

// builder makes a draft from a catalog.
type builder struct {
	order  []*candidate
	tables map[*engine.Table]*candidate
}

func newBuilder(cat *engine.Catalog) *builder {
	b := &builder{tables: map[*engine.Table]*candidate{}}
	for _, name := range cat.TableNames() {
		t, _ := cat.Table(name)
		c := &candidate{cat: t, dist: -1, person: personTable(name)}
		c.key, c.problem = keyOf(t)
		c.email = emailColumn(t, c.person)
		b.order = append(b.order, c)
		b.tables[t] = c
	}
	for _, c := range b.order {
		cols, _ := b.personalColumns(c)
		c.strong = len(cols) > 0
	}
	return b
}

// keyOf returns the key Lethe would page the table by, or why the table cannot be in a
// DataMap.
func keyOf(t *engine.Table) ([]*engine.Column, string) {
	if !identifier.MatchString(t.Name) {
		return nil, "a DataMap names tables with letters, digits and underscores only (at most 63)"
	}
	key := t.PrimaryKey
	if len(key) == 0 {
		for _, u := range t.Unique {
			if t.IsKey(u) {
				key = u
				break
			}
		}
	}
	switch {
	case len(key) == 0:
		return nil, "it has no primary key or NOT NULL unique key, which Lethe needs to work through its rows"
	case len(key) > 8:
		return nil, "its key has more than the 8 columns a DataMap takes"
	case !allNamed(key):
		return nil, "a key column's name is not one a DataMap can hold"
	}
	return key, ""
}

func allNamed(cols []*engine.Column) bool {
	for _, c := range cols {
		if !identifier.MatchString(c.Name) {
			return false
		}
	}
	return true
}

// emailColumn is the column that would identify the table's rows: a unique e-mail
// column, else one named plainly "email".
func emailColumn(t *engine.Table, person bool) *engine.Column {
	var found *engine.Column
	for _, col := range t.Columns {
		c := clueFor(col, person)
		if c != emailClue || !identifier.MatchString(col.Name) || (t.References(col) || t.Referenced(col)) {
			continue
		}
		if t.IsUnique(col) {
			return col
		}
		if found == nil || strings.EqualFold(col.Name, "email") {
			found = col
		}
	}
	return found
}

// rank orders the tables that could hold subjects: rows that look like people count
// more than a unique e-mail column, which counts more than nothing.
func (c *candidate) rank() int {
	if c.email == nil || c.problem != "" {
		return 0
	}
	r := 0
	if c.person {
		r += 2
	}
	if c.cat.IsUnique(c.email) {
		r++
	}
	return r
}

// chooseSubjects takes as subject tables those with an identifying e-mail column, unless
// one must have a row in another such table that ranks at least as high (a user's
// secondary e-mail addresses belong to the user).
func (b *builder) chooseSubjects() {
	for _, c := range b.order {
		r := c.rank()
		if r == 0 {
			continue
		}
		owned := false
		for _, fk := range c.cat.ForeignKeys {
			if parent := b.tables[fk.RefTable]; b.usable(fk) && !anyNullable(fk.Columns) && parent.rank() >= r {
				owned = true
			}
		}
		if owned {
			continue
		}
		if c.cat.IsUnique(c.email) {
			c.subject = fmt.Sprintf("its e-mail column %s is unique", c.email.Name)
		} else {
			c.subject = fmt.Sprintf("its rows look like people and it has an e-mail column, %s", c.email.Name)
		}
	}
}

// usable says whether a foreign key can be a subjectVia link: it joins two tables a
// DataMap can hold, by named columns, and lands on a key of the referenced table.
func (b *builder) usable(fk *engine.ForeignKey) bool {
	from, to := b.tables[fk.Table], b.tables[fk.RefTable]
	return fk.Table != fk.RefTable && from.problem == "" && to.problem == "" &&
		len(fk.Columns) <= 8 && allNamed(fk.Columns) && allNamed(fk.RefColumns) && fk.RefTable.IsKey(fk.RefColumns)
}

// measure sets every table's distance to the nearest subject table along foreign keys
// (child → parent), breadth first from the subject tables.
func (b *builder) measure() {
	var queue []*candidate
	for _, c := range b.order {
		c.dist = -1
		if c.subject != "" {
			c.dist = 0
			queue = append(queue, c)
		}
	}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, l := range b.linksTo(cur) {
			if from := b.tables[l.From()]; from.dist == -1 {
				from.dist = cur.dist + 1
				queue = append(queue, from)
			}
		}
	}
}

// linksTo lists the links by which other tables could reach c: the foreign keys of its
// children (subjectVia) and those from c to tables holding personal
// data (a lookup table such as countries is never reached that way).
func (b *builder) linksTo(c *candidate) []*Link {
	var out []*Link
	for _, fk := range c.cat.ReferencedBy {
		if b.usable(fk) {
			out = append(out, &Link{FK: fk})
		}
	}
	{
		for _, fk := range c.cat.ForeignKeys {
			if b.usable(fk) && b.tables[fk.RefTable].strong && b.tables[fk.RefTable].subject == "" {
				out = append(out, &Link{FK: fk, ReferencedBy: true})
			}
		}
	}
	return out
}

// linksFrom lists the links c could reach a tied table by: its own foreign keys
// (subjectVia) first, then those of tied tables that refer to it.
func (b *builder) linksFrom(c *candidate) []*Link {
	var out []*Link
	for _, fk := range c.cat.ForeignKeys {
		if b.usable(fk) && b.tables[fk.RefTable].dist >= 0 {
			out = append(out, &Link{FK: fk})
		}
	}
	if c.strong {
		for _, fk := range c.cat.ReferencedBy {
			if b.usable(fk) && b.tables[fk.Table].dist >= 0 {
				out = append(out, &Link{FK: fk, ReferencedBy: true})
			}
		}
	}
	return out
}

// linkTables picks each linked table's subjectVia, then finds the personal columns, and
// adds tables nothing links to that hold e-mail addresses as subject tables of their own.
func (b *builder) linkTables() {
	for {
		for _, c := range b.order {
			c.link, c.fallback, c.choice = b.chooseLink(c)
		}
		b.breakLoops()
		for _, c := range b.order {
			c.columns, c.notes = b.personalColumns(c)
		}
		if !b.addLoneSubjects() {
			break
		}
		b.measure()
	}
}

// chooseLink picks the link a tied table reaches a subject by. subjectVia comes before
// referencedBy (a row the subject owns before a row the subject points at), then a NOT
// NULL foreign key, even on a longer way: a row that must have a parent belongs to it (a
// ticket's messages belong to the ticket, not to the staff member who may have written
// one). Then the shortest way, then straight to a subject table. fallback is the best
// link one step nearer to a subject, which can never loop.
func (b *builder) chooseLink(c *candidate) (link, fallback *Link, choice string) {
	if c.dist <= 0 {
		return nil, nil, ""
	}
	options := b.linksFrom(c)
	slices.SortStableFunc(options, func(x, y *Link) int {
		if x.ReferencedBy != y.ReferencedBy {
			return boolOrder(x.ReferencedBy)
		}
		if nx, ny := anyNullable(x.FK.Columns), anyNullable(y.FK.Columns); nx != ny {
			return boolOrder(nx)
		}
		if dx, dy := b.tables[x.Next()].dist, b.tables[y.Next()].dist; dx != dy {
			return dx - dy
		}
		if sx, sy := b.tables[x.Next()].subject != "", b.tables[y.Next()].subject != ""; sx != sy {
			return boolOrder(sy)
		}
		return strings.Compare(x.FK.Name, y.FK.Name)
	})
	for _, l := range options {
		if b.tables[l.Next()].dist == c.dist-1 {
			fallback = l
			break
		}
	}
	if len(options) > 1 {
		var others []string
		for _, l := range options[1:] {
			others = append(others, describeFK(l.FK))
		}
		choice = "chosen over " + strings.Join(others, ", ")
	}
	return options[0], fallback, choice
}

// breakLoops replaces a link that leads round in a circle by the table's fallback, until
// every chain ends at a subject table.
func (b *builder) breakLoops() {
	for changed := true; changed; {
		changed = false
		for _, c := range b.order {
			seen := map[*candidate]bool{}
			for cur := c; cur != nil && cur.link != nil; cur = b.tables[cur.link.Next()] {
				if seen[cur] {
					if cur.link != cur.fallback {
						cur.link, changed = cur.fallback, true
					}
					break
				}
				seen[cur] = true
			}
		}
	}
}

// boolOrder sorts false before true.
func boolOrder(b bool) int {
	if b {
		return 1
	}
	return -1
}

func anyNullable(cols []*engine.Column) bool {
	for _, c := range cols {
		if c.Nullable {
			return true
		}
	}
	return false
}

// personalColumns returns the columns that look personal and a mask for each, with notes
// on those left alone. Weak clues count only in tables tied to a subject.
func (b *builder) personalColumns(c *candidate) ([]Column, []string) {
	if c.problem != "" {
		return nil, nil
	}
	tied := c.dist >= 0
	var cols []Column
	var notes []string
	for _, col := range c.cat.Columns {
		cl := clueFor(col, c.person)
		if cl == nil || (cl.weak && !tied) {
			continue
		}
		switch {
		case !identifier.MatchString(col.Name):
			notes = append(notes, fmt.Sprintf("%q looks like %s, but a DataMap cannot name it", col.Name, cl.label))
		case slices.Contains(c.key, col) || c.cat.InPrimaryKey(col) || c.cat.References(col) || c.cat.Referenced(col):
			notes = append(notes, fmt.Sprintf("%s looks like %s but is a key or foreign-key column: left unmasked, Lethe finds rows by it", col.Name, cl.label))
		default:
			m, ok := fittingMask(c.cat, col, cl)
			if !ok {
				notes = append(notes, fmt.Sprintf("%s looks like %s, but no strategy fits its type and constraints (%s): mask it by hand", col.Name, cl.label, col.Type))
				continue
			}
			cols = append(cols, Column{Name: col.Name, Category: cl.category, Mask: m, Why: cl.label})
		}
	}
	return cols, notes
}

// addLoneSubjects makes subject tables of the tables that hold e-mail addresses and that
// no linked table references: their rows are likely people of their own (newsletter
// sign-ups, contact-form entries). It reports whether it added one.
func (b *builder) addLoneSubjects() bool {
	added := false
	for _, c := range b.order {
		if c.dist >= 0 || c.email == nil || c.problem != "" || len(c.columns) == 0 || b.referencedByTied(c) {
			continue
		}
		c.subject = fmt.Sprintf("nothing links it to another subject table and it holds e-mail addresses (%s): its rows are likely people of their own", c.email.Name)
		added = true
	}
	return added
}

func (b *builder) referencedByTied(c *candidate) bool {
	for _, fk := range c.cat.ReferencedBy {
		if fk.Table != c.cat && b.tables[fk.Table].dist >= 0 {
			return true
		}
	}
	return false
}

// draft collects the result: the tables to describe (subject tables, tied tables with
// personal columns, and the tables on their links) and notes on every other table.
func (b *builder) draft() *Draft {
	d := &Draft{Seen: len(b.order)}
	for _, c := range b.order {
		if c.subject != "" || (c.dist > 0 && len(c.columns) > 0) {
			for cur := c; cur != nil && !cur.include; {
				cur.include = true
				if cur.link == nil {
					break
				}
				cur = b.tables[cur.link.Next()]
			}
		}
	}
	var described []*candidate
	for _, c := range b.order {
		switch {
		case c.include:
			described = append(described, c)
		case c.problem != "":
			d.Undescribable = append(d.Undescribable, Note{Table: c.cat.Name, Text: c.problem})
		case len(c.columns) > 0 || len(c.notes) > 0:
			d.Unlinked = append(d.Unlinked, Note{Table: c.cat.Name, Text: b.unlinkedNote(c)})
		case c.dist > 0:
			d.Plain = append(d.Plain, Note{Table: c.cat.Name, Text: "linked to " + b.root(c) + ", no personal column found"})
		default:
			d.Plain = append(d.Plain, Note{Table: c.cat.Name})
		}
	}
	slices.SortStableFunc(described, func(x, y *candidate) int { return x.dist - y.dist })
	for _, c := range described {
		d.Tables = append(d.Tables, b.table(c))
	}
	return d
}

// root is the subject table a linked table's chain ends at.
func (b *builder) root(c *candidate) string {
	for c.link != nil {
		c = b.tables[c.link.Next()]
	}
	return c.cat.Name
}

func (b *builder) table(c *candidate) *Table {
	t := &Table{Name: c.cat.Name, PrimaryKey: columnNames(c.key), Subject: c.subject, Link: c.link, LinkChoice: c.choice,
		Columns: c.columns, Notes: c.notes}
	if c.subject != "" {
		t.Identifiers = append(t.Identifiers, Identifier{Type: "email", Column: c.email.Name})
		if len(c.key) == 1 {
			t.Identifiers = append(t.Identifiers, Identifier{Type: identityType(c.cat.Name), Column: c.key[0].Name})
		}
	}
	for _, fk := range c.cat.ForeignKeys {
		switch target := b.tables[fk.RefTable]; {
		case fk.RefTable == c.cat:
			t.Notes = append(t.Notes, fmt.Sprintf("%s refers to this table itself: subjectVia cannot describe a self-reference", describeFK(fk)))
		case (c.link == nil || fk != c.link.FK) && target.subject != "" && !strings.Contains(c.choice, fk.Name):
			t.Notes = append(t.Notes, fmt.Sprintf("%s refers to subject table %s: a link to another subject's row, not described", describeFK(fk), target.cat.Name))
		}
	}
	return t
}

// unlinkedNote says why a table with personal-looking columns is not in the draft, and
// names the described tables that reference it: candidates for a link in the other
// direction (the subject's row refers to this one).
func (b *builder) unlinkedNote(c *candidate) string {
	var found []string
	for _, col := range c.columns {
		found = append(found, col.Name)
	}
	text := "no foreign key leads from it to a subject table"
	if len(found) > 0 {
		text = fmt.Sprintf("holds what looks personal (%s), but %s", strings.Join(found, ", "), text)
	}
	for _, fk := range c.cat.ReferencedBy {
		if from := b.tables[fk.Table]; from.include && fk.Table != c.cat {
			text += "\n" + reverseLinkNote(fk)
		}
	}
	for _, n := range c.notes {
		text += "\n" + n
	}
	return text
}

// reverseLinkNote describes a foreign key from a described table to a table that
// reaches no subject: the described row refers to a personal row (a customer's
// address). Without referencedBy, the draft names the candidate link.
func reverseLinkNote(fk *engine.ForeignKey) string {
	return fmt.Sprintf("referenced by %s.%s (foreign key %s): a candidate link from a mapped row to this one, which this DataMap API cannot describe",
		fk.Table.Name, strings.Join(columnNames(fk.Columns), ","), fk.Name)
}

func describeFK(fk *engine.ForeignKey) string {
	return fmt.Sprintf("%s (%s → %s)", fk.Name, strings.Join(columnNames(fk.Columns), ", "), fk.RefTable.Name)
}

func columnNames(cols []*engine.Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}

// identityType names the identity type of a subject table's key: customers → customerId.
func identityType(table string) string {
	w := split(table).list
	if len(w) == 0 {
		return "subjectId"
	}
	w[len(w)-1] = singular(w[len(w)-1])
	var s strings.Builder
	for i, part := range w {
		if i == 0 {
			s.WriteString(part)
		} else {
			s.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	name := s.String()
	if name[0] < 'a' || name[0] > 'z' {
		name = "t" + name
	}
	if len(name) > 30 {
		name = name[:30]
	}
	return name + "Id"
}
