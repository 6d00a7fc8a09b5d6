/**
 * Hides credentials in URLs inside text shown to users (events, build logs, API answers): the
 * whole user part of `scheme://user:password@host`, since a token is as often the user name
 * (`https://TOKEN@host/...`) as the password. The one redaction every URL that is logged goes through.
 */
export function redact(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s@]*@/gi, '$1***@');
}
