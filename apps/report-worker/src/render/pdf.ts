import PDFDocument from 'pdfkit';
import type { QueueBar, ReportModel, ReportRow } from '../report-model.js';

type Doc = PDFKit.PDFDocument;

const PAGE = { width: 595.28, height: 841.89, margin: 50 };
const CONTENT_WIDTH = PAGE.width - 2 * PAGE.margin;
const BOTTOM = PAGE.height - PAGE.margin;
const COLOURS = { completed: '#2e7d32', deadLettered: '#c62828', cancelled: '#9e9e9e', stripe: '#f2f2f2' };
/** Bars drawn at most; the smaller queues are summed into one "other" bar. */
const MAX_BARS = 20;

const count = (n: number) => n.toLocaleString('en-US');

/** A run time for people: `850 µs` is not in the standard fonts' encoding, so sub-millisecond shows as `<1 ms`. */
export function formatSeconds(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 0.001) return '<1 ms';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  return `${(seconds / 60).toFixed(1)} min`;
}

/** A row's run time, marked when it is an estimate. */
function formatDuration(row: ReportRow, seconds: number | null): string {
  const text = formatSeconds(seconds);
  return seconds !== null && row.durations === 'estimated' ? `${ESTIMATE_MARK}${text}` : text;
}

/** `text`, cut with an ellipsis to fit `width` at the current font. */
function fit(doc: Doc, text: string, width: number): string {
  if (doc.widthOfString(text) <= width) return text;
  let cut = text;
  while (cut.length > 1 && doc.widthOfString(`${cut}...`) > width) cut = cut.slice(0, -1);
  return `${cut}...`;
}

interface Column {
  title: string;
  width: number;
  align: 'left' | 'right';
  value(row: ReportRow): string;
}

const COLUMNS: Column[] = [
  { title: 'Queue', width: 89, align: 'left', value: (r) => r.queue },
  { title: 'Job', width: 104, align: 'left', value: (r) => r.jobName },
  { title: 'Completed', width: 52, align: 'right', value: (r) => count(r.completed) },
  { title: 'Retried', width: 44, align: 'right', value: (r) => count(r.retried) },
  { title: 'Dead-lettered', width: 62, align: 'right', value: (r) => count(r.deadLettered) },
  { title: 'Cancelled', width: 50, align: 'right', value: (r) => count(r.cancelled) },
  { title: 'p50', width: 47, align: 'right', value: (r) => formatDuration(r, r.p50Seconds) },
  { title: 'p95', width: 47, align: 'right', value: (r) => formatDuration(r, r.p95Seconds) },
];
/** Marks a run time estimated from buckets (`≈` is not in the standard fonts' encoding). */
const ESTIMATE_MARK = '~';
const ROW_HEIGHT = 14;
const CELL_PAD = 3;

function tableHeader(doc: Doc, y: number): number {
  doc.font('Helvetica-Bold').fontSize(8).fillColor('black');
  let x = PAGE.margin;
  for (const column of COLUMNS) {
    doc.text(column.title, x + CELL_PAD, y + 3, {
      width: column.width - 2 * CELL_PAD,
      align: column.align,
      lineBreak: false,
    });
    x += column.width;
  }
  doc
    .moveTo(PAGE.margin, y + ROW_HEIGHT)
    .lineTo(PAGE.margin + CONTENT_WIDTH, y + ROW_HEIGHT)
    .lineWidth(0.75)
    .strokeColor('black')
    .stroke();
  return y + ROW_HEIGHT + 2;
}

function tableRow(doc: Doc, row: ReportRow, index: number, y: number): void {
  if (index % 2 === 1) doc.rect(PAGE.margin, y, CONTENT_WIDTH, ROW_HEIGHT).fill(COLOURS.stripe);
  doc.font('Helvetica').fontSize(8).fillColor('black');
  let x = PAGE.margin;
  for (const column of COLUMNS) {
    const width = column.width - 2 * CELL_PAD;
    doc.text(fit(doc, column.value(row), width), x + CELL_PAD, y + 3, {
      width,
      align: column.align,
      lineBreak: false,
    });
    x += column.width;
  }
}

