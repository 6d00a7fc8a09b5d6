/** The router's own answers, as files HAProxy serves with `http-request return ... (lf-)file`. */
function page(title: string, text: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1><p>${text}</p><p><small>Berth</small></p></body></html>\n`;
}

export const NOT_FOUND_PAGE = page('404 Not Found', 'No app is served at this address.');

/**
 * A log-format file, evaluated only when it is served: the app's slug from the apps map (by the
 * backend's name). Slugs match ^[a-z0-9-]+$ (validate.ts), so they need no HTML escaping.
 */
export const unavailablePage = (appsMap: string) =>
  page('503 Service Unavailable', `The app <b>%[be_name,map(${appsMap})]</b> has no running instance right now.`);
