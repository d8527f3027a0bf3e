import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface SmtpSink {
  /** `smtp://127.0.0.1:<port>`. */
  readonly url: string;
  /** Messages accepted so far. */
  readonly accepted: () => number;
  /**
   * Holds the next delivery to `address` at RCPT TO until `release()`:
   * resolves once one is held, so a test can act on an e-mail job while it runs.
   */
  hold(address: string): { held: Promise<void>; release(): void };
  close(): Promise<void>;
}

/**
 * A real SMTP server on a free port of 127.0.0.1 that accepts every message,
 * except that it answers `451` (try again later) to the first RCPT TO of each
 * address in `failOnce`: a delivery the email worker retries.
 */
export async function startSmtpSink(options: { failOnce?: readonly string[] } = {}): Promise<SmtpSink> {
  const pending = new Set(options.failOnce ?? []);
  let accepted = 0;
  const holds = new Map<string, { reached: () => void; released: Promise<void> }>();
  const server = new SMTPServer({
    logger: false,
    disableReverseLookup: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    onRcptTo(address, _session, callback) {
      const hold = holds.get(address.address);
      if (hold) {
        holds.delete(address.address);
        hold.reached();
        void hold.released.then(() => callback());
        return;
      }
      if (pending.delete(address.address)) {
        callback(Object.assign(new Error('4.3.0 Try again later'), { responseCode: 451 }));
        return;
      }
      callback();
    },
    onData(stream, _session, callback) {
      stream.on('end', () => {
        accepted += 1;
        callback();
      });
      stream.resume();
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    accepted: () => accepted,
    hold(address) {
      let reached = () => {};
      let release = () => {};
      const held = new Promise<void>((resolve) => {
        reached = resolve;
      });
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      holds.set(address, { reached, released });
      return { held, release };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
