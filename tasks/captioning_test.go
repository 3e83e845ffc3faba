package tasks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/datasets"
	"github.com/seqtask/seqtask/metrics"
	"github.com/seqtask/seqtask/nn"
)

const demo = "../data/flickr8k-demo"

// captioningCfg is a tiny captioning model over the shipped demo subset.
func captioningCfg(cell, attention string) *config.Config {
	cfg := config.DefaultFor("captioning")
	cfg.Data.Path = filepath.Join(demo, datasets.Flickr8kTokenFile)
	cfg.Data.Images = filepath.Join(demo, "images_64x64")
	cfg.Data.ImageSize, cfg.Data.Color = 8, "rgb"
	cfg.Data.Captions = config.Captions{Format: "auto", MinFreq: 1, MaxLen: 5}
	cfg.Encoder = &config.Encoder{Kind: "cnn", Channels: []int{3}, Kernel: 3, Out: 5}
	cfg.Decoder = config.Decoder{Cell: cell, Hidden: 4, Layers: 1, Embed: 3, Init: "default", Attention: attention}
	cfg.Train.Batch = 3
	return &cfg
}

func newCaptioning[T nn.Float](t *testing.T, cfg *config.Config) (*Captioning[T], string) {
	t.Helper()
	var log bytes.Buffer
	task, err := New[T](cfg, Env{NeedData: true, RNG: rand.New(rand.NewPCG(1, 1)), Log: &log})
	if err != nil {
		t.Fatalf("%v\nlog: %s", err, log.String())
	}
	return task.(*Captioning[T]), log.String()
}

// TestCaptioningGradients checks the whole model — CNN (its features
// through the bridges, its feature map through attention), bridges and
// decoder — against finite differences.
func TestCaptioningGradients(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*config.Config)
	}{
		{"gru, no attention", func(c *config.Config) {}},
		{"lstm (bridged cell), general attention", func(c *config.Config) { c.Decoder.Cell, c.Decoder.Attention = "lstm", "general" }},
		{"gru, additive attention, 2 layers, gray, batch norm", func(c *config.Config) {
			c.Decoder.Attention, c.Decoder.Layers, c.Data.Color, c.Encoder.BatchNorm = "additive", 2, "gray", true
		}},
		{"lstm, dot attention, flattened features, scheduled sampling", func(c *config.Config) {
			c.Decoder.Cell, c.Decoder.Attention, c.Encoder.Out, c.Encoder.Channels = "lstm", "dot", 0, []int{4}
			c.Train.TeacherForcing, c.Train.TeacherForcingEnd = 0.5, 0.5
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := captioningCfg("gru", "none")
			tc.change(cfg)
			m, _ := newCaptioning[float64](t, cfg)
			tensors, _, seqs, err := m.sampleBatch(rand.New(rand.NewPCG(4, 4)))
			if err != nil {
				t.Fatal(err)
			}
			in := m.imageBatch(tensors)
			in.Images = in.Images.Clone()
			loss := func() float64 {
				sum, n, err := m.model.trainOn(in, seqs, m.model.teacherForcing(0), rand.New(rand.NewPCG(5, 5)))
				if err != nil {
					t.Fatal(err)
				}
				return sum / float64(n)
			}
			params := m.Params()
			if _, err := params.ByName(); err != nil {
				t.Fatal(err)
			}
			params.ZeroGrad()
			loss()
			res := nn.GradCheck(loss, params, 1e-6, 1e-8, 1e-5, 12, rand.New(rand.NewPCG(6, 6)))
			if !res.OK() {
				t.Fatalf("gradient check: %v", res)
			}
			t.Log(res)
		})
	}
}

// live returns the parameters the current phase trains.
func live[T nn.Float](ps nn.Params[T]) nn.Params[T] {
	var out nn.Params[T]
	for _, p := range ps {
		if !p.Frozen {
			out = append(out, p)
		}
	}
	return out
}

