package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/lethe-operator/lethe/internal/register"
)

// Headers of a notification POST.
const (
	// HeaderSignature carries "sha256=" and the hex HMAC-SHA256 of the body under the
	// subscriber's signing key.
	HeaderSignature = "Lethe-Signature-256"
	// HeaderEvent names the kind of notification.
	HeaderEvent = "Lethe-Event"
	// HeaderRevision is the register revision the notification announces.
	HeaderRevision = "Lethe-Revision"
	// HeaderDelivery identifies the delivery: the same value on a retry, so a receiver
	// can drop duplicates.
	HeaderDelivery = "Lethe-Delivery"
)

// EventRegisterChanged is the Type of a notification and the value of HeaderEvent.
const EventRegisterChanged = "SubprocessorRegisterChanged"

// Notification is the JSON body POSTed to subscribers for one register revision.
type Notification struct {
	// Type is EventRegisterChanged.
	Type string `json:"type"`
	// Source is the register's ConfigMap, namespace/name.
	Source string `json:"source"`
	// Revision is the new revision; PreviousRevision the one Changes start from.
	Revision         int64 `json:"revision"`
	PreviousRevision int64 `json:"previousRevision"`
	// Digest is the new revision's content digest.
	Digest string `json:"digest"`
	// PublishedAt is when the revision was published.
	PublishedAt time.Time `json:"publishedAt"`
	// Changes from the previous revision.
	Changes register.Changes `json:"changes"`
}

// Sign returns the signature header value of body under key.
func Sign(key, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether signature is body's signature under key, in constant time.
// Receivers written in Go can use it as it is.
func Verify(key, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(key, body)), []byte(signature))
}

// Post delivers one notification to a subscriber; any answer but 2xx is an error.
func Post(ctx context.Context, client *http.Client, sub Subscriber, n Notification) error {
	body, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("encoding revision %d: %w", n.Revision, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.URL, bytes.NewReader(body))
	if err != nil {
		return errors.New("building the request: the webhook URL is not valid")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "lethe")
	req.Header.Set(HeaderEvent, EventRegisterChanged)
	req.Header.Set(HeaderRevision, strconv.FormatInt(n.Revision, 10))
	req.Header.Set(HeaderDelivery, fmt.Sprintf("%s-%d", sub.Name, n.Revision))
	req.Header.Set(HeaderSignature, Sign(sub.SigningKey, body))
	resp, err := client.Do(req)
	if err != nil {
		return withoutURL(err)
	}
	defer resp.Body.Close()
	// Read a little of the body so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("the webhook answered %s", resp.Status)
	}
	return nil
}

// withoutURL drops the URL net/http puts in its errors: it may carry a token, and the
// error ends up in Events and in the delivery state.
func withoutURL(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return fmt.Errorf("%s request failed: %w", urlErr.Op, urlErr.Err)
	}
	return err
}
