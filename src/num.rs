//! `dec::<T>(s)`: a decimal integer, as `s.parse::<T>().ok()` reads it
//! (an optional `+`, or `-` for a signed type, then ASCII digits, no
//! overflow), for every integer type through one u64 reader: core's
//! FromStr is instantiated once per type (~1.5 KB for the seven tug
//! reads).

pub trait Dec: Sized {
    fn dec(s: &str) -> Option<Self>;
}

/// An optional `+` and at least one digit, within u64.
fn digits(s: &str) -> Option<u64> {
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// Each type reads through `$read` (u64 or i128) and checks its range.
macro_rules! via {
    ($read:ident: $($t:ty)*) => {$(
        impl Dec for $t {
            fn dec(s: &str) -> Option<$t> {
                $read(s).and_then(|n| <$t>::try_from(n).ok())
            }
        }
    )*};
}
via!(digits: u8 u16 u32 u64 usize);
via!(signed: i32 i64);

fn signed(s: &str) -> Option<i128> {
    match s.strip_prefix('-') {
        // "-+1" is not a number.
        Some(rest) if !rest.starts_with('+') => digits(rest).map(|n| -i128::from(n)),
        Some(_) => None,
        None => digits(s).map(i128::from),
    }
}

pub fn dec<T: Dec>(s: &str) -> Option<T> {
    T::dec(s)
}

#[cfg(test)]
mod tests {
    use super::dec;

    #[test]
    fn reads_as_from_str_does() {
        for s in [
            "",
            "0",
            "7",
            "+7",
            "-7",
            "+",
            "-",
            "-0",
            "+-1",
            "-+1",
            "255",
            "256",
            "65535",
            "65536",
            "4294967295",
            "4294967296",
            "18446744073709551615",
            "18446744073709551616",
            "2147483647",
            "2147483648",
            "-2147483648",
            "-2147483649",
            "9223372036854775807",
            "-9223372036854775808",
            "-9223372036854775809",
            " 1",
            "1 ",
            "1_0",
            "0x1",
            "٣",
            "00012",
        ] {
            assert_eq!(dec::<u8>(s), s.parse::<u8>().ok(), "{s:?}");
            assert_eq!(dec::<u16>(s), s.parse::<u16>().ok(), "{s:?}");
            assert_eq!(dec::<u32>(s), s.parse::<u32>().ok(), "{s:?}");
            assert_eq!(dec::<u64>(s), s.parse::<u64>().ok(), "{s:?}");
            assert_eq!(dec::<usize>(s), s.parse::<usize>().ok(), "{s:?}");
            assert_eq!(dec::<i32>(s), s.parse::<i32>().ok(), "{s:?}");
            assert_eq!(dec::<i64>(s), s.parse::<i64>().ok(), "{s:?}");
        }
    }
}
