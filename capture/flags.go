package capture

import (
	"flag"
	"time"
)

// RegisterFlags defines Wherefore's capture flags on fs, with their
// defaults, writing straight into c.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Interface, "i", "eth0", "`interface` to capture from (live mode)")
	fs.StringVar(&c.File, "pcapfile", "", "read packets from this capture `file` (pcap or pcapng, optionally gzip-compressed; - for standard input) instead of an interface; alerts go to standard output as JSON lines")
	fs.StringVar(&c.BPF, "f", "", "BPF `filter` applied to live and file captures (empty: all traffic; Wherefore's default \"tcp\" hid UDP and ICMP transfers)")
	fs.IntVar(&c.Snaplen, "s", 65536, "snapshot length in `bytes` (bytes on the wire are counted in full whatever the snaplen)")
	fs.DurationVar(&c.ReadTimeout, "w", 3*time.Second, "read timeout for the live capture; also how often a quiet capture advances the clock")
	fs.StringVar(&c.Daq, "daq", "libpcap", "data acquisition: only \"libpcap\"")
	fs.StringVar(&c.FileReader, "file_reader", "auto", "how -pcapfile is read: auto (classic pcap, also gzip-compressed or on standard input, is parsed in Go with large sequential reads; pcapng goes through libpcap) or libpcap (always)")
	fs.BoolVar(&c.Promisc, "promisc", true, "put the interface in promiscuous mode")
	fs.IntVar(&c.BufferSize, "buffer_size", 16<<20, "kernel capture buffer in `bytes` (0: libpcap's default); larger buffers drop fewer packets in bursts")
}
