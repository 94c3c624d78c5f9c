//! An f64 as Rust's `{}` prints it: the shortest digits that read back as
//! the same number, positional (never an exponent), `-` for negatives
//! (-0.0 too), `NaN`, `inf`, `-inf`.
//!
//! Why not `format!("{v}")`: core's float formatting links Grisu, Dragon
//! and the fixed-precision path, ~12 KB of a binary that prints a float in
//! two places (metric values, numbers given as env values). This is only
//! the shortest mode of Dragon4 (Steele & White, with the same boundary
//! and rounding rules as core's, so the digits are the same ones; a test
//! compares them on random and edge-case values). It is slower than
//! Grisu, which does not matter for a few values per scrape.

use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;

/// 40 32-bit limbs: enough for 2^1077 * 10^17, the largest intermediate.
const LIMBS: usize = 40;

#[derive(Clone)]
struct Big([u32; LIMBS]);

impl Big {
    fn new(v: u64) -> Big {
        let mut b = [0; LIMBS];
        b[0] = v as u32;
        b[1] = (v >> 32) as u32;
        Big(b)
    }

    fn mul_small(&mut self, m: u32) {
        let mut carry = 0u64;
        for d in &mut self.0 {
            let t = u64::from(*d) * u64::from(m) + carry;
            *d = t as u32;
            carry = t >> 32;
        }
    }

    fn mul_pow2(&mut self, mut n: u32) {
        while n > 31 {
            self.mul_small(1 << 31);
            n -= 31;
        }
        self.mul_small(1 << n);
    }

    fn mul_pow10(&mut self, mut n: u32) {
        while n > 9 {
            self.mul_small(1_000_000_000);
            n -= 9;
        }
        self.mul_small(10u32.pow(n));
    }

    fn add(&self, o: &Big) -> Big {
        let mut r = self.clone();
        let mut carry = 0u64;
        for (d, &x) in r.0.iter_mut().zip(&o.0) {
            let t = u64::from(*d) + u64::from(x) + carry;
            *d = t as u32;
            carry = t >> 32;
        }
        r
    }

    /// self -= o; o <= self.
    fn sub(&mut self, o: &Big) {
        let mut borrow = 0i64;
        for (d, &x) in self.0.iter_mut().zip(&o.0) {
            let t = i64::from(*d) - i64::from(x) - borrow;
            *d = t as u32;
            borrow = i64::from(t < 0);
        }
    }

    fn cmp(&self, o: &Big) -> Ordering {
        self.0.iter().rev().cmp(o.0.iter().rev())
    }
}

/// `a < b`, or `a <= b` when the interval's bounds are `inclusive`.
fn below(a: &Big, b: &Big, inclusive: bool) -> bool {
    match a.cmp(b) {
        Ordering::Less => true,
        Ordering::Equal => inclusive,
        Ordering::Greater => false,
    }
}

