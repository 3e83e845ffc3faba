package datasets

import (
	"reflect"
	"strings"
	"testing"
)

func TestTokenizeGolden(t *testing.T) {
	en := TokenizeOptions{Lang: "en"}
	enLow := TokenizeOptions{Lang: "en", Lower: true}
	fr := TokenizeOptions{Lang: "fr"}
	frLow := TokenizeOptions{Lang: "fr", Lower: true}
	none := TokenizeOptions{}
	tests := []struct {
		in   string
		opt  TokenizeOptions
		want string // tokens joined by "|"
	}{
		// English punctuation and contractions.
		{"Go.", en, "Go|."},
		{"Run!", enLow, "run|!"},
		{"I don't know.", en, "I|do|n't|know|."},
		{"I can't, I won't!", en, "I|ca|n't|,|I|wo|n't|!"},
		{"It's Tom's car.", en, "It|'s|Tom|'s|car|."},
		{"I'm sure you're right; we've seen it, I'll go, I'd say.", en, "I|'m|sure|you|'re|right|;|we|'ve|seen|it|,|I|'ll|go|,|I|'d|say|."},
		{"You shouldn't've.", en, "You|should|n't|'ve|."},
		{"DON'T!", en, "DO|N'T|!"},
		{"It's five o'clock.", en, "It|'s|five|o'clock|."},
		{"Make 'em like they used to.", en, "Make|'em|like|they|used|to|."},
		{"It's a boys' club.", en, "It|'s|a|boys'|club|."},
		{"This is a 'present' here.", en, "This|is|a|'|present|'|here|."},
		{"It costs $3.50, or 1,000 yen.", en, "It|costs|$|3.50|,|or|1,000|yen|."},
		{"Wait... what?!", en, "Wait|...|what|?|!"},
		{"Well…", en, "Well|..."},
		{"A well-known fact - really.", en, "A|well-known|fact|-|really|."},
		{"He said \"hi\" (twice).", en, "He|said|\"|hi|\"|(|twice|)|."},
		{"I don’t know.", en, "I|do|n't|know|."}, // curly apostrophe
		{"  spaced\t out  ", en, "spaced|out"},
		{"", en, ""},
		// French elisions, punctuation and spacing.
		{"Va !", fr, "Va|!"},
		{"Cours\u202f!", fr, "Cours|!"}, // narrow no-break space, as in the data
		{"L'homme qu'il a vu.", fr, "L'|homme|qu'|il|a|vu|."},
		{"J'ai dit qu'aujourd'hui c'est fini.", frLow, "j'|ai|dit|qu'|aujourd'hui|c'|est|fini|."},
		{"Je n'en sais rien, d'accord ?", fr, "Je|n'|en|sais|rien|,|d'|accord|?"},
		{"Il m'a dit : « t'es où ? »", fr, "Il|m'|a|dit|:|«|t'|es|où|?|»"},
		{"S'il te plaît ; jusqu'à demain.", fr, "S'|il|te|plaît|;|jusqu'|à|demain|."},
		{"Quelqu'un est venu lorsqu'il pleuvait.", fr, "Quelqu'un|est|venu|lorsqu'|il|pleuvait|."},
		{"Est-ce qu'il viendra ? Peut-être.", fr, "Est-ce|qu'|il|viendra|?|Peut-être|."},
		{"Ça a-t-il marché ?", frLow, "ça|a-t-il|marché|?"},
		{"L’homme", fr, "L'|homme"}, // curly apostrophe
		{"«\u00a0Bonjour\u00a0», dit-il.", fr, "«|Bonjour|»|,|dit-il|."},
		{"ÉTÉ À PARIS", frLow, "été|à|paris"},
		{"Cafe\u0301", fr, "Café"}, // NFC
		{"Il coûte 5,50 €.", fr, "Il|coûte|5,50|€|."},
		// Without a language, apostrophes stay inside words.
		{"l'homme don't", none, "l'homme|don't"},
		// Zero-width and soft hyphen removed.
		{"in\u200bvisible soft\u00adhyphen", none, "invisible|softhyphen"},
		// Invalid UTF-8 never panics.
		{"bad\xffbyte", none, "badbyte"},
	}
	for _, tc := range tests {
		got := strings.Join(Tokenize(tc.in, tc.opt), "|")
		if got != tc.want {
			t.Errorf("Tokenize(%q, %+v)\n got %s\nwant %s", tc.in, tc.opt, got, tc.want)
		}
	}
}

