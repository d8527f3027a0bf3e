import { html, type SafeHtml } from './html.js';

export interface SparklineOptions {
  /** One value per minute, oldest first; the last is the current minute. */
  values: readonly number[];
  /** What is counted: `completed` or `failed` (also the bars' colour). */
  kind: 'completed' | 'failed';
  queue: string;
  width?: number;
  height?: number;
}

/**
 * A per-minute bar chart as inline SVG: one bar per minute, now at the right,
 * scaled to the busiest minute; every bar has a tooltip with its minute and
 * count, and the chart has a text alternative with the total and the peak.
 */
// Two pixels per minute (a bar and a gap) keeps both charts and the dead letters inside a 1280 px window.
export function sparkline({ values, kind, queue, width = 120, height = 36 }: SparklineOptions): SafeHtml {
  const peak = Math.max(0, ...values);
  const total = values.reduce((a, b) => a + b, 0);
  const slot = width / Math.max(1, values.length);
  const barWidth = Math.max(1, slot - 1);
  const usable = height - 2;
  const bars = values.map((value, i) => {
    if (value === 0) return '';
    const barHeight = Math.max(2, Math.round((value / peak) * usable));
    const ago = values.length - 1 - i;
    const when = ago === 0 ? 'this minute' : `${ago} min ago`;
    return html`<rect x="${(i * slot).toFixed(2)}" y="${height - 1 - barHeight}" width="${barWidth.toFixed(2)}" height="${barHeight}"><title>${when}: ${value} ${kind}</title></rect>`;
  });
  const label = `${kind} per minute, last ${values.length} minutes: ${total} in all, at most ${peak} in one minute`;
  return html`<svg class="spark spark-${kind}" data-chart="${kind}" data-queue="${queue}" data-values="${values.join(',')}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${label}"><line class="baseline" x1="0" y1="${height - 0.5}" x2="${width}" y2="${height - 0.5}"></line>${bars}</svg>`;
}
