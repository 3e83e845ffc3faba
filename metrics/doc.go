// Package metrics scores generated sequences against references: corpus and
// sentence BLEU computed exactly as sacreBLEU computes them (for translation),
// and CIDEr-D as in the coco-caption evaluation (for image captioning).
//
// The BLEU implementation reproduces sacreBLEU 2.x to the last printed digit:
// the same tokenizers (13a by default), the same clipped n-gram statistics,
// the same closest-reference brevity penalty and the same smoothing methods.
// Reported scores are therefore comparable with published sacreBLEU numbers,
// which is the only reason to report BLEU at all. The fixture test
// TestSacreBLEUFixtures checks this against figures computed by sacreBLEU.
//
// Text handling follows Python's string semantics where sacreBLEU relies on
// them (str.split, str.rstrip and str.lower), so that inputs with unusual
// whitespace or casing tokenize identically.
package metrics
