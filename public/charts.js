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

/** About five round tick values from 0 (or lo) to at least hi: 0, 0.05, 0.1, … */
function ticks(lo, hi) {
  const span = hi - lo || 1;
  const raw = span / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
  const out = [];
  for (let v = Math.floor(lo / step) * step, n = 0; n < 12; v += step, n++) {
    out.push(Number(v.toPrecision(12)));
    if (v >= hi) break;
  }
  return out;
}

/** Ticks of a square-root axis: round PDs, spread where most loans are (near 0). */
const SQRT_TICKS = [0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1];

/**
 * An x–y plot on linear axes (or, with `sqrt`, both axes on a square-root scale from 0: small
 * probabilities spread out): `lines` (one path per series, e.g. one per scenario: { name, className,
 * values: [[x, y], …] }), `points` ({ label, x, y, lo?, hi?, className? }: a dot, with an error bar from
 * lo to hi when given) and, with `diagonal`, the line y = x. Each path carries data-points (how many
 * values it draws) and a title with its last value; `x` and `y` give each axis's title, format and
 * (optional) tick format.
 */
export function plotChart(container, { lines = [], points = [], diagonal = false, sqrt = false, x, y, summary }) {
  mount(container, summary, (width) => {
    const xs = [...lines.flatMap((l) => l.values.map((v) => v[0])), ...points.map((p) => p.x)];
    const ys = [...lines.flatMap((l) => l.values.map((v) => v[1])), ...points.flatMap((p) => [p.y, p.hi ?? p.y])];
    let xHi = Math.max(0, ...xs);
    let yHi = Math.max(0, ...ys);
    if (diagonal) xHi = yHi = Math.max(xHi, yHi);
    const axisTicks = (hi) => {
      if (!sqrt) return ticks(0, hi);
      const end = SQRT_TICKS.findIndex((t) => t >= hi);
      return SQRT_TICKS.slice(0, end < 1 ? SQRT_TICKS.length : end + 1);
    };
    const xTicks = axisTicks(xHi);
    const yTicks = diagonal ? xTicks : axisTicks(yHi);
    const xMax = xTicks.at(-1) || 1;
    const yMax = yTicks.at(-1) || 1;
    const xTick = x.tick ?? x.format;
    const yTick = y.tick ?? y.format;
    const left = Math.max(...yTicks.map((t) => textWidth(yTick(t), 11))) + 10;
    const top = 24; // room for the y axis's title
    const plotHeight = 210;
    const right = textWidth(xTick(xMax), 11) / 2 + 4;
    const plotWidth = Math.max(60, width - left - right);
    const height = top + plotHeight + 40;
    const f = sqrt ? Math.sqrt : (v) => v;
    const px = (v) => left + (f(Math.max(0, v)) / f(xMax)) * plotWidth;
    const py = (v) => top + plotHeight - (f(Math.max(0, v)) / f(yMax)) * plotHeight;
    const root = svg('svg', { class: 'plot' });
    const grid = svg('g', { class: 'grid' });
    let below = Number.POSITIVE_INFINITY; // the y ticks likewise, 13 px apart at least
    for (const t of yTicks) {
      if (py(t) > below - 13) continue;
      grid.append(svg('line', { class: 'gridline', x1: left, x2: left + plotWidth, y1: py(t), y2: py(t) }));
      grid.append(svg('text', { class: 'tick y', x: left - 6, y: py(t) + 4 }, yTick(t)));
      below = py(t);
    }
    grid.append(svg('text', { class: 'axis-title y', x: 0, y: 12 }, y.title));
    // Only the x ticks that do not touch the one before (a narrow chart, a square-root axis).
    let free = Number.NEGATIVE_INFINITY;
    for (const t of xTicks) {
      const half = textWidth(xTick(t), 11) / 2;
      if (px(t) - half < free + 6) continue;
      grid.append(svg('text', { class: 'tick x', x: px(t), y: top + plotHeight + 16 }, xTick(t)));
      free = px(t) + half;
    }
    grid.append(
      svg('line', { class: 'axis', x1: left, x2: left + plotWidth, y1: top + plotHeight, y2: top + plotHeight }),
      svg('line', { class: 'axis', x1: left, x2: left, y1: top, y2: top + plotHeight }),
      svg('text', { class: 'axis-title', x: left + plotWidth / 2, y: height - 4 }, x.title),
    );
    root.append(grid);
    if (diagonal) {
      root.append(svg('line', { class: 'diagonal', x1: px(0), y1: py(0), x2: px(xMax), y2: py(xMax) }));
    }
    lines.forEach((l, i) => {
      const d = l.values.map(([vx, vy], n) => `${n ? 'L' : 'M'}${px(vx).toFixed(1)},${py(vy).toFixed(1)}`).join('');
      const last = l.values.at(-1);
      const path = svg('path', { class: `line ${l.className ?? `s${i}`}`, d, 'data-points': l.values.length });
      path.append(svg('title', {}, last ? `${l.name}: ${y.format(last[1])} at ${x.format(last[0])}` : l.name));
      root.append(path);
    });
    for (const p of points) {
      const g = svg('g', { class: `point ${p.className ?? ''}`.trim() });
      if (p.lo !== undefined && p.hi !== undefined) {
        const cx = px(p.x);
        g.append(
          svg('line', { class: 'errorbar', x1: cx, x2: cx, y1: py(p.lo), y2: py(p.hi) }),
          svg('line', { class: 'errorbar', x1: cx - 4, x2: cx + 4, y1: py(p.lo), y2: py(p.lo) }),
          svg('line', { class: 'errorbar', x1: cx - 4, x2: cx + 4, y1: py(p.hi), y2: py(p.hi) }),
        );
      }
      g.append(svg('circle', { class: 'dot', cx: px(p.x), cy: py(p.y), r: 4.5 }));
      g.append(svg('title', {}, p.label));
      root.append(g);
    }
    return { root, height };
  });
}
