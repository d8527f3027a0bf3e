/** Line breaks and other control characters, including Unicode's line and paragraph separators. */
const BREAKS = /[\p{Cc}\p{Zl}\p{Zp}]+/gu;

/**
 * One line of text: every control character (CR and LF included) becomes a
 * space, runs of spaces collapse, the ends are trimmed. Subjects go through it,
 * so a payload can never start a new header line; names go through it, so one
 * cannot add paragraphs to a message.
 */
export function singleLine(value: string): string {
  return value.replace(BREAKS, ' ').replace(/ {2,}/g, ' ').trim();
}

/**
 * A human duration for a number of minutes: `1 minute`, `45 minutes`, `2 hours`, `7 days`.
 */
export function formatMinutes(minutes: number): string {
  const unit = (value: number, name: string) => `${value} ${name}${value === 1 ? '' : 's'}`;
  if (minutes >= 1_440 && minutes % 1_440 === 0) return unit(minutes / 1_440, 'day');
  if (minutes >= 60 && minutes % 60 === 0) return unit(minutes / 60, 'hour');
  return unit(minutes, 'minute');
}
