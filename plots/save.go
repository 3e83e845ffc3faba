package plots

import (
	"io"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/seqtask/seqtask/internal/atomicfile"
)

// save renders p into path atomically, in the format its extension names
// (png, svg, pdf, ...): a run folder never holds half a picture, even when
// training is killed while it draws.
func save(p *plot.Plot, width, height vg.Length, path string) error {
	wt, err := p.WriterTo(width, height, strings.TrimPrefix(filepath.Ext(path), "."))
	if err != nil {
		return err
	}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		_, err := wt.WriteTo(w)
		return err
	})
}
