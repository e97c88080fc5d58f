package mask

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

// addressCorpus is text that looks more or less like addresses: every form netip can
// print, upper case and expanded forms, and near misses. Seeded, so every run sees the
// same corpus.
func addressCorpus() []string {
	rng := rand.New(rand.NewPCG(1, 2))
	corpus := []string{
		"", "::", ":", ":::", "1::", "::1", "1::2::3", "::ffff:1.2.3.4", "::1.2.3.4", "1::2.3.4.5",
		"1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "1:2:3:4:5::1.2.3.4", "::1:2:3:4:5:1.2.3.4",
		"::1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8",
		"1:2:3:4::5:6:7:8", "12345::", "g::", "0001:0db8::", "00001::", "fe80::1%eth0", "1.2.3.4%eth0",
		"1.2.3.4", "0.0.0.0", "255.255.255.255", "256.0.0.0", "01.2.3.4", "1.02.3.4", "1.2.3", "1.2.3.4.5",
		"1.2.3.4/24", "::/0", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4\n", "::\n", "１.２.３.４", "::ffff:01.2.3.4",
		"::ffff:1.2.3", "::ffff:256.2.3.4", "1.2.3.4::", "[::1]", "0x1.2.3.4", "1..2.3",
	}
	for range 300 {
		var b [16]byte
		for i := range b {
			if rng.IntN(3) > 0 { // zero runs, so "::" lands everywhere
				b[i] = byte(rng.IntN(256))
			}
		}
		v6 := netip.AddrFrom16(b)
		v4 := netip.AddrFrom4([4]byte(b[12:]))
		corpus = append(corpus, v6.String(), strings.ToUpper(v6.String()), v6.StringExpanded(), v4.String(),
			netip.AddrFrom16(v4.As16()).String())
	}
	return corpus
}

// TestAddressPatternsAcceptOnlyWhatNetipReads checks the guard accepts exactly the
// addresses netip reads, zones aside: never text Go cannot read, and every form Go
// (and so the masked output) prints.
func TestAddressPatternsAcceptOnlyWhatNetipReads(t *testing.T) {
	for _, s := range addressCorpus() {
		v4, v6 := ipv4Go.MatchString(s), ipv6Go.MatchString(s)
		a, err := netip.ParseAddr(s)
		switch {
		case v4 && v6:
			t.Errorf("%q matches both patterns", s)
		case (v4 || v6) && err != nil:
			t.Errorf("%q matches a pattern but netip rejects it: %v", s, err)
		case v4 && !a.Is4(), v6 && a.Is4():
			t.Errorf("%q matches the wrong family's pattern", s)
		case err == nil && a.Zone() == "" && !v4 && !v6:
			t.Errorf("netip reads %q but no pattern matches it", s)
		}
	}
}
