/**
 * Where the e-mail worker sends mail, as the banner shows it: the `SMTP_URL`
 * with its password replaced by `***` when set, else the outbox directory.
 */
export function describeEmailTransport(env: NodeJS.ProcessEnv, outboxDir: string): string {
  const smtp = env.SMTP_URL;
  if (!smtp) return `outbox ${outboxDir}  (one .eml file per message)`;
  let url: URL;
  try {
    url = new URL(smtp);
  } catch {
    // The worker refuses it at start with its own message; never echo what may hold a password.
    return 'SMTP (SMTP_URL is not a valid URL)';
  }
  if (url.password) url.password = '***';
  return `SMTP ${url.href.replace(/\/$/, '')}`;
}
