import { describe, expect, it } from 'vitest';
import {
  escapeHtml,
  formatMinutes,
  html,
  httpUrl,
  paragraphs,
  renderNotification,
  renderPasswordReset,
  renderWelcome,
  SafeHtml,
  sanitizeCallerHtml,
  singleLine,
} from '../src/templates/index.js';

const brand = { appName: 'jobfleet', appUrl: 'https://app.example.com/start?a=1&b=2' };
const hostile = `<b>x</b> "double" 'single' & more`;
const hostileEscaped = '&lt;b&gt;x&lt;/b&gt; &quot;double&quot; &#39;single&#39; &amp; more';

/** The HTML document minus the fixed layout, to look at what a payload produced. */
const bodyOf = (document: string) => /<body[^>]*>([\s\S]*)<\/body>/.exec(document)?.[1] ?? '';

describe('escapeHtml', () => {
  it('escapes the five characters that can open markup or leave an attribute', () => {
    expect(escapeHtml(`<>&"'`)).toBe('&lt;&gt;&amp;&quot;&#39;');
    expect(escapeHtml(hostile)).toBe(hostileEscaped);
  });

  it('leaves everything else alone, and escapes & first (no double escaping surprises)', () => {
    expect(escapeHtml('Ada Lovelace – ü 日本 `x` = 1')).toBe('Ada Lovelace – ü 日本 `x` = 1');
    expect(escapeHtml('&amp;')).toBe('&amp;amp;');
    expect(escapeHtml('')).toBe('');
  });
});

describe('html tag', () => {
  it('escapes interpolated strings and numbers, keeps nested SafeHtml', () => {
    const inner = html`<i>${'<b>'}</i>`;
    expect(html`<p title="${'"x"'}">${inner}${42}${[inner, inner]}${undefined}</p>`.value).toBe(
      '<p title="&quot;x&quot;"><i>&lt;b&gt;</i>42<i>&lt;b&gt;</i><i>&lt;b&gt;</i></p>',
    );
    expect(String(new SafeHtml('<br>'))).toBe('<br>');
  });
});

describe('httpUrl', () => {
  it('accepts absolute http(s) URLs and refuses other schemes and relative links', () => {
    expect(httpUrl('https://x.example/a?b=1')).toBe('https://x.example/a?b=1');
    expect(httpUrl('http://x.example')).toBe('http://x.example');
    expect(() => httpUrl('javascript:alert(1)')).toThrow(/http or https/);
    expect(() => httpUrl('data:text/html,<script>')).toThrow(/http or https/);
    expect(() => httpUrl('/relative')).toThrow(/absolute/);
  });
});

describe('paragraphs', () => {
  it('turns blank lines into paragraphs and line breaks into <br>, escaping every line', () => {
    expect(paragraphs('one <i>\r\ntwo\n\n  \n\nthree & four\n').map(String)).toEqual([
      '<p>one &lt;i&gt;<br>\ntwo</p>\n',
      '<p>three &amp; four</p>\n',
    ]);
  });
});

describe('singleLine', () => {
  it('removes CR, LF and every other control or line-separator character', () => {
    expect(singleLine('Hello\r\nBcc: evil@example.com')).toBe('Hello Bcc: evil@example.com');
    expect(singleLine('a\rb\nc\td\u0000e\u0085f\u2028g\u2029h')).toBe('a b c d e f g h');
    expect(singleLine('  spaced \n\n out  ')).toBe('spaced out');
  });
});

describe('formatMinutes', () => {
  it('says minutes, hours or days, singular or plural', () => {
    expect(formatMinutes(1)).toBe('1 minute');
    expect(formatMinutes(45)).toBe('45 minutes');
    expect(formatMinutes(60)).toBe('1 hour');
    expect(formatMinutes(90)).toBe('90 minutes');
    expect(formatMinutes(120)).toBe('2 hours');
    expect(formatMinutes(1_440)).toBe('1 day');
    expect(formatMinutes(10_080)).toBe('7 days');
  });
});

