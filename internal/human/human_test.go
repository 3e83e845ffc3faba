package human

import (
	"testing"
	"time"
)

func TestFormats(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Count(0), "–"},
		{Count(950), "950"},
		{Count(12345), "12.3k"},
		{Count(1.2e6), "1.20M"},
		{ETA(-time.Second), "?"},
		{ETA(185 * time.Second), "3m05s"},
		{ETA(62*time.Minute + 10*time.Second), "1h02m"},
		{Duration(41 * time.Second), "41s"},
		{Duration(185 * time.Second), "3m05s"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
