package pipeline

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/tasks"
)

// checkMemory refuses, before anything is allocated, a model whose
// estimated training memory exceeds the machine's: a typo such as
// decoder.hidden: 1000000 is an error naming the key, not an hour of
// swapping or the kernel's OOM killer.
func checkMemory(cfg *config.Config) error {
	parts, err := tasks.Estimate(cfg, tasks.AssumedSizes(cfg))
	if err != nil {
		return err
	}
	need := tasks.Total(parts)
	have, source := machineMemory()
	if have <= 0 || need <= have {
		return nil
	}
	return &config.Error{File: cfg.Source(), Key: parts[0].Key,
		Msg: fmt.Sprintf("the model would need about %s to train, more than this machine's %s (%s): largest parts: %s",
			tasks.HumanBytes(need), tasks.HumanBytes(have), source, tasks.DescribeParts(parts, 3))}
}

// machineMemory returns the memory this process may use: the cgroup's
// limit when one is set, else the machine's total; and where that figure
// came from. It returns 0 when neither can be read.
func machineMemory() (int64, string) {
	total := meminfoTotal()
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 && (total == 0 || n < total) {
			return n, "its cgroup's memory.max"
		}
	}
	return total, "MemTotal in /proc/meminfo"
}

func meminfoTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kib, err := strconv.ParseInt(fields[1], 10, 64)
			if err == nil {
				return kib << 10
			}
		}
	}
	return 0
}