describe('welcome', () => {
  it('renders subject, a full HTML document and text, greeting by name and linking to the app', () => {
    const email = renderWelcome({ userId: 1, to: 'ada@example.com', name: 'Ada' }, brand);
    expect(email.subject).toBe('Welcome to jobfleet');
    expect(email.html).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(email.html).toContain('<meta charset="utf-8">');
    expect(email.html).toContain('<title>Welcome to jobfleet</title>');
    expect(email.html).toContain('<p>Hi Ada,</p>');
    expect(email.html).toContain('<a href="https://app.example.com/start?a=1&amp;b=2">');
    expect(email.text).toBe(
      'Hi Ada,\n\nWelcome to jobfleet! Your account is ready.\n\n' +
        'Get started: https://app.example.com/start?a=1&b=2\n\n— The jobfleet team\n',
    );
  });

  it('greets without a name, and leaves the link out when no APP_URL is set', () => {
    const email = renderWelcome({ userId: 'u-1', to: 'ada@example.com' }, { appName: 'Acme' });
    expect(email.subject).toBe('Welcome to Acme');
    expect(email.text).toMatch(/^Hi,\n/);
    expect(email.text).not.toContain('Get started');
    expect(email.html).toContain('<p>Hi,</p>');
    expect(email.html).not.toContain('<a ');
  });

  it('escapes markup, quotes and & in the name', () => {
    const email = renderWelcome({ userId: 1, to: 'ada@example.com', name: hostile }, brand);
    expect(email.html).toContain(`<p>Hi ${hostileEscaped},</p>`);
    expect(email.html).not.toContain('<b>');
    expect(bodyOf(email.html)).not.toMatch(/"double"|'single'| & /);
    // The text part is plain text: the name appears as written.
    expect(email.text).toContain(`Hi ${hostile},`);
  });

  it('keeps a name to one line, so it cannot add paragraphs or fake content', () => {
    const email = renderWelcome(
      { userId: 1, to: 'a@example.com', name: 'Ada\r\n\r\nClick http://evil' },
      brand,
    );
    expect(email.text).toMatch(/^Hi Ada Click http:\/\/evil,\n\n/);
  });

  it('escapes the product name too, and refuses a non-http APP_URL', () => {
    const email = renderWelcome({ userId: 1, to: 'a@example.com' }, { appName: '<Acme & Co>' });
    expect(email.subject).toBe('Welcome to <Acme & Co>');
    expect(email.html).toContain('<title>Welcome to &lt;Acme &amp; Co&gt;</title>');
    expect(() =>
      renderWelcome({ userId: 1, to: 'a@example.com' }, { appName: 'x', appUrl: 'javascript:alert(1)' }),
    ).toThrow(/http or https/);
  });
});

describe('password-reset', () => {
  const resetUrl = 'https://app.example.com/reset?token=abc&user=1';

  it('renders the link as a button and as text, with the expiry', () => {
    const email = renderPasswordReset(
      { userId: 1, to: 'a@example.com', resetUrl, expiresInMinutes: 30 },
      brand,
    );
    expect(email.subject).toBe('Reset your jobfleet password');
    expect(email.html).toContain('<a href="https://app.example.com/reset?token=abc&amp;user=1"');
    expect(email.html).toContain('Choose a new password</a>');
    expect(email.html).toContain('The link expires in 30 minutes.');
    expect(email.text).toContain(`\n\n${resetUrl}\n\n`);
    expect(email.text).toContain('The link expires in 30 minutes.');
    expect(email.text).toContain('If you did not ask for this');
  });

  it('does not invent an expiry the producer did not give', () => {
    const email = renderPasswordReset({ userId: 1, to: 'a@example.com', resetUrl }, brand);
    expect(email.text).toContain('The link works for a limited time only.');
    expect(email.text).not.toMatch(/expires in/);
  });

  it('escapes the reset URL for the href attribute, so it cannot close the attribute or the tag', () => {
    const tricky = `https://x.example/r?a='1'&b="2"><script>alert(1)</script>`;
    const email = renderPasswordReset({ userId: 1, to: 'a@example.com', resetUrl: tricky }, brand);
    const href = /<a href="([^"]*)"/.exec(email.html)?.[1];
    expect(href).toBe(
      'https://x.example/r?a=&#39;1&#39;&amp;b=&quot;2&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;',
    );
    expect(email.html).not.toContain('<script>');
    expect(email.html.match(/<a /g)).toHaveLength(1);
  });

  it('refuses a reset URL that is not http(s), even if it got past the schema', () => {
    expect(() =>
      renderPasswordReset({ userId: 1, to: 'a@example.com', resetUrl: 'javascript:alert(1)' }, brand),
    ).toThrow(/http or https/);
  });
});

