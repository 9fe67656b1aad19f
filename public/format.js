/** Number formats used across the page (en-US, like the API's messages). */

const dollars = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 0 });
const counts = new Intl.NumberFormat('en-US');

/** A probability as a percentage with two decimals: 0.03499 → "3.50%". */
export const pct = (p) => (p === null || p === undefined ? '–' : `${(p * 100).toFixed(2)}%`);
export const usd = (x) => dollars.format(x);
export const count = (n) => counts.format(n);
/** A signed log-odds contribution: "+0.767", "−0.109". */
export const signed = (x) => `${x < 0 ? '−' : '+'}${Math.abs(x).toFixed(3)}`;
/** Short dollars for axis-like labels: $1.2M, $350K. */
export function usdShort(x) {
  if (x >= 1e9) return `$${(x / 1e9).toFixed(1)}B`;
  if (x >= 1e6) return `$${(x / 1e6).toFixed(1)}M`;
  if (x >= 1e3) return `$${Math.round(x / 1e3)}K`;
  return `$${Math.round(x)}`;
}

/** Creates an element with attributes and children (strings become text). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === 'class') node.className = String(value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}

/** A table from a header row and data rows (cells are strings or nodes). */
export function table(caption, head, rows, numericFrom = 1) {
  const cell = (tag, content, i) =>
    el(tag, { class: i >= numericFrom ? 'num' : null, scope: tag === 'th' ? 'col' : null }, content);
  return el(
    'table',
    {},
    caption ? el('caption', {}, caption) : null,
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        head.map((h, i) => cell('th', h, i)),
      ),
    ),
    el(
      'tbody',
      {},
      rows.map((r) =>
        el(
          'tr',
          {},
          r.map((c, i) => cell('td', c, i)),
        ),
      ),
    ),
  );
}
