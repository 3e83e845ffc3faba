package tasks

import (
	"fmt"
	"math/rand/v2"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/datasets"
	"github.com/seqtask/seqtask/decoding"
	"github.com/seqtask/seqtask/metrics"
)

// Captioning's last phase (train.self_critical): self-critical sequence
// training (Rennie et al., 2017). Cross-entropy teaches the decoder to
// predict the reference's next word given the reference's past; at test
// time it continues its own past, and is judged by a caption metric. This
// phase optimises the metric on the model's own captions: for each image
// it samples captions, scores each by CIDEr-D against the image's
// training captions, and subtracts a baseline: the score of its greedy
// caption — the caption it would write now — or the mean score of the
// image's other samples. The loss is then REINFORCE's, -Σ advantage ·
// log p(sampled caption): better-than-baseline captions become more
// likely, worse ones less, and the baseline keeps the gradient's variance
// low without a learned critic.

// maxSelfCriticalSamples caps train.self_critical.samples: beyond it a
// step costs much and the baseline, not the sample count, limits the
// gradient's quality.
const maxSelfCriticalSamples = 32

// The baselines a sample's reward is measured from
// (train.self_critical.baseline).
const (
	baselineGreedy = "greedy" // the greedy caption's reward (Rennie et al.)
	baselineMean   = "mean"   // the mean reward of the image's other samples (Luo, 2020)
)

// checkSelfCritical reports train.self_critical keys a run could not
// follow.
func checkSelfCritical(cfg *config.Config, c *config.Checker) {
	sc := cfg.Train.SelfCritical
	c.AtLeast("train.self_critical.start", sc.Start, 0)
	c.InRange("train.self_critical.samples", sc.Samples, 1, maxSelfCriticalSamples)
	c.OneOf("train.self_critical.baseline", sc.Baseline, []string{baselineGreedy, baselineMean})
	if sc.Baseline == baselineMean && sc.Samples < 2 {
		c.Errorf("train.self_critical.baseline", "mean needs train.self_critical.samples of at least 2 (it has %d)", sc.Samples)
	}
	if sc.LR < 0 {
		c.Errorf("train.self_critical.lr", "%g is negative (0 keeps train.schedule's rate)", sc.LR)
	}
	c.Positive("train.self_critical.temperature", sc.Temperature)
	if sc.Start <= 0 {
		return
	}
	if sc.Start >= cfg.Train.Steps {
		c.Errorf("train.self_critical.start", "%d leaves no steps of train.steps (%d) for it", sc.Start, cfg.Train.Steps)
	}
	e := cfg.Encoder
	if e == nil {
		return
	}
	if sc.Start <= e.PretrainSteps {
		c.Errorf("train.self_critical.start", "%d falls within the encoder's pre-training (encoder.pretrain_steps %d): the decoder must learn to write by cross-entropy first", sc.Start, e.PretrainSteps)
	}
	if !e.Freeze {
		c.Errorf("train.self_critical.start", "needs encoder.freeze: true (the phase trains the decoder on the frozen encoder's cached features)")
	}
}

// selfCriticalRun holds the phase's reward and the figures its log lines
// report.
type selfCriticalRun struct {
	reward *metrics.CIDErDCorpus // over the training images' captions
	// Since the last log line: summed rewards of the samples and of the
	// greedy captions, how many samples beat their greedy caption.
	sampled, greedy      float64
	samples, images, won int
	from                 int // the first step they cover
}

// selfCritical reports whether step trains by self-critical training.
func (m *Captioning[T]) selfCritical(step int) bool {
	s := m.cfg.Train.SelfCritical.Start
	return s > 0 && step >= s
}

// PhaseLR is train.self_critical.lr during self-critical training, when
// set.
func (m *Captioning[T]) PhaseLR(step int) (float64, bool) {
	lr := m.cfg.Train.SelfCritical.LR
	return lr, lr > 0 && m.selfCritical(step)
}

// rewardCorpus builds the CIDEr-D corpus of the training captions.
func (m *Captioning[T]) rewardCorpus() (*metrics.CIDErDCorpus, error) {
	return metrics.NewCIDErDCorpus(m.trainingTexts(), metrics.CIDErDOptions{})
}

