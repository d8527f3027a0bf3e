import { Writable } from 'node:stream';
import type { LogLine } from './service-process.js';

/** Where an in-process logger writes in a test, and the JSON lines it wrote, parsed, in order. */
export interface LogSink {
  /** Pass as the logger's destination (service-kit's `createLogger({ destination })`). */
  readonly destination: Writable;
  readonly lines: LogLine[];
}

/** A destination that keeps every JSON log line; a chunk may hold several lines. */
export function logSink(): LogSink {
  const lines: LogLine[] = [];
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { destination, lines };
}
