package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	privacyv1alpha1 "github.com/lethe-operator/lethe/api/v1alpha1"
	"github.com/lethe-operator/lethe/internal/plan"
	"github.com/lethe-operator/lethe/internal/testdb"
)

// TestErasureRecoversWhenTheDatabaseComesBack: the TenantDatabase is reached through a
// TCP proxy. Its schema is verified, then the proxy refuses connections and a request is
// filed: the erasure Job fails as unreachable and is retried, the request says why and is
// not Complete. Once the proxy forwards again, the next attempt erases the customer.
func TestErasureRecoversWhenTheDatabaseComesBack(t *testing.T) {
	g := NewWithT(t)
	ec := startErasureManager(t, "recover")
	applySample(t, "privacy_v1alpha1_datamap.yaml", ec.ns, nil)
	sqlName := strings.ReplaceAll(ec.ns+"_flaky", "-", "_")
	db := newDatabase(t, postgres, sqlName)
	proxy := startProxy(t, fmt.Sprintf("127.0.0.1:%d", postgres.Port))
	ec.addProxiedDatabase(t, g, postgres, "flaky", sqlName, proxy.port)
	const customer, email = 90, "guest90@mail.example"
	before := readRows(t, db)

	proxy.refuse()
	er := ec.fileRequest(t, "req-flaky", "email", email, nil)
	g.Eventually(func(g Gomega) {
		c := condition(g, er, privacyv1alpha1.ConditionComplete)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(privacyv1alpha1.ReasonErasureFailed))
		g.Expect(c.Message).To(ContainSubstring(plan.ErrUnreachable))
		g.Expect(er.Status.Phase).To(Equal(privacyv1alpha1.ErasureRunning))
		target := er.Status.GetTarget("flaky")
		g.Expect(target).NotTo(BeNil())
		g.Expect(target.State).To(Equal(privacyv1alpha1.TargetRetrying), target.Message)
		// A second failed attempt shows the retry is scheduled again, not given up.
		g.Expect(target.Attempts).To(BeNumerically(">=", 2), target.Message)
		g.Expect(eventReasons(g, ec.ns, er.Name)).To(ContainElement(privacyv1alpha1.ReasonErasureFailed))
	}, eventually).Should(Succeed())
	g.Expect(isConditionTrue(g, er, privacyv1alpha1.ConditionStalled)).To(BeFalse(), "an unreachable database is retried, not stalled")
	g.Expect(readRows(t, db)).To(Equal(before), "nothing changes while the database is unreachable")
	t.Logf("while refused: attempts %d: %s", er.Status.GetTarget("flaky").Attempts, er.Status.GetTarget("flaky").Message)

	proxy.forward()
	waitComplete(g, er)
	g.Expect(er.Status.Phase).To(Equal(privacyv1alpha1.ErasureComplete))
	g.Expect(er.Status.Databases).To(Equal("1/1"))
	g.Expect(er.Status.Receipt).NotTo(BeNil())
	target := er.Status.GetTarget("flaky")
	g.Expect(target.State).To(Equal(privacyv1alpha1.TargetDone), target.Message)
	g.Expect(target.Attempts).To(BeZero())
	checkErased(t, g, "flaky", before, readRows(t, db), customer, target)
}

func isConditionTrue(g Gomega, er *privacyv1alpha1.ErasureRequest, typ string) bool {
	c := condition(g, er, typ)
	return c != nil && c.Status == metav1.ConditionTrue
}

// addProxiedDatabase creates a TenantDatabase for an existing booking database reached
// on port (the proxy's) as localhost, so verify-full still matches the server's
// certificate, and waits for its schema to be verified.
func (ec *erasureCluster) addProxiedDatabase(t *testing.T, g Gomega, server *testdb.Server, name, sqlName string, port int) {
	t.Helper()
	secret := name + "-login"
	credentialsSecret(t, ec.ns, secret, server)
	tdb := &privacyv1alpha1.TenantDatabase{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ec.ns, Labels: map[string]string{"app": "booking"}},
		Spec: privacyv1alpha1.TenantDatabaseSpec{
			Engine: privacyv1alpha1.Engine(server.Engine), Host: "localhost", Port: int32(port), Database: sqlName,
			CredentialsSecretRef: privacyv1alpha1.CredentialsRef{Name: secret},
			TLS: &privacyv1alpha1.DatabaseTLS{Mode: privacyv1alpha1.TLSVerifyFull,
				CASecretRef: &privacyv1alpha1.SecretKeyRef{Name: secret, Key: "ca.crt"}},
			DataMapRef: "booking-app",
		},
	}
	g.Expect(env.Client.Create(context.Background(), tdb)).To(Succeed())
	g.Eventually(func(g Gomega) {
		c := condition(g, tdb, privacyv1alpha1.ConditionSchemaVerified)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
	}, eventually).Should(Succeed())
}

// switchProxy forwards TCP connections from 127.0.0.1:port to target. Refusing closes
// the listener and every open connection, so new connections are refused as by a
// server that is down; forwarding listens on the same port again.
type switchProxy struct {
	t      *testing.T
	target string
	port   int
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
}

func startProxy(t *testing.T, target string) *switchProxy {
	t.Helper()
	p := &switchProxy{t: t, target: target, conns: map[net.Conn]struct{}{}}
	p.forward()
	t.Cleanup(p.refuse)
	return p
}

// forward starts accepting connections (on the same port after a refuse).
func (p *switchProxy) forward() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		return
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.port))
	if err != nil {
		p.t.Fatalf("proxy: %v", err)
	}
	p.ln, p.port = ln, ln.Addr().(*net.TCPAddr).Port
	go p.accept(ln)
}

// refuse closes the listener and drops every connection.
func (p *switchProxy) refuse() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

func (p *switchProxy) accept(ln net.Listener) {
	for {
		client, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				p.t.Logf("proxy: %v", err)
			}
			return
		}
		go p.pipe(client)
	}
}

func (p *switchProxy) pipe(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = client.Close()
		return
	}
	if !p.track(client, server) {
		return
	}
	done := make(chan struct{}, 2)
	copyHalf := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go copyHalf(server, client)
	go copyHalf(client, server)
	<-done
	_ = client.Close()
	_ = server.Close()
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

// track records a forwarded pair, or closes it when the proxy was switched off meanwhile.
func (p *switchProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		for _, c := range conns {
			_ = c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}