describe('notification', () => {
  it("renders the caller's subject and text, and the text as escaped HTML", () => {
    const email = renderNotification({
      to: 'a@example.com',
      subject: 'Build #12 finished',
      text: 'All green <3 & done.\nSee you.\n\nBye',
    });
    expect(email.subject).toBe('Build #12 finished');
    expect(email.text).toBe('All green <3 & done.\nSee you.\n\nBye\n');
    expect(bodyOf(email.html)).toBe('\n<p>All green &lt;3 &amp; done.<br>\nSee you.</p>\n<p>Bye</p>\n');
  });

  it('strips CR/LF from the subject, so it cannot inject header fields', () => {
    const email = renderNotification({
      to: 'a@example.com',
      subject: 'Hello\r\nBcc: victim@example.com\nX-Evil: 1',
      text: 'x',
    });
    expect(email.subject).toBe('Hello Bcc: victim@example.com X-Evil: 1');
    expect(email.subject).not.toMatch(/[\r\n]/);
    expect(email.html).toContain('<title>Hello Bcc: victim@example.com X-Evil: 1</title>');
  });

  it("sends the caller's HTML after sanitising it, inside the layout; the text part stays the caller's text", () => {
    const email = renderNotification({
      to: 'a@example.com',
      subject: 's',
      text: 'plain <text>',
      html: '<p onclick="steal()">Hi <b>Ada</b>, <a href="https://x.example/a?b=1&amp;c=2">open</a></p><script>alert(1)</script>',
    });
    expect(bodyOf(email.html)).toBe(
      '\n<p>Hi <b>Ada</b>, <a href="https://x.example/a?b=1&amp;c=2">open</a></p>',
    );
    expect(email.html).toMatch(/^<!doctype html>/);
    expect(email.text).toBe('plain <text>\n');
  });

  it('falls back to the escaped text when nothing of the caller HTML survives', () => {
    const email = renderNotification({
      to: 'a@example.com',
      subject: 's',
      text: 'plain <text>',
      html: '<script>alert(1)</script><style>p{}</style>',
    });
    expect(bodyOf(email.html)).toBe('\n<p>plain &lt;text&gt;</p>\n');
  });
});

describe('sanitizeCallerHtml', () => {
  const clean = (dirty: string) => sanitizeCallerHtml(dirty).value;

  it('removes scripts, event handlers, frames, forms, style blocks and dangerous URLs', () => {
    expect(clean('<script>alert(1)</script><p>x</p>')).toBe('<p>x</p>');
    expect(clean('<img src="x" onerror="alert(1)">')).toBe('<img src="x" />');
    expect(clean('<a href="javascript:alert(1)">x</a>')).toBe('<a>x</a>');
    expect(clean('<a href="JaVaScRiPt&colon;alert(1)">x</a>')).toBe('<a>x</a>');
    expect(clean('<a href="//evil.example/x">x</a>')).toBe('<a>x</a>');
    expect(clean('<img src="data:image/png;base64,AAAA">')).toBe('<img />');
    expect(
      clean('<iframe src="https://evil.example"></iframe><form action="/x"><input name="p"></form>'),
    ).toBe('');
    expect(clean('<svg><script>alert(1)</script></svg><math><mi>x</mi></math>')).toBe('x');
    expect(clean('<style>body{background:url(https://t.example)}</style><p>x</p>')).toBe('<p>x</p>');
    expect(clean('<div style="background:url(https://t.example/p.gif);color:red">x</div>')).toBe(
      '<div style="color:red">x</div>',
    );
    expect(clean('<p style="width:expression(alert(1))">x</p>')).toBe('<p>x</p>');
  });

  it('keeps ordinary e-mail markup: text, links, images over http(s), tables, simple inline styles', () => {
    const html =
      '<h1>Build</h1><p style="color:#1f2328;text-align:center">All <em>green</em>.</p>' +
      '<a href="https://ci.example/b/12" target="_blank">Open</a> <a href="mailto:ops@example.com">Mail</a>' +
      '<img src="https://cdn.example/logo.png" alt="logo" width="120">' +
      '<table width="100%"><tr><td colspan="2">cell</td></tr></table>';
    expect(clean(html)).toBe(html.replace('width="120">', 'width="120" />'));
  });

  it('reduces a whole document to its body, leaving out the head and its title', () => {
    expect(
      clean(
        '<!doctype html><html><head><title>Secret title</title><meta charset="utf-8"></head><body><p>Hi</p></body></html>',
      ),
    ).toBe('<p>Hi</p>');
  });

  it('escapes text and keeps entities, so the result parses as the same text', () => {
    expect(clean('<p>1 < 2 & "quoted"</p>')).toBe('<p>1 &lt; 2 &amp; "quoted"</p>');
  });
});
