package touchpoint

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// MicrosPerUnit is how many micros make one currency unit.
const MicrosPerUnit = 1_000_000

// MaxAmount is the largest revenue or cost one record may carry: one
// billion currency units. Money sums in ClickHouse are Int64 micros, which
// hold 9,223,372,036,854.775807 units; with amounts bounded so, a sum
// overflows only past 9,223 records at the bound, far beyond any realistic
// day of a channel and campaign.
const MaxAmount Money = 1_000_000_000 * MicrosPerUnit

// Money is an amount of money in micros (millionths of a currency unit), the
// exact integer form touchline stores in ClickHouse. Its JSON form is a
// decimal number of currency units, e.g. 12.5.
type Money int64

// ErrMoney reports a money amount that is not a decimal number with at most six
// decimal places within the range of Money.
var ErrMoney = errors.New("invalid money amount")

// ParseMoney parses a decimal number of currency units ("12.50", "-3", "0.000001")
// exactly, without going through floating point.
func ParseMoney(s string) (Money, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("%w: empty", ErrMoney)
	}
	neg := false
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || len(frac) > 6 || !digits(whole) || !digits(frac) {
		return 0, fmt.Errorf("%w: %q", ErrMoney, s)
	}
	frac += strings.Repeat("0", 6-len(frac))
	w := uint64(0)
	if whole != "" {
		var err error
		if w, err = strconv.ParseUint(whole, 10, 64); err != nil || w > math.MaxInt64/MicrosPerUnit {
			return 0, fmt.Errorf("%w: %q out of range", ErrMoney, s)
		}
	}
	f, _ := strconv.ParseUint(frac, 10, 64)
	m := int64(w)*MicrosPerUnit + int64(f)
	if neg {
		m = -m
	}
	return Money(m), nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String formats m as a decimal number of currency units with no trailing zeros.
func (m Money) String() string {
	v := int64(m)
	sign := ""
	u := uint64(v)
	if v < 0 {
		sign, u = "-", uint64(-v)
	}
	s := fmt.Sprintf("%s%d.%06d", sign, u/MicrosPerUnit, u%MicrosPerUnit)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// MarshalJSON writes m as a JSON number of currency units.
func (m Money) MarshalJSON() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalJSON reads a JSON number (or a string holding one) of currency units.
func (m *Money) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := ParseMoney(s)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Rat returns m in currency units, the native form of an Avro decimal.
func (m Money) Rat() *big.Rat { return big.NewRat(int64(m), MicrosPerUnit) }

// MoneyFromRat converts an Avro decimal in currency units to Money. It fails
// when the amount has more than six decimal places or does not fit.
func MoneyFromRat(r *big.Rat) (Money, error) {
	micros := new(big.Rat).Mul(r, big.NewRat(MicrosPerUnit, 1))
	if !micros.IsInt() || !micros.Num().IsInt64() {
		return 0, fmt.Errorf("%w: %s", ErrMoney, r.FloatString(9))
	}
	return Money(micros.Num().Int64()), nil
}