func TestDetokenizeGolden(t *testing.T) {
	tests := []struct {
		tokens string // joined by "|"
		lang   string
		want   string
	}{
		{"I|do|n't|know|.", "en", "I don't know."},
		{"It|'s|Tom|'s|car|,|is|n't|it|?", "en", "It's Tom's car, isn't it?"},
		{"I|ca|n't|!", "en", "I can't!"},
		{"You|should|n't|'ve|.", "en", "You shouldn't've."},
		{"He|said|\"|hi|\"|(|twice|)|.", "en", "He said \"hi\" (twice)."},
		{"This|is|a|'|present|'|here|.", "en", "This is a 'present' here."},
		{"It|costs|$|3.50|:|cheap|;|ok|...", "en", "It costs $3.50: cheap; ok..."},
		{"It|'s|a|boys'|club|.", "en", "It's a boys' club."},
		{"A|well-known|fact|-|really|.", "en", "A well-known fact - really."},
		{"Va|!", "fr", "Va !"},
		{"L'|homme|qu'|il|a|vu|.", "fr", "L'homme qu'il a vu."},
		{"Je|n'|en|sais|rien|,|d'|accord|?", "fr", "Je n'en sais rien, d'accord ?"},
		{"Il|m'|a|dit|:|«|t'|es|où|?|»", "fr", "Il m'a dit : « t'es où ? »"},
		{"«|bonjour|»|,|dit-il|.", "fr", "« bonjour », dit-il."},
		{"S'|il|te|plaît|;|jusqu'|à|demain|.", "fr", "S'il te plaît ; jusqu'à demain."},
		{"Il|coûte|50|%|.", "fr", "Il coûte 50%."},
		{"", "en", ""},
	}
	for _, tc := range tests {
		var toks []string
		if tc.tokens != "" {
			toks = strings.Split(tc.tokens, "|")
		}
		if got := Detokenize(toks, tc.lang); got != tc.want {
			t.Errorf("Detokenize(%q, %q) = %q, want %q", tc.tokens, tc.lang, got, tc.want)
		}
	}
}

// Sentences already written the way Detokenize writes them survive a round
// trip through Tokenize unchanged.
func TestTokenizeDetokenizeRoundTrip(t *testing.T) {
	for _, tc := range []struct{ lang, s string }{
		{"en", "I don't think it's Tom's fault, is it?"},
		{"en", "We'll see: you've done well; they're here!"},
		{"en", "Make 'em laugh at five o'clock."},
		{"fr", "Je pense qu'il l'a fait : c'est vrai !"},
		{"fr", "Aujourd'hui, quelqu'un m'a dit « bonjour »."},
		{"fr", "Est-ce que tu viens ? Jusqu'à quand ?"},
	} {
		toks := Tokenize(tc.s, TokenizeOptions{Lang: tc.lang})
		if got := Detokenize(toks, tc.lang); got != tc.s {
			t.Errorf("round trip %s: %q → %q → %q", tc.lang, tc.s, toks, got)
		}
	}
}

func TestNormalize(t *testing.T) {
	got := Normalize("  L’homme\u202f!\u00a0 Cafe\u0301…\u200b ")
	if want := "L'homme ! Café..."; got != want {
		t.Errorf("Normalize = %q, want %q", got, want)
	}
	if got := Tokenize("   ", TokenizeOptions{}); len(got) != 0 {
		t.Errorf("Tokenize(spaces) = %q, want none", got)
	}
	if got := Tokenize("Qu'", TokenizeOptions{Lang: "fr"}); !reflect.DeepEqual(got, []string{"Qu'"}) {
		t.Errorf("Tokenize(Qu') = %q", got)
	}
}
