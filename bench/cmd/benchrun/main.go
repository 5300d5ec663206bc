// Command benchrun runs the benchmarks of this module interleaved, several
// rounds, and prints for each path the median ns/op and allocs/op of every
// implementation, its ratio to the path's floor and to this package, and
// whether the speed targets hold.
//
// Each round runs the whole suite once, in one process, with the top-level
// benchmarks shuffled (-test.shuffle) and the implementations of each path
// shuffled too (BENCH_SEED), so that a slow spell of a shared machine hits
// every implementation alike. Ratios are taken within each round (paired)
// and their median is reported.
//
// Usage, from the bench directory:
//
//	go run ./cmd/benchrun                 # full run: 7 rounds of 250ms per benchmark
//	go run ./cmd/benchrun -smoke          # every benchmark once (-benchtime 1x)
//	go run ./cmd/benchrun -bench ReadAt -rounds 3
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// floors names the implementation that is the floor of each benchmark
// family: the cost of the same work with nothing around it.
var floors = map[string]string{
	"BenchmarkMap":            "xsys",
	"BenchmarkOpen":           "xsys",
	"BenchmarkMapParallel":    "xsys",
	"BenchmarkFirstTouch":     "xsys",
	"BenchmarkFullRead":       "xsys",
	"BenchmarkReadAt":         "copy",
	"BenchmarkReadAtParallel": "copy",
	"BenchmarkWriteAt":        "copy",
	"BenchmarkSafetyCost":     "copy",
}

const self = "mmapkit"

// cpuName is the processor as the test binary names it.
var cpuName = "unknown CPU"

type result struct {
	ns, allocs, bytes float64
}

// key is one benchmark: a path (family and case) and an implementation.
type key struct{ path, impl string }

func main() {
	var (
		rounds    = flag.Int("rounds", 7, "number of rounds")
		benchtime = flag.String("benchtime", "250ms", "-test.benchtime of each benchmark")
		bench     = flag.String("bench", ".", "-test.bench: which benchmarks")
		smoke     = flag.Bool("smoke", false, "run every benchmark once (-benchtime 1x, 1 round) and exit non-zero on failure")
		raw       = flag.String("o", "", "also write the raw output of every round to this file")
		cpu       = flag.String("cpu", "", "-test.cpu (default GOMAXPROCS)")
	)
	flag.Parse()
	if *smoke {
		*rounds, *benchtime = 1, "1x"
	}
	start := time.Now()
	if err := run(*rounds, *benchtime, *bench, *cpu, *raw, *smoke); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
	fmt.Printf("benchrun: done in %v\n", time.Since(start).Round(time.Second))
}

func run(rounds int, benchtime, bench, cpu, rawPath string, smoke bool) error {
	work, err := os.MkdirTemp("", "benchrun")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	bin := filepath.Join(work, "bench.test")
	build := exec.Command("go", "test", "-c", "-o", bin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building the benchmarks (run from the bench directory): %w", err)
	}

	var rawOut io.Writer = io.Discard
	if rawPath != "" {
		f, err := os.Create(rawPath)
		if err != nil {
			return err
		}
		defer f.Close()
		rawOut = f
	}

	all := map[key][]result{} // one result per round
	var order []key
	for i := range rounds {
		seed := rand.Uint64() >> 1
		args := []string{"-test.run=^$", "-test.bench=" + bench, "-test.benchtime=" + benchtime,
			"-test.count=1", "-test.shuffle=" + strconv.FormatUint(seed, 10)}
		if cpu != "" {
			args = append(args, "-test.cpu="+cpu)
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "BENCH_SEED="+strconv.FormatUint(seed, 10), "BENCH_DIR="+filepath.Join(work, "fixtures"))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			return err
		}
		n := 0
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(rawOut, line)
			k, r, ok := parse(line)
			if c, found := strings.CutPrefix(line, "cpu: "); found {
				cpuName = strings.TrimSpace(c)
			}
			if !ok {
				if strings.HasPrefix(line, "--- FAIL") || strings.HasPrefix(line, "FAIL") || strings.Contains(line, "panic") {
					fmt.Fprintln(os.Stderr, line)
				}
				continue
			}
			if _, seen := all[k]; !seen {
				order = append(order, k)
			}
			for len(all[k]) < i {
				all[k] = append(all[k], result{ns: -1}) // missing in an earlier round
			}
			all[k] = append(all[k], r)
			n++
		}
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("round %d: %w", i+1, err)
		}
		fmt.Fprintf(os.Stderr, "round %d/%d: %d benchmarks in %v\n", i+1, rounds, n, time.Since(t0).Round(time.Millisecond))
	}
	if len(order) == 0 {
		return fmt.Errorf("no benchmark matched %q", bench)
	}
	if smoke {
		fmt.Printf("smoke: %d benchmarks ran once each\n", len(order))
		return nil
	}
	report(all, order, rounds)
	return nil
}

