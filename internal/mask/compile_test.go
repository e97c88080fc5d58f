package mask

import (
	"errors"
	"strings"
	"testing"

	"github.com/lethe-operator/lethe/internal/plan"
)

var testKey = []byte("test key: not a secret")

func TestCompileRefusesWhatWouldBreakTheColumn(t *testing.T) {
	text := Column{Kind: KindText, Nullable: true}
	tests := []struct {
		name   string
		mask   plan.Mask
		col    Column
		reason string
	}{
		{"unknown strategy", plan.Mask{Strategy: "shuffle"}, text, `unknown strategy "shuffle"`},
		{"foreign key", plan.Mask{Strategy: plan.StrategyHash}, Column{Kind: KindText, References: true}, "hash on a foreign-key column"},
		{"referenced key", plan.Mask{Strategy: plan.StrategyNullify}, Column{Kind: KindInteger, Nullable: true, Referenced: true}, "nullify on a column other rows reference"},
		{"nullify NOT NULL foreign key", plan.Mask{Strategy: plan.StrategyNullify}, Column{Kind: KindInteger, References: true}, "nullify on NOT NULL column"},
		{"nullify NOT NULL", plan.Mask{Strategy: plan.StrategyNullify}, Column{Kind: KindText}, "nullify on NOT NULL column"},
		{"redact non-text", plan.Mask{Strategy: plan.StrategyRedact}, Column{Kind: KindInteger}, "redact on non-text column"},
		{"redact unique", plan.Mask{Strategy: plan.StrategyRedact}, Column{Kind: KindText, Unique: true}, "redact on UNIQUE column"},
		{"redact too long", plan.Mask{Strategy: plan.StrategyRedact}, Column{Kind: KindText, MaxLength: 7}, "redact constant of 8 characters longer than varchar(7)"},
		{"redact counts characters", plan.Mask{Strategy: plan.StrategyRedact, Value: "ÉÉÉ"}, Column{Kind: KindText, MaxLength: 2}, "redact constant of 3 characters longer than varchar(2)"},
		{"hash non-text", plan.Mask{Strategy: plan.StrategyHash}, Column{Kind: KindDate}, "hash on non-text column"},
		{"hash too long", plan.Mask{Strategy: plan.StrategyHash}, Column{Kind: KindText, MaxLength: 33}, "hash needs 34 characters, longer than varchar(33)"},
		{"fakeEmail non-text", plan.Mask{Strategy: plan.StrategyFakeEmail}, Column{Kind: KindInteger}, "fakeEmail on non-text column"},
		{"fakeEmail too long", plan.Mask{Strategy: plan.StrategyFakeEmail}, Column{Kind: KindText, MaxLength: 39}, "fakeEmail needs 40 characters, longer than varchar(39)"},
		{"generalize unknown", plan.Mask{Strategy: plan.StrategyGeneralize, To: "decade"}, Column{Kind: KindDate}, `generalize to unknown target "decade"`},
		{"generalize missing target", plan.Mask{Strategy: plan.StrategyGeneralize}, Column{Kind: KindDate}, `generalize to unknown target ""`},
		{"year on text", plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeYear}, text, "generalize to year on non-date column"},
		{"month on integer", plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeMonth}, Column{Kind: KindInteger}, "generalize to month on non-date column"},
		{"year on unique", plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeYear}, Column{Kind: KindDate, Unique: true}, "generalize to year on UNIQUE column"},
		{"bucket on date", plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeBucket, Width: 10}, Column{Kind: KindDate}, "generalize to bucket on non-numeric column"},
		{"bucket on float", plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeBucket, Width: 10}, Column{Kind: KindOther}, "generalize to bucket on non-numeric column"},
		{"bucket without width", plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeBucket}, Column{Kind: KindInteger}, "generalize to bucket needs a width > 0"},
		{"bucket negative width", plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeBucket, Width: -5}, Column{Kind: KindDecimal}, "generalize to bucket needs a width > 0"},
		{"bucket on unique", plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeBucket, Width: 10}, Column{Kind: KindInteger, Unique: true}, "generalize to bucket on UNIQUE column"},
		{"network on integer", plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeNetwork}, Column{Kind: KindInteger}, "generalize to network on a column that is neither text nor inet"},
		{"network width too large", plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeNetwork, Width: 33}, text, "IPv4 width 33 is not between 1 and 32"},
		{"network width negative", plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeNetwork, Width: -1}, Column{Kind: KindInet}, "IPv4 width -1 is not between 1 and 32"},
		{"network on unique", plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeNetwork}, Column{Kind: KindInet, Unique: true}, "generalize to network on UNIQUE column"},
		{"prefix on integer", plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizePrefix, Width: 3}, Column{Kind: KindInteger}, "generalize to prefix on non-text column"},
		{"prefix without width", plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizePrefix}, text, "generalize to prefix needs a width > 0"},
		{"prefix on unique", plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizePrefix, Width: 3}, Column{Kind: KindText, Unique: true}, "generalize to prefix on UNIQUE column"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Compile(tt.mask, tt.col, testKey)
			if err == nil {
				t.Fatalf("Compile = %T, want an error saying %q", m, tt.reason)
			}
			if !errors.Is(err, ErrIncompatible) {
				t.Errorf("error %v does not wrap ErrIncompatible", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not say %q", err, tt.reason)
			}
		})
	}
}

