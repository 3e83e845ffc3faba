package tasks

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/decoders"
	"github.com/seqtask/seqtask/decoding"
	"github.com/seqtask/seqtask/metrics"
)

// decodeOptions converts the config's eval.decode section for the decoder.
func decodeOptions(d config.Decode) decoders.DecodeOptions {
	return decoders.DecodeOptions{Strategy: d.Strategy, Beam: d.Beam, LengthPenalty: d.LengthPenalty, MaxLen: d.MaxLen, Temperature: d.Temperature}
}

// decodeBatch is how many items one search holds: train.batch, divided by
// the beam width for the strategies that keep a beam per item.
func decodeBatch(cfg *config.Config) int {
	d := cfg.Eval.Decode
	if d.Strategy == "beam" || d.Strategy == "mbr" {
		return max(1, cfg.Train.Batch/d.Beam)
	}
	return cfg.Train.Batch
}

// decode runs eval.decode's search over the n items of st and returns one
// hypothesis per item. Strategy mbr runs beam search and keeps, of each
// item's n-best list, the minimum-Bayes-risk choice under sentence BLEU
// (decoding.MBR): the consensus of the probable captions or translations
// rather than the single most probable one.
func decode(st decoding.Stepper, n, bos, eos int, d config.Decode, rng *rand.Rand) ([]decoding.Hypothesis, error) {
	if d.Strategy != "mbr" {
		return decoders.Decode(st, n, bos, eos, decodeOptions(d), rng)
	}
	nbest, err := decoding.Beam(st, n, bos, eos, d.MaxLen, d.Beam, d.LengthPenalty)
	if err != nil {
		return nil, err
	}
	out := make([]decoding.Hypothesis, len(nbest))
	for k, c := range nbest {
		texts := make([]string, len(c))
		for i, h := range c {
			texts[i] = idText(h.Tokens)
		}
		pick := decoding.MBR(c, func(i, j int) float64 {
			s, _ := metrics.SentenceBLEU(texts[i], texts[j:j+1], metrics.BLEUOptions{Tokenize: metrics.TokenizeNone})
			return s.Score
		})
		if pick < 0 {
			return nil, fmt.Errorf("mbr: beam search returned no hypothesis for item %d", k)
		}
		out[k] = c[pick]
	}
	return out, nil
}

// idText writes token ids as space-separated numbers: BLEU over them is
// BLEU over the words they stand for.
func idText(ids []int) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(id))
	}
	return b.String()
}
