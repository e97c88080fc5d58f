// Package notify delivers the Subprocessor register's changes to subscribers: signed
// JSON webhooks, in revision order, with retries and a delivery state that survives a
// restart of the manager.
package notify

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Keys of the subscribers Secret: subscriber NAME has its webhook URL under NAME.url and
// its signing key under NAME.secret. Two keys rather than one JSON value so each works
// with `kubectl create secret --from-literal` and with External Secrets templates.
const (
	URLKeySuffix    = ".url"
	SecretKeySuffix = ".secret"
)

// subscriberName is what may come before the key suffixes.
var subscriberName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// Subscriber is one webhook that receives the register's changes.
type Subscriber struct {
	// Name is the subscriber's name in the Secret; delivery progress is kept under it.
	Name string
	// URL receives a POST per register revision.
	URL string
	// SigningKey is the HMAC-SHA256 key of the signature header.
	SigningKey []byte
	// Err says why the Secret's entry cannot be used; such a subscriber keeps its
	// progress but receives nothing until the entry is fixed.
	Err error
}

// Subscribers reads the subscribers Secret's data, sorted by name.
func Subscribers(data map[string][]byte) []Subscriber {
	byName := map[string]*Subscriber{}
	get := func(name string) *Subscriber {
		if byName[name] == nil {
			byName[name] = &Subscriber{Name: name}
		}
		return byName[name]
	}
	for key, value := range data {
		switch {
		case strings.HasSuffix(key, URLKeySuffix):
			get(strings.TrimSuffix(key, URLKeySuffix)).URL = strings.TrimSpace(string(value))
		case strings.HasSuffix(key, SecretKeySuffix):
			get(strings.TrimSuffix(key, SecretKeySuffix)).SigningKey = value
		}
	}
	subscribers := make([]Subscriber, 0, len(byName))
	for _, s := range byName {
		s.Err = s.validate()
		subscribers = append(subscribers, *s)
	}
	slices.SortFunc(subscribers, func(a, b Subscriber) int { return strings.Compare(a.Name, b.Name) })
	return subscribers
}

// validate checks one subscriber. Its messages never quote the URL: it may carry a token.
func (s *Subscriber) validate() error {
	if !subscriberName.MatchString(s.Name) {
		return fmt.Errorf("subscriber name %q must be a DNS label (lower-case letters, digits and dashes)", s.Name)
	}
	if s.URL == "" {
		return fmt.Errorf("key %s%s is missing: it holds the webhook URL", s.Name, URLKeySuffix)
	}
	if len(s.SigningKey) == 0 {
		return fmt.Errorf("key %s%s is missing or empty: it holds the signing key", s.Name, SecretKeySuffix)
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		return errors.New("the webhook URL does not parse")
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("the webhook URL must be an absolute http or https URL")
	}
	return nil
}