func TestCompileHashWithoutKeyIsAConfigurationError(t *testing.T) {
	for _, key := range [][]byte{nil, {}} {
		_, err := Compile(plan.Mask{Strategy: plan.StrategyHash}, Column{Kind: KindText}, key)
		if !errors.Is(err, ErrMissingKey) || errors.Is(err, ErrIncompatible) {
			t.Errorf("Compile(hash, key %q) = %v, want ErrMissingKey only", key, err)
		}
	}
}

func TestCompileAcceptsWhatFits(t *testing.T) {
	tests := []struct {
		name string
		mask plan.Mask
		col  Column
	}{
		{"keep on a foreign key", plan.Mask{Strategy: plan.StrategyKeep}, Column{Kind: KindInteger, References: true, Referenced: true, Unique: true}},
		{"nullify a nullable foreign key", plan.Mask{Strategy: plan.StrategyNullify}, Column{Kind: KindInteger, Nullable: true, References: true}},
		{"nullify any kind", plan.Mask{Strategy: plan.StrategyNullify}, Column{Kind: KindInet, Nullable: true}},
		{"redact at the limit", plan.Mask{Strategy: plan.StrategyRedact}, Column{Kind: KindText, MaxLength: 8}},
		{"redact unlimited", plan.Mask{Strategy: plan.StrategyRedact, Value: strings.Repeat("x", 500)}, Column{Kind: KindText}},
		{"hash at the limit", plan.Mask{Strategy: plan.StrategyHash}, Column{Kind: KindText, MaxLength: 34}},
		{"hash on unique", plan.Mask{Strategy: plan.StrategyHash}, Column{Kind: KindText, Unique: true}},
		{"fakeEmail at the limit on unique", plan.Mask{Strategy: plan.StrategyFakeEmail}, Column{Kind: KindText, MaxLength: 40, Unique: true}},
		{"month on timestamp", plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeMonth}, Column{Kind: KindTimestamp}},
		{"bucket on decimal", plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeBucket, Width: 5}, Column{Kind: KindDecimal}},
		{"network default width on inet", plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeNetwork}, Column{Kind: KindInet}},
		{"network /32 on text", plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeNetwork, Width: 32}, Column{Kind: KindText}},
		{"prefix on text", plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizePrefix, Width: 2}, Column{Kind: KindText, MaxLength: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Compile(tt.mask, tt.col, testKey)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if got, want := m.Keeps(), tt.mask.Strategy == plan.StrategyKeep; got != want {
				t.Errorf("Keeps() = %v, want %v", got, want)
			}
		})
	}
}

