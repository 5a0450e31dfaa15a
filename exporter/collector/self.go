package collector

import (
	"bytes"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Self reports the exporter's own process and Go runtime: the few series
// of client_golang's process and Go collectors that say whether the
// exporter is healthy, under the same names and meanings, at a small part
// of their cost. Those collectors read and parse /proc/self/stat,
// /proc/self/limits, /proc/self/net/netstat and /proc/stat and emit some
// fifty series at every scrape: more CPU than all eight GPUs together.
// Here a scrape costs a few system calls and no parsing of large files.
type Self struct {
	goroutines, threads, goInfo, heapAlloc, sys, nextGC *desc
	cpu, resident, virtual, virtualMax, start, openFDs  *desc
	maxFDs                                              *desc

	startTime float64 // Unix seconds; 0 when unknown
	pageSize  float64

	mu      sync.Mutex
	buf     []byte           // for /proc/self/statm and /proc/self/fd
	runtime []metrics.Sample // heap objects, total, GC goal, goroutines
}

var (
	_ prometheus.Collector = (*Self)(nil)
	_ prometheus.Gatherer  = (*Self)(nil)
)

// NewSelf returns the collector of the exporter's own process.
func NewSelf() *Self {
	s := &Self{
		goroutines: newPlainDesc("go_goroutines", "Number of goroutines that currently exist."),
		threads:    newPlainDesc("go_threads", "Number of OS threads created."),
		goInfo:     newPlainDesc("go_info", "Information about the Go environment.", "version"),
		heapAlloc: newPlainDesc("go_memstats_heap_alloc_bytes",
			"Number of heap bytes allocated and currently in use. Equals to /memory/classes/heap/objects:bytes."),
		sys: newPlainDesc("go_memstats_sys_bytes", "Number of bytes obtained from system. Equals to /memory/classes/total:bytes."),
		nextGC: newPlainDesc("go_memstats_next_gc_bytes",
			"Number of heap bytes when next garbage collection will take place. Equals to /gc/heap/goal:bytes."),
		cpu:        newPlainDesc("process_cpu_seconds_total", "Total user and system CPU time spent in seconds."),
		resident:   newPlainDesc("process_resident_memory_bytes", "Resident memory size in bytes."),
		virtual:    newPlainDesc("process_virtual_memory_bytes", "Virtual memory size in bytes."),
		virtualMax: newPlainDesc("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes."),
		start:      newPlainDesc("process_start_time_seconds", "Start time of the process since unix epoch in seconds."),
		openFDs:    newPlainDesc("process_open_fds", "Number of open file descriptors."),
		maxFDs:     newPlainDesc("process_max_fds", "Maximum number of open file descriptors."),
		pageSize:   float64(os.Getpagesize()),
		buf:        make([]byte, 8192),
		runtime: []metrics.Sample{
			{Name: "/memory/classes/heap/objects:bytes"},
			{Name: "/memory/classes/total:bytes"},
			{Name: "/gc/heap/goal:bytes"},
			{Name: "/sched/goroutines:goroutines"},
		},
	}
	s.startTime = processStartTime()
	return s
}

// Describe implements prometheus.Collector.
func (s *Self) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*desc{s.goroutines, s.threads, s.goInfo, s.heapAlloc, s.sys, s.nextGC,
		s.cpu, s.resident, s.virtual, s.virtualMax, s.start, s.openFDs, s.maxFDs} {
		ch <- d.Desc
	}
}

// Gather implements prometheus.Gatherer by the collectors' fast path.
func (s *Self) Gather() ([]*dto.MetricFamily, error) {
	mfs, _, err := gather(s.Collect)
	return mfs, err
}

// Transactional is Exporter.Transactional for s.
func (s *Self) Transactional() prometheus.TransactionalGatherer { return transactional(s.Collect) }

