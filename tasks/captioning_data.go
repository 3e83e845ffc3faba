package tasks

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/seqtask/seqtask/config"
	"github.com/seqtask/seqtask/datasets"
)

// Captioning's data: the captions and their splits, the images, the
// vocabulary and the references captions are scored against.

// captionFormat resolves data.captions.format auto by the extension of
// data.path: .json is COCO, anything else the Flickr8k token file.
func captionFormat(d config.Data) string {
	if f := d.Captions.Format; f != "auto" {
		return f
	}
	if strings.EqualFold(filepath.Ext(d.Path), ".json") {
		return "coco"
	}
	return "flickr8k"
}

// imageDir is data.images, or else the first Flickr8k image folder found
// beside data.path.
func imageDir(d config.Data) (string, error) {
	if d.Images != "" {
		return d.Images, nil
	}
	base := filepath.Dir(d.Path)
	for _, name := range datasets.Flickr8kImageDirs {
		if fi, err := os.Stat(filepath.Join(base, name)); err == nil && fi.IsDir() {
			return filepath.Join(base, name), nil
		}
	}
	return "", fmt.Errorf("data.images: not given, and %s has none of %s", base, strings.Join(datasets.Flickr8kImageDirs, ", "))
}

// loadData reads the captions and splits, decodes every image once
// (reporting and skipping missing or corrupt ones), builds the vocabulary
// from the training captions and encodes them.
func (m *Captioning[T]) loadData(log io.Writer) error {
	d := m.cfg.Data
	images, err := imageDir(d)
	if err != nil {
		return err
	}
	var train, dev *datasets.CaptionSet
	switch captionFormat(d) {
	case "coco":
		all, err := datasets.ReadCOCOCaptions(d.Path, images)
		if err != nil {
			return fmt.Errorf("data.path: %w", err)
		}
		reportCaptions(log, all.Report)
		if d.ValPath != "" {
			train = all
			if dev, err = datasets.ReadCOCOCaptions(d.ValPath, images); err != nil {
				return fmt.Errorf("data.val_path: %w", err)
			}
			reportCaptions(log, dev.Report)
		} else {
			tr, dv, err := datasets.SplitBy(all.Images, func(im datasets.CaptionedImage) string { return im.File },
				datasets.SplitOptions{DevFraction: d.ValFraction, Seed: m.cfg.Seed})
			if err != nil {
				return fmt.Errorf("data.val_fraction: %w", err)
			}
			train = &datasets.CaptionSet{ImageDir: images, Images: tr, Report: datasets.CaptionReport{Source: d.Path}}
			dev = &datasets.CaptionSet{ImageDir: images, Images: dv, Report: datasets.CaptionReport{Source: d.Path + " (dev split)"}}
		}
	default:
		all, err := datasets.ReadFlickr8kTokens(d.Path, images)
		if err != nil {
			return fmt.Errorf("data.path: %w", err)
		}
		reportCaptions(log, all.Report)
		for _, sp := range []struct {
			list string
			dst  **datasets.CaptionSet
		}{{datasets.Flickr8kTrainList, &train}, {datasets.Flickr8kDevList, &dev}} {
			p := filepath.Join(filepath.Dir(d.Path), sp.list)
			names, err := datasets.ReadImageList(p)
			if err != nil {
				return fmt.Errorf("data.path: the split list beside it: %w", err)
			}
			if *sp.dst, err = all.Select(names, p); err != nil {
				return fmt.Errorf("data.path: %w", err)
			}
			reportCaptions(log, (*sp.dst).Report)
		}
	}
	for _, sp := range []struct {
		name string
		set  **datasets.CaptionSet
	}{{"training", &train}, {"dev", &dev}} {
		if len((*sp.set).Images) == 0 {
			return fmt.Errorf("data.path: no %s images", sp.name)
		}
		usable, rep, err := m.loader.FilterUsable(*sp.set)
		if err != nil {
			return fmt.Errorf("%s images: %w", sp.name, err)
		}
		for _, f := range rep.Failed {
			fmt.Fprintf(log, "captioning: skipped %s image %s: %s\n", sp.name, f.File, f.Reason)
		}
		if len(rep.Failed) > 0 {
			fmt.Fprintf(log, "captioning: %d of %d %s images unusable, skipped\n", len(rep.Failed), rep.Requested, sp.name)
		}
		*sp.set = usable
		// An image whose captions are all empty once preprocessed (a COCO
		// caption of ".") can be neither learned from nor scored.
		var kept []datasets.CaptionedImage
		for _, im := range usable.Images {
			if slices.ContainsFunc(im.Captions, func(c string) bool { return len(datasets.PreprocessCaption(c, 0)) > 0 }) {
				kept = append(kept, im)
				continue
			}
			fmt.Fprintf(log, "captioning: skipped %s image %s: its captions are empty without punctuation\n", sp.name, im.File)
		}
		if len(kept) == 0 {
			return fmt.Errorf("data.path: no %s image has a non-empty caption", sp.name)
		}
		usable.Images = kept
	}
	m.train, m.dev = train, dev
	opt := datasets.CaptionOptions{MaxLen: d.Captions.MaxLen, MinFreq: d.Captions.MinFreq}
	if m.vocab == nil {
		m.vocab = datasets.CaptionVocab(train, opt)
	}
	if m.trainIDs, err = encodeCaptions(train, m.vocab, opt); err != nil {
		return err
	}
	if m.devIDs, err = encodeCaptions(dev, m.vocab, opt); err != nil {
		return err
	}
	fmt.Fprintf(log, "captioning: %d training images (%d captions), %d dev images (%d captions); vocabulary %d words (min_freq %d)\n",
		len(train.Images), train.NumCaptions(), len(dev.Images), dev.NumCaptions(), m.vocab.Len(), d.Captions.MinFreq)
	return nil
}

// reportCaptions logs what a caption reader skipped: each item, then the count.
func reportCaptions(log io.Writer, r datasets.CaptionReport) {
	for _, s := range r.Skipped {
		fmt.Fprintf(log, "captioning: %s: skipped %s\n", r.Source, s)
	}
	if r.SpaceSeparated > 0 {
		fmt.Fprintf(log, "captioning: %s: %d line(s) separate key and caption by a space, read anyway\n", r.Source, r.SpaceSeparated)
	}
	if n := len(r.Skipped); n > 0 {
		fmt.Fprintf(log, "captioning: %s: %d item(s) skipped (%d captions)\n", r.Source, n, r.SkippedCaptions)
	}
}

// encodeCaptions returns each image's captions as ids.
func encodeCaptions(set *datasets.CaptionSet, v *datasets.Vocab, opt datasets.CaptionOptions) ([][][]int, error) {
	ex, err := set.Encode(v, opt)
	if err != nil {
		return nil, err
	}
	out := make([][][]int, len(set.Images))
	for _, e := range ex {
		out[e.Image] = append(out[e.Image], e.IDs)
	}
	return out, nil
}

// references returns each image's captions preprocessed as the training
// captions are (lowercase, no punctuation) but not cut to max_len: the
// references of BLEU and CIDEr-D.
func references(set *datasets.CaptionSet, n int) [][]string {
	out := make([][]string, n)
	for i := range out {
		for _, c := range set.Images[i].Captions {
			out[i] = append(out[i], strings.Join(datasets.PreprocessCaption(c, 0), " "))
		}
	}
	return out
}
