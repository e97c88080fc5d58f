package mask

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/mail"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lethe-operator/lethe/internal/plan"
)

type goCase struct {
	in     any
	rowKey string
	want   any
}

// checkGoForm applies m to every case, and applies it again to the result: every
// strategy must be idempotent, or a second run of a plan would change data again.
func checkGoForm(t *testing.T, m Masker, cases []goCase) {
	t.Helper()
	for _, c := range cases {
		got, err := m.Apply(c.in, c.rowKey)
		if err != nil {
			t.Errorf("Apply(%#v): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Apply(%#v) = %#v, want %#v", c.in, got, c.want)
		}
		again, err := m.Apply(got, c.rowKey)
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("not idempotent: Apply(%#v) = %#v, Apply of that = %#v (%v)", c.in, got, again, err)
		}
	}
}

func compile(t *testing.T, m plan.Mask, col Column, key []byte) Masker {
	t.Helper()
	masker, err := Compile(m, col, key)
	if err != nil {
		t.Fatalf("Compile(%+v): %v", m, err)
	}
	return masker
}

func TestKeepLeavesEverything(t *testing.T) {
	m := compile(t, plan.Mask{Strategy: plan.StrategyKeep}, Column{Kind: KindText}, nil)
	checkGoForm(t, m, []goCase{{nil, "", nil}, {"alice", "1", "alice"}, {int64(3), "", int64(3)}})
	if sql, _ := m.SQL(Postgres, `"c"`, `"pk"`, nil); sql != `"c"` {
		t.Errorf("SQL = %s, want the column itself", sql)
	}
}

func TestNullifyGivesNull(t *testing.T) {
	m := compile(t, plan.Mask{Strategy: plan.StrategyNullify}, Column{Kind: KindDate, Nullable: true}, nil)
	checkGoForm(t, m, []goCase{{nil, "", nil}, {time.Now(), "", nil}, {"x", "", nil}})
}

func TestRedactWritesTheConstantAndKeepsNull(t *testing.T) {
	def := compile(t, plan.Mask{Strategy: plan.StrategyRedact}, Column{Kind: KindText}, nil)
	checkGoForm(t, def, []goCase{
		{"alice@example.com", "", "REDACTED"},
		{[]byte("Zoë"), "", "REDACTED"},
		{"", "", "REDACTED"},
		{nil, "", nil},
	})
	custom := compile(t, plan.Mask{Strategy: plan.StrategyRedact, Value: "— effacé —"}, Column{Kind: KindText, MaxLength: 10}, nil)
	checkGoForm(t, custom, []goCase{{"Zoë", "", "— effacé —"}})
	if _, err := def.Apply(int64(1), ""); err == nil {
		t.Error("redact of an integer did not fail")
	}
}

func hmacHex(key []byte, s string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(s))
	return "h:" + hex.EncodeToString(mac.Sum(nil)[:16])
}

func TestHashIsTruncatedHMACAndIdempotent(t *testing.T) {
	// RFC 4231 test case 2: HMAC-SHA-256("Jefe", "what do ya want for nothing?").
	jefe := compile(t, plan.Mask{Strategy: plan.StrategyHash}, Column{Kind: KindText}, []byte("Jefe"))
	checkGoForm(t, jefe, []goCase{{"what do ya want for nothing?", "", "h:5bdcc146bf60754e6a042426089575c7"}})

	longKey := []byte(strings.Repeat("k", 131)) // longer than the block: hashed first
	for _, key := range [][]byte{testKey, longKey, {0x00, 0xff, 0x80, 0x7f}} {
		m := compile(t, plan.Mask{Strategy: plan.StrategyHash}, Column{Kind: KindText}, key)
		already := "h:0123456789abcdef0123456789abcdef"
		upper := "h:0123456789ABCDEF0123456789ABCDEF"
		checkGoForm(t, m, []goCase{
			{"alice@example.com", "", hmacHex(key, "alice@example.com")},
			{"Zoë 東京 😀", "", hmacHex(key, "Zoë 東京 😀")},
			{[]byte("bytes"), "", hmacHex(key, "bytes")},
			{"", "", hmacHex(key, "")},
			{" alice@example.com", "", hmacHex(key, " alice@example.com")}, // no normalisation
			{already, "", already},
			{upper, "", hmacHex(key, upper)},
			{already + "\n", "", hmacHex(key, already+"\n")},
			{already[:33], "", hmacHex(key, already[:33])},
			{nil, "", nil},
		})
	}
	if got, _ := jefe.Apply("x", ""); len(got.(string)) != HashLength {
		t.Errorf("len(%q) = %d, want HashLength %d", got, len(got.(string)), HashLength)
	}
	other := compile(t, plan.Mask{Strategy: plan.StrategyHash}, Column{Kind: KindText}, []byte("Jeff"))
	a, _ := jefe.Apply("alice", "")
	b, _ := other.Apply("alice", "")
	if a == b {
		t.Error("two keys gave the same pseudonym")
	}
}

