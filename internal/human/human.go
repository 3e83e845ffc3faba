// Package human formats numbers and durations for progress lines and
// reports, the same way wherever they appear (a training run's progress
// line, a sweep's status line and its report).
package human

import (
	"fmt"
	"time"
)

// Count renders a count or rate as 950, 12.3k or 1.20M; "–" for none
// (zero or less).
func Count(x float64) string {
	switch {
	case x <= 0:
		return "–"
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.1fk", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}

// ETA renders a time left as 1h02m or 3m05s; "?" when unknown (negative).
func ETA(d time.Duration) string {
	if d < 0 {
		return "?"
	}
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%dh%02dm", h, m)
	}
	return fmt.Sprintf("%dm%02ds", m, s)
}

// Duration renders a time taken as 41s, 3m05s or 1h02m.
func Duration(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.0fs", d.Seconds())
	}
	return ETA(d)
}
