/**
 * The double nearest to a decimal of up to 19 significant digits, exactly as Number() would
 * give it, without making a string. Trace files are mostly printed by shortest round-trip
 * formatting, so a third of the Bitbrains cells have 16 or 17 digits (160.86666666666667):
 * past 2^53 the digits are no longer an exact double, and the one division that is correctly
 * rounded for shorter numbers is not. Through Number(), those cells were half of all parsing.
 *
 * The value is M / 10^f with M = hi·10^k + lo. M is carried as an unevaluated sum of two doubles
 * (exact: M < 2^64 needs 64 bits, two doubles hold 106), q0 = M/10^f is computed in double,
 * and the exact remainder r = M − q0·10^f (Dekker's product, exact without FMA) says on which
 * side of q0's rounding boundaries the true quotient lies. Only when it lies within 2^-30 of
 * half an ulp, too close to call from a remainder computed in double, does the caller fall back
 * to Number(). Checked against Number() on every cell of the public traces and on random decimals.
 */

// Exact powers of ten up to 10^22 (5^22 < 2^53).
const pow10 = Array.from({ length: 23 }, (_, i) => 10 ** i);
const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer); // little-endian: words[1] holds sign, exponent, top of mantissa
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const SPLIT = 134217729; // 2^27 + 1: Dekker's split of a double into two 26-bit halves

/** a·b − p exactly, where p = a·b rounded (Dekker). */
function productError(a: number, b: number, p: number): number {
  let c = SPLIT * a;
  const ah = c - (c - a);
  const al = a - ah;
  c = SPLIT * b;
  const bh = c - (c - b);
  const bl = b - bh;
  return ah * bh - p + ah * bl + al * bh + al * bl;
}

/**
 * (hi·10^k + lo) / 10^f correctly rounded, or NaN when the fast path cannot decide.
 * Requires integers 0 ≤ hi < 2^53, 0 ≤ lo < 10^k, k ≤ 4, f ≤ 22.
 */
export function decimalToDouble(hi: number, lo: number, k: number, f: number): number {
  if (!littleEndian) return Number.NaN; // the exponent is read from words[1]
  const scale = pow10[k]!;
  // M = hi·scale + lo as mh + ml, exactly.
  const ph = hi * scale;
  const pl = productError(hi, scale, ph);
  const mh = ph + lo;
  const bv = mh - ph;
  const ml = ph - (mh - bv) + (lo - bv) + pl; // small integers: exact
  if (f === 0) return mh + ml; // one rounding of an exact sum: correctly rounded
  const P = pow10[f]!;
  const q0 = mh / P;
  if (!(q0 > 0)) return mh === 0 && ml === 0 ? 0 : Number.NaN;
  const th = q0 * P;
  const r = mh - th - productError(q0, P, th) + ml; // M − q0·P (mh − th is exact: Sterbenz)
  // ulp(q0) from q0's exponent bits (Math.log2 and ** cost more than all the rest).
  bits[0] = q0;
  const exponent = (words[1]! >>> 20) & 0x7ff; // biased
  if (exponent <= 53 || exponent === 0x7ff) return Number.NaN; // tiny, subnormal or not finite
  const powerOfTwo = (words[1]! & 0xfffff) === 0 && words[0] === 0;
  words[1] = (exponent - 52) << 20;
  words[0] = 0;
  const ulp = bits[0]!;
  const half = (ulp * P) / 2; // half an ulp of q0, in units of M (exact: a power of two times P)
  const margin = half * 2 ** -30;
  // Below a power of two the doubles are twice as dense: the boundary under q0 is nearer.
  const below = powerOfTwo ? half / 2 : half;
  if (r >= 0 ? r < half - margin : -r < below - margin) return q0;
  if (r > half + margin && r < 3 * half - margin) return q0 + ulp;
  if (r < -below - margin && r > -3 * below + margin) return q0 - (powerOfTwo ? ulp / 2 : ulp);
  return Number.NaN;
}