// TestCaptioningPhaseGradients checks the other training paths against
// finite differences: pre-training (CNN and word head, sigmoid
// cross-entropy), the decoder on cached features of a frozen CNN, and
// self-critical training's policy-gradient loss.
func TestCaptioningPhaseGradients(t *testing.T) {
	cfg := captioningCfg("lstm", "general")
	cfg.Encoder.BatchNorm, cfg.Encoder.PretrainSteps, cfg.Encoder.Freeze = true, 2, true
	cfg.Data.Augment.Flip = true
	m, _ := newCaptioning[float64](t, cfg)
	check := func(name string, loss func() float64) {
		params := live(m.Params())
		params.ZeroGrad()
		loss()
		res := nn.GradCheck(loss, params, 1e-6, 1e-8, 1e-5, 12, rand.New(rand.NewPCG(6, 6)))
		if !res.OK() {
			t.Errorf("%s: gradient check: %v", name, res)
		}
	}
	m.setPhase(true, 0)
	tensors, imgs, _, err := m.sampleBatch(rand.New(rand.NewPCG(4, 4)))
	if err != nil {
		t.Fatal(err)
	}
	in := m.imageBatch(tensors)
	in.Images = in.Images.Clone()
	check("pre-training", func() float64 {
		sum, n, err := m.pretrainOn(in, imgs)
		if err != nil {
			t.Fatal(err)
		}
		return sum / float64(n)
	})
	m.setPhase(false, 2)
	if err := m.buildCache(); err != nil {
		t.Fatal(err)
	}
	rows, _, seqs := m.sampleCached(rand.New(rand.NewPCG(4, 4)))
	check("cached features", func() float64 {
		sum, n, err := m.model.trainFrom(m.cache.gather(rows), seqs, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		return sum / float64(n)
	})
	// Self-critical training's policy-gradient loss on a fixed sample:
	// captions drawn from the model, weighted by advantages of either sign.
	hyps, err := m.model.decode(m.cache.gather(rows), len(rows),
		DecodeOptions{Strategy: "sample", Beam: 1, NBest: 1, MaxLen: 6, Temperature: 1}, rand.New(rand.NewPCG(7, 7)))
	if err != nil {
		t.Fatal(err)
	}
	sampled, advantages := make([][]int, len(hyps)), make([]float64, len(hyps))
	for i, h := range hyps {
		sampled[i], advantages[i] = sampledSequence(h[0]), 0.8*float64(i)-1.1
	}
	for _, tau := range []float64{1, 0.5} { // train.self_critical.temperature
		check(fmt.Sprintf("self-critical at temperature %g", tau), func() float64 {
			sum, n, err := m.model.weightedLoss(m.cache.gather(rows), sampled, advantages, tau, 1, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			m.model.dec.Backward(m.model.dlogits, true)
			return sum / float64(n)
		})
	}
}

// TestCaptioningPhases runs pre-training then frozen-encoder training
// through TrainStep with an optimizer: pre-training moves only the CNN and
// the head and lowers its loss; afterwards only the bridges and decoder
// move, trained from cached features that equal the CNN's own (plain and
// mirrored views), and the caption loss falls.
func TestCaptioningPhases(t *testing.T) {
	if testing.Short() {
		t.Skip("a learning test: trains for seconds")
	}
	cfg := captioningCfg("gru", "general")
	cfg.Data.ImageSize, cfg.Data.Augment.Flip = 16, true
	cfg.Encoder = &config.Encoder{Kind: "cnn", Channels: []int{8}, Kernel: 3, Out: 16, PretrainSteps: 150, Freeze: true}
	cfg.Decoder.Hidden, cfg.Decoder.Embed = 16, 8
	cfg.Train.Batch = 8
	m, _ := newCaptioning[float64](t, cfg)
	const n = 8
	m.train.Images, m.trainIDs = m.train.Images[:n], m.trainIDs[:n]
	params := m.Params()
	opt, _ := nn.NewOptimizer(nn.OptimizerConfig{Kind: "adam"}, params)
	rng := rand.New(rand.NewPCG(2, 2))
	snapshot := func() map[string][]float64 {
		out := map[string][]float64{}
		for _, p := range params {
			out[p.Name] = append([]float64(nil), p.Value...)
		}
		return out
	}
	moved := func(before map[string][]float64) map[string]bool {
		out := map[string]bool{}
		for _, p := range params {
			for i, v := range p.Value {
				if v != before[p.Name][i] {
					out[p.Name] = true
					break
				}
			}
		}
		return out
	}
	run := func(from, to int) (first, last float64) {
		for step := from; step < to; step++ {
			params.ZeroGrad()
			sum, cnt, err := m.TrainStep(step, rng)
			if err != nil {
				t.Fatal(err)
			}
			if step == from {
				first = sum / float64(cnt)
			}
			last = sum / float64(cnt)
			opt.Step(params, 0.01)
		}
		return first, last
	}
	before := snapshot()
	first, last := run(0, 150)
	if last > 0.5*first {
		t.Errorf("pre-training loss %.4f → %.4f, want it halved", first, last)
	}
	movedInPretraining := moved(before)
	for _, p := range params {
		if ok := movedInPretraining[p.Name]; ok != strings.HasPrefix(p.Name, "encoder") {
			t.Errorf("pre-training: %s moved=%v", p.Name, ok)
		}
	}
	if len(moved(before)) == 0 {
		t.Fatal("pre-training moved nothing")
	}
	// On the images it was trained on, the head beats the image-blind prior.
	dev, devIDs := m.dev, m.devIDs
	m.dev, m.devIDs = m.train, m.trainIDs
	words, prior, err := m.wordLosses()
	if err != nil {
		t.Fatal(err)
	}
	if !(words < 0.8*prior) {
		t.Errorf("pre-trained head's loss on its training images %.4f, prior's %.4f", words, prior)
	}
	m.dev, m.devIDs = dev, devIDs

	before = snapshot()
	first, last = run(150, 450)
	if m.cache == nil {
		t.Fatal("no feature cache after the decoder's steps")
	}
	if last > 0.5*first {
		t.Errorf("caption loss on cached features %.3f → %.3f, want it halved", first, last)
	}
	for _, p := range params {
		ok := moved(before)[p.Name]
		if ok == strings.HasPrefix(p.Name, "encoder") {
			t.Errorf("decoder phase: %s moved=%v", p.Name, ok)
		}
	}

	// The cache holds what the CNN computes, for plain and mirrored views.
	for _, mirror := range []bool{false, true} {
		p := m.train.Path(3)
		img, err := m.loader.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		row := m.cache.rows[p]
		if mirror {
			img, row = img.Mirror(), m.cache.mirror[p]
		}
		want, err := m.model.enc.Forward(m.imageBatch([]*datasets.ImageTensor{img}), false, nil)
		if err != nil {
			t.Fatal(err)
		}
		for j, v := range want.Summary.Row(0) {
			if d := v - m.cache.summary.Row(row)[j]; d > 1e-12 || d < -1e-12 {
				t.Fatalf("mirror=%v: cached feature %d is %g, the CNN gives %g", mirror, j, m.cache.summary.Row(row)[j], v)
			}
		}
		S := m.cache.S
		if !closeSlices(want.Memory.Data[:S*want.Memory.Cols], m.cache.memory.RowBlock(row*S, (row+1)*S).Data[:S*want.Memory.Cols], 1e-12) {
			t.Fatalf("mirror=%v: cached feature map differs from the CNN's", mirror)
		}
	}
}

// TestCaptioningCachedViews caches data.augment.views augmented views of
// each training image beside its plain view and mirror: each is the frozen
// CNN's output on the augmentation drawn from the seed (so a rebuilt cache,
// as after a resume, is the same), differs from the plain view's, and the
// decoder's batches draw every view.
func TestCaptioningCachedViews(t *testing.T) {
	cfg := captioningCfg("gru", "general")
	cfg.Data.ImageSize = 16
	cfg.Data.Augment = config.Augment{Pad: 2, Flip: true, Scale: 0.5, Jitter: 0.2, Views: 3}
	cfg.Encoder = &config.Encoder{Kind: "cnn", Channels: []int{4}, Kernel: 3, Out: 8, Freeze: true}
	build := func() *Captioning[float64] {
		m, _ := newCaptioning[float64](t, cfg)
		m.train.Images, m.trainIDs = m.train.Images[:4], m.trainIDs[:4]
		if err := m.buildCache(); err != nil {
			t.Fatal(err)
		}
		return m
	}
	m, again := build(), build()
	paths := m.train.Paths()
	replay := rand.New(rand.NewPCG(cfg.Seed, 0xca5ed))
	for v := range cfg.Data.Augment.Views {
		for _, p := range paths {
			img, err := m.loader.LoadTrain(p, replay)
			if err != nil {
				t.Fatal(err)
			}
			rows := m.cache.extra[p]
			if len(rows) != cfg.Data.Augment.Views {
				t.Fatalf("%s: %d augmented views cached, want %d", p, len(rows), cfg.Data.Augment.Views)
			}
			want, err := m.model.enc.Forward(m.imageBatch([]*datasets.ImageTensor{img}), false, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := m.cache.summary.Row(rows[v])
			if !closeSlices(want.Summary.Row(0), got, 1e-12) {
				t.Fatalf("%s view %d: cached features differ from the CNN's on the seeded augmentation", p, v)
			}
			if closeSlices(got, m.cache.summary.Row(m.cache.rows[p]), 1e-9) {
				t.Fatalf("%s view %d: the same features as the plain view", p, v)
			}
		}
	}
	if !slices.Equal(m.cache.summary.Data, again.cache.summary.Data) || !slices.Equal(m.cache.memory.Data, again.cache.memory.Data) {
		t.Error("a second cache of the same config differs: a resumed run would train on other views")
	}
	drawn := map[int]bool{}
	rng := rand.New(rand.NewPCG(3, 3))
	for range 200 {
		rows, _, _ := m.sampleCached(rng)
		for _, r := range rows {
			drawn[r] = true
		}
	}
	if want := len(paths) * (2 + cfg.Data.Augment.Views); len(drawn) != want {
		t.Errorf("batches drew %d distinct cached views, want all %d", len(drawn), want)
	}
}

// captionTexts captions the images at paths with opt.
func captionTexts[T nn.Float](m *Captioning[T], paths []string, opt DecodeOptions) ([]string, error) {
	hyps, err := m.captionPaths(paths, opt, nil, nil)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(hyps))
	for i, h := range hyps {
		out[i] = m.text(h[0].Tokens)
	}
	return out, nil
}

func closeSlices(a, b []float64, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if d := a[i] - b[i]; d > tol || d < -tol {
			return false
		}
	}
	return true
}

// TestCaptioningLearns overfits a handful of training images, one caption
// each: the training loss falls far, and greedy captions of those images
// reproduce their captions (BLEU-4 against them). It then checks the dev
// evaluation, the HTML report and prediction on a shipped image.
// learningCfg is the learning tests' model over enc: 32×32 photos,
// captions of up to 8 words, an LSTM decoder of 64 attending over enc.
func learningCfg(enc *config.Encoder) *config.Config {
	cfg := captioningCfg("lstm", "general")
	cfg.Data.ImageSize = 32
	cfg.Data.Captions.MaxLen = 8
	cfg.Encoder = enc
	cfg.Decoder.Embed, cfg.Decoder.Hidden = 32, 64
	cfg.Train.Batch = 8
	cfg.Eval.BLEUSentences = 12
	return cfg
}

// sixPhotos is a captioning model of cfg whose training set is the first
// six photos, with one caption each.
func sixPhotos(t *testing.T, cfg *config.Config) *Captioning[float32] {
	t.Helper()
	m, _ := newCaptioning[float32](t, cfg)
	m.train.Images, m.trainIDs = m.train.Images[:6], m.trainIDs[:6]
	for i := range m.trainIDs {
		m.trainIDs[i] = m.trainIDs[i][:1]
	}
	return m
}

// learnCaptions trains m for steps (Adam, rate 0.01) and checks that it
// learned its training captions: the loss fell below a tenth and the
// greedy captions of the training photos score BLEU-4 ≥ 70 against them.
// It returns the captions and the references.
func learnCaptions(t *testing.T, m *Captioning[float32], steps int) (hyps, refs []string) {
	t.Helper()
	params := m.Params()
	opt, _ := nn.NewOptimizer(nn.OptimizerConfig{Kind: "adam"}, params)
	rng := rand.New(rand.NewPCG(2, 2))
	first, loss := 0.0, 0.0
	for i := range steps {
		params.ZeroGrad()
		sum, cnt, err := m.TrainStep(i, rng)
		if err != nil {
			t.Fatal(err)
		}
		if loss = sum / float64(cnt); i == 0 {
			first = loss
		}
		params.ClipGradNorm(5)
		opt.Step(params, 0.01)
	}
	hyps, err := captionTexts(m, m.train.Paths(), decodeDefaults(m.cfg.Eval.Decode))
	if err != nil {
		t.Fatal(err)
	}
	refs = make([]string, len(m.trainIDs))
	for i := range refs {
		refs[i] = m.text(m.trainIDs[i][0])
	}
	score, err := metrics.CorpusBLEU(hyps, [][]string{refs}, metrics.BLEUOptions{Tokenize: metrics.TokenizeNone})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("training loss %.3f → %.3f; BLEU-4 of greedy captions of the training images %.1f\n%q\n%q", first, loss, score.Score, hyps, refs)
	if loss > 0.1*first || score.Score < 70 {
		t.Errorf("training loss %.3f → %.3f (want below a tenth), BLEU-4 on training images %.1f (want ≥ 70)", first, loss, score.Score)
	}
	return hyps, refs
}

func TestCaptioningLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("a learning test: trains for seconds")
	}
	cfg := learningCfg(&config.Encoder{Kind: "cnn", Channels: []int{8, 16}, Kernel: 3, Out: 32})
	m := sixPhotos(t, cfg)
	hyps, refs := learnCaptions(t, m, 400)
	// The minimum-Bayes-risk choice among the beam's captions also finds them.
	mbr, err := captionTexts(m, m.train.Paths(), DecodeOptions{Strategy: "mbr", Beam: 4, NBest: 1, MaxLen: 10, Temperature: 1})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := metrics.CorpusBLEU(mbr, [][]string{refs}, metrics.BLEUOptions{Tokenize: metrics.TokenizeNone}); err != nil || s.Score < 70 {
		t.Errorf("BLEU-4 of MBR captions of the training images %.1f (want ≥ 70), %v\n%q", s.Score, err, mbr)
	}
	got, err := m.Evaluate()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"loss", "perplexity", "bleu1", "bleu2", "bleu3", "bleu4", "cider", "distinct", "baseline_bleu4"} {
		if _, ok := got[k]; !ok {
			t.Errorf("Evaluate lacks %s: %v", k, got)
		}
	}
	if got["distinct"] < 1 || got["distinct"] > 12 || got["baseline_bleu4"] <= 0 {
		t.Errorf("dev metrics %v", got)
	}

	dir := t.TempDir()
	var text bytes.Buffer
	if err := m.Report(dir, &text); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "captions.html"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 12; i++ {
		im := m.dev.Images[i]
		if !bytes.Contains(page, []byte(im.File)) || !bytes.Contains(page, []byte(m.last[i])) {
			t.Errorf("report lacks image %s or its caption %q", im.File, m.last[i])
		}
	}
	if c := bytes.Count(page, []byte("data:image/jpeg;base64,")); c != 12 {
		t.Errorf("report embeds %d images, want 12", c)
	}
	if !strings.Contains(text.String(), "baseline") || !strings.Contains(text.String(), "bleu4") ||
		!strings.Contains(text.String(), "repeat a training caption word for word") {
		t.Errorf("report text %q", text.String())
	}

	// Predict one shipped image, then a stream of paths with a missing one.
	var out, log bytes.Buffer
	img := m.train.Path(0)
	if err := m.Predict(Input{Path: img}, &out, nil); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out.String()) != hyps[0] {
		t.Errorf("predict %q, want the greedy caption %q", out.String(), hyps[0])
	}
	out.Reset()
	in := Input{Reader: strings.NewReader(img + "\nnowhere.jpg\n"), Log: &log}
	if err := m.Predict(in, &out, nil); err != nil {
		t.Fatal(err)
	}
	if out.String() != img+"\t"+hyps[0]+"\n" || !strings.Contains(log.String(), "line 2: skipped") {
		t.Errorf("predict stream: output %q, log %q", out.String(), log.String())
	}
	if err := m.Predict(Input{Path: "nowhere.jpg"}, &out, nil); err == nil || !strings.Contains(err.Error(), "nowhere.jpg") {
		t.Errorf("predict on a missing image: %v", err)
	}
}

