package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lethe-operator/lethe/internal/register"
)

func TestSubscribersReadsPairsOfKeys(t *testing.T) {
	subs := Subscribers(map[string][]byte{
		"crm.url": []byte("https://crm.example/hooks/lethe\n"), "crm.secret": []byte("k1"),
		"legal.url":    []byte("ftp://legal.example"),
		"legal.secret": []byte("k2"),
		"ops.url":      []byte("https://ops.example/?token=abc"),
		"Bad_Name.url": []byte("https://x.example"), "Bad_Name.secret": []byte("k"),
		"README": []byte("ignored: no suffix"),
	})
	if len(subs) != 4 {
		t.Fatalf("subscribers = %+v, want 4", subs)
	}
	byName := map[string]Subscriber{}
	for _, s := range subs {
		byName[s.Name] = s
	}
	if s := byName["crm"]; s.Err != nil || s.URL != "https://crm.example/hooks/lethe" || string(s.SigningKey) != "k1" {
		t.Errorf("crm = %+v, want valid with the trimmed URL", s)
	}
	if s := byName["legal"]; s.Err == nil || !strings.Contains(s.Err.Error(), "http or https") {
		t.Errorf("legal = %+v, want an error about the scheme", s)
	}
	if s := byName["ops"]; s.Err == nil || !strings.Contains(s.Err.Error(), "ops.secret") || strings.Contains(s.Err.Error(), "token") {
		t.Errorf("ops = %+v, want an error naming ops.secret and not quoting the URL", s)
	}
	if s := byName["Bad_Name"]; s.Err == nil {
		t.Errorf("Bad_Name = %+v, want an error about the name", s)
	}
}

func TestPostSignsTheBody(t *testing.T) {
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, body = r, must(io.ReadAll(r.Body))
	}))
	defer srv.Close()
	sub := Subscriber{Name: "crm", URL: srv.URL, SigningKey: []byte("key")}
	n := Notification{Type: EventRegisterChanged, Revision: 7, PreviousRevision: 6}
	if err := Post(context.Background(), srv.Client(), sub, n); err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte("key"))
	mac.Write(body)
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); got.Header.Get(HeaderSignature) != want {
		t.Errorf("signature %q, want %q", got.Header.Get(HeaderSignature), want)
	}
	if !Verify([]byte("key"), body, got.Header.Get(HeaderSignature)) || Verify([]byte("other"), body, got.Header.Get(HeaderSignature)) {
		t.Error("Verify must accept the right key only")
	}
	if got.Header.Get(HeaderRevision) != "7" || got.Header.Get(HeaderDelivery) != "crm-7" || got.Header.Get(HeaderEvent) != EventRegisterChanged {
		t.Errorf("headers = %v", got.Header)
	}
}

func TestPostErrorsDoNotLeakTheURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	sub := Subscriber{Name: "crm", URL: srv.URL + "/?token=secret-token", SigningKey: []byte("k")}
	err := Post(context.Background(), srv.Client(), sub, Notification{Revision: 1})
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("err = %v, want the status", err)
	}
	srv.Close()
	err = Post(context.Background(), http.DefaultClient, sub, Notification{Revision: 1})
	if err == nil || strings.Contains(err.Error(), "secret-token") {
		t.Errorf("err = %v, want an error without the URL", err)
	}
}

func TestStateDeliversInOrderAndPrunes(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := ParseState("")
	if err != nil {
		t.Fatal(err)
	}
	if _, changed := s.Publish(nil, "ns/reg", now); changed {
		t.Error("an empty register is revision 0: publishing nothing is no change")
	}
	s.Track([]string{"a", "b"})
	one := []register.Entry{{Name: "x", Country: "DE"}}
	two := []register.Entry{{Name: "x", Country: "FR"}}
	n1, _ := s.Publish(one, "ns/reg", now)
	n2, _ := s.Publish(two, "ns/reg", now)
	if n1.Revision != 1 || n2.Revision != 2 || n2.PreviousRevision != 1 || len(n2.Changes.Changed) != 1 {
		t.Fatalf("notifications %+v %+v", n1, n2)
	}
	if _, changed := s.Publish(two, "ns/reg", now); changed {
		t.Error("the same content again must not make a revision")
	}
	s.Delivered("a", 2)
	s.Failed("b", errors.New("boom"), now, Backoff{Base: time.Second, Max: 4 * time.Second})
	if due := s.Due("b", now); due != nil {
		t.Errorf("b backs off, yet due = %v", due)
	}
	if wait, ok := s.NextAttempt(now, []string{"a", "b"}); !ok || wait != time.Second {
		t.Errorf("next attempt in %v (%v), want 1s", wait, ok)
	}
	if due := s.Due("b", now.Add(time.Second)); len(due) != 2 || due[0].Revision != 1 {
		t.Errorf("due after the backoff = %v, want revisions 1 and 2", due)
	}
	// The state survives a restart: JSON and back.
	s, err = ParseState(s.JSON())
	if err != nil {
		t.Fatal(err)
	}
	s.Prune()
	if len(s.Pending) != 2 || strings.Join(s.Behind(), ",") != "b" {
		t.Errorf("pending %d, behind %v: b still needs both", len(s.Pending), s.Behind())
	}
	s.Delivered("b", 1)
	s.Prune()
	if len(s.Pending) != 1 || s.Pending[0].Revision != 2 || s.Subscribers["b"].Failures != 0 {
		t.Errorf("after b got 1: pending %+v, b %+v", s.Pending, s.Subscribers["b"])
	}
	s.Track([]string{"a", "c"})
	if s.Subscribers["b"] != nil || s.Subscribers["c"].Delivered != 2 {
		t.Errorf("subscribers %+v: b forgotten, c starts at revision 2", s.Subscribers)
	}
	s.Prune()
	if s.Pending != nil {
		t.Errorf("everyone has everything, yet pending = %+v", s.Pending)
	}
}

func TestBackoffDoublesUpToMax(t *testing.T) {
	b := Backoff{Base: time.Second, Max: 5 * time.Second}
	for failures, want := range map[int32]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 5 * time.Second, 60: 5 * time.Second} {
		if got := b.Delay(failures); got != want {
			t.Errorf("Delay(%d) = %v, want %v", failures, got, want)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