/// The shortest digits (ASCII) and decimal exponent `k` of a finite v > 0:
/// v ~ 0.d1d2... * 10^k.
fn shortest(v: f64) -> (Vec<u8>, i32) {
    let bits = v.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1 << 52) - 1);
    // v = mant * 2^exp; the neighbours' midpoints are (mant - minus) and
    // (mant + plus) * 2^exp, included when the mantissa is even (round
    // half to even when read back). A power of two has its lower
    // neighbour twice as close (core applies this to every 2^n).
    let (mant, minus, plus, exp) = if biased == 0 {
        // Subnormal: frac * 2^-1074, neighbours one unit away.
        (frac << 1, 1u64, 1u64, -1075)
    } else if frac == 0 {
        (1 << 54, 1, 2, biased - 1077)
    } else {
        ((frac | 1 << 52) << 1, 1, 1, biased - 1076)
    };
    // core takes the parity from frac << 1 for a subnormal: always even.
    let inclusive = biased == 0 || frac & 1 == 0;
    // First guess of k from the bit length of the upper bound: log10(2)
    // as 1292913986 / 2^32, never above the true k (fixed up below).
    let nbits = 64 - i64::from((mant + plus - 1).leading_zeros());
    let mut k = (((nbits + i64::from(exp)) * 1_292_913_986) >> 32) as i32;

    let (mut mant, mut minus, mut plus) = (Big::new(mant), Big::new(minus), Big::new(plus));
    let mut scale = Big::new(1);
    if exp < 0 {
        scale.mul_pow2(exp.unsigned_abs());
    } else {
        for b in [&mut mant, &mut minus, &mut plus] {
            b.mul_pow2(exp as u32);
        }
    }
    // Now v = mant / scale; divide it by 10^k.
    if k >= 0 {
        scale.mul_pow10(k as u32);
    } else {
        for b in [&mut mant, &mut minus, &mut plus] {
            b.mul_pow10(k.unsigned_abs());
        }
    }
    // Make scale < mant + plus <= 10 * scale: either k was one short, or
    // the first digit comes from mant * 10.
    if below(&scale, &mant.add(&plus), inclusive) {
        k += 1;
    } else {
        for b in [&mut mant, &mut minus, &mut plus] {
            b.mul_small(10);
        }
    }

    let mut digits = Vec::with_capacity(17);
    let (down, up) = loop {
        let mut d = b'0';
        while mant.cmp(&scale) != Ordering::Less {
            mant.sub(&scale);
            d += 1;
        }
        digits.push(d);
        // Stop once the digits so far, as they are (down) or with the
        // last one increased (up), fall between the midpoints.
        let down = below(&mant, &minus, inclusive);
        let up = below(&scale, &mant.add(&plus), inclusive);
        if down || up {
            break (down, up);
        }
        for b in [&mut mant, &mut minus, &mut plus] {
            b.mul_small(10);
        }
    };
    // Both would do: the closer one (up when the rest is exactly half).
    mant.mul_small(2);
    if up && (!down || mant.cmp(&scale) != Ordering::Less) {
        match digits.iter().rposition(|&c| c != b'9') {
            Some(i) => {
                digits[i] += 1;
                digits[i + 1..].fill(b'0');
            }
            None => {
                digits.fill(b'0');
                digits[0] = b'1';
                digits.push(b'0');
                k += 1;
            }
        }
    }
    (digits, k)
}

/// `v` as `format!("{v}")` writes it.
pub fn display(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    let mut s = String::new();
    if v.is_sign_negative() {
        s.push('-');
    }
    if v.is_infinite() {
        s.push_str("inf");
        return s;
    }
    if v == 0.0 {
        s.push('0');
        return s;
    }
    let (digits, k) = shortest(v.abs());
    let digit = |c: &u8| char::from(*c);
    if k <= 0 {
        s.push_str("0.");
        s.extend(core::iter::repeat_n('0', k.unsigned_abs() as usize));
        s.extend(digits.iter().map(digit));
    } else if (k as usize) < digits.len() {
        let (int, frac) = digits.split_at(k as usize);
        s.extend(int.iter().map(digit));
        s.push('.');
        s.extend(frac.iter().map(digit));
    } else {
        s.extend(digits.iter().map(digit));
        s.extend(core::iter::repeat_n('0', k as usize - digits.len()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::display;
    use alloc::format;

    fn same(v: f64) {
        assert_eq!(display(v), format!("{v}"), "bits {:#x}", v.to_bits());
    }

    #[test]
    fn special_values() {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0] {
            same(v);
        }
        for v in [0.1, 3.0, 1e21, 1e-7, 0.3, 2.5, -1.5, 123456.789, 5e-324] {
            same(v);
        }
        for v in [f64::MAX, f64::MIN_POSITIVE, f64::EPSILON, f64::MIN] {
            same(v);
        }
        // The largest subnormal and its neighbours.
        for bits in [0xf_ffff_ffff_ffff, 0x10_0000_0000_0001, 1, 2, 3] {
            same(f64::from_bits(bits));
        }
    }

    #[test]
    fn powers_integers_and_decimals() {
        // Every power of two (the asymmetric interval) and its neighbours.
        for e in 1..2047u64 {
            let bits = e << 52;
            for b in [bits - 1, bits, bits + 1] {
                same(f64::from_bits(b));
            }
        }
        for i in 0..3_000u32 {
            same(f64::from(i));
            same(f64::from(i) / 1000.0);
            same(f64::from(i) * 1e15);
            same(1.0 / f64::from(i + 1));
        }
        let mut p = 1.0;
        for _ in 0..300 {
            same(p);
            same(1.0 / p);
            p *= 10.0;
        }
    }

    #[test]
    fn random_bit_patterns() {
        // xorshift64: reproducible, every exponent and mantissa alike.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..30_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            same(f64::from_bits(x));
        }
    }
}
