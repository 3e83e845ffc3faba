package metrics_test

import (
	"fmt"

	"github.com/seqtask/seqtask/metrics"
)

func ExampleCorpusBLEU() {
	hyps := []string{"Le chat est sur le tapis.", "Il fait beau aujourd'hui."}
	refs := [][]string{{"Le chat est assis sur le tapis.", "Il fait beau aujourd'hui."}}
	s, err := metrics.CorpusBLEU(hyps, refs, metrics.BLEUOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s)
	// Output: BLEU = 70.13 100.0/90.0/75.0/50.0 (BP = 0.920 ratio = 0.923 hyp_len = 12 ref_len = 13)
}

func ExampleSentenceBLEU() {
	s, err := metrics.SentenceBLEU("Il fait beau.", []string{"Il fait très beau."}, metrics.BLEUOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s)
	// Output: BLEU = 35.19 100.0/66.7/25.0/25.0 (BP = 0.779 ratio = 0.800 hyp_len = 4 ref_len = 5)
}

func ExampleCIDErD() {
	cands := []string{"a dog runs on the grass", "a man rides a bike"}
	refs := [][]string{
		{"a dog runs on grass", "a brown dog running on the grass"},
		{"a man riding a bike", "a person rides a bicycle"},
	}
	s, err := metrics.CIDErD(cands, refs, metrics.CIDErDOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%.3f %.3f\n", s.Score, s.PerImage)
	// Output: 3.479 [4.771 2.188]
}