var lineRE = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(.*)$`)

func parse(line string) (key, result, bool) {
	m := lineRE.FindStringSubmatch(line)
	if m == nil {
		return key{}, result{}, false
	}
	name := m[1]
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return key{}, result{}, false
	}
	ns, _ := strconv.ParseFloat(m[2], 64)
	r := result{ns: ns, allocs: -1, bytes: -1}
	f := strings.Fields(m[3])
	for j := 1; j < len(f); j++ {
		v, err := strconv.ParseFloat(f[j-1], 64)
		if err != nil {
			continue
		}
		switch f[j] {
		case "allocs/op":
			r.allocs = v
		case "B/op":
			r.bytes = v
		}
	}
	return key{name[:i], name[i+1:]}, r, true
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// stats holds what is known of the results of every round.
type stats struct {
	all map[key][]result
}

func (s stats) ns(k key) []float64 {
	var v []float64
	for _, r := range s.all[k] {
		if r.ns > 0 {
			v = append(v, r.ns)
		}
	}
	return v
}

// ratio returns the median over the rounds of a's ns/op divided by b's, and
// whether both ran in at least one common round.
func (s stats) ratio(a, b key) (float64, bool) {
	ra, rb := s.all[a], s.all[b]
	var v []float64
	for i := range min(len(ra), len(rb)) {
		if ra[i].ns > 0 && rb[i].ns > 0 {
			v = append(v, ra[i].ns/rb[i].ns)
		}
	}
	return median(v), len(v) > 0
}

func (s stats) allocs(k key) float64 {
	var v []float64
	for _, r := range s.all[k] {
		if r.allocs >= 0 {
			v = append(v, r.allocs)
		}
	}
	if len(v) == 0 {
		return -1
	}
	return median(v)
}

func family(path string) string {
	if i := strings.IndexByte(path, '/'); i >= 0 {
		return path[:i]
	}
	return path
}

func report(all map[key][]result, order []key, rounds int) {
	s := stats{all}
	// Paths in the order of the source, implementations in the order first seen.
	byPath := map[string][]string{}
	var paths []string
	for _, k := range order {
		if _, ok := byPath[k.path]; !ok {
			paths = append(paths, k.path)
		}
		byPath[k.path] = append(byPath[k.path], k.impl)
	}
	sort.SliceStable(paths, func(i, j int) bool { return familyRank(paths[i]) < familyRank(paths[j]) })

	host, _ := os.Hostname()
	fmt.Printf("%d rounds, medians; spread = (max-min)/median over the rounds; ratios are medians of per-round ratios.\n", rounds)
	fmt.Printf("host %s, %d CPUs (%s), %s, %s/%s\n\n", host, runtime.NumCPU(), cpuName, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\timpl\tns/op\tspread\tallocs/op\t×floor\tmmapkit÷impl\t")
	for _, p := range paths {
		impls := byPath[p]
		slices.SortStableFunc(impls, func(a, b string) int {
			if d := implRank(p, a) - implRank(p, b); d != 0 {
				return d
			}
			return strings.Compare(a, b)
		})
		floor := key{p, floors[family(p)]}
		for _, im := range impls {
			k := key{p, im}
			ns := s.ns(k)
			med := median(ns)
			spread := "-"
			if len(ns) > 1 {
				spread = fmt.Sprintf("%.0f%%", 100*(slices.Max(ns)-slices.Min(ns))/med)
			}
			xf := "-"
			if r, ok := s.ratio(k, floor); ok {
				xf = fmt.Sprintf("%.2f", r)
			}
			xs := "-"
			if sk := (key{p, self}); im != self {
				if r, ok := s.ratio(sk, k); ok {
					xs = fmt.Sprintf("%.2f", r)
				}
			}
			al := "-"
			if a := s.allocs(k); a >= 0 {
				al = strconv.FormatFloat(a, 'f', -1, 64)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", p, im, fmtNs(med), spread, al, xf, xs)
		}
	}
	tw.Flush()
	fmt.Println()
	targets(s)
}

func fmtNs(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2fms", ns/1e6)
	case ns >= 1e4:
		return fmt.Sprintf("%.1fµs", ns/1e3)
	default:
		return fmt.Sprintf("%.1f", ns)
	}
}

var familyOrder = []string{"BenchmarkMap", "BenchmarkOpen", "BenchmarkMapParallel", "BenchmarkReadAt", "BenchmarkReadAtParallel",
	"BenchmarkWriteAt", "BenchmarkSafetyCost", "BenchmarkFirstTouch", "BenchmarkFullRead"}

func familyRank(path string) int {
	if i := slices.Index(familyOrder, family(path)); i >= 0 {
		return i
	}
	return len(familyOrder)
}

// buildUp is the order of BenchmarkSafetyCost, which adds one part at a
// time.
var buildUp = []string{"copy", "panic-on-fault", "recover", "count"}

// implRank puts the floor first and this package's variants last.
func implRank(path, impl string) int {
	if family(path) == "BenchmarkSafetyCost" {
		return slices.Index(buildUp, impl)
	}
	switch {
	case impl == floors[family(path)]:
		return 0
	case strings.HasPrefix(impl, self):
		return 2
	}
	return 1
}

// targets prints the speed targets, each PASS, FAIL or SKIP (not
// measured in this run).
func targets(s stats) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\tmeasured\tresult\tcontext")
	note := ""
	check := func(name string, got float64, ok, pass bool, unit string) {
		switch {
		case !ok:
			fmt.Fprintf(tw, "%s\t-\tSKIP\t%s\n", name, note)
		case pass:
			fmt.Fprintf(tw, "%s\t%.2f%s\tPASS\t%s\n", name, got, unit, note)
		default:
			fmt.Fprintf(tw, "%s\t%.2f%s\tFAIL\t%s\n", name, got, unit, note)
		}
		note = ""
	}
	// context sets the note of the next check: the same ratio for two
	// other implementations, which shows what the machine allows.
	context := func(label string, a, b key) {
		if r, ok := s.ratio(a, b); ok {
			note = fmt.Sprintf("%s %.2fx", label, r)
		}
	}
	le := func(name string, a, b key, limit float64) {
		r, ok := s.ratio(a, b)
		check(name, r, ok, r <= limit, "x")
	}
	ge := func(name string, a, b key, limit float64) {
		r, ok := s.ratio(a, b)
		check(name, r, ok, r >= limit, "x")
	}
	allocs := func(name string, k key, limit float64) {
		a := s.allocs(k)
		check(name, a, a >= 0, a <= limit, " allocs")
	}
	for _, c := range []string{"anon-page", "file-1MiB"} {
		p := "BenchmarkMap/" + c
		limit := 1.10
		if c == "file-1MiB" {
			limit = 1.20
			context("xsys-fstat/xsys (the fstat of ErrPastEOF)", key{p, "xsys-fstat"}, key{p, "xsys"})
		} else {
			context("edsrzf/xsys", key{p, "edsrzf"}, key{p, "xsys"})
		}
		le(fmt.Sprintf("map+unmap %s: Map+Unmap of a built Region <= %.2fx x/sys", c, limit), key{p, self + "-built"}, key{p, "xsys"}, limit)
		allocs("map+unmap "+c+": Map+Unmap of a built Region 0 allocs", key{p, self + "-built"}, 0)
		le("(info) map+unmap "+c+": NewX+Map+Unmap <= 1.10x x/sys", key{p, self}, key{p, "xsys"}, 1.10)
		allocs("(info) map+unmap "+c+": NewX+Map+Unmap <= 1 alloc", key{p, self}, 1)
	}
	// info prints a ratio that no target sets: how far this package is
	// from the floor of what it does.
	info := func(name string, a, b key) {
		if r, ok := s.ratio(a, b); ok {
			fmt.Fprintf(tw, "(info) %s\t%.2fx\t-\t\n", name, r)
		}
	}
	// The safe-floor implementations are the least a copy made fault-safe
	// with debug.SetPanicOnFault (and, for writes and Access, counted) costs
	// at each size: the context of every small-copy target. On linux/amd64
	// the package does without it: ReadAt and WriteAt because its signal
	// handler catches the faults of its own copy routine, Access because the
	// handler sets panic-on-fault only for a goroutine that faults inside it.
	for _, sz := range []string{"64B", "4KiB", "1MiB"} {
		p := "BenchmarkReadAt/" + sz
		limit := map[string]float64{"64B": 1.8, "4KiB": 1.10, "1MiB": 1.02}[sz]
		context("panic-on-fault floor/exp", key{p, "safe-floor"}, key{p, "exp"})
		le(fmt.Sprintf("ReadAt %s <= %.2fx x/exp/mmap", sz, limit), key{p, self}, key{p, "exp"}, limit)
		info(fmt.Sprintf("ReadAt %s / the panic-on-fault floor", sz), key{p, self}, key{p, "safe-floor"})
		if sz == "64B" {
			context("fault-safe counted call/exp", key{p, "safe-floor-access"}, key{p, "exp"})
			le("Access 64B (callback copies) <= 2.50x x/exp/mmap ReadAt 64B", key{p, self + "-access"}, key{p, "exp"}, 2.5)
			info("Access 64B / its fault-safe floor", key{p, self + "-access"}, key{p, "safe-floor-access"})
			pp := "BenchmarkReadAtParallel/" + sz
			context("copy scales", key{p, "copy"}, key{pp, "copy"})
			ge("ReadAt 64B: parallel (2 goroutines) >= 1.90x one goroutine", key{p, self}, key{pp, self}, 1.9)
		}
	}
	for _, sz := range []string{"64B", "4KiB"} {
		p := "BenchmarkWriteAt/" + sz
		limit := map[string]float64{"64B": 3, "4KiB": 1.15}[sz]
		context("panic-on-fault counted floor/copy", key{p, "safe-floor"}, key{p, "copy"})
		le(fmt.Sprintf("WriteAt %s <= %.2fx plain copy", sz, limit), key{p, self}, key{p, "copy"}, limit)
		info(fmt.Sprintf("WriteAt %s / the panic-on-fault floor", sz), key{p, self}, key{p, "safe-floor"})
	}
	p := "BenchmarkFirstTouch/64MiB"
	ge("first touch 64MiB HugePages >= 5x faster than edsrzf", key{p, "edsrzf"}, key{p, self + "-huge"}, 5)
	le("first touch 64MiB HugePages <= 1.2x make", key{p, self + "-huge"}, key{p, "make"}, 1.2)
	p = "BenchmarkFullRead/256MiB"
	for _, v := range []string{self, self + "-populate", self + "-willneed"} {
		context("xsys/pread", key{p, "xsys"}, key{p, "pread"})
		le("full read 256MiB "+v+" faster than pread (< 1.00x)", key{p, v}, key{p, "pread"}, 0.9999)
	}
	if r, ok := s.ratio(key{p, self + "-mapped"}, key{p, "pread"}); ok {
		fmt.Fprintf(tw, "(info) full read 256MiB already mapped, read only, vs pread\t%.2fx\t-\t\n", r)
	}
	tw.Flush()
}
