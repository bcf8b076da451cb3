/**
 * CSV for spreadsheets (RFC 4180), safe to open: a cell that a spreadsheet would run as a formula
 * (it starts with =, +, -, @, a tab or a carriage return, as OWASP "CSV Injection" lists) gets a
 * leading apostrophe, which spreadsheets show as text; then any cell holding a comma, quote or
 * line break is quoted, quotes doubled.
 */

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** One cell: formula-neutralised, then quoted when needed. */
export function csvCell(value: string): string {
  const safe = FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** One record: cells joined by commas, ending in CRLF (RFC 4180). */
export function csvRow(cells: readonly string[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}
