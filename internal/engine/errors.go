package engine

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"

	"github.com/lethe-operator/lethe/internal/plan"
)

// Error is a failure with a report error code (plan.Err*). Message is safe to put in a
// report, an event or a log: it names tables, columns and error codes, never row values,
// which is why the driver's own message (which can quote a value) is not part of it.
type Error struct {
	Code    string
	Message string
	// Table is the table the failure concerns, when known.
	Table string
	cause error
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the driver error, for errors.Is/As; it is never printed.
func (e *Error) Unwrap() error { return e.cause }

// Errorf returns an *Error with code and a message; use it for failures found by Lethe
// itself, whose messages it controls.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError returns err as an *Error, classifying errors that are not one as Internal with
// a message that withholds the error's text (it may quote a value).
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Code: plan.ErrTimeout, Message: "the run's deadline passed", cause: err}
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Code: plan.ErrInternal, Message: "the run was cancelled (the pod is stopping)", cause: err}
	}
	return &Error{Code: plan.ErrInternal, Message: fmt.Sprintf("unexpected error (%T); details withheld because they may contain row values", err), cause: err}
}

// connectError classifies what can go wrong before any SQL runs: the network and TLS.
// It returns nil when err is neither.
func connectError(err error, address string) *Error {
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var verify *tls.CertificateVerificationError
	var record tls.RecordHeaderError
	switch {
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &verify):
		return &Error{Code: plan.ErrUnreachable,
			Message: fmt.Sprintf("TLS: the certificate of %s cannot be verified with the configured CA and server name (%v)", address, tlsReason(err)), cause: err}
	case errors.As(err, &record):
		return &Error{Code: plan.ErrUnreachable, Message: fmt.Sprintf("TLS: %s did not answer with TLS", address), cause: err}
	}
	var netErr net.Error
	var opErr *net.OpError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr):
		return &Error{Code: plan.ErrUnreachable, Message: fmt.Sprintf("cannot resolve the database host of %s", address), cause: err}
	case errors.As(err, &opErr):
		return &Error{Code: plan.ErrUnreachable, Message: fmt.Sprintf("cannot reach the database at %s: %v", address, opErr.Err), cause: err}
	case errors.As(err, &netErr) && netErr.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: plan.ErrUnreachable, Message: fmt.Sprintf("no answer from the database at %s in time", address), cause: err}
	}
	return nil
}

// tlsReason is the certificate problem in words; x509 errors name hosts and issuers, not data.
func tlsReason(err error) string {
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	switch {
	case errors.As(err, &unknownCA):
		return "signed by an unknown authority"
	case errors.As(err, &hostname):
		return hostname.Error()
	}
	return "verification failed"
}
