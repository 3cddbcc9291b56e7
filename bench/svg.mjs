// The benchmark's ratio rows as an SVG chart, written by hand (no dependencies):
// one horizontal bar per row on a logarithmic axis, drawn from 1× (as fast as the baseline) to the row's
// ratio (right: slower, left: faster), its target as a vertical mark; green when the target is met, red when not,
// grey text for a row that was not measured.

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (r) => (r >= 10 ? r.toFixed(0) : r >= 0.1 ? r.toFixed(2) : r.toPrecision(2));
/** An axis label: as short as the number allows (0.05, 0.2, 1×, 10). */
const tick = (t) => (t === 1 ? '1×' : String(Number(t.toPrecision(1))));

/**
 * @param groups [{ title, rows: [{ label, ratio?, target, ok?, missing? }] }]
 * @param head { title, subtitle } (subtitle: date, commit, load average…)
 * @returns the SVG document, as text
 */
export function ratioChart(groups, { title, subtitle = '' }) {
  const all = groups.flatMap((g) => g.rows);
  const values = all.flatMap((r) => [r.target, r.ratio].filter((v) => typeof v === 'number' && v > 0));
  const lo = 10 ** Math.floor(Math.log10(Math.min(1, ...values) * 0.9));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(1, ...values) * 1.1));
  const labelW = 560;
  const plotW = 380;
  const valueW = 150;
  const width = labelW + plotW + valueW;
  const rowH = 22;
  const x = (v) => labelW + (Math.log10(v / lo) / Math.log10(hi / lo)) * plotW;
  const out = [];
  let y = 58;
  const ticks = [];
  for (let d = lo; d <= hi * 1.0001; d *= 10) for (const m of [1, 2, 5]) if (d * m <= hi * 1.0001) ticks.push(d * m);
  for (const g of groups) {
    y += 10;
    out.push(`<text x="8" y="${y + 14}" class="group">${esc(g.title)}</text>`);
    y += rowH;
    for (const r of g.rows) {
      const mid = y + rowH / 2;
      out.push(`<text x="16" y="${mid + 4}" class="label">${esc(r.label)}</text>`);
      if (typeof r.ratio === 'number') {
        const [a, b] = [x(Math.min(1, r.ratio)), x(Math.max(1, r.ratio))];
        out.push(
          `<rect x="${a.toFixed(1)}" y="${y + 4}" width="${Math.max(b - a, 1.5).toFixed(1)}" height="${rowH - 8}" class="${r.ok ? 'met' : 'missed'}"><title>${esc(`${r.label}: ${fmt(r.ratio)}× (target ≤${fmt(r.target)}×)`)}</title></rect>`,
        );
        out.push(`<text x="${labelW + plotW + 8}" y="${mid + 4}" class="value">${fmt(r.ratio)}× ${r.ok ? '✓' : '✗'} (≤${fmt(r.target)}×)</text>`);
      } else {
        out.push(`<text x="${labelW + 6}" y="${mid + 4}" class="missing">${esc(`not measured: ${r.missing ?? 'no result'}`.slice(0, 90))}</text>`);
      }
      const tx = x(r.target).toFixed(1);
      out.push(`<line x1="${tx}" x2="${tx}" y1="${y + 1}" y2="${y + rowH - 1}" class="target"/>`);
      y += rowH;
    }
  }
  const top = 58;
  const grid = ticks
    .map((t) => {
      const tx = x(t).toFixed(1);
      return (
        `<line x1="${tx}" x2="${tx}" y1="${top}" y2="${y}" class="${t === 1 ? 'one' : 'grid'}"/>` +
        `<text x="${tx}" y="${y + 16}" class="tick">${tick(t)}</text>`
      );
    })
    .join('\n');
  const height = y + 56;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif">
<style>
  .title { font-size: 16px; font-weight: 600; fill: #111; }
  .sub { font-size: 11px; fill: #555; }
  .group { font-size: 13px; font-weight: 600; fill: #222; }
  .label { font-size: 11px; fill: #222; }
  .value { font-size: 11px; fill: #222; }
  .missing { font-size: 11px; fill: #888; font-style: italic; }
  .tick { font-size: 10px; fill: #555; text-anchor: middle; }
  .grid { stroke: #e3e3e3; stroke-width: 1; }
  .one { stroke: #333; stroke-width: 1.2; }
  .met { fill: #3c8d40; }
  .missed { fill: #c8453b; }
  .target { stroke: #111; stroke-width: 2.5; }
</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="8" y="22" class="title">${esc(title)}</text>
<text x="8" y="40" class="sub">${esc(subtitle)}</text>
${grid}
${out.join('\n')}
<text x="8" y="${height - 10}" class="sub">Bars: ratio = measured / baseline, from 1× (left of it: faster than the baseline). Black mark: the target (at or left of it: met). Log scale.</text>
</svg>
`;
}