function heading(doc: Doc, text: string, y: number): number {
  doc.font('Helvetica-Bold').fontSize(13).fillColor('black').text(text, PAGE.margin, y, { lineBreak: false });
  return y + 22;
}

/** The chart's bars: the largest queues, the rest summed. */
export function chartBars(queues: QueueBar[]): QueueBar[] {
  if (queues.length <= MAX_BARS) return queues;
  const shown = queues.slice(0, MAX_BARS - 1);
  const rest = queues.slice(MAX_BARS - 1);
  const other: QueueBar = {
    queue: `other (${rest.length} queues)`,
    completed: 0,
    deadLettered: 0,
    cancelled: 0,
    jobs: 0,
  };
  for (const bar of rest) {
    other.completed += bar.completed;
    other.deadLettered += bar.deadLettered;
    other.cancelled += bar.cancelled;
    other.jobs += bar.jobs;
  }
  return [...shown, other];
}

function barChart(doc: Doc, queues: QueueBar[], startY: number): void {
  const bars = chartBars(queues);
  const labelWidth = 120;
  const valueWidth = 60;
  const barArea = CONTENT_WIDTH - labelWidth - valueWidth - 10;
  const barHeight = 12;
  const gap = 6;
  let y = startY;
  if (y + 60 + bars.length * (barHeight + gap) > BOTTOM) {
    doc.addPage();
    y = PAGE.margin;
  }
  y = heading(doc, 'Jobs per queue', y);
  // Legend.
  doc.font('Helvetica').fontSize(8);
  let x = PAGE.margin;
  for (const [label, colour] of [
    ['completed', COLOURS.completed],
    ['dead-lettered', COLOURS.deadLettered],
    ['cancelled', COLOURS.cancelled],
  ] as const) {
    doc.rect(x, y, 8, 8).fill(colour);
    doc.fillColor('black').text(label, x + 11, y, { lineBreak: false });
    x += 20 + doc.widthOfString(label);
  }
  y += 18;
  if (bars.length === 0) {
    doc.font('Helvetica-Oblique').fontSize(9).text('No jobs finished on this day.', PAGE.margin, y);
    return;
  }
  const max = Math.max(1, ...bars.map((bar) => bar.jobs));
  for (const bar of bars) {
    doc.font('Helvetica').fontSize(8).fillColor('black');
    doc.text(fit(doc, bar.queue, labelWidth - 6), PAGE.margin, y + 2, {
      width: labelWidth - 6,
      align: 'right',
      lineBreak: false,
    });
    let barX = PAGE.margin + labelWidth;
    for (const [value, colour] of [
      [bar.completed, COLOURS.completed],
      [bar.deadLettered, COLOURS.deadLettered],
      [bar.cancelled, COLOURS.cancelled],
    ] as const) {
      const width = (value / max) * barArea;
      if (width > 0) doc.rect(barX, y, Math.max(width, 0.5), barHeight).fill(colour);
      barX += width;
    }
    doc
      .fillColor('black')
      .text(count(bar.jobs), barX + 4, y + 2, { width: valueWidth, align: 'left', lineBreak: false });
    y += barHeight + gap;
  }
  // The axis.
  const axisTop = y - bars.length * (barHeight + gap) - gap / 2;
  doc
    .moveTo(PAGE.margin + labelWidth, axisTop)
    .lineTo(PAGE.margin + labelWidth, y - gap / 2)
    .lineWidth(0.5)
    .strokeColor('black')
    .stroke();
}

function footers(doc: Doc, model: ReportModel): void {
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    // Writing below the bottom margin would otherwise add a page.
    const bottom = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    doc
      .font('Helvetica')
      .fontSize(7)
      .fillColor('#666666')
      .text(
        `jobfleet daily report - ${model.tenant} - ${model.date} - page ${i - range.start + 1} of ${range.count}`,
        PAGE.margin,
        PAGE.height - PAGE.margin / 2,
        { width: CONTENT_WIDTH, align: 'center', lineBreak: false },
      );
    doc.page.margins.bottom = bottom;
  }
}

