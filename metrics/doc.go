// Package metrics scores generated sequences against references: corpus and
// sentence BLEU computed exactly as sacreBLEU computes them (for translation),
// and CIDEr-D as in the coco-caption evaluation (for image captioning).
//
// The BLEU implementation follows sacreBLEU 2.x step by step: the same
// tokenizers (13a by default), the same clipped n-gram statistics, the same
// closest-reference brevity penalty and the same smoothing methods, so that
// reported scores are comparable with published sacreBLEU numbers (BLEU
// computed any other way is not). The fixture test TestSacreBLEUFixtures
// checks scores and statistics against figures computed by sacreBLEU 2.6.0.
//
// Text handling follows Python's string semantics where sacreBLEU relies on
// them (str.split, str.rstrip and str.lower), so that inputs with unusual
// whitespace or casing tokenize identically.
package metrics