// TestCaptioningBaseline checks the best-constant search against brute
// force: every distinct training caption given to every training image and
// scored by CorpusBLEU.
func TestCaptioningBaseline(t *testing.T) {
	m, _ := newCaptioning[float32](t, captioningCfg("gru", "none"))
	m.train.Images = m.train.Images[:40]
	got, err := m.bestConstant(20)
	if err != nil {
		t.Fatal(err)
	}
	refs := references(m.train, len(m.train.Images))
	streams := metrics.ReferenceStreams(refs)
	opts := metrics.BLEUOptions{Tokenize: metrics.TokenizeNone}
	want, wantScore, tried := "", -1.0, map[string]bool{}
	for _, rs := range refs {
		for _, c := range rs {
			if tried[c] {
				continue
			}
			tried[c] = true
			hyps := make([]string, len(refs))
			for i := range hyps {
				hyps[i] = c
			}
			s, err := metrics.CorpusBLEU(hyps, streams, opts)
			if err != nil {
				t.Fatal(err)
			}
			if s.Score > wantScore {
				want, wantScore = c, s.Score
			}
		}
	}
	if got.Output != want || got.Score != wantScore || got.Candidates != len(tried) || got.Items != 40 {
		t.Errorf("baseline %q (BLEU-4 %.3f, %d candidates on %d images), brute force finds %q (%.3f of %d)",
			got.Output, got.Score, got.Candidates, got.Items, want, wantScore, len(tried))
	}
	devHyps := make([]string, 20)
	for i := range devHyps {
		devHyps[i] = want
	}
	dev, err := metrics.CorpusBLEU(devHyps, metrics.ReferenceStreams(references(m.dev, 20)), opts)
	if err != nil {
		t.Fatal(err)
	}
	if got.dev != dev.Score {
		t.Errorf("baseline's dev BLEU-4 %.4f, want %.4f", got.dev, dev.Score)
	}
}

