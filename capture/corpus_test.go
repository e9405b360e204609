package capture

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusDir returns ../shared/pcaps beside the checkout. CI always has it;
// elsewhere the corpus tests are skipped with a note.
func corpusDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "shared", "pcaps"))
	if err == nil {
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return dir
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("public capture corpus not found at %s", dir)
	}
	t.Skipf("public capture corpus not found at %s (it sits beside the checkout as shared/pcaps)", dir)
	return ""
}

func corpusFiles(t testing.TB, set string) []string {
	t.Helper()
	dir := filepath.Join(corpusDir(t), set)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasSuffix(e.Name(), ".md") {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	if len(files) == 0 {
		t.Fatalf("no captures in %s", dir)
	}
	return files
}

// readAll reads and decodes every packet of a source, as the daemon does.
type readResult struct {
	packets, wireBytes, decoded uint64
	recordSum                   uint64 // order-sensitive digest of the decoded records
	skipped                     SkipCounts
	err                         error
}

func readAll(src Source) readResult {
	var res readResult
	dec := NewDecoder(src.LinkType())
	var r Record
	for {
		data, ci, err := src.ReadPacket()
		if err != nil {
			if err != io.EOF {
				res.err = err
			}
			break
		}
		res.packets++
		res.wireBytes += uint64(ci.Length)
		if dec.Decode(ci, data, &r) {
			res.decoded++
			res.recordSum = res.recordSum*1099511628211 ^ digest(&r)
		}
	}
	res.skipped = dec.Skipped
	return res
}

func digest(r *Record) uint64 {
	s, d := r.Src.As16(), r.Dst.As16()
	var h uint64 = 14695981039346656037
	for _, b := range append(s[:], d[:]...) {
		h = (h ^ uint64(b)) * 1099511628211
	}
	h ^= uint64(r.TS)*31 + uint64(r.WireLen)<<8 + uint64(r.Proto)<<40 + uint64(r.SrcPort)<<16 + uint64(r.DstPort)<<24 + uint64(r.TCPFlags)<<48
	return h
}

func TestPublicCapturesReadable(t *testing.T) {
	for _, set := range []string{"traffic", "attacks"} {
		for _, path := range corpusFiles(t, set) {
			t.Run(filepath.Base(path), func(t *testing.T) {
				src, err := OpenFile(path, "", "auto")
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				defer src.Close()
				res := readAll(src)
				if res.err != nil {
					t.Fatalf("read: %v", res.err)
				}
				if res.packets == 0 || res.decoded+res.skipped.Total() != res.packets {
					t.Fatalf("read %d packets: %d decoded, %d skipped", res.packets, res.decoded, res.skipped.Total())
				}
				if res.decoded == 0 && res.skipped[SkipNonIP] != res.packets {
					t.Fatalf("no IP packet decoded; skipped %v", res.skipped)
				}
			})
		}
	}
}

// TestGoReaderMatchesLibpcap reads every classic pcap of the corpus with
// both readers: where libpcap reads a file to the end, the Go reader must
// return the very same packets; where libpcap stops on an error, so must it.
func TestGoReaderMatchesLibpcap(t *testing.T) {
	var compared int
	for _, set := range []string{"traffic", "attacks", "malformed"} {
		for _, path := range corpusFiles(t, set) {
			libSrc, libErr := OpenFile(path, "", "libpcap")
			goSrc, goErr := OpenFile(path, "", "auto")
			_, isGo := goSrc.(*PcapReader)
			if libErr != nil || goErr != nil || !isGo {
				if libSrc != nil {
					libSrc.Close()
				}
				if goSrc != nil {
					goSrc.Close()
				}
				continue
			}
			lib, gor := readAll(libSrc), readAll(goSrc)
			libSrc.Close()
			goSrc.Close()
			if lib.err != nil {
				if gor.err == nil {
					t.Errorf("%s: libpcap stopped (%v) but the Go reader read to the end", filepath.Base(path), lib.err)
				}
				continue
			}
			compared++
			if gor.err != nil || gor.packets != lib.packets || gor.wireBytes != lib.wireBytes || gor.recordSum != lib.recordSum {
				t.Errorf("%s: Go reader %d packets %d bytes digest %x err %v; libpcap %d packets %d bytes digest %x",
					filepath.Base(path), gor.packets, gor.wireBytes, gor.recordSum, gor.err, lib.packets, lib.wireBytes, lib.recordSum)
			}
		}
	}
	if compared < 100 {
		t.Fatalf("compared only %d files", compared)
	}
}

// TestMalformedCorpus: every odd file either opens and reads without a
// panic, or fails with an error that names the file.
func TestMalformedCorpus(t *testing.T) {
	var opened, refused int
	for _, path := range corpusFiles(t, "malformed") {
		for _, reader := range []string{"auto", "libpcap"} {
			src, err := OpenFile(path, "", reader)
			if err != nil {
				refused++
				if !strings.Contains(err.Error(), filepath.Base(path)) {
					t.Errorf("%s (%s): error does not name the file: %v", filepath.Base(path), reader, err)
				}
				continue
			}
			opened++
			res := readAll(src)
			src.Close()
			if res.err != nil && !strings.Contains(res.err.Error(), filepath.Base(path)) {
				t.Errorf("%s (%s): read error does not name the file: %v", filepath.Base(path), reader, res.err)
			}
			if got := res.decoded + res.skipped.Total(); got != res.packets {
				t.Errorf("%s (%s): %d packets read but %d decoded + %d skipped", filepath.Base(path), reader, res.packets, res.decoded, res.skipped.Total())
			}
		}
	}
	t.Logf("malformed corpus: %d opens, %d refusals", opened, refused)
	if refused < 11 {
		t.Errorf("only %d refusals; libpcap alone refuses 11 of these files", refused)
	}
}

// TestDecodeAgreesWithBPF counts IP packets two independent ways: our
// decoder, and libpcap's compiled "ip or ip6" filter.
func TestDecodeAgreesWithBPF(t *testing.T) {
	dir := corpusDir(t)
	for _, name := range []string{
		"traffic/elcabezzonn__aug16_part2.pcap",
		"traffic/chrissanders__http_espn.pcapng",
		"traffic/pcapplusplus__sll.pcap",
		"traffic/ndpi__gnutella.pcap",
		"malformed/pcapplusplus__sll2.pcap",
		"malformed/pcapplusplus__null_loopback.pcap",
		"malformed/pcapplusplus__nanosecs_big_endian.pcap",
	} {
		t.Run(filepath.Base(name), func(t *testing.T) {
			path := filepath.Join(dir, name)
			src, err := OpenFile(path, "", "auto")
			if err != nil {
				t.Fatal(err)
			}
			all := readAll(src)
			src.Close()
			filter := "ip or ip6"
			fsrc, err := OpenFile(path, filter, "auto")
			if err != nil {
				t.Fatal(err)
			}
			ip := readAll(fsrc)
			fsrc.Close()
			if all.err != nil || ip.err != nil {
				t.Fatalf("read errors: %v, %v", all.err, ip.err)
			}
			if all.decoded == 0 || all.decoded != ip.packets || ip.decoded != ip.packets {
				t.Fatalf("decoder found %d IP packets of %d; BPF %q kept %d (decoded %d)", all.decoded, all.packets, filter, ip.packets, ip.decoded)
			}
		})
	}
}

func TestCompressedAndPiped(t *testing.T) {
	path := filepath.Join(corpusDir(t), "traffic", "pcapplusplus__example.pcap")
	want := openRead(t, path, "auto")
	gz := gzipFile(t, path)
	for _, reader := range []string{"auto", "libpcap"} {
		if got := openRead(t, gz, reader); got != want {
			t.Errorf("gzip via %s: %+v, want %+v", reader, got, want)
		}
	}
	ng := filepath.Join(corpusDir(t), "traffic", "chrissanders__http_espn.pcapng")
	wantNG := openRead(t, ng, "auto")
	if got := openRead(t, gzipFile(t, ng), "auto"); got != wantNG {
		t.Errorf("gzip pcapng: %+v, want %+v", got, wantNG)
	}
}

func TestCompressedFormatsRefused(t *testing.T) {
	path := filepath.Join(corpusDir(t), "malformed", "pcapplusplus__pcapng-example.pcapng.zst")
	_, err := OpenFile(path, "", "auto")
	if err == nil || !strings.Contains(err.Error(), "zstd") || !strings.Contains(err.Error(), "-pcapfile -") {
		t.Fatalf("zstd file: got %v, want an error saying how to decompress it", err)
	}
}

func TestBadFilterNamesFlag(t *testing.T) {
	path := filepath.Join(corpusDir(t), "traffic", "pcapplusplus__example.pcap")
	for _, reader := range []string{"auto", "libpcap"} {
		_, err := OpenFile(path, "tcp and and", reader)
		if err == nil || !strings.Contains(err.Error(), "-f") {
			t.Errorf("%s: got %v, want an error naming -f", reader, err)
		}
	}
}

func TestTruncatedFileReportsWhere(t *testing.T) {
	path := filepath.Join(corpusDir(t), "traffic", "pcapplusplus__example.pcap")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	if err := os.WriteFile(cut, data[:len(data)*2/3], 0o600); err != nil {
		t.Fatal(err)
	}
	full := openRead(t, path, "auto")
	for _, reader := range []string{"auto", "libpcap"} {
		src, err := OpenFile(cut, "", reader)
		if err != nil {
			t.Fatal(err)
		}
		res := readAll(src)
		src.Close()
		if res.err == nil || !strings.Contains(res.err.Error(), "broke after packet") || !strings.Contains(res.err.Error(), "cut.pcap") {
			t.Fatalf("%s: error %v, want one saying where the file broke", reader, res.err)
		}
		if res.packets == 0 || res.packets >= full.packets {
			t.Fatalf("%s: read %d packets before the break (file has %d)", reader, res.packets, full.packets)
		}
	}
}

func TestMissingFile(t *testing.T) {
	_, err := OpenFile(filepath.Join(t.TempDir(), "nope.pcap"), "", "auto")
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want a not-exist error", err)
	}
}

type summaryCounts struct{ packets, bytes, decoded uint64 }

func openRead(t *testing.T, path, reader string) summaryCounts {
	t.Helper()
	src, err := OpenFile(path, "", reader)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	res := readAll(src)
	if res.err != nil {
		t.Fatal(res.err)
	}
	return summaryCounts{res.packets, res.wireBytes, res.decoded}
}
