/**
 * The registry host of an image reference, by Docker's rule: the first path component is a host
 * when it has a dot or a port, or is "localhost"; otherwise the image is on Docker Hub (null).
 */
export function registryHostOf(image: string): string | null {
  const slash = image.indexOf('/');
  if (slash < 0) return null;
  const first = image.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first.toLowerCase() : null;
}
