/**
 * Times as travellers read them: at an airport's local time, with its offset from UTC so that they are
 * unambiguous. No DOM here, so the unit tests run it as it is.
 */

/** "+01:00", "-03:30", "+00:00": the zone's offset from UTC at that instant (it changes with daylight saving time). */
export function utcOffset(iso: string, timeZone: string): string {
  const name = new Intl.DateTimeFormat('en', { timeZone, timeZoneName: 'longOffset' }).formatToParts(new Date(iso)).find((part) => part.type === 'timeZoneName')?.value ?? 'GMT';
  // "GMT+01:00", or plain "GMT" for an offset of zero.
  return name === 'GMT' ? '+00:00' : name.slice(3);
}

/** "Tue, Dec 8, 2026, 08:05 (UTC+01:00)": the local time at the airport, with its offset so that it is unambiguous. */
export function localDateTime(iso: string, timeZone: string | null): string {
  const zone = timeZone ?? 'UTC';
  const local = new Intl.DateTimeFormat('en', { timeZone: zone, weekday: 'short', year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(iso));
  return `${local} (UTC${utcOffset(iso, zone)})`;
}
