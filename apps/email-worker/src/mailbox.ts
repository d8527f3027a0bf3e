import { domainToASCII } from 'node:url';
import { formats } from '@jobfleet/queue-contracts';
import addressparser from 'nodemailer/lib/addressparser';

/** A sender: display name (may be empty) and address. */
export interface Mailbox {
  readonly name: string;
  readonly address: string;
}

/** Control characters (CR and LF included) have no place in a header value. */
const CONTROL = /\p{Cc}/u;

/**
 * Parses one RFC 5322 mailbox, `Name <user@example.com>` or a bare address.
 * Throws when the value is anything but exactly one valid address.
 */
export function parseMailbox(raw: string): Mailbox {
  if (CONTROL.test(raw)) throw new Error('must not contain control characters');
  const parsed = addressparser(raw, { flatten: true });
  const [first] = parsed;
  if (parsed.length !== 1 || !first || !formats.email(first.address)) {
    throw new Error('must be one e-mail address, optionally with a name: "Name <user@example.com>"');
  }
  return Object.freeze({ name: first.name.trim(), address: first.address });
}

/** The domain of an address, lower-cased and in ASCII (punycode), for Message-IDs. */
export function domainOf(address: string): string {
  const domain = address.slice(address.lastIndexOf('@') + 1);
  const ascii = domainToASCII(domain.toLowerCase()) || domain.toLowerCase();
  const safe = ascii.replace(/[^a-z0-9.-]/g, '');
  return safe || 'localhost';
}
