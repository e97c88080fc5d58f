package mask

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/lethe-operator/lethe/internal/plan"
)

// Network prefix lengths for generalize to network.
const (
	// DefaultIPv4NetworkBits is the IPv4 prefix length when the plan gives no width.
	DefaultIPv4NetworkBits = 24
	// IPv6NetworkBits is the prefix every IPv6 address is generalized to: a site.
	IPv6NetworkBits = 48
)

// Text columns hold an address only when it is written in the strict forms below,
// which Go's netip, PostgreSQL's inet and MariaDB's INET6_ATON all read the same way:
// IPv4 as four decimal octets without leading zeros; IPv6 in hex groups, optionally
// compressed with "::" and optionally ending in an IPv4 address, without a zone.
// Anything else (a zone, a /mask, "01.2.3.4", surrounding spaces, "1.2.3") is not an
// address and stays as it is, in Go and in SQL alike.
var (
	ipv4Pattern = func() string {
		octet := `(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])`
		return octet + `(?:\.` + octet + `){3}`
	}()
	ipv6Pattern = buildIPv6Pattern()

	ipv4Go = regexp.MustCompile(anchored(Postgres, ipv4Pattern))
	ipv6Go = regexp.MustCompile(anchored(Postgres, ipv6Pattern))
)

const hexGroup = `[0-9a-fA-F]{1,4}`

// buildIPv6Pattern spells out every position "::" can take: with k groups before it,
// at most 7-k hex groups (or 5-k groups and an IPv4 address) can follow.
func buildIPv6Pattern() string {
	alts := []string{
		`(?:` + hexGroup + `:){7}` + hexGroup,
		`(?:` + hexGroup + `:){6}` + ipv4Pattern,
	}
	for left := 0; left <= 7; left++ {
		alts = append(alts, hexGroups(left)+"::"+optionalHexGroups(7-left))
		if left <= 5 {
			alts = append(alts, hexGroups(left)+"::"+repeat(`(?:`+hexGroup+`:)`, 0, 5-left)+ipv4Pattern)
		}
	}
	return strings.Join(alts, "|")
}

// hexGroups matches exactly n colon-separated groups.
func hexGroups(n int) string {
	if n == 0 {
		return ""
	}
	return hexGroup + repeat(`(?::`+hexGroup+`)`, n-1, n-1)
}

// optionalHexGroups matches 0 to n colon-separated groups.
func optionalHexGroups(n int) string {
	if n == 0 {
		return ""
	}
	return `(?:` + hexGroup + repeat(`(?::`+hexGroup+`)`, 0, n-1) + `)?`
}

// repeat writes a bounded repetition, leaving out the empty ones some engines reject.
func repeat(atom string, lo, hi int) string {
	switch {
	case hi == 0:
		return ""
	case lo == hi && lo == 1:
		return atom
	case lo == hi:
		return atom + "{" + strconv.Itoa(lo) + "}"
	default:
		return atom + "{" + strconv.Itoa(lo) + "," + strconv.Itoa(hi) + "}"
	}
}

// network generalizes an IP address to its network address: IPv4 to /v4Bits, IPv6 to
// /48. The result is an address, not a prefix (192.168.17.42 → 192.168.17.0), written
// as netip.Addr.String writes it, which is how PostgreSQL and MariaDB print it too.
type network struct {
	changes
	v4Bits int
	inet   bool // a PostgreSQL inet column rather than text
}

func compileNetwork(m plan.Mask, col Column) (Masker, error) {
	bits := m.Width
	if bits == 0 {
		bits = DefaultIPv4NetworkBits
	}
	switch {
	case col.Kind != KindText && col.Kind != KindInet:
		return nil, incompatible("generalize to network on a column that is neither text nor inet")
	case bits < 0 || bits > 32:
		return nil, incompatible("generalize to network: IPv4 width %d is not between 1 and 32", m.Width)
	}
	return network{v4Bits: bits, inet: col.Kind == KindInet}, nil
}

