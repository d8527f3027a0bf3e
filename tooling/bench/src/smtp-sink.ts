import { createServer, type Server, type Socket } from 'node:net';

export interface SmtpSinkOptions {
  /** How long to wait before accepting each message; read per message. */
  replyDelayMs(): number;
  /** Called as each message's data ends. */
  onMessage(): void;
}

const NAME = 'jobfleet-sink';
// What smtp-server announced with STARTTLS and AUTH disabled, so the client behaves as it did against it.
const EHLO = `250-${NAME}\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n`;
/** The end of a message's data: a dot alone on its line. */
const END_OF_DATA = '\r\n.\r\n';
/** A command line longer than this ends the session (RFC 5321 allows 512 octets). */
const MAX_LINE = 4_096;

/**
 * An SMTP server for the benchmarks that accepts every message and keeps
 * none: 220 at once, 250 to EHLO (PIPELINING, 8BITMIME, SMTPUTF8), MAIL, RCPT,
 * RSET and NOOP, 354 to DATA, 250 when the data ends (after
 * `replyDelayMs()`), 221 to QUIT. Replies go out in order, those of one read
 * in one write. Not smtp-server: it holds its greeting back for 100 ms on
 * every connection (a trap for clients that talk first), which a pool that
 * replaces its connections every 100 messages kept running into.
 */
export function createSmtpSink(options: SmtpSinkOptions): Server {
  return createServer((socket) => serve(socket, options));
}

function serve(socket: Socket, { replyDelayMs, onMessage }: SmtpSinkOptions): void {
  // latin1: one character per byte, so any data passes and the end of data is found in it.
  socket.setEncoding('latin1');
  socket.setNoDelay(true);
  socket.on('error', () => socket.destroy());
  let input = '';
  let inData = false;
  // While a delayed 250 is pending, later commands wait for it: replies keep their order.
  let holding = false;
  let quitting = false;

  const reply = (line: string): string => {
    switch (line.slice(0, 4).toUpperCase()) {
      case 'EHLO':
        return EHLO;
      case 'HELO':
        return `250 ${NAME}\r\n`;
      case 'MAIL':
      case 'RCPT':
      case 'RSET':
      case 'NOOP':
        return '250 OK\r\n';
      case 'DATA':
        // The command's own line end starts the data, so an empty message ends at once.
        inData = true;
        input = `\r\n${input}`;
        return '354 End data with <CR><LF>.<CR><LF>\r\n';
      case 'QUIT':
        quitting = true;
        return '221 Bye\r\n';
      default:
        return '502 Command not implemented\r\n';
    }
  };

  const work = () => {
    let out = '';
    while (!holding && !quitting) {
      if (inData) {
        const end = input.indexOf(END_OF_DATA);
        if (end === -1) {
          // Keep what could be the start of an end of data cut across reads.
          input = input.slice(-(END_OF_DATA.length - 1));
          break;
        }
        input = input.slice(end + END_OF_DATA.length);
        inData = false;
        onMessage();
        const delayMs = replyDelayMs();
        if (delayMs > 0) {
          holding = true;
          setTimeout(() => {
            holding = false;
            if (socket.destroyed) return;
            socket.write('250 OK: message queued\r\n');
            work();
          }, delayMs);
          break;
        }
        out += '250 OK: message queued\r\n';
        continue;
      }
      const eol = input.indexOf('\r\n');
      if (eol === -1) {
        if (input.length > MAX_LINE) {
          out += '500 Line too long\r\n';
          quitting = true;
        }
        break;
      }
      const line = input.slice(0, eol);
      input = input.slice(eol + 2);
      out += reply(line);
    }
    if (quitting) socket.end(out);
    else if (out) socket.write(out);
  };

  socket.write(`220 ${NAME} ESMTP\r\n`);
  socket.on('data', (chunk: string) => {
    if (quitting) return;
    input += chunk;
    work();
  });
}
