package scrub

import (
	"errors"
	"testing"
)

func TestText(t *testing.T) {
	s := Default()
	for _, tc := range []struct{ name, in, want string }{
		{"email query parameter, percent-escaped",
			"https://shop.example/checkout?step=2&email=jane.doe%40example.com&utm_source=news",
			"https://shop.example/checkout?step=2&email=(redacted)&utm_source=news"},
		{"configured parameter whatever it holds, any case",
			"https://shop.example/?Phone=5551234&tel=x&first_name=Jane",
			"https://shop.example/?Phone=(redacted)&tel=(redacted)&first_name=(redacted)"},
		{"email in another parameter, escaped",
			"https://shop.example/?ref=jane.doe%40example.com&a=1",
			"https://shop.example/?ref=(redacted)&a=1"},
		{"email in a parameter, clear",
			"https://shop.example/?ref=Jane.Doe+news@Example.co.uk#top",
			"https://shop.example/?ref=(redacted)#top"},
		{"email in the path",
			"https://shop.example/u/jane@example.com/orders?x=1",
			"https://shop.example/u/(redacted)/orders?x=1"},
		{"email escaped twice",
			"https://r.example/?u=https%3A%2F%2Fshop.example%2F%3Fm%3Djane%2540example.com",
			"https://r.example/?u=https%3A%2F%2Fshop.example%2F%3Fm%3D(redacted)"},
		{"international phone, escaped plus",
			"https://mail.example.com/?q=call+me+%2B44+20+7946+0018&lang=en",
			"https://mail.example.com/?q=call+me+(redacted)&lang=en"},
		{"international phone in text", "Call +44 (0)20 7946 0018 today", "Call (redacted) today"},
		{"tel URI", "tel:+1-555-123-4567", "tel:(redacted)"},
		{"national phone with groups", "ring 020 7946 0018 after 6pm", "ring (redacted) after 6pm"},
		{"US national phone", "(555) 123-4567", "(redacted)"},
		{"Italian national phone", "06 1234 5678", "(redacted)"},
		{"two emails and a phone", "a@b.io, c.d@e.org; +33 1 23 45 67 89", "(redacted), (redacted); (redacted)"},
		{"plain url", "https://shop.example/products/42?color=red&size=10", "https://shop.example/products/42?color=red&size=10"},
		{"order number", "100234567", "100234567"},
		{"epoch milliseconds", "https://shop.example/?t=1700000000000", "https://shop.example/?t=1700000000000"},
		{"date and time", "2026-11-02 10:11:12", "2026-11-02 10:11:12"},
		{"ISO time", "2026-11-02T10:11:12.345Z", "2026-11-02T10:11:12.345Z"},
		{"IP address", "192.168.100.200", "192.168.100.200"},
		{"UUID", "123e4567-e89b-12d3-a456-426614174000", "123e4567-e89b-12d3-a456-426614174000"},
		{"short international number", "+44 123", "+44 123"},
		{"bad percent escape", "100% off for jane", "100% off for jane"},
		{"path with numbers", "https://shop.example/c/2026/11/02/123456789", "https://shop.example/c/2026/11/02/123456789"},
		{"date with slashes", "2026/11/02 1234 5678", "2026/11/02 1234 5678"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.Text(tc.in); got != tc.want {
				t.Fatalf("Text(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestProperty(t *testing.T) {
	s := Default()
	for _, tc := range []struct{ key, value, want string }{
		{"email", "anything", Redacted},
		{" Mobile ", "07946 001800", Redacted},
		{"email", "", ""},
		{"note", "write to jane@example.com", "write to (redacted)"},
		{"sku", "shoe-1", "shoe-1"},
	} {
		if got := s.Property(tc.key, tc.value); got != tc.want {
			t.Errorf("Property(%q, %q) = %q, want %q", tc.key, tc.value, got, tc.want)
		}
	}
}

func TestConfig(t *testing.T) {
	s, err := New(Config{Emails: false, Phones: true, Params: []string{"Secret"}})
	if err != nil {
		t.Fatal(err)
	}
	in := "https://x.example/?secret=1&email=jane@example.com&p=%2B442079460018"
	want := "https://x.example/?secret=(redacted)&email=jane@example.com&p=(redacted)"
	if got := s.Text(in); got != want {
		t.Fatalf("Text = %q, want %q", got, want)
	}
	off, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := off.Text(in); got != in {
		t.Fatalf("scrubbing off changed %q to %q", in, got)
	}
	if _, err := New(Config{Params: []string{"a=b"}}); !errors.Is(err, ErrConfig) {
		t.Fatalf("param a=b accepted: %v", err)
	}
}