// Apply takes text (string or []byte) for text columns, and for inet columns the text
// PostgreSQL prints ("10.1.2.3/8", "192.168.1.1") or a netip.Addr or netip.Prefix.
func (n network) Apply(v any, _ string) (any, error) {
	switch a := v.(type) {
	case netip.Addr:
		return n.mask(a), nil
	case netip.Prefix:
		m := n.mask(a.Addr())
		return netip.PrefixFrom(m, m.BitLen()), nil
	}
	s, ok, err := textOf("generalize to network", v)
	if !ok || err != nil {
		return nil, err
	}
	if n.inet {
		return n.applyInetText(s)
	}
	return n.applyText(s), nil
}

func (n network) applyText(s string) string {
	if !ipv4Go.MatchString(s) && !ipv6Go.MatchString(s) {
		return s
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return s // unreachable: the patterns accept only what netip reads
	}
	return n.mask(a).String()
}

// applyInetText reads an inet's text; its own netmask does not matter, as in SQL.
func (n network) applyInetText(s string) (any, error) {
	var a netip.Addr
	p, err := netip.ParsePrefix(s)
	if err == nil {
		a = p.Addr()
	} else if a, err = netip.ParseAddr(s); err != nil {
		return nil, fmt.Errorf("mask: generalize to network: %q is not an inet value", s)
	}
	return n.mask(a).String(), nil
}

func (n network) mask(a netip.Addr) netip.Addr {
	bits := IPv6NetworkBits
	if a.Is4() {
		bits = n.v4Bits
	}
	p, _ := a.WithZone("").Prefix(bits)
	return p.Addr()
}

func (n network) SQL(d Dialect, col, _ string, bind func(any) string) (string, error) {
	switch {
	case d == Postgres && n.inet:
		// host()::inet gives a full-length mask, so the value prints as a bare address.
		return fmt.Sprintf("CASE WHEN family(%s) = 4 THEN host(network(set_masklen(%s, %s)))::inet "+
			"ELSE host(network(set_masklen(%s, %s)))::inet END",
			col, col, param(d, bind, n.v4Bits, "int"), col, param(d, bind, IPv6NetworkBits, "int")), nil
	case d == Postgres:
		// The cast runs only on text the guard accepts, so other text cannot abort the update.
		t := pgText(col)
		return fmt.Sprintf("CASE WHEN %s ~ %s THEN host(network(set_masklen(%s::inet, %s))) "+
			"WHEN %s ~ %s THEN host(network(set_masklen(%s::inet, %s))) ELSE %s END",
			t, param(d, bind, anchored(d, ipv4Pattern), "text"), t, param(d, bind, n.v4Bits, "int"),
			t, param(d, bind, anchored(d, ipv6Pattern), "text"), t, param(d, bind, IPv6NetworkBits, "int"), t), nil
	case d == MySQL && n.inet:
		return "", fmt.Errorf("mask: generalize to network on an inet column is PostgreSQL only")
	case d == MySQL:
		// IPv4 as a 32-bit number ANDed with the mask; IPv6 as 16 bytes, keeping the first 6.
		return fmt.Sprintf("CASE WHEN %s REGEXP %s THEN INET_NTOA(INET_ATON(%s) & %s) "+
			"WHEN %s REGEXP %s THEN INET6_NTOA(CONCAT(LEFT(INET6_ATON(%s), %s), %s)) ELSE %s END",
			col, bind(anchored(d, ipv4Pattern)), col, bind(ipv4Mask(n.v4Bits)),
			col, bind(anchored(d, ipv6Pattern)), col, bind(IPv6NetworkBits/8), bind(make([]byte, 16-IPv6NetworkBits/8)), col), nil
	}
	return "", checkDialect(d)
}

// ipv4Mask is the netmask of a /bits IPv4 network as a number.
func ipv4Mask(bits int) int64 {
	return int64(^uint32(0) << (32 - bits))
}
