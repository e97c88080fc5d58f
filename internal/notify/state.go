package notify

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/lethe-operator/lethe/internal/register"
)

// State is the register's last revision and its delivery progress. The manager keeps it
// in a ConfigMap: it is the source of truth for "what was published", so a restart, or
// a change made while the manager was down, resumes from it.
type State struct {
	// Register is the last published revision.
	Register register.Register `json:"register"`
	// Pending are the notifications some subscriber has not received yet, oldest first.
	Pending []Notification `json:"pending,omitempty"`
	// Subscribers maps a subscriber's name to its progress.
	Subscribers map[string]*Progress `json:"subscribers,omitempty"`
}

// Progress is one subscriber's delivery progress.
type Progress struct {
	// Delivered is the last revision the subscriber acknowledged.
	Delivered int64 `json:"delivered"`
	// Failures counts failed attempts since the last success; it sets the backoff.
	Failures int32 `json:"failures,omitempty"`
	// NextAttempt is the earliest time of the next attempt after a failure.
	NextAttempt *time.Time `json:"nextAttempt,omitempty"`
	// LastError is the last failure's message.
	LastError string `json:"lastError,omitempty"`
}

// Backoff is the delay between a subscriber's failed attempts: Base, doubling per
// failure, at most Max.
type Backoff struct {
	Base time.Duration
	Max  time.Duration
}

// Delay returns the wait after the given number of consecutive failures.
func (b Backoff) Delay(failures int32) time.Duration {
	d := b.Base
	for i := int32(1); i < failures && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// ParseState reads the state's JSON; no data is the empty state.
func ParseState(data string) (*State, error) {
	s := &State{}
	if data != "" {
		if err := json.Unmarshal([]byte(data), s); err != nil {
			return nil, fmt.Errorf("parsing the delivery state: %w", err)
		}
	}
	if s.Subscribers == nil {
		s.Subscribers = map[string]*Progress{}
	}
	if s.Register.Digest == "" {
		s.Register.Digest = register.Digest(s.Register.Entries)
	}
	return s, nil
}

// JSON returns the state's JSON.
func (s *State) JSON() string {
	data, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("notify: marshalling the state: %v", err))
	}
	return string(data)
}

// Publish records entries as a new revision when their content differs from the last
// one, and queues the notification of the change. It reports whether it did.
func (s *State) Publish(entries []register.Entry, source string, now time.Time) (Notification, bool) {
	digest := register.Digest(entries)
	if digest == s.Register.Digest {
		return Notification{}, false
	}
	published := now.UTC().Truncate(time.Second)
	n := Notification{
		Type:             EventRegisterChanged,
		Source:           source,
		Revision:         s.Register.Revision + 1,
		PreviousRevision: s.Register.Revision,
		Digest:           digest,
		PublishedAt:      published,
		Changes:          register.Diff(s.Register.Entries, entries),
	}
	s.Register = register.Register{Revision: n.Revision, Digest: digest, PublishedAt: &published, Entries: entries}
	s.Pending = append(s.Pending, n)
	return n, true
}

// Track sets the subscribers: a new one starts at the current revision (it receives the
// changes after it appeared), a removed one is forgotten.
func (s *State) Track(names []string) {
	keep := map[string]bool{}
	for _, name := range names {
		keep[name] = true
		if s.Subscribers[name] == nil {
			s.Subscribers[name] = &Progress{Delivered: s.Register.Revision}
		}
	}
	for name := range s.Subscribers {
		if !keep[name] {
			delete(s.Subscribers, name)
		}
	}
}

// Due returns, oldest first, what the subscriber should receive now: nothing while it
// backs off after a failure.
func (s *State) Due(name string, now time.Time) []Notification {
	p := s.Subscribers[name]
	if p == nil || (p.NextAttempt != nil && now.Before(*p.NextAttempt)) {
		return nil
	}
	var due []Notification
	for _, n := range s.Pending {
		if n.Revision > p.Delivered {
			due = append(due, n)
		}
	}
	return due
}

// Delivered records that the subscriber received revision.
func (s *State) Delivered(name string, revision int64) {
	if p := s.Subscribers[name]; p != nil && revision > p.Delivered {
		*p = Progress{Delivered: revision}
	}
}

// Failed records a failed attempt and when to try again.
func (s *State) Failed(name string, err error, now time.Time, backoff Backoff) {
	p := s.Subscribers[name]
	if p == nil {
		return
	}
	p.Failures++
	next := now.Add(backoff.Delay(p.Failures)).UTC()
	p.NextAttempt = &next
	p.LastError = err.Error()
}

// Prune drops the notifications every subscriber has received.
func (s *State) Prune() {
	oldest := s.Register.Revision
	for _, p := range s.Subscribers {
		oldest = min(oldest, p.Delivered)
	}
	kept := s.Pending[:0]
	for _, n := range s.Pending {
		if n.Revision > oldest {
			kept = append(kept, n)
		}
	}
	s.Pending = kept
	if len(s.Pending) == 0 {
		s.Pending = nil
	}
}

// Behind returns the names of the subscribers that have not received the last revision.
func (s *State) Behind() []string {
	var names []string
	for name, p := range s.Subscribers {
		if p.Delivered < s.Register.Revision {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// NextAttempt returns how long until one of the named subscribers that is behind may be
// tried again, and false when none of them is behind.
func (s *State) NextAttempt(now time.Time, names []string) (time.Duration, bool) {
	var wait time.Duration
	found := false
	for _, name := range names {
		p := s.Subscribers[name]
		if p == nil || p.Delivered >= s.Register.Revision {
			continue
		}
		d := time.Duration(0)
		if p.NextAttempt != nil {
			d = max(p.NextAttempt.Sub(now), 0)
		}
		if !found || d < wait {
			wait, found = d, true
		}
	}
	return wait, found
}
