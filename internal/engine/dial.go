package engine

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/lethe-operator/lethe/internal/plan"
)

// The instance metadata services of the clouds answer on link-local addresses (and a few
// others): whoever reaches them from a pod gets the node's cloud credentials. A database
// is never there, so a TenantDatabase pointing there is a mistake or an attack. The API
// server refuses such literal hosts (the CRD's rules name the same addresses and names);
// the worker refuses to connect to them whatever name led there, unless the plan allows
// link-local hosts (the manager's --allow-link-local-hosts).

// MetadataAddresses are cloud metadata endpoints outside the link-local ranges, and the
// best known one inside them: AWS (IPv6), Alibaba Cloud, Azure's WireServer, and
// 169.254.169.254 (AWS, GCP, Azure, OpenStack and most others).
var MetadataAddresses = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"),
	netip.MustParseAddr("fd00:ec2::254"),
	netip.MustParseAddr("100.100.100.200"),
	netip.MustParseAddr("168.63.129.16"),
}

// MetadataNames are the host names of cloud metadata services.
var MetadataNames = []string{
	"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal",
	"metadata.tencentyun.com", "api.metadata.cloud.ibm.com", "metadata.platformequinix.com",
}

// RefusedAddress says why Lethe does not connect to ip ("" when it may).
func RefusedAddress(ip netip.Addr) string {
	ip = ip.Unmap()
	for _, m := range MetadataAddresses {
		if ip == m {
			return "a cloud metadata endpoint"
		}
	}
	if ip.IsLinkLocalUnicast() {
		return "a link-local address (169.254.0.0/16, fe80::/10), where cloud metadata services answer"
	}
	return ""
}

// RefusedName says why Lethe does not connect to the host name ("" when it may).
func RefusedName(host string) string {
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	for _, m := range MetadataNames {
		if name == m {
			return "the name of a cloud metadata service"
		}
	}
	return ""
}

// checkHost refuses a plan's host before any connection when it is a metadata name or a
// refused literal address.
func checkHost(db plan.Database) error {
	if db.AllowLinkLocal {
		return nil
	}
	reason := RefusedName(db.Host)
	if ip, err := netip.ParseAddr(db.Host); err == nil {
		reason = RefusedAddress(ip)
	}
	if reason == "" {
		return nil
	}
	return hostNotAllowed(db.Host, reason)
}

// dialer connects to the database server. Unless the plan allows link-local hosts, it
// checks the address it is about to connect to, after name resolution: a name that
// resolves to a metadata address, or starts to between a check and the connection, is
// refused all the same.
func dialer(db plan.Database) *net.Dialer {
	d := &net.Dialer{Timeout: connectTimeout, KeepAlive: 5 * time.Minute}
	if db.AllowLinkLocal {
		return d
	}
	d.Control = func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return err
		}
		if reason := RefusedAddress(ip); reason != "" {
			return hostNotAllowed(db.Host, fmt.Sprintf("%s (resolved to %s)", reason, ip))
		}
		return nil
	}
	return d
}

func hostNotAllowed(host, reason string) *Error {
	return &Error{Code: plan.ErrHostNotAllowed, Message: fmt.Sprintf(
		"the database host %s is %s: Lethe does not connect there (a manager started with --allow-link-local-hosts does)", host, reason)}
}
