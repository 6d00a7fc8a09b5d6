/** The token of an "Authorization: Bearer <token>" header, or null when the header is not of that form. */
export function bearerToken(header: string): string | null {
  return /^Bearer\s+(\S+)$/i.exec(header)?.[1] ?? null;
}
