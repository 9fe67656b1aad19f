/**
 * Bar charts drawn as SVG with DOM calls: horizontal bars (signed values allowed, optional marker per
 * row) and vertical columns. Each chart is drawn at its container's width, in pixels, so text stays
 * readable on a phone, and is drawn again when that width changes. Every SVG is role="img" with a
 * one-sentence summary as its accessible name; the caller adds the data as a table.
 */

// The SVG namespace is an identifier, never fetched.
const SVG_NS = 'http://www.w3.org/2000/svg';
const FONT = 13;

function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Width of a text in pixels, in the page's font (measured on a canvas: no layout needed). */
const measure = document.createElement('canvas').getContext('2d');
function textWidth(s, size = FONT) {
  if (!measure) return s.length * size * 0.6;
  measure.font = `${size}px ${getComputedStyle(document.body).fontFamily}`;
  return measure.measureText(s).width;
}

const drawn = new WeakMap();
const resized = new ResizeObserver((entries) => {
  for (const entry of entries) {
    const spec = drawn.get(entry.target);
    if (spec && Math.abs(entry.contentRect.width - spec.width) > 1) spec.draw();
  }
});

function mount(container, summary, build) {
  const draw = () => {
    const width = Math.max(260, Math.floor(container.clientWidth));
    const { root, height } = build(width);
    root.setAttribute('viewBox', `0 0 ${width} ${height}`);
    root.setAttribute('width', String(width));
    root.setAttribute('height', String(height));
    root.setAttribute('role', 'img');
    root.setAttribute('aria-label', summary);
    container.replaceChildren(root);
    drawn.set(container, { width, draw });
  };
  draw();
  resized.observe(container);
}

/**
 * Horizontal bars. rows: [{ label, sublabel?, value, text, className?, marker? }]; a negative value
 * draws to the left of the zero line; `marker` draws a tick at that value on the row. When the labels
 * do not fit beside the bars (a phone), each label goes above its bar.
 */
export function barChart(container, { rows, summary, format = String }) {
  mount(container, summary, (width) => {
    const labelRoom = Math.max(...rows.map((r) => textWidth(r.label))) + 12;
    const stacked = labelRoom > width * 0.45;
    const labelWidth = stacked ? 0 : labelRoom;
    const sub = rows.some((r) => r.sublabel);
    const rowHeight = stacked ? 44 : sub ? 44 : 30;
    const values = rows.flatMap((r) => [r.value, r.marker ?? 0]);
    const lo = Math.min(0, ...values);
    const hi = Math.max(0, ...values);
    const textRoom = Math.max(...rows.map((r) => textWidth(r.text, 12))) + 10;
    const left = labelWidth + (lo < 0 ? textRoom : 4);
    const plot = Math.max(40, width - left - textRoom);
    const x = (v) => left + ((v - lo) / (hi - lo || 1)) * plot;
    const height = rows.length * rowHeight + 8;
    const root = svg('svg', { class: 'bars' });
    // Stacked labels cross the zero line: draw it beside each bar only.
    if (!stacked) root.append(svg('line', { class: 'axis', x1: x(0), x2: x(0), y1: 0, y2: height }));
    rows.forEach((r, i) => {
      const top = i * rowHeight + 4;
      const barTop = top + (stacked ? 20 : sub ? 8 : 5);
      const barHeight = stacked ? 16 : rowHeight - (sub ? 18 : 12);
      const middle = barTop + barHeight / 2;
      const g = svg('g', { class: `row ${r.className ?? ''}`.trim() });
      if (stacked)
        g.append(svg('line', { class: 'axis', x1: x(0), x2: x(0), y1: barTop - 3, y2: barTop + barHeight + 3 }));
      if (stacked) {
        const name = svg('text', { class: 'label start', x: 0, y: top + 12 }, r.label);
        if (r.sublabel) name.append(svg('tspan', { class: 'sublabel', dx: 8 }, r.sublabel));
        g.append(name);
      } else {
        g.append(svg('text', { class: 'label', x: labelWidth - 8, y: r.sublabel ? middle - 3 : middle + 4 }, r.label));
        if (r.sublabel) g.append(svg('text', { class: 'sublabel', x: labelWidth - 8, y: middle + 12 }, r.sublabel));
      }
      const x0 = x(Math.min(0, r.value));
      const x1 = x(Math.max(0, r.value));
      g.append(svg('rect', { class: 'bar', x: x0, y: barTop, width: Math.max(1, x1 - x0), height: barHeight }));
      if (r.marker !== undefined) {
        const m = x(r.marker);
        g.append(svg('line', { class: 'marker', x1: m, x2: m, y1: barTop - 4, y2: barTop + barHeight + 4 }));
      }
      // The value sits past the bar's end (and past the marker, never on it).
      const after = r.value >= 0;
      const end = after ? Math.max(x1, r.marker === undefined ? x1 : x(r.marker)) + 6 : x0 - 6;
      g.append(svg('text', { class: `value ${after ? '' : 'before'}`.trim(), x: end, y: middle + 4 }, r.text));
      g.append(svg('title', {}, `${r.label}${r.sublabel ? ` ${r.sublabel}` : ''}: ${format(r.value)}`));
      root.append(g);
    });
    return { root, height };
  });
}

/**
 * Vertical columns. columns: [{ label, value, text }] (value null: nothing drawn, text shown). Labels
 * too wide for their column break after a hyphen ("10%-" / "20%").
 */
export function columnChart(container, { columns, summary }) {
  mount(container, summary, (width) => {
    const slot = width / columns.length;
    const fits = (s) => textWidth(s, 12) <= slot - 6;
    const lines = columns.map((c) => (fits(c.label) ? [c.label] : c.label.split(/(?<=-)/)));
    const size = columns.every((c, i) => fits(c.text) && lines[i].every(fits)) ? 12 : 11;
    const top = 22;
    const plotHeight = 170;
    const height = top + plotHeight + 8 + Math.max(...lines.map((l) => l.length)) * (size + 3);
    const hi = Math.max(...columns.map((c) => c.value ?? 0)) || 1;
    const root = svg('svg', { class: 'columns' });
    root.append(svg('line', { class: 'axis', x1: 0, x2: width, y1: top + plotHeight, y2: top + plotHeight }));
    columns.forEach((c, i) => {
      const middle = slot * i + slot / 2;
      const h = c.value ? (c.value / hi) * plotHeight : 0;
      const g = svg('g', { class: 'column' });
      g.append(
        svg('rect', { class: 'bar', x: middle - slot * 0.35, y: top + plotHeight - h, width: slot * 0.7, height: h }),
      );
      const value = svg('text', { class: 'value', x: middle, y: top + plotHeight - h - 6 }, c.text);
      const label = svg('text', { class: 'label', x: middle, y: top + plotHeight + size + 4 });
      lines[i].forEach((line, n) => {
        label.append(svg('tspan', { x: middle, dy: n === 0 ? 0 : size + 3 }, line));
      });
      for (const t of [value, label]) t.style.fontSize = `${size}px`;
      g.append(value, label, svg('title', {}, `${c.label}: ${c.text}`));
      root.append(g);
    });
    return { root, height };
  });
}