func TestFakeEmailDependsOnTheRowOnly(t *testing.T) {
	m := compile(t, plan.Mask{Strategy: plan.StrategyFakeEmail}, Column{Kind: KindText, Unique: true}, nil)
	// sha256("1") = 6b86b273ff34fce1...
	checkGoForm(t, m, []goCase{
		{"alice@example.com", "1", "anon-6b86b273ff34fce1@anonymized.invalid"},
		{"someone.else@example.org", "1", "anon-6b86b273ff34fce1@anonymized.invalid"},
		{[]byte(""), "1", "anon-6b86b273ff34fce1@anonymized.invalid"},
		{nil, "1", nil},
	})
	seen := map[any]string{}
	for _, key := range []string{"1", "2", "10", "Zoë", "東京", "a|b", ""} {
		got, err := m.Apply("x@example.com", key)
		if err != nil {
			t.Fatal(err)
		}
		if prev, dup := seen[got]; dup {
			t.Errorf("rows %q and %q got the same address %s", prev, key, got)
		}
		seen[got] = key
		if len(got.(string)) != FakeEmailLength {
			t.Errorf("len(%s) = %d, want FakeEmailLength %d", got, len(got.(string)), FakeEmailLength)
		}
		if a, err := mail.ParseAddress(got.(string)); err != nil || a.Address != got {
			t.Errorf("%s is not a valid address: %v", got, err)
		}
	}
}

func TestGeneralizeDates(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	year := compile(t, plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeYear}, Column{Kind: KindTimestamp}, nil)
	month := compile(t, plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeMonth}, Column{Kind: KindDate}, nil)
	d := func(y int, m time.Month, day, h, min, s, ns int, loc *time.Location) time.Time {
		return time.Date(y, m, day, h, min, s, ns, loc)
	}
	checkGoForm(t, year, []goCase{
		{d(2024, 5, 17, 10, 11, 12, 123456000, time.UTC), "", d(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		{d(2024, 1, 1, 0, 0, 0, 0, time.UTC), "", d(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		{d(1999, 12, 31, 23, 59, 59, 999999000, time.UTC), "", d(1999, 1, 1, 0, 0, 0, 0, time.UTC)},
		{d(50, 6, 15, 0, 0, 0, 0, time.UTC), "", d(50, 1, 1, 0, 0, 0, 0, time.UTC)},
		// In the value's zone: summer time in, winter time out.
		{d(2024, 7, 1, 0, 30, 0, 0, berlin), "", d(2024, 1, 1, 0, 0, 0, 0, berlin)},
		{nil, "", nil},
	})
	checkGoForm(t, month, []goCase{
		{d(2024, 5, 17, 0, 0, 0, 0, time.UTC), "", d(2024, 5, 1, 0, 0, 0, 0, time.UTC)},
		{d(2000, 2, 29, 0, 0, 0, 0, time.UTC), "", d(2000, 2, 1, 0, 0, 0, 0, time.UTC)},
		{d(2024, 12, 1, 0, 0, 0, 0, time.UTC), "", d(2024, 12, 1, 0, 0, 0, 0, time.UTC)},
		{nil, "", nil},
	})
	if _, err := year.Apply("2024-05-17", ""); err == nil {
		t.Error("year of a string did not fail")
	}
}

func TestGeneralizeBucket(t *testing.T) {
	by10 := compile(t, plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeBucket, Width: 10}, Column{Kind: KindDecimal}, nil)
	checkGoForm(t, by10, []goCase{
		{int64(0), "", int64(0)},
		{int64(9), "", int64(0)},
		{int64(10), "", int64(10)},
		{int64(-1), "", int64(-10)},
		{int64(-10), "", int64(-10)},
		{int64(-11), "", int64(-20)},
		{42, "", int64(40)},
		{int32(-5), "", int64(-10)},
		{int64(9223372036854775807), "", int64(9223372036854775800)},
		{"12.34", "", "10.00"},
		{[]byte("-12.34"), "", "-20.00"},
		{"-0.01", "", "-10.00"},
		{"0.00", "", "0.00"},
		{"20", "", "20"},
		{"+7.5", "", "0.0"},
		{"-.5", "", "-10.0"},
		{"123456789012345678901234567890.1234", "", "123456789012345678901234567890.0000"},
		{nil, "", nil},
	})
	by3 := compile(t, plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeBucket, Width: 3}, Column{Kind: KindInteger}, nil)
	checkGoForm(t, by3, []goCase{{int64(-9223372036854775806), "", int64(-9223372036854775806)}, {"1.5", "", "0.0"}, {"-0.5", "", "-3.0"}})
	for _, bad := range []any{"1e3", "", ".", "1.2.3", "--1", "12a", 1.5, int64(-9223372036854775808)} {
		if got, err := by10.Apply(bad, ""); err == nil {
			t.Errorf("Apply(%#v) = %#v, want an error", bad, got)
		}
	}
}

func TestGeneralizePrefixCountsCharacters(t *testing.T) {
	m := compile(t, plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizePrefix, Width: 3}, Column{Kind: KindText}, nil)
	checkGoForm(t, m, []goCase{
		{"SW1A 1AA", "", "SW1"},
		{"75001", "", "750"},
		{"Zoë Smith", "", "Zoë"},
		{"東京都千代田区", "", "東京都"},
		{"😀😀😀😀", "", "😀😀😀"},
		{"ab", "", "ab"},
		{[]byte("abc"), "", "abc"},
		{"", "", ""},
		{nil, "", nil},
	})
}

