package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Linux's /proc: the server's memory and CPU, the machine's load, so that a
// run's figures carry what else was using the machine.

// clockTick is USER_HZ, the unit of /proc/PID/stat's CPU times (100 on
// every Linux architecture Go supports).
const clockTick = 100

// rssKiB is VmRSS of /proc/PID/status, in KiB.
func rssKiB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmRSS(string(b))
}

func parseVmRSS(status string) (int, error) {
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.Atoi(f[0])
		}
	}
	return 0, fmt.Errorf("no VmRSS line")
}

// cpuTime is a process's user+system CPU time from /proc/PID/stat.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a stat line; the
// command name (field 2) may hold spaces and parentheses, so fields are
// counted from the last ')'.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat line")
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("short stat line")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed stat times")
	}
	return time.Duration(u+s) * time.Second / clockTick, nil
}

// selfCPU is this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAvg is /proc/loadavg's first three fields, or "" off Linux.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// watcher samples the server's RSS every interval, writing "seconds rss_kib"
// lines to log if it is not nil, until stop is closed; it records the
// first, last and largest sample.
type watcher struct {
	pid               int
	first, last, peak int
	samples           int
	cpu0, cpu1        time.Duration
	start             time.Time
	err               error
	done              chan struct{}
}

func watch(pid int, every time.Duration, log io.Writer, stop <-chan struct{}) *watcher {
	w := &watcher{pid: pid, start: time.Now(), done: make(chan struct{})}
	w.cpu0, w.err = cpuTime(pid)
	sample := func() {
		kb, err := rssKiB(pid)
		if err != nil {
			if w.err == nil {
				w.err = err
			}
			return
		}
		if w.samples == 0 {
			w.first = kb
		}
		w.last, w.peak = kb, max(w.peak, kb)
		w.samples++
		if log != nil {
			fmt.Fprintf(log, "%.1f\t%d\n", time.Since(w.start).Seconds(), kb)
		}
	}
	go func() {
		defer close(w.done)
		sample()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				sample()
			case <-stop:
				sample()
				w.cpu1, _ = cpuTime(pid)
				return
			}
		}
	}()
	return w
}

// machineBusy is the CPU time all processors spent busy (user, nice,
// system, irq, softirq, steal) since boot, from /proc/stat's "cpu" line.
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	return parseProcStat(string(b))
}

func parseProcStat(stat string) (time.Duration, error) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("no cpu line in /proc/stat")
	}
	var busy int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system (idle iowait) irq softirq steal
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %v", err)
		}
		busy += v
	}
	return time.Duration(busy) * time.Second / clockTick, nil
}
