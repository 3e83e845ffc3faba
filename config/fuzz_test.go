package config_test

import (
	"strings"
	"testing"

	"github.com/seqtask/seqtask/config"
)

// FuzzParse feeds arbitrary YAML and one -set override to the config
// loader. Whatever the input, Parse returns a config or a config error,
// never a panic; and a config it accepts survives Marshal and Parse again
// unchanged (what a run folder's config.yaml relies on).
func FuzzParse(f *testing.F) {
	for _, seed := range []struct{ yaml, set string }{
		{"task: charlm\ndata:\n  path: config.go\n", "train.optimizer.lr=0.001"},
		{"task: charlm\ndata:\n  path: x\ndecoder:\n  hidden: 8\n  cell: gru\n", "decoder.layers=2"},
		{"task: translation\ndata: {path: x}\nencoder: {kind: rnn, cell: gru, embed: 4, hidden: 4, layers: 1}\n", "eval.decode.strategy=beam"},
		{"task: video\ndata: {path: a, val_path: b}\nencoder: {kind: cnn, channels: [2], kernel: 3}\n", "decoder.cell=none"},
		{"task: captioning\ndata: {path: a}\nencoder: {kind: cnn, channels: [2, 4], kernel: 3, pretrain_steps: 2}\n", "train.steps=5"},
		{"task: charlm\ndata: {path: x}\n---\ntask: video\n", "seed=3"},
		{"task: charlm\ndata: {path: x}\ntrain: {time_limit: 1h30m}\n", "train.time_limit=-5s"},
		{"task: [", "x"},
		{"&a [*a]", "a.b.c=d"},
		{"task: charlm\ndata: {path: x}\neval: {sample: {prime: \"ROMEO:\"}}\n", "eval.sample.prime=ROMEO:"},
	} {
		f.Add([]byte(seed.yaml), seed.set)
	}
	f.Fuzz(func(t *testing.T, src []byte, set string) {
		var sets []string
		if set != "" {
			sets = []string{set}
		}
		cfg, err := config.Parse(src, "fuzz.yaml", sets)
		if err != nil {
			if !config.IsConfigError(err) {
				t.Fatalf("error %T is not a config error: %v", err, err)
			}
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		b, err := cfg.Marshal()
		if err != nil {
			t.Fatalf("an accepted config does not marshal: %v", err)
		}
		again, err := config.Parse(b, "again.yaml", nil)
		if err != nil {
			t.Fatalf("an accepted config does not parse again: %v\n%s", err, b)
		}
		b2, err := again.Marshal()
		if err != nil || string(b2) != string(b) {
			t.Fatalf("config changed over a round trip:\n%s\n---\n%s", b, b2)
		}
	})
}
