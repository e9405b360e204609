package pagerduty

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/internal/httpnotify"
	"github.com/wherefore/wherefore/alert/internal/kindtest"
	"github.com/wherefore/wherefore/alert/internal/notifytest"
)

const pdKey = "PDROUTINGKEYSECRET"

func TestPagerDutyRequest(t *testing.T) {
	ok := notifytest.Reply{Status: 202, Header: map[string]string{"Content-Type": "application/json"},
		Body: `{"status":"success","message":"Event processed","dedup_key":"x"}`}
	srv := notifytest.NewPlayServer(t, ok)
	p, err := New(Config{RoutingKey: pdKey, URL: srv.URL + "/v2/enqueue", AutoResolve: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := kindtest.FireAndResolve(t, p)
	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	for _, q := range reqs {
		if q.Method != "POST" || q.Path != "/v2/enqueue" || q.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %s %s %q", q.Method, q.Path, q.Header.Get("Content-Type"))
		}
		if q.Header.Get("User-Agent") != httpnotify.UserAgent {
			t.Errorf("User-Agent %q", q.Header.Get("User-Agent"))
		}
	}
	var trig struct {
		RoutingKey string `json:"routing_key"`
		Action     string `json:"event_action"`
		DedupKey   string `json:"dedup_key"`
		Client     string
		Payload    struct {
			Summary, Source, Severity, Timestamp, Component, Group, Class string
			Details                                                       alert.Alert `json:"custom_details"`
		}
	}
	if err := json.Unmarshal(reqs[0].Body, &trig); err != nil {
		t.Fatal(err)
	}
	wantDedup := "wherefore:web-3:10.0.0.5->203.0.113.9"
	if trig.RoutingKey != pdKey || trig.Action != "trigger" || trig.DedupKey != wantDedup || trig.Client != "wherefore" {
		t.Errorf("trigger event %+v", trig)
	}
	pl := trig.Payload
	if pl.Severity != "critical" || pl.Source != "web-3" || pl.Timestamp != "2026-11-22T10:00:05Z" ||
		pl.Summary != alert.Headline(a) || pl.Class != "flow volume" || pl.Component != "10.0.0.5" {
		t.Errorf("payload %+v", pl)
	}
	if pl.Details.Key != notifytest.SampleKey || pl.Details.Bytes != 64_000_000 || pl.Details.Probability != 0.97 {
		t.Errorf("custom_details %+v", pl.Details)
	}
	var res map[string]any
	if err := json.Unmarshal(reqs[1].Body, &res); err != nil {
		t.Fatal(err)
	}
	if res["event_action"] != "resolve" || res["dedup_key"] != wantDedup || res["payload"] != nil {
		t.Errorf("resolve event %v", res)
	}
}

func TestPagerDutySuccessWithoutJSONBody(t *testing.T) {
	// Accepted is accepted, even when a proxy answers without the JSON body
	// go-pagerduty would like to decode.
	srv := notifytest.NewPlayServer(t, notifytest.Reply{Status: 202, Body: "accepted"})
	p, _ := New(Config{RoutingKey: pdKey, URL: srv.URL + "/v2/enqueue"}, nil)
	if _, err := p.Notify(context.Background(), kindtest.Sample(notifytest.SampleKey, notifytest.T0)); err != nil {
		t.Errorf("Notify = %v, want success", err)
	}
}
