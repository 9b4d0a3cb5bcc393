package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/switchboard-dev/switchboard/internal/lago"
)

// Money formats an amount given in minor units of an ISO 4217 currency:
// Money(1234567, "USD") is "$12,345.67", Money(999, "EUR") "€9.99",
// Money(1200, "JPY") "¥1,200", Money(1234, "BHD") "BHD 1.234" and
// Money(-500, "USD") "-$5.00". A currency without a well-known symbol is
// written as its code, and one without 0, 3 or 4 decimals in Lago's or
// ISO 4217's list has 2 ("XYZ 12.34"); an empty
// currency formats the bare number ("12.34"). cents may be any Go number,
// a json.Number or a numeric string; a fractional amount is rounded to the
// nearest minor unit. A decimal string ("300000.0", as Lago's alerts carry
// amounts) is read exactly.
//
// The number of decimals is the one Lago uses for the currency's cents,
// which for HUF and MGA is none (see lago.CurrencyDecimals).
func Money(cents any, currency string) (string, error) {
	neg, digits, err := minorUnits(cents)
	if err != nil {
		return "", fmt.Errorf("money: %w", err)
	}
	return formatMoney(neg, digits, strings.ToUpper(strings.TrimSpace(currency))), nil
}

// minorUnits reads an amount of minor units as a sign and decimal digits,
// so that no finite number is out of range.
func minorUnits(v any) (neg bool, digits string, err error) {
	switch x := v.(type) {
	case nil:
		return false, "", errors.New("the amount is null")
	case json.Number:
		return parseAmount(string(x))
	case bool:
		return false, "", errors.New("the amount is a boolean, not a number")
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := rv.Int()
		if n < 0 {
			// -n overflows for the smallest int64; uint64 does not.
			return true, strconv.FormatUint(uint64(-(n+1))+1, 10), nil
		}
		return false, strconv.FormatInt(n, 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return false, strconv.FormatUint(rv.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		return floatAmount(rv.Float())
	case reflect.String:
		return parseAmount(rv.String())
	}
	return false, "", fmt.Errorf("the amount is %s, not a number", withArticle(describe(v)))
}

func parseAmount(s string) (bool, string, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return minorUnits(n)
	}
	// An integer too long for int64 keeps all its digits.
	if d := strings.TrimLeft(s, "+-"); len(s)-len(d) <= 1 && d != "" && strings.Trim(d, "0123456789") == "" {
		if d = strings.TrimLeft(d, "0"); d == "" {
			d = "0"
		}
		return strings.HasPrefix(s, "-"), d, nil
	}
	// A decimal string, as Lago writes amounts in alerts ("300000.0"), is
	// rounded exactly, whatever its length.
	if neg, digits, ok := decimalAmount(s); ok {
		return neg, digits, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return false, "", fmt.Errorf("%q is not a number", s)
	}
	return floatAmount(f)
}

// decimalAmount reads "[-+]digits.digits" and rounds it to a whole number of
// minor units, half away from zero, without going through a float.
func decimalAmount(s string) (neg bool, digits string, ok bool) {
	body := strings.TrimLeft(s, "+-")
	if len(s)-len(body) > 1 {
		return false, "", false
	}
	whole, frac, found := strings.Cut(body, ".")
	if !found || whole == "" && frac == "" || strings.Trim(whole+frac, "0123456789") != "" {
		return false, "", false
	}
	whole = strings.TrimLeft(whole, "0")
	if frac != "" && frac[0] >= '5' {
		whole = increment(whole)
	}
	if whole == "" {
		return false, "0", true
	}
	return strings.HasPrefix(s, "-"), whole, true
}

// increment adds one to a string of decimal digits ("" is zero).
func increment(d string) string {
	b := []byte(d)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < '9' {
			b[i]++
			return string(b)
		}
		b[i] = '0'
	}
	return "1" + string(b)
}

// floatAmount rounds to the nearest minor unit, half away from zero.
func floatAmount(f float64) (bool, string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return false, "", errors.New("the amount is not a finite number")
	}
	f = math.Round(f)
	return f < 0, strconv.FormatFloat(math.Abs(f), 'f', 0, 64), nil
}

func withArticle(kind string) string {
	switch kind {
	case "object":
		return "an object"
	case "null":
		return kind
	}
	return "a " + kind
}

// formatMoney writes an amount of minor units (sign and digits) of code
// with its symbol (or code), thousands separators and the currency's
// decimals.
func formatMoney(neg bool, digits, code string) string {
	decimals := lago.CurrencyDecimals(code)
	if len(digits) <= decimals {
		digits = strings.Repeat("0", decimals-len(digits)+1) + digits
	}
	whole, frac := digits[:len(digits)-decimals], digits[len(digits)-decimals:]
	var b strings.Builder
	if neg && strings.Trim(digits, "0") != "" {
		b.WriteByte('-')
	}
	switch sym, ok := currencySymbol(code); {
	case ok:
		b.WriteString(sym)
	case code != "":
		b.WriteString(code)
		b.WriteByte(' ')
	}
	b.WriteString(groupThousands(whole))
	if decimals > 0 {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

func groupThousands(s string) string {
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	head := len(s) % 3
	if head > 0 {
		b.WriteString(s[:head])
	}
	for i := head; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// currencySymbol returns the symbol English-language formatting uses for
// a currency, when it is unambiguous enough to show without the code.
func currencySymbol(code string) (string, bool) {
	switch code {
	case "USD":
		return "$", true
	case "EUR":
		return "€", true
	case "GBP":
		return "£", true
	case "JPY":
		return "¥", true
	case "INR":
		return "₹", true
	case "KRW":
		return "₩", true
	case "ILS":
		return "₪", true
	case "NGN":
		return "₦", true
	case "PHP":
		return "₱", true
	case "VND":
		return "₫", true
	case "UAH":
		return "₴", true
	case "BRL":
		return "R$", true
	case "CAD":
		return "CA$", true
	case "AUD":
		return "A$", true
	case "NZD":
		return "NZ$", true
	case "HKD":
		return "HK$", true
	case "MXN":
		return "MX$", true
	case "TWD":
		return "NT$", true
	case "CNY":
		return "CN¥", true
	}
	return "", false
}
