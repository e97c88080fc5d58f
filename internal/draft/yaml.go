package draft

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/lethe-operator/lethe/internal/plan"
)

// Guesses are marked with YAML comments next to the line they are about: a comment stays
// beside its guess while a person edits the file, and goes when they rewrite the line. A
// list of guesses elsewhere (an annotation) would go stale with the first edit.
const guessMark = "guess: "

// maxTables and maxColumns are the DataMap API's limits (api/v1alpha1).
const (
	maxTables  = 64
	maxColumns = 64
)

// HashKeySecret is the Secret name a draft proposes for the hash strategy's key.
func (d *Draft) HashKeySecret() string { return d.opts.Name + "-hash-key" }

// YAML renders the draft as a DataMap manifest with comments.
func (d *Draft) YAML() []byte {
	doc := &yaml.Node{Kind: yaml.DocumentNode, HeadComment: d.header(), Content: []*yaml.Node{d.manifest()}}
	doc.Content[0].FootComment = d.footer()
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(doc); err != nil {
		// The nodes are built here from strings only: encoding cannot fail.
		panic(fmt.Sprintf("draft: encode YAML: %v", err))
	}
	_ = enc.Close()
	return buf.Bytes()
}

func (d *Draft) header() string {
	lines := []string{
		"A DataMap drafted by Lethe from the catalog of " + d.opts.Source + ".",
		"Lethe read names, types and keys only, never a row. Every link is a foreign key of the",
		`database; everything marked "guess" was guessed from names and types: review it,`,
		"then apply the DataMap and let the TenantDatabase verify it.",
		fmt.Sprintf("%d tables seen: %d described, %d with personal-looking columns not linked, %d without personal data, %d not describable.",
			d.Seen, len(d.Tables), len(d.Unlinked), len(d.Plain), len(d.Undescribable)),
		fmt.Sprintf("%d guesses to review.", d.Guesses()),
	}
	if len(d.Tables) > maxTables {
		lines = append(lines, fmt.Sprintf("WARNING: a DataMap takes at most %d tables and this draft has %d: keep the ones that matter.", maxTables, len(d.Tables)))
	}
	if !d.hasSubject() {
		lines = append(lines, "WARNING: no table looked like it holds the data subjects: give one identifiers.")
	}
	return strings.Join(lines, "\n")
}

func (d *Draft) hasSubject() bool {
	for _, t := range d.Tables {
		if t.Subject != "" {
			return true
		}
	}
	return false
}

func (d *Draft) footer() string {
	var lines []string
	section := func(title string, notes []Note) {
		if len(notes) == 0 {
			return
		}
		lines = append(lines, "", title)
		for _, n := range notes {
			if n.Text == "" {
				lines = append(lines, "  "+n.Table)
				continue
			}
			// A note's further lines are indented under the table's.
			lines = append(lines, "  "+n.Table+": "+strings.ReplaceAll(n.Text, "\n", "\n    "))
		}
	}
	section("Tables with personal-looking columns that the DataMap cannot reach:", d.Unlinked)
	section("Tables without personal data (seen, left out):", d.Plain)
	section("Tables a DataMap cannot describe:", d.Undescribable)
	return strings.TrimPrefix(strings.Join(lines, "\n"), "\n")
}

func (d *Draft) manifest() *yaml.Node {
	meta := []*yaml.Node{str("name"), str(d.opts.Name)}
	if d.opts.Namespace != "" {
		meta = append(meta, str("namespace"), str(d.opts.Namespace))
	}
	tables := &yaml.Node{Kind: yaml.SequenceNode}
	for _, t := range d.Tables {
		tables.Content = append(tables.Content, d.tableNode(t))
	}
	spec := block(str("tables"), tables)
	if d.UsesHash() {
		ref := flow(str("name"), str(d.HashKeySecret()), str("key"), str("key"))
		ref.LineComment = guessMark + "hash needs an HMAC key: create this Secret with a random key, the same for every database"
		spec.Content = append(spec.Content, str("hashKeySecretRef"), ref)
	}
	return block(str("apiVersion"), str("privacy.lethe.dev/v1alpha1"), str("kind"), str("DataMap"),
		str("metadata"), block(meta...), str("spec"), spec)
}

func (d *Draft) tableNode(t *Table) *yaml.Node {
	tableName := nameNode(t.Name)
	n := block(str("name"), tableName, str("primaryKey"), names(t.PrimaryKey))
	if len(t.Notes) > 0 {
		n.HeadComment = strings.Join(t.Notes, "\n")
	}
	if t.Subject != "" {
		tableName.LineComment = guessMark + "holds the data subjects: " + t.Subject
		ids := flow()
		for _, id := range t.Identifiers {
			ids.Content = append(ids.Content, str(id.Type), nameNode(id.Column))
		}
		ids.LineComment = guessMark + "identity types and their columns"
		n.Content = append(n.Content, str("identifiers"), ids)
	}
	if t.Link != nil {
		key, via := linkNode(t.Link)
		if t.LinkChoice != "" {
			via.LineComment += "; " + guessMark + t.LinkChoice
		}
		n.Content = append(n.Content, str(key), via)
	}
	if len(t.Columns) > 0 {
		cols := &yaml.Node{Kind: yaml.SequenceNode}
		for i, c := range t.Columns {
			col := columnNode(c)
			if i == maxColumns {
				col.HeadComment = fmt.Sprintf("WARNING: a DataMap table takes at most %d columns", maxColumns)
			}
			cols.Content = append(cols.Content, col)
		}
		n.Content = append(n.Content, str("columns"), cols)
	}
	return n
}

// linkNode is the YAML of one catalog foreign key as a link, and the key it goes under:
// the one place a foreign key becomes DataMap YAML. In both directions columns are the
// referencing side and referencedColumns the key side, as in SQL: subjectVia (this
// table's columns reference its parent's) and referencedBy (a described table's columns
// reference this table's).
func linkNode(l *Link) (string, *yaml.Node) {
	fk := l.FK
	n := flow(str("table"), nameNode(l.Next().Name),
		str("columns"), names(columnNames(fk.Columns)), str("referencedColumns"), names(columnNames(fk.RefColumns)))
	n.LineComment = "foreign key " + fk.Name
	if l.ReferencedBy {
		return "referencedBy", n
	}
	return "subjectVia", n
}

func columnNode(c Column) *yaml.Node {
	n := flow(str("name"), nameNode(c.Name), str("category"), str(c.Category), str("mask"), maskNode(c.Mask))
	n.LineComment = guessMark + c.Why
	return n
}

func maskNode(m plan.Mask) *yaml.Node {
	n := flow(str("strategy"), str(m.Strategy))
	if m.To != "" {
		n.Content = append(n.Content, str("to"), str(m.To))
	}
	if m.Width != 0 {
		n.Content = append(n.Content, str("width"), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(m.Width)})
	}
	return n
}

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// nameNode is a table or column name. Names a YAML 1.1 reader (kubectl's) takes for a
// boolean or null are quoted.
func nameNode(s string) *yaml.Node {
	n := str(s)
	switch strings.ToLower(s) {
	case "y", "yes", "n", "no", "true", "false", "on", "off", "null":
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

func names(list []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, s := range list {
		n.Content = append(n.Content, nameNode(s))
	}
	return n
}

func block(kv ...*yaml.Node) *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Content: kv} }

func flow(kv ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle, Content: kv}
}