/**
 * A PDF (A4): title, tenant and date, summary totals, the table (header
 * repeated on every page), and a bar chart of jobs per queue stacked by
 * outcome. Byte-identical for the same model: the creation date is the
 * model's, not the clock's.
 */
export function renderPdf(
  model: ReportModel,
  onProgress: (percent: number) => void = () => {},
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const doc = new PDFDocument({
      size: 'A4',
      margin: PAGE.margin,
      bufferPages: true,
      info: {
        Title: `Daily report: ${model.tenant}, ${model.date}`,
        Author: 'jobfleet',
        Subject: `Jobs of tenant ${model.tenant} on ${model.date} (UTC)`,
        CreationDate: new Date(model.createdAt),
      },
    });
    const chunks: Buffer[] = [];
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('error', reject);
    doc.on('end', () => resolve(Buffer.concat(chunks)));

    onProgress(5);
    doc
      .font('Helvetica-Bold')
      .fontSize(20)
      .fillColor('black')
      .text('jobfleet daily report', PAGE.margin, PAGE.margin);
    doc.moveDown(0.3);
    doc.font('Helvetica').fontSize(11);
    doc.text(`Tenant: ${model.tenant}`);
    doc.text(`Date: ${model.date} (UTC day)`);
    let y = doc.y + 16;

    y = heading(doc, 'Summary', y);
    const { totals } = model;
    const summary: Array<[string, number]> = [
      ['Jobs finished', totals.jobs],
      ['Completed', totals.completed],
      ['Dead-lettered', totals.deadLettered],
      ['Cancelled', totals.cancelled],
      ['Retried attempts', totals.retried],
      ['Attempts', totals.attempts],
    ];
    for (const [label, value] of summary) {
      doc.font('Helvetica').fontSize(10).fillColor('black').text(label, PAGE.margin, y, { lineBreak: false });
      doc
        .font('Helvetica-Bold')
        .text(count(value), PAGE.margin + 110, y, { width: 80, align: 'right', lineBreak: false });
      y += 15;
    }
    y += 14;
    onProgress(15);

    y = heading(doc, 'By queue and job', y);
    y = tableHeader(doc, y);
    if (model.rows.length === 0) {
      doc
        .font('Helvetica-Oblique')
        .fontSize(9)
        .text('No jobs finished on this day.', PAGE.margin, y + 3);
      y += ROW_HEIGHT;
    }
    let reported = 15;
    model.rows.forEach((row, index) => {
      if (y + ROW_HEIGHT > BOTTOM) {
        doc.addPage();
        y = tableHeader(doc, PAGE.margin);
      }
      tableRow(doc, row, index, y);
      y += ROW_HEIGHT;
      const percent = 15 + Math.floor((70 * (index + 1)) / model.rows.length);
      if (percent >= reported + 5) {
        reported = percent;
        onProgress(percent);
      }
    });
    if (model.rows.some((row) => row.durations !== null)) {
      if (y + ROW_HEIGHT > BOTTOM) {
        doc.addPage();
        y = PAGE.margin;
      }
      // Kept short of a line: the renderer is not given the ledger's limit (the sandbox loads no runtime code).
      const note = model.rows.some((row) => row.durations === 'estimated')
        ? `p50/p95: measured run times; ${ESTIMATE_MARK} marks an estimate from run-time buckets (a job that ran more often that day).`
        : 'p50/p95: measured run times of every attempt.';
      doc
        .font('Helvetica-Oblique')
        .fontSize(7)
        .fillColor('#666666')
        .text(note, PAGE.margin, y + 4, { width: CONTENT_WIDTH, lineBreak: false });
      y += ROW_HEIGHT;
    }
    onProgress(85);

    barChart(doc, model.queues, y + 24);
    footers(doc, model);
    onProgress(95);
    doc.end();
  });
}
