package sweep

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/seqtask/seqtask/config"
	_ "github.com/seqtask/seqtask/tasks" // registers the tasks' config schemas
)

// tinyBase is a charlm config small enough for a trial of a test.
func tinyBase(t *testing.T) string {
	t.Helper()
	base, err := filepath.Abs(filepath.Join("..", "pipeline", "testdata", "tiny.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return base
}

// writeSpec writes a spec into a fresh folder, its base config the tiny
// charlm with its data at an absolute path.
func writeSpec(t *testing.T, body string) string {
	t.Helper()
	text, err := filepath.Abs(filepath.Join("..", "pipeline", "testdata", "tiny.txt"))
	if err != nil {
		t.Fatal(err)
	}
	src := "base: " + tinyBase(t) + "\nset:\n  data.path: " + text + "\n" + body
	path := filepath.Join(t.TempDir(), "sweep.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSpecErrors checks that every mistake in a spec is an error naming
// the spec's line and key, with the nearest valid key where one is near.
func TestSpecErrors(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"unknown key", "grdi:\n  decoder.cell: [lstm]\n", "sweep.yaml:4: grdi: unknown key (did you mean grid?)"},
		{"unknown executor key", "grid: {decoder.cell: [lstm, gru]}\nexecutor: {local: {paralel: 2}}\n", "sweep.yaml:5: executor.local.paralel: unknown key (did you mean executor.local.parallel?)"},
		{"wrong type", "grid: {decoder.cell: [lstm, gru]}\nseeds: one\n", "sweep.yaml:5: seeds: want a list"},
		{"not a config key", "grid:\n  decodr.cell: [lstm, gru]\n", "sweep.yaml:5: grid.decodr.cell: not a config key (did you mean decoder.cell?)"},
		{"set key", "  train.stepz: 3\ngrid: {decoder.cell: [lstm]}\n", "sweep.yaml:4: set.train.stepz: not a config key (did you mean train.steps?)"},
		{"not a list", "grid:\n  decoder.cell: lstm\n", "sweep.yaml:5: grid.decoder.cell: want a non-empty list of values"},
		{"twice in the grid", "grid:\n  decoder.cell: [lstm, lstm]\n", "grid.decoder.cell: value lstm given twice"},
		{"value the config refuses", "grid:\n  decoder.cell: [lstm, tcn]\n", `sweep.yaml:5: grid.decoder.cell: decoder.cell=tcn: "tcn" is not one of`},
		{"a trial's name in the error", "grid:\n  decoder.hidden: [16, 0]\n", "in trial 001 (decoder.hidden=0)"},
		{"set value the config refuses", "  train.steps: -1\ngrid: {decoder.cell: [lstm]}\n", "sweep.yaml:4: set.train.steps: train.steps=-1:"},
		{"in two places", "grid: {decoder.cell: [lstm]}\nrandom:\n  trials: 2\n  keys: {decoder.cell: {choice: [gru]}}\n", "sweep.yaml:7: random.keys.decoder.cell: also given in grid"},
		{"draws of nothing", "random: {trials: 3}\n", "sweep.yaml:4: random.trials: 3 draws of nothing"},
		{"keys without draws", "random:\n  keys: {train.optimizer.lr: {uniform: [0.1, 0.2]}}\n", "random.trials: missing"},
		{"two laws", "random:\n  trials: 2\n  keys:\n    train.optimizer.lr: {uniform: [0.1, 0.2], choice: [1]}\n", "sweep.yaml:7: random.keys.train.optimizer.lr: want exactly one of"},
		{"unknown law", "random:\n  trials: 2\n  keys:\n    train.optimizer.lr: {loguniform: [0.1, 0.2]}\n", "random.keys.train.optimizer.lr.loguniform: unknown key (did you mean random.keys.train.optimizer.lr.log_uniform?)"},
		{"bounds", "random:\n  trials: 2\n  keys:\n    train.optimizer.lr: {uniform: [0.2, 0.1]}\n", "uniform: want lo < hi"},
		{"log of zero", "random:\n  trials: 2\n  keys:\n    train.optimizer.lr: {log_uniform: [0, 0.1]}\n", "log_uniform: want positive bounds"},
		{"seed twice", "grid: {seed: [1, 2]}\nseeds: [3]\n", "sweep.yaml:5: seeds: seed is also varied"},
		{"ensemble of one seed", "seeds: [1]\nensemble: true\n", "sweep.yaml:5: ensemble: an ensemble is each configuration's seeds together: give seeds: with at least two (it has 1)"},
		{"ensemble without seeds", "grid: {decoder.cell: [lstm, gru]}\nensemble: true\n", "sweep.yaml:5: ensemble: an ensemble is each configuration's seeds together"},
		{"direction", "seeds: [1]\ndirection: down\n", `sweep.yaml:5: direction: "down" is not one of [min max]`},
		{"executor", "seeds: [1]\nexecutor: {kind: pbs}\n", `sweep.yaml:5: executor.kind: "pbs" is not one of [local slurm]`},
		{"sbatch args", "seeds: [1]\nexecutor: {slurm: {sbatch_args: [account=x]}}\n", "executor.slurm.sbatch_args: \"account=x\": want sbatch options"},
		{"nothing varies", "", "nothing varies: give grid, random or seeds"},
		{"second document", "seeds: [1]\n---\nseeds: [2]\n", "sweep.yaml:5: a second YAML document"},
	} {
		_, err := loadAndExpand(writeSpec(t, tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
		if err != nil && !config.IsConfigError(err) {
			t.Errorf("%s: %T is not a config error (exit status 2)", tc.name, err)
		}
	}
	if _, err := loadAndExpand(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "cannot read sweep spec") {
		t.Errorf("missing spec: %v", err)
	}
	path := filepath.Join(t.TempDir(), "s.yaml")
	os.WriteFile(path, []byte("base: nowhere.yaml\nseeds: [1]\n"), 0o644)
	if _, err := loadAndExpand(path); err == nil || !strings.Contains(err.Error(), "s.yaml:1: base: cannot read the base config") {
		t.Errorf("missing base: %v", err)
	}
}

func loadAndExpand(path string) ([]*Trial, error) {
	l, err := Load(path)
	if err != nil {
		return nil, err
	}
	return l.expand()
}

// mustExpand loads the spec at path and expands its trials, failing the
// test on an error.
func mustExpand(t *testing.T, path string) (*Loaded, []*Trial) {
	t.Helper()
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	trials, err := l.expand()
	if err != nil {
		t.Fatal(err)
	}
	return l, trials
}

// TestExpand checks the trials of a grid crossed with random draws and
// seeds: their number and order, the draws' laws and reproducibility, and
// that every value reaches the trial's config as written.
func TestExpand(t *testing.T) {
	spec := writeSpec(t, `grid:
  decoder.cell: [lstm, gru]
  eval.sample.prime: ["1", "ROMEO:"]
random:
  trials: 3
  seed: 9
  keys:
    train.optimizer.lr: {log_uniform: [1.0e-4, 1.0e-2]}
    decoder.hidden: {uniform: [8, 24]}
    decoder.dropout: {uniform: [0, 0.5]}
    decoder.embed: {choice: [4, 8]}
seeds: [5, 6]
`)
	l, trials := mustExpand(t, spec)
	if len(trials) != 2*2*3*2 {
		t.Fatalf("%d trials, want 24", len(trials))
	}
	if got, want := varied(l), []string{"decoder.cell", "eval.sample.prime", "train.optimizer.lr", "decoder.hidden", "decoder.dropout", "decoder.embed", "seed"}; !slices.Equal(got, want) {
		t.Errorf("varied keys %v, want %v", got, want)
	}
	// The first grid key varies slowest, seeds fastest.
	first, last := trials[0], trials[len(trials)-1]
	if first.ID != "000" || first.Dir != "trials/000" || last.ID != "023" {
		t.Errorf("ids %s %s %s", first.ID, first.Dir, last.ID)
	}
	if describe(first.Overrides[:2]) != `decoder.cell=lstm eval.sample.prime="1"` || describe(last.Overrides[:2]) != `decoder.cell=gru eval.sample.prime="ROMEO:"` {
		t.Errorf("grid order: %s … %s", describe(first.Overrides), describe(last.Overrides))
	}
	if trials[0].cfg.Seed != 5 || trials[1].cfg.Seed != 6 {
		t.Errorf("seeds %d %d, want 5 6", trials[0].cfg.Seed, trials[1].cfg.Seed)
	}
	if p := trials[0].cfg.Eval.Sample.Prime; p != "1" {
		t.Errorf("a quoted number stays a string: prime %q", p)
	}
	draws := map[string]bool{}
	for _, tr := range trials {
		c := tr.cfg
		lr := c.Train.Optimizer.LR
		if lr < 1e-4 || lr > 1e-2 {
			t.Errorf("lr %v outside its bounds", lr)
		}
		if c.Decoder.Hidden < 8 || c.Decoder.Hidden > 24 {
			t.Errorf("hidden %d outside its bounds", c.Decoder.Hidden)
		}
		if c.Decoder.Dropout < 0 || c.Decoder.Dropout > 0.5 {
			t.Errorf("dropout %v outside its bounds", c.Decoder.Dropout)
		}
		if c.Decoder.Embed != 4 && c.Decoder.Embed != 8 {
			t.Errorf("embed %d not a choice", c.Decoder.Embed)
		}
		if v := tr.Overrides[2].Value; strconv.FormatFloat(lr, 'g', 4, 64) != v {
			t.Errorf("lr drawn as %s, want 4 significant digits", v)
		}
		draws[describe(tr.Overrides[2:6])] = true
		// The trial's config equals the base config with its overrides.
		sets := []string{"data.path=" + c.Data.Path}
		for _, o := range tr.Overrides {
			sets = append(sets, o.Key+"="+o.Value)
		}
		want, err := config.Load(tinyBase(t), sets)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := want.Marshal()
		if string(b) != string(tr.resolved) {
			t.Errorf("trial %s: resolved config differs from the base with %v", tr.ID, sets)
		}
	}
	if len(draws) != 3 {
		t.Errorf("%d distinct draws, want 3 (each crossed with the grid)", len(draws))
	}
	again, err := l.expand()
	if err != nil {
		t.Fatal(err)
	}
	for i := range trials {
		if describe(again[i].Overrides) != describe(trials[i].Overrides) || again[i].Config != trials[i].Config {
			t.Fatalf("the same spec drew other trials: %s vs %s", describe(again[i].Overrides), describe(trials[i].Overrides))
		}
	}
}

// TestReferenceSpec keeps configs/sweeps/reference.yaml complete: it must
// be a valid spec, and every key of the spec's schema must appear in it.
// The shipped example specs must be valid too.
func TestReferenceSpec(t *testing.T) {
	t.Chdir("..") // config paths are relative to the repository root
	path := filepath.Join("configs", "sweeps", "reference.yaml")
	if _, err := loadAndExpand(path); err != nil {
		t.Fatalf("reference spec: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	var walk func(n *yaml.Node, path string, t reflect.Type)
	walk = func(n *yaml.Node, path string, t reflect.Type) {
		documented[path] = true
		if t.Kind() != reflect.Struct || t == reflect.TypeOf(yaml.Node{}) || n.Kind != yaml.MappingNode {
			return
		}
		_, fields := fieldsOf(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if f, ok := fields[key]; ok {
				walk(n.Content[i+1], strings.TrimPrefix(path+"."+key, "."), f)
			}
		}
	}
	walk(doc.Content[0], "", reflect.TypeOf(Spec{}))
	for _, k := range specKeys(reflect.TypeOf(Spec{}), "") {
		if !documented[k] {
			t.Errorf("configs/sweeps/reference.yaml does not document %s", k)
		}
	}
	for _, tc := range []struct {
		spec   string
		trials int
	}{
		{"charlm.yaml", 12},             // the README's sweep
		{"charlm-15m-ensemble.yaml", 2}, // two seeds, one ensemble
	} {
		example := filepath.Join("configs", "sweeps", tc.spec)
		trials, err := loadAndExpand(example)
		if err != nil {
			t.Fatalf("%s: %v", example, err)
		}
		if len(trials) != tc.trials {
			t.Errorf("%s: %d trials, want %d", example, len(trials), tc.trials)
		}
	}
}

// fieldsOf maps a struct's yaml keys to their field types.
func fieldsOf(t reflect.Type) ([]string, map[string]reflect.Type) {
	var names []string
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name := strings.Split(f.Tag.Get("yaml"), ",")[0]
		names = append(names, name)
		fields[name] = f.Type
	}
	return names, fields
}

// specKeys lists every key path of a spec's schema: a yaml.Node (a
// mapping of config keys) is one key.
func specKeys(t reflect.Type, path string) []string {
	if t.Kind() != reflect.Struct || t == reflect.TypeOf(yaml.Node{}) || t.String() == "time.Duration" {
		return []string{path}
	}
	var out []string
	names, fields := fieldsOf(t)
	for _, n := range names {
		p := n
		if path != "" {
			p = path + "." + n
		}
		out = append(out, specKeys(fields[n], p)...)
	}
	return out
}

// TestRandomDraws checks integer and float formatting of drawn values.
func TestRandomDraws(t *testing.T) {
	spec := writeSpec(t, "random:\n  trials: 50\n  keys:\n    decoder.hidden: {log_uniform: [8, 64]}\n    train.optimizer.lr: {uniform: [0.001, 0.002]}\n")
	trials, err := loadAndExpand(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range trials {
		if _, err := strconv.Atoi(tr.Overrides[0].Value); err != nil {
			t.Errorf("integer bounds drew %s", tr.Overrides[0].Value)
		}
		if !strings.Contains(tr.Overrides[1].Value, ".") && !strings.Contains(tr.Overrides[1].Value, "e") {
			t.Errorf("a float draw reads as an integer: %s", tr.Overrides[1].Value)
		}
	}
}