func TestSQLRejectsUnknownDialect(t *testing.T) {
	masks := []struct {
		mask plan.Mask
		col  Column
	}{
		{plan.Mask{Strategy: plan.StrategyKeep}, Column{Kind: KindText}},
		{plan.Mask{Strategy: plan.StrategyNullify}, Column{Kind: KindText, Nullable: true}},
		{plan.Mask{Strategy: plan.StrategyRedact}, Column{Kind: KindText}},
		{plan.Mask{Strategy: plan.StrategyHash}, Column{Kind: KindText}},
		{plan.Mask{Strategy: plan.StrategyFakeEmail}, Column{Kind: KindText}},
		{plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeYear}, Column{Kind: KindDate}},
		{plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeBucket, Width: 2}, Column{Kind: KindInteger}},
		{plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeNetwork}, Column{Kind: KindText}},
		{plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizePrefix, Width: 2}, Column{Kind: KindText}},
	}
	for _, tt := range masks {
		m, err := Compile(tt.mask, tt.col, testKey)
		if err != nil {
			t.Fatalf("Compile(%+v): %v", tt.mask, err)
		}
		bound := 0
		if _, err := m.SQL("oracle", `"c"`, `"pk"`, func(any) string { bound++; return "?" }); err == nil {
			t.Errorf("%+v: SQL for an unknown dialect did not fail", tt.mask)
		}
	}
}

func TestNetworkOnInetIsPostgresOnly(t *testing.T) {
	m, err := Compile(plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeNetwork}, Column{Kind: KindInet}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.SQL(MySQL, "`c`", "`pk`", func(any) string { return "?" }); err == nil {
		t.Error("SQL(MySQL) on an inet column did not fail")
	}
}

// TestSQLHoldsNoValues checks the SQL text carries no value from the plan or the key:
// every one of them must arrive through bind.
func TestSQLHoldsNoValues(t *testing.T) {
	const marker = "MARKER-9f3a"
	masks := []struct {
		mask plan.Mask
		col  Column
	}{
		{plan.Mask{Strategy: plan.StrategyRedact, Value: marker}, Column{Kind: KindText}},
		{plan.Mask{Strategy: plan.StrategyHash}, Column{Kind: KindText}},
		{plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeBucket, Width: 987654}, Column{Kind: KindInteger}},
		{plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizePrefix, Width: 987654}, Column{Kind: KindText}},
		{plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeNetwork, Width: 17}, Column{Kind: KindText}},
		{plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeNetwork, Width: 17}, Column{Kind: KindInet}},
	}
	for _, d := range []Dialect{Postgres, MySQL} {
		for _, tt := range masks {
			m, err := Compile(tt.mask, tt.col, []byte(marker))
			if err != nil {
				t.Fatal(err)
			}
			var bound []any
			sql, err := m.SQL(d, "COL", "PK", func(v any) string { bound = append(bound, v); return "?" })
			if err != nil {
				continue // inet on MySQL
			}
			for _, forbidden := range []string{marker, "987654", "17", "REDACTED", "h:", "anonymized", "[0-9"} {
				if strings.Contains(sql, forbidden) {
					t.Errorf("%s %+v: SQL contains %q: %s", d, tt.mask, forbidden, sql)
				}
			}
			if len(bound) == 0 {
				t.Errorf("%s %+v: nothing bound", d, tt.mask)
			}
		}
	}
}

func TestChangedSQLIsNullSafe(t *testing.T) {
	if got, want := ChangedSQL(Postgres, `"c"`, "$1::text"), `"c" IS DISTINCT FROM ($1::text)`; got != want {
		t.Errorf("Postgres: %s, want %s", got, want)
	}
	if got, want := ChangedSQL(MySQL, "`c`", "?"), "NOT (`c` <=> (?))"; got != want {
		t.Errorf("MySQL: %s, want %s", got, want)
	}
}
