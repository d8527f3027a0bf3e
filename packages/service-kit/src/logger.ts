import { type DestinationStream, type Level, type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger } from 'pino';

/** Paths whose values never reach a log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["idempotency-key"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.passwordHash',
  '*.key',
  '*.keySha256',
  '*.secret',
  '*.token',
  'config.redisUrl',
  'config.smtpUrl',
];

export interface LoggerConfig {
  service: string;
  level?: LoggerOptions['level'];
  /** Where lines go; {@link turnBufferedOutput} on standard output when omitted. */
  destination?: DestinationStream;
}

/** A pino JSON logger, one line per event, with secrets redacted. */
export function createLogger({ service, level = 'info', destination }: LoggerConfig): Logger {
  const options: LoggerOptions = {
    level,
    base: { service },
    timestamp: isoTime(),
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  return pino(options, destination ?? turnBufferedOutput());
}

/**
 * pino's `isoTime` (`,"time":"2026-12-07T04:25:13.042Z"`), with the part up to
 * the second formatted once a second instead of by `toISOString` on every
 * line: the date formatting was a few thousand instructions of every
 * request's log line.
 */
export function isoTime(): () => string {
  let second = Number.NaN;
  let head = '';
  return () => {
    const ms = Date.now();
    const at = Math.floor(ms / 1_000);
    if (at !== second) {
      second = at;
      head = `,"time":"${new Date(at * 1_000).toISOString().slice(0, 20)}`;
    }
    const rest = ms - at * 1_000;
    return `${head}${rest < 10 ? '00' : rest < 100 ? '0' : ''}${rest}Z"`;
  };
}

/** `,"key":value` for a preformatted line ({@link preformattedLine}); `undefined` values leave the key out, as pino does. */
export const jsonField = (key: string, value: unknown): string =>
  value === undefined ? '' : `,"${key}":${JSON.stringify(value)}`;

const {
  lsCacheSym,
  timeSym,
  chindingsSym,
  streamSym,
  messageKeySym,
  endSym,
  mixinSym,
  hooksSym,
  formattersSym,
  needsMetadataGsym,
} = pino.symbols;

/**
 * A writer of lines of one shape at `level` through `logger`: `fields` comes
 * serialised already (`jsonField` pairs, keys that need no escaping), and the
 * line gets the logger's own level, time, bindings and message key, so it
 * reads as `logger[level]({ ... }, msg)` would. It skips pino's generic walk
 * over an object, for a line written on every request. A logger with a mixin,
 * hooks, a `log` formatter or a destination that wants metadata gets the line
 * through its own method instead, so nothing of that is bypassed.
 */
export function preformattedLine(logger: Logger, level: Level): (fields: string, msg: string) => void {
  const internals = logger as unknown as Record<symbol, unknown>;
  const stream = internals[streamSym] as DestinationStream & { [needsMetadataGsym]?: boolean };
  const plain =
    internals[mixinSym] === undefined &&
    Object.values((internals[hooksSym] as Record<string, unknown> | undefined) ?? {}).every(
      (hook) => hook === undefined,
    ) &&
    (internals[formattersSym] as { log?: unknown } | undefined)?.log === undefined &&
    stream[needsMetadataGsym] !== true;
  if (!plain) {
    return (fields, msg) => {
      if (logger.isLevelEnabled(level)) logger[level](JSON.parse(`{${fields.slice(1)}}`), msg);
    };
  }
  const value = logger.levels.values[level] as number;
  const start = (internals[lsCacheSym] as Record<number, string>)[value] as string;
  const time = internals[timeSym] as () => string;
  const messageKey = JSON.stringify(internals[messageKeySym]);
  const end = internals[endSym] as string;
  return (fields, msg) => {
    if (!logger.isLevelEnabled(level)) return;
    // Bindings read per line: a child's bindings may change with `setBindings`.
    stream.write(
      `${start}${time()}${internals[chindingsSym] as string}${fields},${messageKey}:${JSON.stringify(msg)}${end}`,
    );
  };
}

/** A log destination as pino uses it: lines in, written some time before `flush`'s callback. */
export interface LogOutput {
  write(line: string): boolean;
  flush(callback?: (error?: Error) => void): void;
  flushSync(): void;
}

export interface TurnBufferedOutputOptions {
  /** The file descriptor; standard output when omitted. */
  fd?: number;
  /**
   * The most bytes one write holds, cut between lines. Several processes
   * sharing one pipe (a gateway's `GATEWAY_WORKERS`) pass `PIPE_BUF` (4096 on
   * Linux): a pipe takes such a write whole, so their lines never interleave.
   */
  maxWrite?: number;
}

/**
 * Log lines gathered during one turn of the event loop and written together,
 * synchronously, when it ends (`setImmediate`), through pino's own
 * destination (sonic-boom, which retries a full pipe and short writes), and
 * on exit. A busy server logging a line per request then makes one `write` per
 * turn, where pino's synchronous destination makes one per line and its
 * asynchronous one pays the thread pool and rescans its buffer on every line.
 * A process killed with SIGKILL loses the lines of its last turn at most.
 * Loggers of one process given the same options share one output.
 */
const outputs = new Map<string, LogOutput>();

export function turnBufferedOutput(options: TurnBufferedOutputOptions = {}): LogOutput {
  const key = `${options.fd ?? 1}/${options.maxWrite ?? ''}`;
  let output = outputs.get(key);
  if (!output) {
    if (outputs.size === 0)
      process.on('exit', () => {
        for (const each of outputs.values()) each.flushSync();
      });
    output = openTurnBufferedOutput(options);
    outputs.set(key, output);
  }
  return output;
}

function openTurnBufferedOutput({ fd = 1, maxWrite }: TurnBufferedOutputOptions): LogOutput {
  return gatherTurns(pino.destination({ dest: fd, sync: true, ...(maxWrite ? { maxWrite } : {}) }), maxWrite);
}

/**
 * The mechanism of {@link turnBufferedOutput} over any `out`: the lines of a
 * turn handed to `out.write` when the turn ends, in chunks of whole lines of at
 * most `maxWrite` bytes (when given; a longer line is a chunk of its own).
 */
export function gatherTurns(out: { write(chunk: string): unknown }, maxWrite?: number): LogOutput {
  // Whole chunks of at most `maxWrite` bytes (when given), and the one being filled.
  const full: string[] = [];
  let chunk = '';
  let chunkBytes = 0;
  let scheduled = false;
  const flushSync = () => {
    scheduled = false;
    for (const ready of full) out.write(ready);
    full.length = 0;
    if (chunk !== '') out.write(chunk);
    chunk = '';
    chunkBytes = 0;
  };
  return {
    write(line) {
      if (maxWrite !== undefined) {
        const bytes = Buffer.byteLength(line);
        if (chunkBytes + bytes > maxWrite && chunk !== '') {
          full.push(chunk);
          chunk = '';
          chunkBytes = 0;
        }
        chunkBytes += bytes;
      }
      chunk += line;
      if (!scheduled) {
        scheduled = true;
        setImmediate(flushSync);
      }
      return true;
    },
    flush(callback) {
      flushSync();
      callback?.();
    },
    flushSync,
  };
}
