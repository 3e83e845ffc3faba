package pipeline

import (
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seqtask/seqtask/nn"
	"github.com/seqtask/seqtask/tasks"
)

// TestRunFoldersOfEarlierVersionsLoad: run folders written before the
// components, tokenizers and checkpoint checks of this version (tiny
// models of the four tasks, trained by commit cac88bb and kept in
// testdata/legacy) still load and predict: the same parameter names and
// shapes, their configs without the keys added since, translation's words
// tokenizer taken from its config.
func TestRunFoldersOfEarlierVersionsLoad(t *testing.T) {
	for _, task := range []string{"charlm", "translation", "captioning", "video"} {
		t.Run(task, func(t *testing.T) {
			l := loadLegacy(t, task)
			switch m := l.Task.(type) {
			case *tasks.CharLM[float32]:
				var out strings.Builder
				if err := m.Generate("ROMEO:", 20, 1, nil, func(c string) error { out.WriteString(c); return nil }); err != nil || len([]rune(out.String())) != 20 {
					t.Errorf("generate: %q, %v", out.String(), err)
				}
			case *tasks.Translation[float32]:
				got, err := m.Translate([]string{"Go away."}, m.DecodeDefaults(), true, nil)
				if err != nil || got[0].Attention == nil {
					t.Errorf("translate: %+v, %v", got, err)
				}
			case *tasks.Captioning[float32]:
				var out strings.Builder
				photo := filepath.Join("..", "data", "flickr8k-demo", "images_64x64", "2090545563_a4e66ec76b.jpg")
				if err := m.Predict(tasks.Input{Path: photo}, &out, nil); err != nil || strings.TrimSpace(out.String()) == "" {
					t.Errorf("caption: %q, %v", out.String(), err)
				}
			case *tasks.Video[float32]:
				if len(m.Labels()) != 5 {
					t.Errorf("labels %v", m.Labels())
				}
			default:
				t.Fatalf("loaded a %T", l.Task)
			}
		})
	}
}

// TestReplicaSharesWeights: a replica of a loaded model reads the loaded
// model's parameters and buffers (the same memory, not a copy) and
// predicts what it predicts.
func TestReplicaSharesWeights(t *testing.T) {
	for _, task := range []string{"charlm", "translation", "captioning", "video"} {
		t.Run(task, func(t *testing.T) {
			l := loadLegacy(t, task)
			r, err := l.Replica()
			if err != nil {
				t.Fatal(err)
			}
			for _, pair := range [][2]nn.Params[float32]{{l.Task.Params(), r.Params()}, {l.Task.Buffers(), r.Buffers()}} {
				if len(pair[0]) != len(pair[1]) {
					t.Fatalf("%d parameters, replica %d", len(pair[0]), len(pair[1]))
				}
				for i, p := range pair[0] {
					if &p.Value[0] != &pair[1][i].Value[0] {
						t.Errorf("%s: the replica has its own copy", p.Name)
					}
				}
			}
			predict := func(m tasks.Task[float32]) string {
				var out strings.Builder
				switch m := m.(type) {
				case *tasks.Translation[float32]:
					got, err := m.Translate([]string{"Go away.", "I phoned."}, m.DecodeDefaults(), false, nil)
					if err != nil {
						t.Fatal(err)
					}
					for _, g := range got {
						out.WriteString(g.Text + "\n")
					}
				case *tasks.Captioning[float32]:
					photo := filepath.Join("..", "data", "flickr8k-demo", "images_64x64", "2090545563_a4e66ec76b.jpg")
					if err := m.Predict(tasks.Input{Path: photo}, &out, nil); err != nil {
						t.Fatal(err)
					}
				}
				return out.String()
			}
			if got, want := predict(r), predict(l.Task); got != want {
				t.Errorf("replica predicts %q, the loaded model %q", got, want)
			}
		})
	}
}

// TestBeamSearchIndependentOfBatch: a sentence's beam-search translation
// is the same alone and in one search with others.
func TestBeamSearchIndependentOfBatch(t *testing.T) {
	l := loadLegacy(t, "translation")
	m := l.Task.(*tasks.Translation[float32])
	opt := m.DecodeDefaults()
	opt.Strategy, opt.Beam = "beam", 5
	sentences := []string{"Go away.", "I phoned.", "Thanks.", "Show me.", "Cuff him.", "I'm weak.", "Too late.", "Be nice."}
	together, err := m.Translate(sentences, opt, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range sentences {
		alone, err := m.Translate([]string{s}, opt, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if alone[0].Text != together[i].Text {
			t.Errorf("%q: %q alone, %q among %d", s, alone[0].Text, together[i].Text, len(sentences))
		}
	}
}

// loadLegacy loads the kept run folder of task from testdata/legacy.
func loadLegacy(t *testing.T, task string) *Loaded {
	t.Helper()
	l, err := LoadRun(filepath.Join("testdata", "legacy", task), nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
