package engine

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/lethe-operator/lethe/internal/plan"
)

// TestTheDialerRefusesMetadataAddressesWhateverNameLedThere dials refused addresses the way
// a name resolving to them would reach the dialer: the check runs on the socket before it
// connects, so nothing is sent to them.
func TestTheDialerRefusesMetadataAddressesWhateverNameLedThere(t *testing.T) {
	db := plan.Database{Host: "tenant-db.example"}
	for _, address := range []string{
		"169.254.169.254:5432", "169.254.0.1:3306", "[fe80::1]:5432", "[febf::1]:5432",
		"[fd00:ec2::254]:5432", "100.100.100.200:5432", "168.63.129.16:3306", "[::ffff:169.254.169.254]:5432",
	} {
		_, err := dialer(db).DialContext(context.Background(), "tcp", address)
		var e *Error
		if !errors.As(err, &e) || e.Code != plan.ErrHostNotAllowed {
			t.Errorf("dial %s: %v, want %s", address, err, plan.ErrHostNotAllowed)
		}
	}
}

// TestTheDialerConnectsElsewhereAndWhenAllowed: an ordinary address is dialled, and with
// the plan's allowLinkLocal the check is off.
func TestTheDialerConnectsElsewhereAndWhenAllowed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	conn, err := dialer(plan.Database{Host: "localhost"}).DialContext(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatalf("dial %s: %v", l.Addr(), err)
	}
	conn.Close()
	if d := dialer(plan.Database{Host: "x", AllowLinkLocal: true}); d.Control != nil {
		t.Error("allowLinkLocal still checks addresses")
	}
	if err := checkHost(plan.Database{Host: "169.254.169.254", AllowLinkLocal: true}); err != nil {
		t.Errorf("allowLinkLocal still refuses the literal: %v", err)
	}
}

func TestRefusedNamesAndAddresses(t *testing.T) {
	for _, host := range []string{"metadata", "METADATA.google.internal", "metadata.google.internal.", "instance-data", "169.254.169.254", "fe80::5", "fd00:ec2::254"} {
		if err := checkHost(plan.Database{Host: host}); err == nil {
			t.Errorf("%s is not refused", host)
		}
	}
	for _, host := range []string{"db.internal", "metadata-db.internal", "10.0.0.5", "2001:db8::5", "localhost", "169.255.0.1"} {
		if err := checkHost(plan.Database{Host: host}); err != nil {
			t.Errorf("%s is refused: %v", host, err)
		}
	}
}