// TestCaptioningBadImages builds a small Flickr8k folder with a corrupt
// image, a listed image that is missing and a caption line whose image is
// not there: each is reported and skipped, and training runs on the rest.
func TestCaptioningBadImages(t *testing.T) {
	dir := t.TempDir()
	imgs := filepath.Join(dir, "images")
	os.Mkdir(imgs, 0o755)
	tokens, err := os.ReadFile(filepath.Join(demo, datasets.Flickr8kTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(tokens), "\n")[:25] // five images, five captions each
	var names []string
	for i := 0; i < 25; i += 5 {
		names = append(names, strings.SplitN(lines[i], "#", 2)[0])
	}
	for _, name := range names[:3] {
		b, err := os.ReadFile(filepath.Join(demo, "images_64x64", name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(imgs, name), b, 0o644)
	}
	os.WriteFile(filepath.Join(imgs, names[3]), []byte("not a jpeg"), 0o644) // corrupt; names[4] is missing
	os.WriteFile(filepath.Join(dir, datasets.Flickr8kTokenFile), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, datasets.Flickr8kTrainList), []byte(strings.Join([]string{names[0], names[1], names[3], names[4]}, "\n")+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, datasets.Flickr8kDevList), []byte(names[2]+"\n"), 0o644)

	cfg := captioningCfg("gru", "none")
	cfg.Data.Path, cfg.Data.Images = filepath.Join(dir, datasets.Flickr8kTokenFile), imgs
	m, log := newCaptioning[float32](t, cfg)
	for _, want := range []string{names[3], names[4], "1 of 3 training images unusable"} {
		if !strings.Contains(log, want) {
			t.Errorf("log does not mention %q:\n%s", want, log)
		}
	}
	if len(m.train.Images) != 2 || len(m.dev.Images) != 1 {
		t.Errorf("%d training and %d dev images, want 2 and 1", len(m.train.Images), len(m.dev.Images))
	}
	if _, _, err := m.TrainStep(0, rand.New(rand.NewPCG(1, 1))); err != nil {
		t.Fatal(err)
	}

	// No usable training image at all is an error naming the file.
	os.WriteFile(filepath.Join(dir, datasets.Flickr8kTrainList), []byte(names[3]+"\n"), 0o644)
	if _, err := New[float32](cfg, Env{NeedData: true, RNG: rand.New(rand.NewPCG(1, 1)), Log: &bytes.Buffer{}}); err == nil || !strings.Contains(err.Error(), "no usable image") {
		t.Errorf("only a corrupt training image: %v", err)
	}
}

// TestCaptioningFromCheckpointMeta rebuilds the task for prediction from
// its Meta alone, without the data.
func TestCaptioningFromCheckpointMeta(t *testing.T) {
	m, _ := newCaptioning[float32](t, captioningCfg("gru", "none"))
	cfg := captioningCfg("gru", "none")
	cfg.Data.Path = filepath.Join(t.TempDir(), "gone.txt")
	task, err := New[float32](cfg, Env{Meta: m.Meta(), RNG: rand.New(rand.NewPCG(1, 1))})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := task.Predict(Input{Path: m.dev.Path(0)}, &out, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := New[float32](cfg, Env{NeedData: true, RNG: rand.New(rand.NewPCG(1, 1)), Log: &bytes.Buffer{}}); err == nil || !strings.Contains(err.Error(), "gone.txt") {
		t.Errorf("missing caption file: %v", err)
	}
}

// TestCaptioningCOCO reads COCO-format captions (images[{id,file_name}],
// annotations[{image_id,caption}]) over the demo photos: split into train
// and dev by data.val_fraction, or with the dev set from data.val_path.
// Training steps and an evaluation run on either.
func TestCaptioningCOCO(t *testing.T) {
	demoSet, err := datasets.ReadFlickr8kTokens(filepath.Join(demo, datasets.Flickr8kTokenFile), filepath.Join(demo, "images_64x64"))
	if err != nil {
		t.Fatal(err)
	}
	writeCOCO := func(path string, images []datasets.CaptionedImage) {
		type img struct {
			ID   int    `json:"id"`
			File string `json:"file_name"`
		}
		type ann struct {
			ImageID int    `json:"image_id"`
			Caption string `json:"caption"`
		}
		var doc struct {
			Images      []img `json:"images"`
			Annotations []ann `json:"annotations"`
		}
		for i, im := range images {
			doc.Images = append(doc.Images, img{ID: 100 + i, File: im.File})
			for _, c := range im.Captions {
				doc.Annotations = append(doc.Annotations, ann{ImageID: 100 + i, Caption: c})
			}
		}
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	all, val := filepath.Join(dir, "captions_train.json"), filepath.Join(dir, "captions_val.json")
	blank := datasets.CaptionedImage{File: demoSet.Images[45].File, Captions: []string{".", " , "}}
	writeCOCO(all, append(append([]datasets.CaptionedImage{}, demoSet.Images[:40]...), blank))
	writeCOCO(val, demoSet.Images[40:50])
	for _, tc := range []struct {
		name       string
		valPath    string
		train, dev int
	}{
		{"val_fraction split", "", 31, 9}, // split by a hash of the file name: about a quarter
		{"val_path", val, 40, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := captioningCfg("gru", "general")
			cfg.Data.Path, cfg.Data.ValPath, cfg.Data.ValFraction = all, tc.valPath, 0.25
			cfg.Eval.BLEUSentences = 5
			m, log := newCaptioning[float32](t, cfg)
			if !strings.Contains(log, blank.File+": its captions are empty") {
				t.Errorf("the image with only punctuation for captions was not reported:\n%s", log)
			}
			if len(m.train.Images) != tc.train || len(m.dev.Images) != tc.dev {
				t.Fatalf("%d training and %d dev images, want %d and %d", len(m.train.Images), len(m.dev.Images), tc.train, tc.dev)
			}
			inTrain := map[string]bool{}
			for _, im := range m.train.Images {
				inTrain[im.File] = true
			}
			for _, im := range m.dev.Images {
				if inTrain[im.File] {
					t.Errorf("%s is in both splits", im.File)
				}
			}
			if m.train.NumCaptions() != 5*tc.train {
				t.Errorf("%d training captions, want %d", m.train.NumCaptions(), 5*tc.train)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			for step := range 3 {
				if _, n, err := m.TrainStep(step, rng); err != nil || n == 0 {
					t.Fatalf("step %d: %d targets, %v", step, n, err)
				}
			}
			got, err := m.Evaluate()
			if err != nil {
				t.Fatal(err)
			}
			if got["distinct"] < 1 {
				t.Errorf("evaluation %v", got)
			}
		})
	}
}

// TestCaptionDiagnostics: verbatim training captions, words used and the
// most frequent captions (repeated ones only, most frequent first, ties in
// text order, at most top).
func TestCaptionDiagnostics(t *testing.T) {
	training := map[string]bool{"a dog runs": true, "a man on a bike": true}
	for _, tc := range []struct {
		name     string
		captions []string
		top      int
		want     captionDiagnostics
	}{
		{"none", nil, 3, captionDiagnostics{}},
		{"mixed", []string{"a dog runs", "a dog runs", "a cat sits", "a man on a bike", "a cat sits", "a dog runs", "two dogs"}, 3,
			captionDiagnostics{Verbatim: 4, Captions: 7, WordsUsed: 10,
				Frequent: []captionCount{{"a dog runs", 3}, {"a cat sits", 2}}}},
		{"ties and top", []string{"b", "a", "b", "a", "c", "c"}, 2,
			captionDiagnostics{Captions: 6, WordsUsed: 3, Frequent: []captionCount{{"a", 2}, {"b", 2}}}},
	} {
		got := diagnose(tc.captions, training, tc.top)
		if got.Verbatim != tc.want.Verbatim || got.Captions != tc.want.Captions || got.WordsUsed != tc.want.WordsUsed ||
			!slices.Equal(got.Frequent, tc.want.Frequent) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// TestSelfCriticalRaisesReward trains a small captioner by cross-entropy on
// a few training images, then by self-critical training through TrainStep,
// with either baseline: the CIDEr-D of its greedy captions of those images
// against their training captions — the reward the phase optimises —
// rises well beyond where cross-entropy left it, and the phase logs its
// figures.
func TestSelfCriticalRaisesReward(t *testing.T) {
	if testing.Short() {
		t.Skip("a learning test: trains for seconds")
	}
	for _, tc := range []struct {
		baseline string
		tau      float64 // train.self_critical.temperature
	}{{baselineGreedy, 1}, {baselineMean, 1}, {baselineGreedy, 0.5}} {
		baseline := tc.baseline
		t.Run(fmt.Sprintf("%s/temperature %g", baseline, tc.tau), func(t *testing.T) {
			const xe, scst, scstLR = 150, 350, 0.003
			cfg := captioningCfg("gru", "general")
			// Frequent words only: a small vocabulary, so that cross-entropy
			// leaves captions worth sampling from in a few seconds.
			cfg.Data.ImageSize, cfg.Data.Captions.MaxLen, cfg.Data.Captions.MinFreq, cfg.Eval.Decode.MaxLen = 16, 8, 20, 10
			cfg.Encoder = &config.Encoder{Kind: "cnn", Channels: []int{8}, Kernel: 3, Out: 16, Freeze: true}
			cfg.Decoder.Embed, cfg.Decoder.Hidden = 16, 32
			cfg.Train.Batch, cfg.Train.Steps, cfg.Train.LogEvery = 8, xe+scst, xe+scst
			cfg.Train.SelfCritical = config.SelfCritical{Start: xe, Samples: 5, Baseline: baseline, Temperature: tc.tau}
			m, _ := newCaptioning[float32](t, cfg)
			var log bytes.Buffer
			m.log = &log
			const n = 8
			m.train.Images, m.trainIDs = m.train.Images[:n], m.trainIDs[:n]
			corpus, err := m.rewardCorpus()
			if err != nil {
				t.Fatal(err)
			}
			reward := func() float64 {
				hyps, err := captionTexts(m, m.train.Paths(), DecodeOptions{Strategy: "greedy", Beam: 1, NBest: 1, MaxLen: 10, Temperature: 1})
				if err != nil {
					t.Fatal(err)
				}
				var sum float64
				for i, h := range hyps {
					sum += corpus.Score(i, h)
				}
				return sum / n
			}
			params := m.Params()
			opt, _ := nn.NewOptimizer(nn.OptimizerConfig{Kind: "adam"}, params)
			rng := rand.New(rand.NewPCG(2, 2))
			var before float64
			for step := 0; step < xe+scst; step++ {
				if step == xe {
					before = reward()
				}
				params.ZeroGrad()
				if _, _, err := m.TrainStep(step, rng); err != nil {
					t.Fatal(err)
				}
				params.ClipGradNorm(5)
				lr := 0.01
				if m.selfCritical(step) {
					lr = scstLR
				}
				opt.Step(params, lr)
			}
			after := reward()
			t.Logf("greedy CIDEr-D on the training images: %.3f after cross-entropy, %.3f after self-critical training\n%s", before, after, log.String())
			if after < before+0.25 {
				t.Errorf("self-critical training moved the reward %.3f → %.3f; want a rise of at least 0.25", before, after)
			}
			if !strings.Contains(log.String(), "self-critical training from step 151") || !strings.Contains(log.String(), "self-critical steps 151–500: CIDEr-D") {
				t.Errorf("log lacks the phase's lines:\n%s", log.String())
			}
		})
	}
}

// TestLabelSmoothingTrainsOnly: train.label_smoothing changes the training
// loss of a batch and leaves the evaluation loss of the same batch as it
// is without smoothing.
func TestLabelSmoothingTrainsOnly(t *testing.T) {
	losses := func(smoothing float64) (train, eval float64) {
		cfg := captioningCfg("gru", "general")
		cfg.Train.LabelSmoothing = smoothing
		m, _ := newCaptioning[float64](t, cfg)
		tensors, _, seqs, err := m.sampleBatch(rand.New(rand.NewPCG(4, 4)))
		if err != nil {
			t.Fatal(err)
		}
		out, err := m.model.enc.Forward(m.imageBatch(tensors), false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if train, _, err = m.model.loss(out, seqs, 1, true, nil); err != nil {
			t.Fatal(err)
		}
		if eval, _, err = m.model.loss(out, seqs, 1, false, nil); err != nil {
			t.Fatal(err)
		}
		return train, eval
	}
	plainTrain, plainEval := losses(0)
	smoothTrain, smoothEval := losses(0.1)
	if plainTrain != plainEval || smoothEval != plainEval || smoothTrain == plainTrain {
		t.Errorf("without smoothing train %v eval %v; with 0.1 train %v eval %v: want only the training loss to change",
			plainTrain, plainEval, smoothTrain, smoothEval)
	}
}

// TestCaptioningKMeans trains a decoder over fitted k-means features: the
// first step fits them to the training images, the decoder learns the
// captions of six photos from them, and a model given the trained values
// and the fitted buffers (what a checkpoint keeps) captions alike, while
// a model never fitted refuses to caption.
func TestCaptioningKMeans(t *testing.T) {
	if testing.Short() {
		t.Skip("a learning test: trains for seconds")
	}
	cfg := learningCfg(&config.Encoder{Kind: "kmeans", KMeans: config.KMeans{Centroids: 16, Patch: 4, Stride: 2, Grid: 2}, Freeze: true})
	m := sixPhotos(t, cfg)
	hyps, _ := learnCaptions(t, m, 300)
	if !strings.Contains(m.log.(*bytes.Buffer).String(), "encoder fitted to the training images") {
		t.Errorf("log does not tell of the fitting: %s", m.log)
	}

	restored := sixPhotos(t, cfg)
	if _, err := captionTexts(restored, restored.train.Paths(), decodeDefaults(cfg.Eval.Decode)); err == nil || !strings.Contains(err.Error(), "not fitted") {
		t.Errorf("captioning with features never fitted: %v", err)
	}
	for _, set := range [][2]nn.Params[float32]{{restored.Params(), m.Params()}, {restored.Buffers(), m.Buffers()}} {
		if err := set[0].ShareValues(set[1]); err != nil {
			t.Fatal(err)
		}
	}
	again, err := captionTexts(restored, restored.train.Paths(), decodeDefaults(cfg.Eval.Decode))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again, hyps) {
		t.Errorf("restored model captions %q, the trained one %q", again, hyps)
	}
}
