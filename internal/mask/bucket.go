package mask

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/lethe-operator/lethe/internal/plan"
)

// bucket generalizes a number to the lower bound of its bucket, floor(v/width)*width,
// computed exactly: no division rounds, and a decimal keeps its scale ("12.34" → "10.00"),
// as the engines print it.
type bucket struct {
	changes
	width int64
}

func compileBucket(m plan.Mask, col Column) (Masker, error) {
	switch {
	case col.Kind != KindInteger && col.Kind != KindDecimal:
		return nil, incompatible("generalize to bucket on non-numeric column")
	case m.Width <= 0:
		return nil, incompatible("generalize to bucket needs a width > 0")
	}
	return bucket{width: int64(m.Width)}, nil
}

// Apply takes integers as Go integers (returning int64) and decimals as their text
// (string or []byte, as the drivers return them; returning a string).
func (b bucket) Apply(v any, _ string) (any, error) {
	switch n := v.(type) {
	case nil:
		return nil, nil
	case int64:
		return b.floorInt(big.NewInt(n))
	case int:
		return b.floorInt(big.NewInt(int64(n)))
	case int32:
		return b.floorInt(big.NewInt(int64(n)))
	case string:
		return b.floorDecimal(n)
	case []byte:
		return b.floorDecimal(string(n))
	default:
		return nil, fmt.Errorf("mask: generalize to bucket needs an integer or decimal text, got %T", v)
	}
}

func (b bucket) floorInt(n *big.Int) (any, error) {
	f := floorTo(n, big.NewInt(b.width))
	if !f.IsInt64() {
		return nil, fmt.Errorf("mask: bucket of %s is out of the integer range", n)
	}
	return f.Int64(), nil
}

// floorTo returns floor(n/w)*w for w > 0 (big.Int.Div is Euclidean, which is floor
// division for a positive divisor).
func floorTo(n, w *big.Int) *big.Int {
	q := new(big.Int).Div(n, w)
	return q.Mul(q, w)
}

// floorDecimal works on the decimal as an integer of its smallest unit, so the result
// is exact and keeps the input's number of fractional digits.
func (b bucket) floorDecimal(s string) (any, error) {
	digits, scale, ok := parseDecimal(s)
	if !ok {
		return nil, fmt.Errorf("mask: generalize to bucket: %q is not a decimal number", s)
	}
	unit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)
	w := new(big.Int).Mul(big.NewInt(b.width), unit)
	return formatDecimal(floorTo(digits, w), scale), nil
}

// parseDecimal reads [-+]digits[.digits] as an integer and its number of fractional digits.
func parseDecimal(s string) (*big.Int, int, bool) {
	body := strings.TrimLeft(s, "+-")
	if len(s)-len(body) > 1 {
		return nil, 0, false
	}
	whole, frac, _ := strings.Cut(body, ".")
	if whole == "" && frac == "" || strings.Trim(whole+frac, "0123456789") != "" {
		return nil, 0, false
	}
	n, ok := new(big.Int).SetString(s[:len(s)-len(body)]+whole+frac, 10)
	return n, len(frac), ok
}

func formatDecimal(n *big.Int, scale int) string {
	abs := new(big.Int).Abs(n).String()
	if scale > 0 {
		if len(abs) <= scale {
			abs = strings.Repeat("0", scale-len(abs)+1) + abs
		}
		abs = abs[:len(abs)-scale] + "." + abs[len(abs)-scale:]
	}
	if n.Sign() < 0 {
		return "-" + abs
	}
	return abs
}

func (b bucket) SQL(d Dialect, col, _ string, bind func(any) string) (string, error) {
	if err := checkDialect(d); err != nil {
		return "", err
	}
	// t = col - mod(col, w) truncates toward zero, exactly, in both engines and every
	// numeric type; t > col means a negative remainder, so one more bucket down. (Not
	// "mod(col, w) < 0": MariaDB's decimal MOD returns -0.00, which it orders below 0.)
	w := func() string { return param(d, bind, b.width, "bigint") }
	return fmt.Sprintf("CASE WHEN %s - mod(%s, %s) > %s THEN %s - mod(%s, %s) - %s ELSE %s - mod(%s, %s) END",
		col, col, w(), col, col, col, w(), w(), col, col, w()), nil
}
