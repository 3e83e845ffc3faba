package tokenizers

import (
	"encoding/json"
	"sync"
	"testing"
)

// Benchmarks of encoding and decoding both sides of the shipped Tatoeba
// file, one sentence per iteration, reported in sentences/s:
//
//	go test ./tokenizers/ -run '^$' -bench . -benchtime 2s
//
// bpe-8k is 8,000 pieces learned from the whole file; sentencepiece is the
// 600-piece fixture model, so it makes more, shorter pieces.

var (
	benchOnce sync.Once
	benchToks []benchTok
)

type benchTok struct {
	name string
	tok  Tokenizer
}

func benchTokenizers(b *testing.B) ([]string, []benchTok) {
	texts := readTatoeba(b)
	benchOnce.Do(func() {
		for _, c := range []struct {
			name string
			o    Options
		}{
			{"bpe-8k", Options{Kind: "bpe", VocabSize: 8000}},
			{"chars", Options{Kind: "chars"}},
			{"words", Options{Kind: "words", Lang: "en", Lower: true}},
			{"sentencepiece", Options{Kind: "sentencepiece", ModelFile: "testdata/spm-bpe600-exact.model"}},
		} {
			benchToks = append(benchToks, benchTok{c.name, mustNew(b, c.o, texts)})
		}
	})
	return texts, benchToks
}

func reportSentences(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sentences/s")
}

func BenchmarkEncode(b *testing.B) {
	texts, toks := benchTokenizers(b)
	for _, bt := range toks {
		b.Run(bt.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				bt.tok.Encode(texts[i%len(texts)])
			}
			reportSentences(b)
		})
	}
	// The same bpe tokenizer restored afresh for every pass over the
	// corpus: each sentence is encoded with the cache a single pass builds,
	// as when a training set is encoded once.
	data, err := json.Marshal(toks[0].tok)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("bpe-8k-first-pass", func(b *testing.B) {
		var tok Tokenizer
		for i := 0; b.Loop(); i++ {
			if i%len(texts) == 0 {
				b.StopTimer()
				if tok, err = Unmarshal(data); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			tok.Encode(texts[i%len(texts)])
		}
		reportSentences(b)
	})
}

func BenchmarkDecode(b *testing.B) {
	texts, toks := benchTokenizers(b)
	for _, bt := range toks {
		b.Run(bt.name, func(b *testing.B) {
			encoded := make([][]string, len(texts))
			for i, s := range texts {
				encoded[i] = bt.tok.Encode(s)
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				bt.tok.Decode(encoded[i%len(encoded)])
			}
			reportSentences(b)
		})
	}
}

// BenchmarkBPELearn learns 8,000 pieces from both sides of the shipped file.
func BenchmarkBPELearn(b *testing.B) {
	texts := readTatoeba(b)
	for b.Loop() {
		mustNew(b, Options{Kind: "bpe", VocabSize: 8000}, texts)
	}
}
