package draft

import (
	"reflect"
	"strings"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
)

// Shape is the DataMap API's shape a draft is written in.
type Shape struct {
	// ReferencedBy: a table can be reached from a described row that refers to it (a
	// customer's address_id), with referencedBy: {table, columns, referencedColumns}.
	// Without it such tables are listed in comments as candidate links.
	ReferencedBy bool
	// FlatSubjectVia: subjectVia is {table, columns, referencedColumns} rather than
	// {columns, references: {table, columns}}.
	FlatSubjectVia bool
}

// APIShape is the shape of the DataMap API this build of Lethe has (api/v1alpha1), read
// from its Go types, so a draft is always one its own API server accepts.
func APIShape() Shape {
	return Shape{
		ReferencedBy:   hasJSONField(reflect.TypeFor[privacyv1alpha1.Table](), "referencedBy"),
		FlatSubjectVia: hasJSONField(reflect.TypeFor[privacyv1alpha1.SubjectVia](), "referencedColumns"),
	}
}

func hasJSONField(t reflect.Type, name string) bool {
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); tag == name {
			return true
		}
	}
	return false
}
