package capture

import (
	"encoding/binary"
	"errors"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// corpusDir returns ../shared/pcaps beside the checkout, the public
// capture corpus these tests read. A missing corpus fails the test: a
// reader that was never run on the corpus has not been shown to work.
func corpusDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "shared", "pcaps"))
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Fatalf("public capture corpus not found at %s (it sits beside the checkout as shared/pcaps): %v", dir, err)
	}
	return dir
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

// allCorpusFiles returns every capture under the corpus, in all its
// folders, and checks the count against the total the corpus README
// states, so that a file the walk missed cannot go unnoticed.
func allCorpusFiles(t testing.TB) []string {
	t.Helper()
	dir := corpusDir(t)
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && !strings.HasSuffix(d.Name(), ".md") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\| \*\*Total\*\* \| \*\*([0-9]+)\*\* \|`).FindSubmatch(readme)
	if m == nil {
		t.Fatalf("%s/README.md: no total row (| **Total** | **N** |) to check the file count against", dir)
	}
	if want, _ := strconv.Atoi(string(m[1])); len(files) != want {
		t.Fatalf("found %d captures under %s; its README lists %d", len(files), dir, want)
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

// readerResult is what one reader made of a capture file: its properties,
// a digest of every packet (timestamp, lengths, bytes), and how it ended.
type readerResult struct {
	openErr           error
	linkType, snaplen int
	packets           uint64
	digest            uint64
	err               error
}

func readRaw(path, reader string) readerResult {
	src, err := OpenFile(path, "", reader)
	if err != nil {
		return readerResult{openErr: err}
	}
	defer src.Close()
	res := readerResult{linkType: src.LinkType(), snaplen: src.Snaplen()}
	h := fnv.New64a()
	var b [24]byte
	for {
		data, ci, err := src.ReadPacket()
		if err != nil {
			if err != io.EOF {
				res.err = err
			}
			break
		}
		res.packets++
		binary.LittleEndian.PutUint64(b[0:], uint64(ci.Timestamp.UnixNano()))
		binary.LittleEndian.PutUint64(b[8:], uint64(ci.CaptureLength))
		binary.LittleEndian.PutUint64(b[16:], uint64(ci.Length))
		h.Write(b[:])
		h.Write(data)
	}
	res.digest = h.Sum64()
	return res
}

// errorKind names which of the documented kinds err wraps, for comparing
// two readers' errors.
func errorKind(err error) string {
	for _, k := range []struct {
		err  error
		name string
	}{{ErrFormat, "format"}, {ErrTruncated, "truncated"}, {ErrCorrupt, "corrupt"}} {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	if err == nil {
		return "none"
	}
	return "unclassified"
}

// TestGoReaderMatchesLibpcap reads every file of the corpus, in all its
// folders, with both readers (-file_reader auto and libpcap): both must
// refuse the same files, return the very same packets, and stop on the same
// files after the same packet with the same kind of error.
func TestGoReaderMatchesLibpcap(t *testing.T) {
	var goRead, refused, broke int
	for _, path := range allCorpusFiles(t) {
		name := filepath.Base(path)
		lib, gor := readRaw(path, "libpcap"), readRaw(path, "auto")
		if lib.openErr != nil || gor.openErr != nil {
			if lib.openErr == nil || gor.openErr == nil {
				t.Errorf("%s: libpcap open error %v; Go reader open error %v", name, lib.openErr, gor.openErr)
				continue
			}
			refused++
			for _, err := range []error{lib.openErr, gor.openErr} {
				if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), name) {
					t.Errorf("%s: open error %v, want ErrFormat naming the file", name, err)
				}
			}
			continue
		}
		if src, err := OpenFile(path, "", "auto"); err == nil {
			if _, ok := src.(*PcapReader); ok {
				goRead++
			}
			src.Close()
		}
		if lib.packets != gor.packets || lib.digest != gor.digest || lib.snaplen != gor.snaplen {
			t.Errorf("%s: Go reader %d packets (digest %x, snaplen %d); libpcap %d packets (digest %x, snaplen %d)",
				name, gor.packets, gor.digest, gor.snaplen, lib.packets, lib.digest, lib.snaplen)
		}
		// gopacket narrows libpcap's link type to a byte; a file with no
		// packet may carry a value past what can be recovered.
		if lib.packets > 0 && lib.linkType != gor.linkType {
			t.Errorf("%s: link type %d from the Go reader, %d from libpcap", name, gor.linkType, lib.linkType)
		}
		if lk, gk := errorKind(lib.err), errorKind(gor.err); lk != gk {
			t.Errorf("%s: libpcap ended with %s (%v); Go reader with %s (%v)", name, lk, lib.err, gk, gor.err)
		}
		if lib.err == nil {
			continue
		}
		broke++
		var lb, gb *BrokenError
		if !errors.As(lib.err, &lb) || !errors.As(gor.err, &gb) {
			t.Errorf("%s: errors %v / %v are not *BrokenError", name, lib.err, gor.err)
			continue
		}
		if lb.Packets != gb.Packets || lb.File != path || gb.File != path {
			t.Errorf("%s: libpcap broke after packet %d of %s; Go reader after %d of %s", name, lb.Packets, lb.File, gb.Packets, gb.File)
		}
	}
	t.Logf("%d files read by the Go reader, %d refused by both, %d broke part-way in both", goRead, refused, broke)
	if goRead < 200 || refused == 0 || broke == 0 {
		t.Fatalf("the Go reader read only %d files (%d refused, %d broke): the comparison did not cover the corpus", goRead, refused, broke)
	}
}

// TestMalformedCorpus: every odd file either opens and reads without a
// panic, or fails with an error that names the file and says which kind of
// failure it is.
func TestMalformedCorpus(t *testing.T) {
	var opened, refused int
	for _, path := range corpusFiles(t, "malformed") {
		for _, reader := range []string{"auto", "libpcap"} {
			src, err := OpenFile(path, "", reader)
			if err != nil {
				refused++
				if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), filepath.Base(path)) {
					t.Errorf("%s (%s): open error %v, want ErrFormat naming the file", filepath.Base(path), reader, err)
				}
				continue
			}
			opened++
			res := readAll(src)
			src.Close()
			var broken *BrokenError
			if res.err != nil && (!errors.As(res.err, &broken) || broken.File != path || broken.Packets != res.packets ||
				(!errors.Is(res.err, ErrTruncated) && !errors.Is(res.err, ErrCorrupt))) {
				t.Errorf("%s (%s): read error %v, want a *BrokenError for this file after %d packets, truncated or corrupt", filepath.Base(path), reader, res.err, res.packets)
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
	// The message must tell the user the command that decompresses it.
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "zstd -dc") || !strings.Contains(err.Error(), "-pcapfile -") {
		t.Fatalf("zstd file: got %v, want ErrFormat saying how to decompress it", err)
	}
}

func TestBadFilterNamesFlag(t *testing.T) {
	path := filepath.Join(corpusDir(t), "traffic", "pcapplusplus__example.pcap")
	for _, reader := range []string{"auto", "libpcap"} {
		_, err := OpenFile(path, "tcp and and", reader)
		if !errors.Is(err, ErrFilter) || !strings.HasPrefix(err.Error(), "-f ") {
			t.Errorf("%s: got %v, want ErrFilter naming -f", reader, err)
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
		var broken *BrokenError
		if !errors.As(res.err, &broken) || !errors.Is(res.err, ErrTruncated) || broken.File != cut {
			t.Fatalf("%s: error %v, want a *BrokenError for %s wrapping ErrTruncated", reader, res.err, cut)
		}
		if res.packets == 0 || res.packets >= full.packets || broken.Packets != res.packets {
			t.Fatalf("%s: read %d packets, error says %d, before the break (file has %d)", reader, res.packets, broken.Packets, full.packets)
		}
		if broken.LastTS.IsZero() {
			t.Errorf("%s: the error does not carry the last packet's timestamp", reader)
		}
		// The Go reader also says where in the file: past the packets read.
		if reader == "auto" && (broken.Offset <= pcapHeaderLen || broken.Offset >= int64(len(data)*2/3)) {
			t.Errorf("%s: broke at byte offset %d, outside the cut file's records (%d bytes)", reader, broken.Offset, len(data)*2/3)
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
