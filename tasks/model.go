package tasks

import (
	"encoding/json"
	"fmt"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/datasets"
	"github.com/seqtask/seqtask/decoders"
	"github.com/seqtask/seqtask/encoders"
)

// What the tasks' config schemas share (each task registers its schema
// with config.RegisterTask in its own file).

// checkModel checks the encoder and decoder sections of a task that feeds
// its encoder input and takes the decoder kind decoder: the registries of
// package encoders and decoders check each kind's keys.
func checkModel(cfg *config.Config, input encoders.InputKind, decoder string, c *config.Checker) {
	encoders.Check(cfg, input, c)
	decoders.Check(cfg, []string{decoder}, decoders.Feed{Tokens: input == encoders.NoInput}, c)
	if cfg.Task != "captioning" {
		checkNoEncoderPhases(cfg, c)
	}
}

// checkNoEncoderPhases reports the encoder's training phases in a task
// that has none (only captioning pre-trains and freezes its encoder).
func checkNoEncoderPhases(cfg *config.Config, c *config.Checker) {
	if e := cfg.Encoder; e != nil {
		c.Unused("encoder.freeze", e.Freeze, "only captioning holds its encoder fixed")
		c.Unused("encoder.pretrain_steps", e.PretrainSteps != 0, "only captioning pre-trains its encoder")
	}
}

// sequenceOutputKeys are the key groups of the tasks whose decoder writes
// a new token sequence (translation, captioning).
var sequenceOutputKeys = []string{"eval.decode", "eval.bleu_sentences", "train.teacher_forcing", "train.teacher_forcing_end", "train.label_smoothing"}

// checkSequenceOutput checks how such a decoder trains and decodes.
func checkSequenceOutput(cfg *config.Config, c *config.Checker) {
	c.Probability("train.teacher_forcing", cfg.Train.TeacherForcing)
	c.Probability("train.teacher_forcing_end", cfg.Train.TeacherForcingEnd)
	c.Fraction("train.label_smoothing", cfg.Train.LabelSmoothing)
	if cfg.Decoder.WeightDrop != 0 && (cfg.Train.TeacherForcing < 1 || cfg.Train.TeacherForcingEnd < 1) {
		c.Errorf("decoder.weight_drop", "needs train.teacher_forcing and train.teacher_forcing_end of 1: a decoder fed its own guesses runs one step at a time and would draw a mask per step")
	}
	d := cfg.Eval.Decode
	if err := decodeDefaults(d).check(); err != nil {
		ie := err.(*InputError)
		c.Errorf("eval."+ie.Field, "%v", ie.Err)
	}
	c.AtLeast("eval.bleu_sentences", cfg.Eval.BLEUSentences, 0)
}

// checkImages checks how images are read (video frames, photos).
func checkImages(cfg *config.Config, c *config.Checker) {
	c.AtLeast("data.image_size", cfg.Data.ImageSize, 4)
	c.OneOf("data.color", cfg.Data.Color, []string{"gray", "rgb"})
}

// restoreVocab reads a vocabulary a checkpoint's metadata keeps under key.
// A word vocabulary (words) must hold the reserved tokens at their ids,
// which decoding relies on.
func restoreVocab(s, key string, words bool) (*datasets.Vocab, error) {
	v := &datasets.Vocab{}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return nil, fmt.Errorf("checkpoint metadata %s: %w", key, err)
	}
	if v.Len() == 0 {
		return nil, fmt.Errorf("checkpoint metadata %s: empty vocabulary", key)
	}
	if words {
		for id, tok := range datasets.Specials {
			if v.Len() <= id || v.Token(id) != tok {
				return nil, fmt.Errorf("checkpoint metadata %s: id %d must be %s", key, id, tok)
			}
		}
	}
	return v, nil
}

// trainsInBF16 reports whether training passes compute their recurrent and
// linear products in bfloat16 (train.precision: bf16): the model's values,
// gradients and optimizer stay float32.
func trainsInBF16(cfg *config.Config) bool { return cfg.Train.Precision == "bf16" }
