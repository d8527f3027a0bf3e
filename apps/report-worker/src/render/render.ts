import type { ReportFormat } from '@jobfleet/report-store';
import type { ReportModel } from '../report-model.js';
import { renderCsv } from './csv.js';

/** What the sandbox is asked to render. Plain data: it crosses the thread boundary by structured clone. */
export interface RenderRequest {
  model: ReportModel;
  format: ReportFormat;
}

/** Renders a report; `onProgress` hears 0–100. */
export async function renderReport(
  request: RenderRequest,
  onProgress: (percent: number) => void = () => {},
): Promise<Uint8Array> {
  onProgress(0);
  // PDFKit is loaded only for PDFs: it is most of a sandbox's start-up time.
  const body =
    request.format === 'pdf'
      ? await (await import('./pdf.js')).renderPdf(request.model, onProgress)
      : renderCsv(request.model);
  onProgress(100);
  return body;
}
