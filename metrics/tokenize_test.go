package metrics

import "testing"

// The expected outputs below were produced by sacreBLEU's 13a rules run in
// Python, so they pin down Python's re.sub and str.split semantics too.
func TestTokenizer13a(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"comma and bang", "Hello, world!", "Hello , world !"},
		{"numbers keep . and ,", "It costs $3.50, or 3,000 yen.", "It costs $ 3.50 , or 3,000 yen ."},
		{"apostrophe stays in word", "L'été est là.", "L'été est là ."},
		{"entities", "&quot;Hi&quot; &amp; bye &lt;3 &gt;", `" Hi " & bye < 3 >`},
		{"entities unescape in sequence", "&amp;lt;", "<"},
		{"dash after digit only", "1990-2000 and state-of-the-art", "1990 - 2000 and state-of-the-art"},
		{"dash rules", "a-b 2-b a-2", "a-b 2 - b a-2"},
		{"skipped marker", "a<skipped>b", "ab"},
		{"hyphenated line break", "hyphen-\nated line\nbreak", "hyphenated line break"},
		{"non-ASCII punctuation untouched", "« Il a dit : l'été, c'est génial ! »", "« Il a dit : l'été , c'est génial ! »"},
		{"double period", "x..y", "x . . y"},
		{"ellipsis", "...", ". . ."},
		{"period and comma around digits", "3.14 end. .5 5. ,a 1,5", "3.14 end . . 5 5 . , a 1,5"},
		{"python whitespace", "a\u00a0b\x1fc\u3000d\u200be", "a b c d\u200be"},
		{"ascii symbols", "email@example.com (x) [y] {z} a/b a|b a~b a^b a_b a`b a\\b",
			"email @ example . com ( x ) [ y ] { z } a / b a | b a ~ b a ^ b a _ b a ` b a \\ b"},
		{"more symbols", "Tom's #1 50% a*b a+b a=b a;b a?b", "Tom's # 1 50 % a * b a + b a = b a ; b a ? b"},
		{"spaces collapse", "  spaces   around  ", "spaces around"},
		{"french elision and hyphen", "M'accordez-vous cette danse ?", "M'accordez-vous cette danse ?"},
		{"trailing tab", "Qu'ai-je ?\t", "Qu'ai-je ?"},
	}
	tok := Tokenizer13a{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tok.Tokenize(tt.in); got != tt.want {
				t.Errorf("Tokenize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestTokenizerByName(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{"", "a,b", "a , b", false},
		{"13a", "a,b", "a , b", false},
		{"none", "a,b  c", "a,b  c", false},
		{"char", "été x", "é t é   x", false},
		{"intl", "", "", true},
		{"bogus", "", "", true},
	}
	for _, tt := range tests {
		tok, err := TokenizerByName(tt.name)
		if tt.wantErr {
			if err == nil {
				t.Errorf("TokenizerByName(%q): no error, want one", tt.name)
			}
			continue
		}
		if err != nil {
			t.Errorf("TokenizerByName(%q): %v", tt.name, err)
			continue
		}
		if got := tok.Tokenize(tt.in); got != tt.want {
			t.Errorf("%s.Tokenize(%q) = %q, want %q", tok.Name(), tt.in, got, tt.want)
		}
	}
}

// Expected values are Python's str.lower.
func TestPyLower(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ÉCOLE", "école"},
		{"ΣΑΣ", "σας"},
		{"ΟΔΥΣΣΕΥΣ.", "οδυσσευς."},
		{"Σ", "σ"},
		{"AΣ'B", "aσ'b"},
		{"İstanbul", "i\u0307stanbul"},
	}
	for _, tt := range tests {
		if got := pyLower(tt.in); got != tt.want {
			t.Errorf("pyLower(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
