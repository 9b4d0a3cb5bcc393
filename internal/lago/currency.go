package lago

// CurrencyDecimals is the number of minor-unit digits of a currency's
// amounts in cents: 2 for EUR (500000 cents are 5,000.00 EUR), 0 for JPY,
// 3 for KWD, and 2 for any currency not listed.
//
// Lago stores every *_cents amount in the money gem's subunits
// (subunit_to_unit), so the table follows the money gem for every currency
// Lago accepts (app/models/concerns/currencies.rb in lago-api), and ISO 4217
// for the others. Where the two differ, the gem wins: HUF and MGA have
// subunit_to_unit 1 there, so Lago's 125000 HUF is HUF 125,000, not
// HUF 1,250.00. MRO, like MGA, divides into fifths rather than tenths and
// is treated the same way.
func CurrencyDecimals(code string) int {
	switch code {
	case "BIF", "CLP", "DJF", "GNF", "HUF", "ISK", "JPY", "KMF", "KRW", "MGA", "MRO",
		"PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3
	case "CLF", "UYW":
		return 4
	}
	return 2
}
