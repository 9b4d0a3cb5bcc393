package fields

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ToCents reads an amount written in currency units ("5,000.00", "5000",
// "12.5") and returns it in minor units for a currency with decimals
// decimals: ToCents("5,000.00", 2) is 500000. Commas and spaces group
// thousands; the decimal separator is a point. More decimals than the
// currency has is an error, not a rounding.
func ToCents(amount string, decimals int) (int64, error) {
	s := strings.NewReplacer(",", "", " ", "", "\u00a0", "", "_", "").Replace(strings.TrimSpace(amount))
	if s == "" {
		return 0, errors.New("type an amount, such as 5,000.00")
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" {
		whole = "0"
	}
	if strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not an amount; write it like 5,000.00", amount)
	}
	if len(frac) > decimals {
		if strings.TrimRight(frac[decimals:], "0") != "" {
			if decimals == 0 {
				return 0, fmt.Errorf("%q has decimals, but this currency has none", amount)
			}
			return 0, fmt.Errorf("%q has more than %d decimals", amount, decimals)
		}
		frac = frac[:decimals]
	}
	frac += strings.Repeat("0", decimals-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is too large an amount", amount)
	}
	if neg {
		n = -n
	}
	return n, nil
}

// FromCents writes an amount of minor units in currency units with
// thousands separators: FromCents(500000, 2) is "5,000.00".
func FromCents(cents int64, decimals int) string {
	neg := cents < 0
	digits := strconv.FormatInt(cents, 10)
	digits = strings.TrimPrefix(digits, "-")
	if len(digits) <= decimals {
		digits = strings.Repeat("0", decimals-len(digits)+1) + digits
	}
	whole, frac := digits[:len(digits)-decimals], digits[len(digits)-decimals:]
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if decimals > 0 {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}
