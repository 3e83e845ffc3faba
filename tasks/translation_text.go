package tasks

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/datasets"
	"github.com/seqtask/seqtask/tokenizers"
)

// How translation's sentences become tokens: a tokenizer per side
// (data.pairs.tokenizer: words, bpe, sentencepiece or chars; package
// tokenizers), learned from the training sentences where the kind learns
// (bpe), and kept in the checkpoint's metadata so that predict and serve
// need no other file; then a vocabulary per side mapping tokens to ids.

// tokenizerOptions are the tokenizer options of one side.
func tokenizerOptions(p config.Pairs, lang string, target bool) tokenizers.Options {
	t := p.Tokenizer
	o := tokenizers.Options{Kind: t.Kind, Normalization: t.Normalization, Lower: p.Lowercase}
	switch t.Kind {
	case "words":
		o.Lang = lang
	case "bpe":
		o.VocabSize, o.CharacterCoverage = t.VocabSize, t.CharacterCoverage
	case "sentencepiece":
		o.ModelFile = t.Model
		if target && t.TargetModel != "" {
			o.ModelFile = t.TargetModel
		}
	}
	return o
}

// learnTokenizers makes both sides' tokenizers, learning bpe from the
// training pairs: one vocabulary from both sides with tokenizer.joint,
// else one per side.
func learnTokenizers(p config.Pairs, train []datasets.Pair, log io.Writer) (src, tgt tokenizers.Tokenizer, err error) {
	var srcText, tgtText []string
	if p.Tokenizer.Kind == "bpe" {
		for _, q := range train {
			srcText, tgtText = append(srcText, q.Src), append(tgtText, q.Tgt)
		}
	}
	began := time.Now()
	so, to := tokenizerOptions(p, p.SourceLang, false), tokenizerOptions(p, p.TargetLang, true)
	if p.Tokenizer.Joint {
		src, err = tokenizers.New(so, append(srcText, tgtText...))
		tgt = src
	} else {
		if src, err = tokenizers.New(so, srcText); err == nil {
			tgt, err = tokenizers.New(to, tgtText)
		}
	}
	if err != nil {
		return nil, nil, &config.Error{Key: "data.pairs.tokenizer", Msg: err.Error()}
	}
	if p.Tokenizer.Kind == "bpe" {
		fmt.Fprintf(log, "translation: learned %s bpe of %d pieces from %d training pairs in %v\n",
			map[bool]string{true: "a joint", false: "a per-side"}[p.Tokenizer.Joint], p.Tokenizer.VocabSize, len(train), time.Since(began).Round(time.Millisecond))
	}
	return src, tgt, nil
}

// restoreTokenizer reads a tokenizer a checkpoint's metadata keeps under
// key; a checkpoint from before tokenizers were kept used the words rules
// of its config.
func restoreTokenizer(meta map[string]string, key string, p config.Pairs, lang string) (tokenizers.Tokenizer, error) {
	s, ok := meta[key]
	if !ok {
		return tokenizers.New(tokenizers.Options{Kind: "words", Lang: lang, Lower: p.Lowercase}, nil)
	}
	t, err := tokenizers.Unmarshal([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("checkpoint metadata %s: %w", key, err)
	}
	return t, nil
}

// marshalTokenizer is the metadata form of t.
func marshalTokenizer(t tokenizers.Tokenizer) string {
	b, _ := json.Marshal(t)
	return string(b)
}

// tokenizePairs splits both sides of every pair into tokens.
func tokenizePairs(pairs []datasets.Pair, src, tgt tokenizers.Tokenizer) []datasets.TokenPair {
	out := make([]datasets.TokenPair, len(pairs))
	for i, p := range pairs {
		out[i] = datasets.TokenPair{Src: src.Encode(p.Src), Tgt: tgt.Encode(p.Tgt), Line: p.Line}
	}
	return out
}

// buildVocabs makes both sides' vocabularies: a closed set of pieces (bpe,
// sentencepiece) in full, after the reserved tokens, so that no piece is
// <unk>; else the training tokens seen min_freq times, up to max_vocab.
func buildVocabs(p config.Pairs, pairs []datasets.TokenPair, src, tgt tokenizers.Tokenizer) (*datasets.Vocab, *datasets.Vocab, error) {
	srcCounted, tgtCounted := datasets.BuildPairVocabs(pairs, datasets.VocabOptions{MinFreq: p.MinFreq, MaxSize: p.MaxVocab, Specials: datasets.Specials})
	side := func(t tokenizers.Tokenizer, fallback *datasets.Vocab) (*datasets.Vocab, error) {
		v, ok := t.(tokenizers.Vocabulary)
		if !ok {
			return fallback, nil
		}
		tokens := append([]string{}, datasets.Specials...)
		for _, piece := range v.Pieces() {
			if !slices.Contains(datasets.Specials, piece) { // SentencePiece's own <unk> is ours
				tokens = append(tokens, piece)
			}
		}
		return datasets.NewVocab(tokens)
	}
	s, err := side(src, srcCounted)
	if err != nil {
		return nil, nil, fmt.Errorf("source vocabulary: %w", err)
	}
	t, err := side(tgt, tgtCounted)
	if err != nil {
		return nil, nil, fmt.Errorf("target vocabulary: %w", err)
	}
	return s, t, nil
}

// checkTokenizer checks data.pairs.tokenizer: each kind's keys, and no key
// a kind would ignore.
func checkTokenizer(t config.Tokenizer, c *config.Checker) {
	const key = "data.pairs.tokenizer"
	c.OneOf(key+".kind", t.Kind, tokenizers.Kinds())
	c.OneOf(key+".normalization", t.Normalization, []string{"none", "nfc", "nfkc"})
	bpe, spm := t.Kind == "bpe", t.Kind == "sentencepiece"
	if bpe {
		c.AtLeast(key+".vocab_size", t.VocabSize, 1)
		if t.CharacterCoverage < 0 || t.CharacterCoverage > 1 {
			c.Errorf(key+".character_coverage", "%g must be in [0, 1] (0: every character)", t.CharacterCoverage)
		}
	}
	if spm && t.Model == "" {
		c.Errorf(key+".model", "missing: name the SentencePiece .model file (target_model for another one on the target side)")
	}
	c.Unused(key+".vocab_size", !bpe && t.VocabSize != 0, "only bpe learns a vocabulary of a chosen size")
	c.Unused(key+".character_coverage", !bpe && t.CharacterCoverage != 0, "only bpe chooses its base characters")
	c.Unused(key+".joint", !bpe && t.Joint, "only bpe learns one vocabulary from both sides")
	c.Unused(key+".model", !spm && t.Model != "", "only sentencepiece reads a model file")
	c.Unused(key+".target_model", !spm && t.TargetModel != "", "only sentencepiece reads a model file")
}
