/**
 * Money as the API sends it: `{ amount, currency }`, the amount an integer in the currency's minor
 * units (ISO 4217: cents for USD, whole yen for JPY, fils for KWD), so 12000 JPY is ¥12,000, not ¥120.
 * The minor unit's digits are ISO 4217's, listed here for the currencies that have other than 2:
 * Intl's own (CLDR) defaults differ for a few (HUF, for one, is shown without decimals although its
 * ISO minor unit has 2). One module for the web app and the emails (functions/notifications), so
 * both show an amount alike; no DOM here.
 */
export interface Money {
  amount: number;
  currency: string;
}

const ZERO = 'BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF';
const THREE = 'BHD IQD JOD KWD LYD OMR TND';
const FOUR = 'CLF UYW';

/** The digits of the currency's minor unit (ISO 4217): 2 for USD, 0 for JPY, 3 for KWD. */
export function minorDigits(currency: string): number {
  const code = currency.toUpperCase();
  if (!/^[A-Z]{3}$/.test(code)) return 2;
  if (ZERO.includes(code)) return 0;
  if (THREE.includes(code)) return 3;
  if (FOUR.includes(code)) return 4;
  return 2;
}

const formats = new Map<string, Intl.NumberFormat>();

/** "$120.00", "¥12,000", "KWD 1.250"; a currency Intl does not know is shown as its code and amount. */
export function money(price: Money): string {
  const digits = minorDigits(price.currency);
  try {
    let format = formats.get(price.currency);
    if (!format) {
      format = new Intl.NumberFormat('en', { style: 'currency', currency: price.currency, minimumFractionDigits: digits, maximumFractionDigits: digits });
      formats.set(price.currency, format);
    }
    return format.format(price.amount / 10 ** digits);
  } catch {
    return `${price.currency} ${(price.amount / 10 ** digits).toFixed(digits)}`;
  }
}
