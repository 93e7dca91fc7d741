// Numbers as pages show them, the twin of knowcast.money on the server: money in minor units (fen) with the
// currency's symbol, hold and countdown clocks. Pure functions (no DOM), unit-tested in tests/js.

/** @type {Record<string, string>} */
const SYMBOLS = { CNY: "¥", USD: "$", EUR: "€", JPY: "¥", GBP: "£", HKD: "HK$" };
/** currencies with no minor unit: an amount is already whole yen */
const ZERO_DECIMAL = new Set(["JPY"]);

/** @param {number} n a whole, non-negative number */
function grouped(n) {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * An amount in minor units for display: 1990 CNY → "¥19.90", 123456 → "¥1,234.56", 500 JPY → "¥500", an
 * unknown currency by its code ("SGD 1.00"). Averages that are not whole fen are rounded; a refund is "-¥1.50".
 * @param {number} amount
 * @param {string} [currency]
 */
export function money(amount, currency = "CNY") {
  const symbol = SYMBOLS[currency] || `${currency} `;
  const minor = Math.round(amount);
  const sign = minor < 0 ? "-" : "";
  const abs = Math.abs(minor);
  if (ZERO_DECIMAL.has(currency)) return `${sign}${symbol}${grouped(abs)}`;
  return `${sign}${symbol}${grouped(Math.floor(abs / 100))}.${String(abs % 100).padStart(2, "0")}`;
}

/**
 * Time left as "mm:ss" (whole seconds, rounded up, never negative): 299001 → "05:00". An hour or more keeps
 * counting minutes ("75:00"), as the holds and countdowns it is for are short.
 * @param {number} ms
 */
export function clock(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}