// selfCriticalStep trains the decoder on one batch by self-critical
// training: train.batch images, train.self_critical.samples captions
// sampled from each at train.self_critical.temperature (as the model
// writes at evaluation: no dropout, up to eval.decode.max_len words), each
// weighted by its CIDEr-D minus the baseline's and scored under the
// tempered distribution that drew it. The greedy captions are decoded whichever the baseline: the
// log reports their reward, the phase's measure of progress. It returns
// the loss summed over the samples' tokens and their count.
func (m *Captioning[T]) selfCriticalStep(step int, rng *rand.Rand) (float64, int, error) {
	if err := m.buildCache(); err != nil {
		return 0, 0, err
	}
	r := &m.scst
	if r.reward == nil {
		var err error
		if r.reward, err = m.rewardCorpus(); err != nil {
			return 0, 0, fmt.Errorf("self-critical training: %w", err)
		}
		r.from = step + 1
		sc := m.cfg.Train.SelfCritical
		baseline := "the greedy caption's"
		if sc.Baseline == baselineMean {
			baseline = "the mean of the image's other samples"
		}
		fmt.Fprintf(m.log, "captioning: self-critical training from step %d: %d sampled captions per image, rewarded by CIDEr-D against its training captions beyond %s\n",
			step+1, sc.Samples, baseline)
	}
	rows, imgs, _ := m.sampleCached(rng)
	opt := DecodeOptions{Strategy: decoding.StrategyGreedy, Beam: 1, NBest: 1, MaxLen: m.cfg.Eval.Decode.MaxLen, Temperature: 1, Precision: "float32"}
	greedy, err := m.model.decode(m.cache.gather(rows), len(rows), opt, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("self-critical training: greedy captions: %w", err)
	}
	k := m.cfg.Train.SelfCritical.Samples
	repeated := make([]int, 0, len(rows)*k)
	for _, row := range rows {
		for range k {
			repeated = append(repeated, row)
		}
	}
	enc := m.cache.gather(repeated)
	opt.Strategy, opt.Temperature = decoding.StrategySample, m.cfg.Train.SelfCritical.Temperature
	samples, err := m.model.decode(enc, len(repeated), opt, rng)
	if err != nil {
		return 0, 0, fmt.Errorf("self-critical training: sampling: %w", err)
	}
	seqs, advantages := make([][]int, len(repeated)), make([]float64, len(repeated))
	rewards := make([]float64, k)
	mean := m.cfg.Train.SelfCritical.Baseline == baselineMean
	for i, img := range imgs {
		greedyReward := r.reward.Score(img, m.text(greedy[i][0].Tokens))
		r.greedy += greedyReward
		var sum float64
		for s := range rewards {
			h := samples[i*k+s][0]
			rewards[s] = r.reward.Score(img, m.text(h.Tokens))
			sum += rewards[s]
			seqs[i*k+s] = sampledSequence(h)
		}
		for s, reward := range rewards {
			baseline := greedyReward
			if mean {
				baseline = (sum - reward) / float64(k-1)
			}
			advantages[i*k+s] = reward - baseline
			r.sampled += reward
			if reward > greedyReward {
				r.won++
			}
		}
	}
	r.samples += len(repeated)
	r.images += len(rows)
	sum, n, err := m.model.weightedLoss(enc, seqs, advantages, opt.Temperature, 1, false, nil)
	if err != nil {
		return 0, 0, err
	}
	m.model.dec.Backward(m.model.dlogits, true)
	if (step+1)%m.cfg.Train.LogEvery == 0 {
		fmt.Fprintf(m.log, "self-critical steps %d–%d: CIDEr-D of training captions sampled %.3f, greedy %.3f; %.0f%% of samples beat their greedy caption\n",
			r.from, step+1, r.sampled/float64(r.samples), r.greedy/float64(r.images), 100*float64(r.won)/float64(r.samples))
		r.sampled, r.greedy, r.samples, r.images, r.won, r.from = 0, 0, 0, 0, 0, step+2
	}
	return sum, n, nil
}

// sampledSequence is a sampled caption as training lays a caption out:
// <bos>, its tokens and, unless the length cap cut it, <eos>.
func sampledSequence(h decoding.Hypothesis) []int {
	s := make([]int, 0, len(h.Tokens)+2)
	s = append(s, datasets.BOSID)
	s = append(s, h.Tokens...)
	if h.Finished {
		s = append(s, datasets.EOSID)
	}
	return s
}
