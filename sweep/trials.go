package sweep

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/seqtask/seqtask/config"
)

// Trial is one training of a sweep: the base config with Overrides (the
// varied keys' values) on top of the spec's fixed keys.
type Trial struct {
	ID        string     `json:"id"`
	Dir       string     `json:"dir"` // the run folder, relative to the sweep folder
	Overrides []Override `json:"overrides"`
	Config    string     `json:"config_sha256"` // of the resolved config: a changed base or set: changes it

	cfg      *config.Config // resolved
	resolved []byte         // cfg.Marshal()
}

// Override is a varied key's value, as -set text.
type Override struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// randomStream tells the sweep's draws apart from other uses of a seed.
const randomStream = 0x5ee9

// expand lists the trials: every grid point (the first key varying
// slowest) crossed with every random draw, each repeated with every seed.
// Each trial's config is resolved with config.Parse and the overrides, so
// that a value no config takes is an error naming the spec's line before
// anything runs.
func (l *Loaded) expand() ([]*Trial, error) {
	points := [][]override{nil}
	for _, a := range l.grid {
		var next [][]override
		for _, p := range points {
			for _, v := range a.values {
				next = append(next, append(append([]override{}, p...), override{Key: a.key, Value: v, line: a.line, section: "grid"}))
			}
		}
		points = next
	}
	if l.Random.Trials > 0 {
		rng := rand.New(rand.NewPCG(l.Random.Seed, randomStream))
		draws := make([][]override, l.Random.Trials)
		for i := range draws {
			for _, r := range l.random {
				draws[i] = append(draws[i], override{Key: r.key, Value: r.draw(rng), line: r.line, section: "random.keys"})
			}
		}
		var next [][]override
		for _, p := range points {
			for _, d := range draws {
				next = append(next, append(append([]override{}, p...), d...))
			}
		}
		points = next
	}
	if len(l.Seeds) > 0 {
		var next [][]override
		for _, p := range points {
			for _, s := range l.Seeds {
				next = append(next, append(append([]override{}, p...), override{Key: "seed", Value: strconv.FormatUint(s, 10), line: config.LineOf(l.lines, "seeds"), section: "seeds"}))
			}
		}
		points = next
	}
	if len(points) > maxTrials {
		return nil, &config.Error{File: l.Path, Msg: fmt.Sprintf("%d trials: more than the %d a sweep may hold; vary fewer keys or values", len(points), maxTrials)}
	}
	// The base config with the fixed keys must be valid alone: its
	// errors are reported once, not once per trial.
	fixed := make([]string, len(l.set))
	for i, o := range l.set {
		fixed[i] = o.Key + "=" + o.Value
	}
	if _, err := config.Parse(l.base, l.BasePath, fixed); err != nil {
		return nil, l.blameFixed(err)
	}
	width := max(3, len(strconv.Itoa(len(points)-1)))
	trials := make([]*Trial, len(points))
	var errs config.Errors
	seen := map[string]bool{}
	for i, p := range points {
		t := &Trial{ID: fmt.Sprintf("%0*d", width, i)}
		t.Dir = "trials/" + t.ID
		sets := append([]string{}, fixed...)
		for _, o := range p {
			sets = append(sets, o.Key+"="+o.Value)
			t.Overrides = append(t.Overrides, Override{Key: o.Key, Value: o.Value})
		}
		cfg, err := config.Parse(l.base, l.BasePath, sets)
		if err != nil {
			// A bad value breaks every trial that has it: name the first.
			for _, b := range l.blame(err, t, append(append([]override{}, l.set...), p...)) {
				if !seen[b.what] {
					seen[b.what] = true
					errs = append(errs, b.err)
				}
			}
			continue
		}
		if t.resolved, err = cfg.Marshal(); err != nil {
			return nil, err
		}
		sum := sha256.Sum256(t.resolved)
		t.cfg, t.Config = cfg, hex.EncodeToString(sum[:])
		trials[i] = t
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return trials, nil
}

// blamed is a config error of a trial at the spec's line, and what it is
// about regardless of the trial.
type blamed struct {
	err  *config.Error
	what string
}

// blame turns the errors of resolving trial t's config into errors at the
// spec's lines: an error about a key the spec sets or varies names that
// line; any other is the base config's own rule, broken by this trial's
// values together (decoder.tie_embeddings needs embed == hidden). Each
// names the trial.
func (l *Loaded) blame(err error, t *Trial, sets []override) []blamed {
	var out []blamed
	trial := fmt.Sprintf("trial %s (%s)", t.ID, describe(t.Overrides))
	for _, e := range flatten(err) {
		by := responsible(e, sets)
		if by == nil {
			out = append(out, blamed{&config.Error{File: l.Path, Line: sets[len(sets)-1].line, Msg: trial + ": " + e.Error()}, e.Error()})
			continue
		}
		msg := fmt.Sprintf("%s=%s: %s", by.Key, by.Value, strings.TrimPrefix(e.Msg, "in -set: "))
		out = append(out, blamed{&config.Error{File: l.Path, Line: by.line, Key: by.section + "." + by.Key, Msg: msg + " in " + trial}, by.section + msg})
	}
	return out
}

// blameFixed is blame for the base config with the spec's set: keys
// alone: an error about a set: key names its line, others are the base
// config's.
func (l *Loaded) blameFixed(err error) config.Errors {
	var out config.Errors
	for _, e := range flatten(err) {
		if by := responsible(e, l.set); by != nil {
			e = &config.Error{File: l.Path, Line: by.line, Key: "set." + by.Key, Msg: fmt.Sprintf("%s=%s: %s", by.Key, by.Value, strings.TrimPrefix(e.Msg, "in -set: "))}
		}
		out = append(out, e)
	}
	return out
}

// responsible returns the override a config error is about, if any: the
// -set text itself, the key, a key inside it or the section holding it.
func responsible(e *config.Error, sets []override) *override {
	var by *override
	for i := range sets {
		o := &sets[i]
		if e.Key == o.Key+"="+o.Value || e.Key == o.Key || strings.HasPrefix(e.Key, o.Key+".") || strings.HasPrefix(o.Key, e.Key+".") {
			by = o
		}
	}
	return by
}

// flatten lists the config errors inside err; an error of another kind
// becomes one without a place.
func flatten(err error) []*config.Error {
	switch e := err.(type) {
	case config.Errors:
		return e
	case *config.Error:
		return []*config.Error{e}
	}
	return []*config.Error{{Msg: err.Error()}}
}

// describe renders overrides as "key=value key=value".
func describe(overrides []Override) string {
	parts := make([]string, len(overrides))
	for i, o := range overrides {
		parts[i] = o.Key + "=" + o.Value
	}
	return strings.Join(parts, " ")
}

// draw returns a value of the key's distribution as -set text. Numbers
// keep four significant digits, so that configs and reports stay
// readable.
func (r randomKey) draw(rng *rand.Rand) string {
	var x float64
	switch r.kind {
	case "choice":
		return r.opts[rng.IntN(len(r.opts))]
	case "uniform":
		x = r.lo + rng.Float64()*(r.hi-r.lo)
	case "log_uniform":
		x = math.Exp(math.Log(r.lo) + rng.Float64()*(math.Log(r.hi)-math.Log(r.lo)))
	}
	if r.ints {
		return strconv.FormatInt(int64(math.Min(math.Round(x), r.hi)), 10)
	}
	s := strconv.FormatFloat(x, 'g', 4, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0" // stays a float when read back
	}
	return s
}
