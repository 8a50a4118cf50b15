import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decimalToDouble } from './decimal-to-double.js';
import { seededRandom } from '../../core/seeded-random.js';

/** The decimal string of digits with a point `f` places from the right, as hi/lo/k for decimalToDouble. */
function convert(digits: string, f: number): number {
  const head = digits.slice(0, Math.min(15, digits.length));
  const tail = digits.slice(head.length);
  return decimalToDouble(Number(head), tail === '' ? 0 : Number(tail), tail.length, f);
}
const asText = (digits: string, f: number): string => (f === 0 ? digits : `${digits.slice(0, digits.length - f) || '0'}.${digits.slice(digits.length - f)}`);

test('decimalToDouble equals Number() or declines, on a million random decimals of 1–19 digits', () => {
  const random = seededRandom(20261129);
  let declined = 0;
  for (let i = 0; i < 1_000_000; i++) {
    const n = 1 + Math.floor(random() * 19);
    let digits = '';
    for (let j = 0; j < n; j++) digits += String(Math.floor(random() * 10));
    const f = Math.floor(random() * Math.min(23, n + 3));
    const padded = digits.padStart(f, '0');
    const got = convert(padded.length > 19 ? digits : padded, f);
    if (Number.isNaN(got)) {
      declined++;
      continue;
    }
    const want = Number(asText(padded, f));
    assert.equal(got, want, `${asText(padded, f)}: got ${got}, Number() gives ${want}`);
  }
  assert.ok(declined < 2000, `declined ${declined} of a million: the fast path should decide nearly all (about 1,000 here: exact and near ties)`);
});

test('decimalToDouble: shortest round-trip prints of random doubles come back bit for bit, near powers of two too', () => {
  const random = seededRandom(7);
  for (let i = 0; i < 400_000; i++) {
    // Every other one a few ulps around a power of two, where the spacing of doubles changes.
    const x = i % 2 === 0 ? random() * 10 ** Math.floor(random() * 12 - 4) : 2 ** Math.floor(random() * 60 - 30) * (1 + (Math.floor(random() * 9) - 4) * 2 ** -52);
    const text = String(x);
    if (text.includes('e')) continue;
    const [int, frac = ''] = text.split('.');
    const digits = (int! + frac).replace(/^0+/, '') || '0';
    if (digits.length > 19) continue;
    const got = convert(digits, frac.length);
    if (!Number.isNaN(got)) assert.equal(got, x, text);
  }
});

test('decimalToDouble: ties and powers of two are left to Number()', () => {
  // 2^53 + 1 is exactly halfway between two doubles: an integer is one exact sum, rounded to even.
  assert.equal(convert('9007199254740993', 0), Number('9007199254740993'));
  // 2^53 + 1 tenths past a point: a tie that a remainder computed in double cannot call.
  assert.ok(Number.isNaN(convert('90071992547409930', 1)) || convert('90071992547409930', 1) === 9007199254740993.0);
  assert.equal(convert('9007199254740994', 0), 9007199254740994);
  assert.equal(convert('0', 3), 0);
  assert.equal(convert('16086666666666667', 14), 160.86666666666667);
  // Just under a power of two, where the doubles below are twice as dense (found in the traces).
  for (const text of ['0.9999999999999999', '1.9999999999999998', '0.49999999999999994', '3.9999999999999996', '0.99999999999999994', '1023.9999999999999', '0.12499999999999999']) {
    const [int, frac] = text.split('.');
    const got = convert((int! + frac!).replace(/^0+/, ''), frac!.length);
    assert.ok(Number.isNaN(got) || got === Number(text), `${text}: got ${got}, Number() gives ${Number(text)}`);
  }
  assert.equal(convert('9999999999999999', 16), 0.9999999999999999);
});
