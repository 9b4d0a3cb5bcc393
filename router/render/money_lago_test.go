package render

import (
	"strings"
	"testing"
)

// lagoCurrencies is every currency Lago accepts (ACCEPTED_CURRENCIES in
// lago-api's app/models/concerns/currencies.rb).
var lagoCurrencies = strings.Fields(`
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BIF BMD BND BOB BRL BSD
BWP BYN BZD CAD CDF CHF CLF CLP CNY COP CRC CVE CZK DJF DKK DOP DZD EGP ETB EUR
FJD FKP GBP GEL GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR ISK JMD JOD
JPY KES KGS KHR KMF KRW KWD KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT
MOP MRO MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN
PYG QAR RON RSD RUB RWF SAR SBD SCR SEK SGD SHP SLL SOS SRD STD SZL THB TJS TOP
TRY TTD TWD TZS UAH UGX USD UYU UZS VND VUV WST XAF XCD XOF XPF YER ZAR ZMW`)

// lagoSubunits is subunit_to_unit for the currencies where Lago's money gem
// does not use 100; every other accepted currency has 100.
var lagoSubunits = map[string]int{
	"BIF": 1, "CLP": 1, "DJF": 1, "GNF": 1, "HUF": 1, "ISK": 1, "JPY": 1, "KMF": 1, "KRW": 1,
	"MGA": 1, "MRO": 1, "PYG": 1, "RWF": 1, "UGX": 1, "VND": 1, "VUV": 1, "XAF": 1, "XOF": 1, "XPF": 1,
	"JOD": 1000, "KWD": 1000,
	"CLF": 10000,
}

// TestMoneyEveryLagoCurrency formats the same number of cents in every
// currency Lago accepts and checks the decimals against Lago's subunits:
// 123456789 cents of a 100-subunit currency is 1,234,567.89 units.
func TestMoneyEveryLagoCurrency(t *testing.T) {
	if len(lagoCurrencies) != 139 {
		t.Fatalf("%d currencies in the list", len(lagoCurrencies))
	}
	for _, code := range lagoCurrencies {
		t.Run(code, func(t *testing.T) {
			want := map[int]string{1: "123,456,789", 100: "1,234,567.89", 1000: "123,456.789", 10000: "12,345.6789"}
			sub, ok := lagoSubunits[code]
			if !ok {
				sub = 100
			}
			got, err := Money(123456789, code)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(got, want[sub]) || strings.ContainsAny(strings.TrimSuffix(got, want[sub]), "0123456789") {
				t.Fatalf("Money(123456789, %s) = %q, want the amount %s (subunit_to_unit %d)", code, got, want[sub], sub)
			}
			// A decimal string, as alerts carry amounts, renders the same.
			if s, _ := Money("123456789.0", code); s != got {
				t.Fatalf("decimal string: %q, want %q", s, got)
			}
		})
	}
}

// TestMoneyLagoExamples are the amounts a reader checks by eye.
func TestMoneyLagoExamples(t *testing.T) {
	tests := []struct {
		cents    any
		currency string
		want     string
	}{
		{125000, "HUF", "HUF 125,000"},
		{125000, "MGA", "MGA 125,000"},
		{125000, "JPY", "¥125,000"},
		{125000, "BHD", "BHD 125.000"},
		{125000, "EUR", "€1,250.00"},
		{"300000.0", "USD", "$3,000.00"},
		{"125000.0", "HUF", "HUF 125,000"},
		{"1999.5", "EUR", "€20.00"},
		{"-1999.5", "EUR", "-€20.00"},
		{"0.4", "USD", "$0.00"},
		{".5", "USD", "$0.01"},
		{"99999999999999999999.5", "USD", "$1,000,000,000,000,000,000.00"},
	}
	for _, tt := range tests {
		got, err := Money(tt.cents, tt.currency)
		if err != nil || got != tt.want {
			t.Errorf("Money(%v, %s) = %q, %v; want %q", tt.cents, tt.currency, got, err, tt.want)
		}
	}
}