func TestGeneralizeNetworkOnText(t *testing.T) {
	def := compile(t, plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeNetwork}, Column{Kind: KindText}, nil)
	checkGoForm(t, def, []goCase{
		{"192.168.17.42", "", "192.168.17.0"},
		{[]byte("10.0.0.1"), "", "10.0.0.0"},
		{"255.255.255.255", "", "255.255.255.0"},
		{"2001:db8:1:2::5", "", "2001:db8:1::"},
		{"2001:DB8:0001:2:3:4:5:6", "", "2001:db8:1::"},
		{"0:0:1:2::", "", "0:0:1::"},
		{"::ffff:192.168.1.1", "", "::"},
		{"1:2:3:4:5:6:1.2.3.4", "", "1:2:3::"},
		{"::1", "", "::"},
		// Not an address in the strict forms: unchanged.
		{"01.2.3.4", "", "01.2.3.4"},
		{"1.2.3", "", "1.2.3"},
		{"1.2.3.4/24", "", "1.2.3.4/24"},
		{" 1.2.3.4", "", " 1.2.3.4"},
		{"1.2.3.4\n", "", "1.2.3.4\n"},
		{"256.1.1.1", "", "256.1.1.1"},
		{"fe80::1%eth0", "", "fe80::1%eth0"},
		{"1::2::3", "", "1::2::3"},
		{"not an address", "", "not an address"},
		{"", "", ""},
		{nil, "", nil},
	})
	by16 := compile(t, plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeNetwork, Width: 16}, Column{Kind: KindText}, nil)
	by20 := compile(t, plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeNetwork, Width: 20}, Column{Kind: KindText}, nil)
	by32 := compile(t, plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeNetwork, Width: 32}, Column{Kind: KindText}, nil)
	checkGoForm(t, by16, []goCase{{"192.168.17.42", "", "192.168.0.0"}, {"2001:db8:1:2::5", "", "2001:db8:1::"}})
	checkGoForm(t, by20, []goCase{{"192.168.255.42", "", "192.168.240.0"}})
	checkGoForm(t, by32, []goCase{{"192.168.17.42", "", "192.168.17.42"}})
}

func TestGeneralizeNetworkOnInet(t *testing.T) {
	m := compile(t, plan.Mask{Strategy: plan.StrategyGeneralize, To: plan.GeneralizeNetwork}, Column{Kind: KindInet}, nil)
	checkGoForm(t, m, []goCase{
		{"192.168.17.42", "", "192.168.17.0"},
		{"10.1.2.3/8", "", "10.1.2.0"},
		{"2001:db8::/32", "", "2001:db8::"},
		{"::ffff:1.2.3.4", "", "::"},
		{netip.MustParseAddr("10.9.8.7"), "", netip.MustParseAddr("10.9.8.0")},
		{netip.MustParsePrefix("10.9.8.7/8"), "", netip.MustParsePrefix("10.9.8.0/32")},
		{nil, "", nil},
	})
	if _, err := m.Apply("not an inet", ""); err == nil {
		t.Error("Apply on a non-address inet value did not fail")
	}
}
