/**
 * HTTP dates (RFC 9110 §5.6.7): the preferred IMF-fixdate and the two obsolete forms recipients must
 * accept (RFC 850, asctime). Anything else is invalid: `null`, which freshness treats as "in the past".
 * Day and month names and `GMT` are compared without regard to case.
 */
const MONTHS: Readonly<Record<string, number>> = {
  jan: 0,
  feb: 1,
  mar: 2,
  apr: 3,
  may: 4,
  jun: 5,
  jul: 6,
  aug: 7,
  sep: 8,
  oct: 9,
  nov: 10,
  dec: 11,
};

const IMF_FIXDATE = /^(?:mon|tue|wed|thu|fri|sat|sun), (\d{2}) ([a-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) gmt$/i;
const RFC_850 =
  /^(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday), (\d{2})-([a-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) gmt$/i;
const ASCTIME = /^(?:mon|tue|wed|thu|fri|sat|sun) ([a-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/i;

/** Milliseconds since the epoch of an HTTP date, or `null` when it is not one. */
export function parseHttpDate(value: string | readonly string[] | undefined, now = Date.now()): number | null {
  if (value === undefined) return null;
  if (typeof value !== 'string') {
    // More than one line of a single-valued field: invalid.
    if (value.length !== 1) return null;
    value = value[0] as string;
  }
  let match = IMF_FIXDATE.exec(value);
  if (match) return utc(match[3], match[2], match[1], match[4], match[5], match[6]);
  match = RFC_850.exec(value);
  if (match) {
    // A two-digit year more than 50 years in the future is in the past century (RFC 9110 §5.6.7).
    const thisYear = new Date(now).getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + Number(match[3]);
    if (year > thisYear + 50) year -= 100;
    return utc(String(year), match[2], match[1], match[4], match[5], match[6]);
  }
  match = ASCTIME.exec(value);
  if (match) return utc(match[6], match[1], (match[2] as string).trim(), match[3], match[4], match[5]);
  return null;
}

function utc(
  year: string | undefined,
  month: string | undefined,
  day: string | undefined,
  hours: string | undefined,
  minutes: string | undefined,
  seconds: string | undefined,
): number | null {
  const m = MONTHS[(month ?? '').toLowerCase()];
  if (m === undefined) return null;
  const h = Number(hours);
  const min = Number(minutes);
  const s = Number(seconds);
  const d = Number(day);
  if (h > 23 || min > 59 || s > 60 || d < 1 || d > 31) return null;
  const time = Date.UTC(Number(year), m, d, h, min, s);
  return Number.isFinite(time) ? time : null;
}

/** An HTTP date (IMF-fixdate) for a time in ms. */
export function formatHttpDate(time: number): string {
  return new Date(time).toUTCString();
}
