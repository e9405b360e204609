package main

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/wherefore/wherefore/alert"
	"github.com/wherefore/wherefore/alert/jsonl"
)

// Counters survive a reload's dispatcher swap: metrics never go backwards.
func TestAlertingStatsSurviveSwap(t *testing.T) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	newD := func() *alert.Dispatcher {
		cfg := alert.DefaultDispatcherConfig()
		cfg.Logger = log
		d, err := alert.NewDispatcher(cfg, []alert.Notifier{jsonl.New(io.Discard)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	submit := func(al *alerting, n int) {
		for i := range n {
			al.submit([]*alert.Alert{{Key: "a->b", Time: time.Unix(int64(i), 0)}})
		}
	}
	al := &alerting{d: newD()}
	submit(al, 3)
	before := al.stats().Submitted
	old := al.swap(newD())
	// Between the swap and the old dispatcher's retirement, its counters
	// still count.
	if s := al.stats(); s.Submitted != before || before != 3 {
		t.Fatalf("submitted %d right after the swap, %d before; want 3 both", s.Submitted, before)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := old.Close(ctx); err != nil {
		t.Fatal(err)
	}
	al.retire(old)
	if s := al.stats(); s.Submitted != 3 || len(al.draining) != 0 {
		t.Fatalf("after retiring: submitted %d, %d draining; want 3, 0", s.Submitted, len(al.draining))
	}
	submit(al, 2)
	if err := al.current().Close(ctx); err != nil {
		t.Fatal(err)
	}
	s := al.stats()
	if s.Submitted != 5 || len(s.Notifiers) != 1 || s.Notifiers[0].Delivered != 5 {
		t.Fatalf("stats after a swap: submitted %d, notifiers %+v; want 5 delivered", s.Submitted, s.Notifiers)
	}
}
