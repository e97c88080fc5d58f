package plan

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
)

// A report travels in a pod's termination message, which Kubernetes cuts at 4 KiB. A
// coalesced erasure names every subject's results; as plain JSON, a few dozen subjects
// overflow. Their JSON repeats table names and outcomes, so it compresses well: a report
// too large as JSON goes as gzip, base64-encoded, in an envelope.

// EncodingGzip marks a report compressed with gzip and base64-encoded.
const EncodingGzip = "gzip"

// maxDecodedReport bounds what DecodeReport inflates.
const maxDecodedReport = 4 << 20

// envelope carries a compressed report.
type envelope struct {
	Encoding string `json:"encoding"`
	Report   string `json:"report"`
}

// EncodeReport returns the report as JSON or, when that is longer than limit, as a gzip
// envelope; ok is false when neither fits in limit.
func EncodeReport(r Report, limit int) (b []byte, ok bool, err error) {
	plain, err := json.Marshal(r)
	if err != nil || len(plain) <= limit {
		return plain, err == nil, err
	}
	var zipped bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&zipped, gzip.BestCompression)
	if _, err := zw.Write(plain); err != nil {
		return nil, false, err
	}
	if err := zw.Close(); err != nil {
		return nil, false, err
	}
	b, err = json.Marshal(envelope{Encoding: EncodingGzip, Report: base64.StdEncoding.EncodeToString(zipped.Bytes())})
	return b, err == nil && len(b) <= limit, err
}

// DecodeReport reads a report written by EncodeReport, plain or compressed.
func DecodeReport(msg []byte) (*Report, error) {
	var env envelope
	if err := json.Unmarshal(msg, &env); err != nil {
		return nil, err
	}
	if env.Encoding == "" {
		r := &Report{}
		return r, json.Unmarshal(msg, r)
	}
	if env.Encoding != EncodingGzip {
		return nil, fmt.Errorf("report encoding %q is not %s", env.Encoding, EncodingGzip)
	}
	zipped, err := base64.StdEncoding.DecodeString(env.Report)
	if err != nil {
		return nil, fmt.Errorf("compressed report: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	if err != nil {
		return nil, fmt.Errorf("compressed report: %w", err)
	}
	plain, err := io.ReadAll(io.LimitReader(zr, maxDecodedReport))
	if err != nil {
		return nil, fmt.Errorf("compressed report: %w", err)
	}
	r := &Report{}
	return r, json.Unmarshal(plain, r)
}
