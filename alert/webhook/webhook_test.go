package webhook

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/httpnotify"
	"github.com/wherefore/wherefore/alert/internal/kindtest"
	"github.com/wherefore/wherefore/alert/internal/notifytest"
)

func TestWebhookRequest(t *testing.T) {
	srv := notifytest.NewPlayServer(t, notifytest.Reply{Status: 204})
	u := srv.URL + "/hook?token=WEBHOOKTOKENSECRET"
	ws, err := New(Config{
		URLs:    []alert.Secret{alert.Secret(u)},
		Secret:  "HMACSECRET",
		Headers: []alert.Secret{"X-Team: netops", "authorization: Bearer HEADERSECRET"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || ws[0].Name() != "webhook" {
		t.Fatalf("webhooks %v", ws)
	}
	a := kindtest.Sample(notifytest.SampleKey, notifytest.T0)
	if _, err := ws[0].Notify(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/hook" || r.Query != "token=WEBHOOKTOKENSECRET" {
		t.Errorf("request %s %s?%s", r.Method, r.Path, r.Query)
	}
	var line bytes.Buffer
	if err := alert.EncodeJSON(&line, a); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Body, line.Bytes()) {
		t.Errorf("body\n%s\nwant the JSON-lines record\n%s", r.Body, line.Bytes())
	}
	for h, want := range map[string]string{
		"Content-Type":  "application/json",
		"User-Agent":    httpnotify.UserAgent,
		"X-Team":        "netops",
		"Authorization": "Bearer HEADERSECRET",
		SignatureHeader: Sign([]byte("HMACSECRET"), r.Body),
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	if !strings.HasPrefix(r.Header.Get(SignatureHeader), "sha256=") {
		t.Errorf("signature %q", r.Header.Get(SignatureHeader))
	}
}

func TestSign(t *testing.T) {
	// HMAC-SHA256 test vector from RFC 4231, case 2.
	got := Sign([]byte("Jefe"), []byte("what do ya want for nothing?"))
	want := "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	if got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

// Webhooks are named by position, not by URL: the name keys the spool, so
// a new URL in the same place still finds what was spooled for the old one.
func TestWebhookNamesFollowPositionNotURL(t *testing.T) {
	a, _ := New(Config{URLs: alert.SecretList{"https://a.example/x, https://b.example/y"}.Split()}, nil)
	b, _ := New(Config{URLs: []alert.Secret{"https://c.example/z", "https://d.example/w"}}, nil)
	if len(a) != 2 || len(b) != 2 {
		t.Fatalf("%d and %d webhooks, want 2 and 2", len(a), len(b))
	}
	for i, want := range []string{"webhook", "webhook-2"} {
		if a[i].Name() != want || b[i].Name() != want {
			t.Errorf("webhook #%d named %q and %q, want %q", i+1, a[i].Name(), b[i].Name(), want)
		}
		if alert.NotifierKind(a[i].Name()) != "webhook" {
			t.Errorf("kind of %q is %q", a[i].Name(), alert.NotifierKind(a[i].Name()))
		}
	}
}