// Collect implements prometheus.Collector. A reading that fails is left out.
func (s *Self) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()

	metrics.Read(s.runtime)
	for i, d := range []*desc{s.heapAlloc, s.sys, s.nextGC, s.goroutines} {
		if v := s.runtime[i].Value; v.Kind() == metrics.KindUint64 {
			gauge(ch, d, float64(v.Uint64()), nil)
		}
	}
	threads, _ := runtime.ThreadCreateProfile(nil)
	gauge(ch, s.threads, float64(threads), nil)
	gauge(ch, s.goInfo, 1, nil, runtime.Version())

	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		counter(ch, s.cpu, cpu.Seconds(), nil)
	}
	if size, resident, ok := s.statm(); ok {
		gauge(ch, s.virtual, size*s.pageSize, nil)
		gauge(ch, s.resident, resident*s.pageSize, nil)
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_AS, &lim) == nil {
		gauge(ch, s.virtualMax, float64(lim.Cur), nil)
	}
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		gauge(ch, s.maxFDs, float64(lim.Cur), nil)
	}
	if n, ok := s.openFiles(); ok {
		gauge(ch, s.openFDs, float64(n), nil)
	}
	if s.startTime > 0 {
		gauge(ch, s.start, s.startTime, nil)
	}
}

// statm reads the process's size and resident set, in pages.
func (s *Self) statm() (size, resident float64, ok bool) {
	b, ok := s.readFile("/proc/self/statm")
	if !ok {
		return 0, 0, false
	}
	sz, rest, ok1 := leadingUint(b)
	rs, _, ok2 := leadingUint(rest)
	return float64(sz), float64(rs), ok1 && ok2
}

// leadingUint parses the decimal number that b starts with, after spaces,
// and returns the rest of b.
func leadingUint(b []byte) (uint64, []byte, bool) {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	var v uint64
	n := 0
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		v = v*10 + uint64(b[n]-'0')
		n++
	}
	return v, b[n:], n > 0
}

// readFile reads a small file into s.buf with raw system calls.
func (s *Self) readFile(path string) ([]byte, bool) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, false
	}
	defer syscall.Close(fd)
	n, err := syscall.Read(fd, s.buf)
	if err != nil || n <= 0 {
		return nil, false
	}
	return s.buf[:n], true
}

// openFiles counts the entries of /proc/self/fd.
func (s *Self) openFiles() (int, bool) {
	fd, err := syscall.Open("/proc/self/fd", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, false
	}
	defer syscall.Close(fd)
	count := 0
	for {
		n, err := syscall.ReadDirent(fd, s.buf)
		if err != nil {
			return 0, false
		}
		if n <= 0 {
			break
		}
		count += countDirents(s.buf[:n])
	}
	// "." and ".." are entries too; the directory's own descriptor, open
	// while it is read, is one of the process's descriptors then but not
	// otherwise.
	return count - 3, true
}

// countDirents counts the linux_dirent64 records in buf.
func countDirents(buf []byte) int {
	const reclenOffset = unsafe.Offsetof(syscall.Dirent{}.Reclen)
	n := 0
	for len(buf) > int(reclenOffset)+2 {
		reclen := int(*(*uint16)(unsafe.Pointer(&buf[reclenOffset])))
		if reclen == 0 || reclen > len(buf) {
			break
		}
		n++
		buf = buf[reclen:]
	}
	return n
}

// processStartTime returns when the process started, in Unix seconds, from
// /proc/self/stat (clock ticks after boot) and /proc/stat (boot time); 0
// when either cannot be read.
func processStartTime() float64 {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	// The command name may hold spaces and parentheses: fields start after
	// the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(stat[i+1:])
	const startTimeField = 22 - 3 // field 22 of the file; f[0] is field 3
	if len(f) <= startTimeField {
		return 0
	}
	ticks, err := strconv.ParseUint(string(f[startTimeField]), 10, 64)
	if err != nil {
		return 0
	}
	sys, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(sys) {
		if rest, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			boot, err := strconv.ParseUint(string(bytes.TrimSpace(rest)), 10, 64)
			if err != nil {
				return 0
			}
			const userHZ = 100 // sysconf(_SC_CLK_TCK) on Linux, as procfs assumes too
			return float64(boot) + float64(ticks)/userHZ
		}
	}
	return 0
}
