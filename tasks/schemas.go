package tasks

import (
	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/decoders"
	"github.com/seqtask/seqtask/encoders"
)

// The tasks' parts of the config schema: their defaults and checks, and
// the optional key groups each reads (config.TaskSchema).

func init() {
	config.RegisterTask("charlm", config.TaskSchema{
		Defaults: func(c *config.Config) { c.Decoder.Kind = "synced" },
		Reads:    []string{"data.seq_len", "eval.sample"},
		Check: func(cfg *config.Config, c *config.Checker) {
			encoders.Check(cfg, encoders.NoInput, c)
			checkNoEncoderPhases(cfg, c)
			decoders.Check(cfg, []string{"synced"}, decoders.Feed{Tokens: true}, c)
			c.AtLeast("data.seq_len", cfg.Data.SeqLen, 1)
			c.Positive("eval.sample.temperature", cfg.Eval.Sample.Temperature)
		},
	})
	config.RegisterTask("translation", config.TaskSchema{
		Defaults: func(c *config.Config) { c.Decoder.Kind = "autoregressive" },
		Reads:    append([]string{"data.pairs"}, sequenceOutputKeys...),
		Check: func(cfg *config.Config, c *config.Checker) {
			encoders.Check(cfg, encoders.TokenInput, c)
			checkNoEncoderPhases(cfg, c)
			decoders.Check(cfg, []string{"autoregressive"}, decoders.Feed{}, c)
			p := cfg.Data.Pairs
			c.AtLeast("data.pairs.source_column", p.SourceColumn, 0)
			c.AtLeast("data.pairs.target_column", p.TargetColumn, 0)
			if p.SourceColumn == p.TargetColumn {
				c.Errorf("data.pairs.target_column", "equals source_column %d", p.SourceColumn)
			}
			c.AtLeast("data.pairs.max_len", p.MaxLen, 1)
			c.AtLeast("data.pairs.min_freq", p.MinFreq, 1)
			c.AtLeast("data.pairs.max_vocab", p.MaxVocab, 0)
			checkSequenceOutput(cfg, c)
		},
	})
	config.RegisterTask("captioning", config.TaskSchema{
		Defaults: func(c *config.Config) { c.Decoder.Kind = "autoregressive" },
		Reads:    append([]string{"data.val_path", "data.image_size", "data.color", "data.images", "data.captions", "data.augment"}, sequenceOutputKeys...),
		Check: func(cfg *config.Config, c *config.Checker) {
			encoders.Check(cfg, encoders.ImageInput, c)
			decoders.Check(cfg, []string{"autoregressive"}, decoders.Feed{}, c)
			if e := cfg.Encoder; e != nil {
				c.AtLeast("encoder.pretrain_steps", e.PretrainSteps, 0)
				if n := e.PretrainSteps; n > 0 && n >= cfg.Train.Steps {
					c.Errorf("encoder.pretrain_steps", "%d leaves no steps of train.steps (%d) for the decoder", n, cfg.Train.Steps)
				}
			}
			cp := cfg.Data.Captions
			c.OneOf("data.captions.format", cp.Format, []string{"auto", "flickr8k", "coco"})
			c.AtLeast("data.captions.min_freq", cp.MinFreq, 1)
			c.AtLeast("data.captions.max_len", cp.MaxLen, 1)
			checkImages(cfg, c)
			if a := cfg.Data.Augment; a.Pad < 0 || a.Pad > cfg.Data.ImageSize {
				c.Errorf("data.augment.pad", "%d is outside 0..data.image_size (%d)", a.Pad, cfg.Data.ImageSize)
			}
			checkSequenceOutput(cfg, c)
		},
	})
	config.RegisterTask("video", config.TaskSchema{
		Defaults: func(c *config.Config) { c.Decoder.Kind = "synced" },
		Reads:    []string{"data.val_path", "data.image_size", "data.color", "data.fps", "data.skip_bad", "data.generate"},
		Check: func(cfg *config.Config, c *config.Checker) {
			encoders.Check(cfg, encoders.FrameInput, c)
			checkNoEncoderPhases(cfg, c)
			decoders.Check(cfg, []string{"synced"}, decoders.Feed{}, c)
			if cfg.Data.ValPath == "" {
				c.Errorf("data.val_path", "missing: name the folder of validation clips")
			}
			checkImages(cfg, c)
			if cfg.Data.FPS < 0 || cfg.Data.FPS > 1000 {
				c.Errorf("data.fps", "%g must be in [0, 1000]", cfg.Data.FPS)
			}
			if g := cfg.Data.Generate; g != nil {
				if g.MNIST == "" {
					c.Errorf("data.generate.mnist", "missing: name the folder with the MNIST IDX files")
				}
				c.AtLeast("data.generate.frames", g.Frames, 4)
				for _, sp := range []struct {
					name string
					config.GenSplit
				}{{"train", g.Train}, {"val", g.Val}} {
					key := "data.generate." + sp.name
					c.OneOf(key+".split", sp.Split, []string{"train", "t10k"})
					c.AtLeast(key+".first", sp.First, 0)
					c.AtLeast(key+".digits", sp.Digits, 0)
					c.AtLeast(key+".clips", sp.Clips, 1)
				}
			}
		},
	})
}

// sequenceOutputKeys are the key groups of the tasks whose decoder emits
// a new token sequence (translation, captioning).
var sequenceOutputKeys = []string{"eval.decode", "eval.bleu_sentences", "train.teacher_forcing", "train.teacher_forcing_end"}

// checkSequenceOutput checks how such a decoder trains and decodes.
func checkSequenceOutput(cfg *config.Config, c *config.Checker) {
	c.Probability("train.teacher_forcing", cfg.Train.TeacherForcing)
	c.Probability("train.teacher_forcing_end", cfg.Train.TeacherForcingEnd)
	d := cfg.Eval.Decode
	c.OneOf("eval.decode.strategy", d.Strategy, []string{"greedy", "sample", "beam", "mbr"})
	c.AtLeast("eval.decode.beam", d.Beam, 1)
	if d.LengthPenalty < 0 {
		c.Errorf("eval.decode.length_penalty", "%g is negative", d.LengthPenalty)
	}
	c.Positive("eval.decode.temperature", d.Temperature)
	c.AtLeast("eval.bleu_sentences", cfg.Eval.BLEUSentences, 0)
}

// checkNoEncoderPhases reports the encoder's training phases in a task
// that has none (only captioning pre-trains and freezes its encoder).
func checkNoEncoderPhases(cfg *config.Config, c *config.Checker) {
	if e := cfg.Encoder; e != nil {
		c.Unused("encoder.freeze", e.Freeze, "only captioning holds its encoder fixed")
		c.Unused("encoder.pretrain_steps", e.PretrainSteps != 0, "only captioning pre-trains its encoder")
	}
}

// checkImages checks how images are read (video frames, photos).
func checkImages(cfg *config.Config, c *config.Checker) {
	c.AtLeast("data.image_size", cfg.Data.ImageSize, 4)
	c.OneOf("data.color", cfg.Data.Color, []string{"gray", "rgb"})
}
