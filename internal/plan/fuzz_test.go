package plan

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"testing"
)

// FuzzDecodeReport feeds DecodeReport what a termination message could hold: any bytes,
// plain reports, compressed ones, compressed bombs. It never panics, never inflates past
// its bound, and a report it reads survives being written and read again unchanged.
func FuzzDecodeReport(f *testing.F) {
	plain, _ := json.Marshal(erasureReport(2))
	f.Add(plain)
	zipped, _, _ := EncodeReport(erasureReport(50), 4096)
	f.Add(zipped)
	f.Add([]byte(`{"encoding":"gzip","report":""}`))
	f.Add([]byte(`{"encoding":"zstd","report":"AA=="}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"kind":"retention","succeeded":true,"results":[{"table":"t","rule":"r","outcome":"refused","rows":-1}]}`))
	f.Add(bomb())
	f.Fuzz(func(t *testing.T, msg []byte) {
		r, err := DecodeReport(msg)
		if err != nil {
			return
		}
		if r == nil {
			t.Fatal("DecodeReport returned neither a report nor an error")
		}
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("a decoded report does not marshal: %v", err)
		}
		for _, limit := range []int{1 << 30, 4096} {
			b, ok, err := EncodeReport(*r, limit)
			if err != nil {
				t.Fatalf("EncodeReport: %v", err)
			}
			if !ok {
				continue
			}
			if len(b) > limit {
				t.Fatalf("EncodeReport says %d bytes fit in %d", len(b), limit)
			}
			again, err := DecodeReport(b)
			if err != nil {
				t.Fatalf("a report EncodeReport wrote does not decode: %v\n%s", err, b)
			}
			if got, _ := json.Marshal(again); !bytes.Equal(got, want) {
				t.Fatalf("round trip changed the report:\n%s\n%s", want, got)
			}
		}
	})
}

// bomb is an envelope whose report inflates to far more than DecodeReport reads.
func bomb() []byte {
	var z bytes.Buffer
	w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	w.Write([]byte(`{"kind":"erasure","errors":[{"code":"`))
	w.Write(bytes.Repeat([]byte("A"), 8<<20))
	w.Write([]byte(`"}]}`))
	w.Close()
	b, _ := json.Marshal(envelope{Encoding: EncodingGzip, Report: base64.StdEncoding.EncodeToString(z.Bytes())})
	return b
}
