package alert

import "flag"

// RegisterFlags sets c to the defaults and defines the dispatcher's flags
// on fs, writing straight into c.
func (c *DispatcherConfig) RegisterFlags(fs *flag.FlagSet) {
	*c = DefaultDispatcherConfig()
	fs.IntVar(&c.QueueSize, "alert_queue_size", c.QueueSize, "alerts waiting for delivery, per notifier; overflow is counted and still written locally")
	fs.DurationVar(&c.Cooldown, "alert_cooldown", c.Cooldown, "after a flow's alert reached the notifiers, hold its further alerts for this long (0: off); the local record keeps them all")
	fs.IntVar(&c.RateLimit, "alert_rate_limit", c.RateLimit, "most alerts sent to the notifiers per minute (0: no limit); the rest are summarised in one message")
	fs.DurationVar(&c.NotifyTimeout, "notify_timeout", c.NotifyTimeout, "timeout of one delivery attempt")
	fs.DurationVar(&c.RetryBudget, "notify_retry_budget", c.RetryBudget, "keep retrying a failed delivery for this long, then spool it to disk for the next start")
	fs.BoolVar(&c.DNSLookup, "dns_lookup", c.DNSLookup, "add reverse DNS names of src and dst to alerts (500ms per lookup)")
}
