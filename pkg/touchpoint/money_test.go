package touchpoint

import (
	"errors"
	"math/big"
	"testing"
)

func TestParseMoney(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Money
		err  bool
	}{
		{"12.5", 12_500_000, false},
		{"0.000001", 1, false},
		{"-3", -3_000_000, false},
		{"+7.10", 7_100_000, false},
		{".5", 500_000, false},
		{"100", 100_000_000, false},
		{"9223372036854.775807", 9223372036854775807, false},
		{"0.0000001", 0, true},
		{"1e3", 0, true},
		{"", 0, true},
		{"abc", 0, true},
		{"1.2.3", 0, true},
		{"9223372036855", 0, true},
	} {
		got, err := ParseMoney(tc.in)
		if tc.err {
			if !errors.Is(err, ErrMoney) {
				t.Errorf("ParseMoney(%q) = %v, %v; want ErrMoney", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseMoney(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestMoneyStringAndRat(t *testing.T) {
	for _, tc := range []struct {
		m    Money
		want string
	}{{12_500_000, "12.5"}, {1, "0.000001"}, {-3_000_000, "-3"}, {0, "0"}} {
		if got := tc.m.String(); got != tc.want {
			t.Errorf("%d.String() = %q, want %q", int64(tc.m), got, tc.want)
		}
		back, err := MoneyFromRat(tc.m.Rat())
		if err != nil || back != tc.m {
			t.Errorf("MoneyFromRat(%d.Rat()) = %d, %v", int64(tc.m), back, err)
		}
	}
	if _, err := MoneyFromRat(big.NewRat(1, 10_000_000)); !errors.Is(err, ErrMoney) {
		t.Errorf("seven decimal places accepted: %v", err)
	}
}
