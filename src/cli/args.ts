/** A whole number argument (replicas, versions, line counts). */
export const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`"${v}" is not a whole number`);
  return n;
};
