/** Where the SMTP transport connects, parsed from `SMTP_URL`. */
export interface SmtpEndpoint {
  /** `smtps://`: TLS from the first byte (usually port 465). `smtp://` may upgrade with STARTTLS. */
  readonly secure: boolean;
  readonly host: string;
  readonly port: number;
  /** Credentials from the URL's user-info part, percent-decoded. */
  readonly auth?: { readonly user: string; readonly pass: string } | undefined;
}

const CONTROL = /\p{Cc}/u;

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new Error(`has a badly percent-encoded ${what}`);
  }
}

/**
 * Parses `smtp://[user:pass@]host[:port]` or `smtps://…`. Ports default to 587
 * (`smtp://`, submission) and 465 (`smtps://`), as nodemailer's do. Options do
 * not go in the URL: a query or a path is refused rather than ignored, so a
 * typo never silently changes how mail is sent.
 */
export function parseSmtpUrl(raw: string): SmtpEndpoint {
  if (CONTROL.test(raw)) throw new Error('must not contain control characters');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error('must be a URL: smtp://[user:password@]host[:port] or smtps://…');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new Error('must use smtp: or smtps:');
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new Error('must name a host');
  if ((url.pathname && url.pathname !== '/') || url.search || url.hash) {
    throw new Error('must not have a path, query or fragment: options are SMTP_* keys');
  }
  const secure = url.protocol === 'smtps:';
  const port = url.port ? Number(url.port) : secure ? 465 : 587;
  const user = decode(url.username, 'user name');
  const pass = decode(url.password, 'password');
  if (pass && !user) throw new Error('has a password but no user name');
  return Object.freeze({ secure, host, port, auth: user ? Object.freeze({ user, pass }) : undefined });
}

/** The endpoint as a URL without its password, for logs. */
export function describeSmtpEndpoint(endpoint: SmtpEndpoint): string {
  const user = endpoint.auth ? `${encodeURIComponent(endpoint.auth.user)}@` : '';
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return `${endpoint.secure ? 'smtps' : 'smtp'}://${user}${host}:${endpoint.port}`;
}
