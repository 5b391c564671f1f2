//! Fast JSON scanning primitives shared by the record splitter and the record parser.
//!
//! CloudTrail records are mostly string bytes, so the hot loops are finding the end of a
//! string and skipping the values the replay does not read. Both work on blocks: 16 bytes
//! at a time with SSE2 on x86_64 (part of its baseline, so no feature detection), 8 bytes
//! at a time (SWAR) elsewhere. [`skip_container`] classifies 64 bytes into bit masks
//! (quotes, backslashes, brackets), derives the bytes inside strings with a prefix XOR of
//! the unescaped quotes, and only looks at the brackets outside strings one by one.

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;
const QUOTES: u64 = LO * b'"' as u64;
const BACKSLASHES: u64 = LO * b'\\' as u64;

/// Index of the first `"` or `\` in `s`.
#[inline]
pub fn find_quote_or_backslash(s: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        let mut i = 0;
        while i + 16 <= s.len() {
            let m = sse2::quote_or_backslash16(&s[i..i + 16]);
            if m != 0 {
                return Some(i + m.trailing_zeros() as usize);
            }
            i += 16;
        }
        find_quote_or_backslash_swar(&s[i..]).map(|p| p + i)
    }
    #[cfg(not(target_arch = "x86_64"))]
    find_quote_or_backslash_swar(s)
}

/// [`find_quote_or_backslash`] eight bytes at a time.
#[inline]
fn find_quote_or_backslash_swar(s: &[u8]) -> Option<usize> {
    let mut chunks = s.chunks_exact(8);
    let mut i = 0;
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().unwrap());
        let x = w ^ QUOTES;
        let y = w ^ BACKSLASHES;
        // The lowest flagged byte is exact (false positives only appear above a true one).
        let m = ((x.wrapping_sub(LO) & !x) | (y.wrapping_sub(LO) & !y)) & HI;
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&c| c == b'"' || c == b'\\')
        .map(|p| p + i)
}

/// The end of a string whose opening quote is at `open`: index just after the closing
/// quote, and whether the string contains escapes. `None` when `buf` ends first.
#[inline]
pub fn string_end(buf: &[u8], open: usize) -> Option<(usize, bool)> {
    let mut i = open + 1;
    let mut escaped = false;
    loop {
        let p = i + find_quote_or_backslash(&buf[i.min(buf.len())..])?;
        if buf[p] == b'\\' {
            escaped = true;
            i = p + 2;
        } else {
            return Some((p + 1, escaped));
        }
    }
}

/// Result of skipping a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The value ends just before this index.
    End(usize),
    /// The buffer ends inside the value.
    Incomplete,
    /// Not valid JSON at this index.
    Invalid(usize),
}

/// High bit set in each byte of `w` equal to `c` (exact: no carries between bytes).
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline(always)]
fn eq_mask(w: u64, c: u8) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let t = w ^ (LO * c as u64);
    !(((t & LOW7).wrapping_add(LOW7)) | t) & HI
}

/// High bit set in each byte of `w` that is `"`, `\`, `{`, `}`, `[` or `]`.
#[cfg(test)]
fn special_mask(w: u64) -> u64 {
    // `[` and `]` differ from `{` and `}` only by bit 5.
    let folded = w | (LO * 0x20);
    eq_mask(w, b'"') | eq_mask(w, b'\\') | eq_mask(folded, b'{') | eq_mask(folded, b'}')
}

/// The high bits of the bytes of `m` (as set by [`eq_mask`]) packed into one byte: bit i
/// is the high bit of byte i.
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline(always)]
fn pack(m: u64) -> u32 {
    ((m >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
}

/// Bit i set when an odd number of bits 0..=i of `q` are set (inside a string, for quote
/// bits `q` and a string that is not open at bit 0).
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline(always)]
fn prefix_xor(q: u32) -> u32 {
    let mut x = q;
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x & 0xff
}

/// Skip the object or array that starts at `open` (`{` or `[`), tracking strings and
/// nesting only (brackets must balance, `{` closing with `]` is invalid, a backslash
/// outside a string is invalid).
pub fn skip_container(buf: &[u8], open: usize) -> Skip {
    #[cfg(target_arch = "x86_64")]
    {
        skip_container_blocks(buf, open)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        skip_container_swar(buf, open)
    }
}

/// Bit i set when an odd number of bits 0..=i of `q` are set.
#[inline(always)]
fn prefix_xor64(q: u64) -> u64 {
    let mut x = q;
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// Masks of one 64-byte block: bit i for byte i.
#[derive(Clone, Copy)]
struct BlockMasks {
    quote: u64,
    backslash: u64,
    /// `{`, `[`, `}`, `]`.
    bracket: u64,
}

#[cfg(target_arch = "x86_64")]
fn skip_container_blocks(buf: &[u8], open: usize) -> Skip {
    let mut stack: u128 = 0; // bit per level: 1 = object (first 128 levels)
    let mut depth = 0usize;
    let mut in_string = false;
    // the first byte of the next block is escaped by a backslash ending this one
    let mut escape_next = false;
    let n = buf.len();
    let mut i = open;
    while i < n {
        let width = (n - i).min(64);
        let padded;
        let block: &[u8] = if width == 64 {
            &buf[i..i + 64]
        } else {
            let mut pad = [b' '; 64];
            pad[..width].copy_from_slice(&buf[i..n]);
            padded = pad;
            &padded
        };
        let m = sse2::masks64(block);
        // bytes escaped by a backslash (only backslashes inside strings escape; one
        // outside a string is reported below)
        let mut escaped = 0u64;
        if m.backslash != 0 || escape_next {
            if escape_next {
                escaped = 1;
            }
            let mut bs = m.backslash & !escaped;
            escape_next = false;
            while bs != 0 {
                let p = bs.trailing_zeros();
                if p == 63 {
                    escape_next = true;
                } else {
                    escaped |= 1u64 << (p + 1);
                }
                bs &= !(1u64 << p);
                bs &= !escaped;
            }
        }
        let quotes = m.quote & !escaped;
        let inside = prefix_xor64(quotes) ^ if in_string { u64::MAX } else { 0 };
        // events outside strings, in order: brackets and stray backslashes
        let mut events = (m.bracket | (m.backslash & !escaped)) & !inside & !quotes;
        while events != 0 {
            let bit = events.trailing_zeros() as usize;
            events &= events - 1;
            let p = i + bit;
            let c = block[bit];
            match c {
                b'{' | b'[' => {
                    if depth < 128 {
                        stack = (stack << 1) | u128::from(c == b'{');
                    }
                    depth += 1;
                }
                b'}' | b']' => {
                    if depth == 0 {
                        return Skip::Invalid(p);
                    }
                    if depth <= 128 {
                        if (stack & 1 == 1) != (c == b'}') {
                            return Skip::Invalid(p);
                        }
                        stack >>= 1;
                    }
                    depth -= 1;
                    if depth == 0 {
                        return Skip::End(p + 1);
                    }
                }
                _ => return Skip::Invalid(p), // a backslash outside a string
            }
        }
        in_string = (inside >> 63) & 1 == 1;
        if width < 64 {
            break;
        }
        i += 64;
    }
    Skip::Incomplete
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    //! SSE2 is part of the x86_64 baseline: these intrinsics are always available.
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    use super::BlockMasks;

    /// Bit i set when `b[i]` is `"` or `\\` (`b` has at least 16 bytes).
    #[inline(always)]
    pub(super) fn quote_or_backslash16(b: &[u8]) -> u32 {
        assert!(b.len() >= 16);
        // SAFETY: SSE2 is always present on x86_64; the load reads 16 bytes that the
        // assertion above guarantees are in `b` (unaligned loads are allowed).
        unsafe {
            let v = _mm_loadu_si128(b.as_ptr() as *const __m128i);
            let q = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let s = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            _mm_movemask_epi8(_mm_or_si128(q, s)) as u32
        }
    }

    /// The masks of a 64-byte block.
    #[inline(always)]
    pub(super) fn masks64(b: &[u8]) -> BlockMasks {
        assert!(b.len() >= 64);
        let mut m = BlockMasks {
            quote: 0,
            backslash: 0,
            bracket: 0,
        };
        // SAFETY: as above; each load reads 16 of the 64 bytes asserted to be in `b`.
        unsafe {
            let quote = _mm_set1_epi8(b'"' as i8);
            let backslash = _mm_set1_epi8(b'\\' as i8);
            let fold = _mm_set1_epi8(0x20);
            let open = _mm_set1_epi8(b'{' as i8);
            let close = _mm_set1_epi8(b'}' as i8);
            for k in 0..4 {
                let v = _mm_loadu_si128(b.as_ptr().add(16 * k) as *const __m128i);
                // `[`/`]` differ from `{`/`}` only by bit 5
                let f = _mm_or_si128(v, fold);
                let q = _mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)) as u16 as u64;
                let s = _mm_movemask_epi8(_mm_cmpeq_epi8(v, backslash)) as u16 as u64;
                let br = _mm_movemask_epi8(_mm_or_si128(
                    _mm_cmpeq_epi8(f, open),
                    _mm_cmpeq_epi8(f, close),
                )) as u16 as u64;
                m.quote |= q << (16 * k);
                m.backslash |= s << (16 * k);
                m.bracket |= br << (16 * k);
            }
        }
        m
    }
}

/// Skip the object or array that starts at `open` (`{` or `[`), tracking strings and
/// nesting only (brackets must balance, `{` closing with `]` is invalid). Looks at eight
/// bytes at a time: a block whose only special bytes are quotes just flips the in-string
/// state by their parity (no branch per quote); blocks with brackets outside strings or
/// backslashes are walked special byte by special byte.
#[cfg(any(test, not(target_arch = "x86_64")))]
fn skip_container_swar(buf: &[u8], open: usize) -> Skip {
    let mut stack: u128 = 0; // bit per level: 1 = object (first 128 levels)
    let mut depth = 0usize;
    let mut in_string = false;
    let mut skip_to = 0usize; // the byte after a backslash is not special
    let n = buf.len();
    let mut i = open;
    while i < n {
        let (mut m, width) = if i + 8 <= n {
            let w = u64::from_le_bytes(buf[i..i + 8].try_into().unwrap());
            let quotes = eq_mask(w, b'"');
            let rest = eq_mask(w, b'\\') | {
                let folded = w | (LO * 0x20);
                eq_mask(folded, b'{') | eq_mask(folded, b'}')
            };
            if skip_to <= i {
                if rest == 0 {
                    // only quotes (or nothing): flip the string state by their parity
                    in_string ^= quotes.count_ones() & 1 == 1;
                    i += 8;
                    continue;
                }
                let q = pack(quotes);
                let inside = prefix_xor(q) ^ if in_string { 0xff } else { 0 };
                let r = pack(rest);
                // brackets inside strings only, and no backslash: nothing to do but flip
                if r & !inside == 0 && eq_mask(w, b'\\') == 0 {
                    in_string ^= q.count_ones() & 1 == 1;
                    i += 8;
                    continue;
                }
            }
            (quotes | rest, 8)
        } else {
            let mut m = 0u64;
            for (k, c) in buf[i..].iter().enumerate() {
                if matches!(c, b'"' | b'\\' | b'{' | b'}' | b'[' | b']') {
                    m |= 0x80 << (8 * k);
                }
            }
            (m, n - i)
        };
        while m != 0 {
            let p = i + (m.trailing_zeros() / 8) as usize;
            m &= m - 1;
            if p < skip_to {
                continue;
            }
            let c = buf[p];
            if in_string {
                match c {
                    b'"' => in_string = false,
                    b'\\' => skip_to = p + 2,
                    _ => {}
                }
                continue;
            }
            match c {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    if depth < 128 {
                        stack = (stack << 1) | u128::from(c == b'{');
                    }
                    depth += 1;
                }
                b'}' | b']' => {
                    if depth == 0 {
                        return Skip::Invalid(p);
                    }
                    if depth <= 128 {
                        if (stack & 1 == 1) != (c == b'}') {
                            return Skip::Invalid(p);
                        }
                        stack >>= 1;
                    }
                    depth -= 1;
                    if depth == 0 {
                        return Skip::End(p + 1);
                    }
                }
                _ => return Skip::Invalid(p), // a backslash outside a string
            }
        }
        i += width;
    }
    Skip::Incomplete
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_specials_anywhere() {
        for n in 0..40 {
            for at in 0..n {
                for c in [b'"', b'\\'] {
                    let mut v = vec![b'a'; n];
                    v[at] = c;
                    if at + 1 < n {
                        v[at + 1] = b'"';
                    }
                    assert_eq!(find_quote_or_backslash(&v), Some(at), "n {n} at {at}");
                }
            }
            assert_eq!(find_quote_or_backslash(&vec![0x80u8 | b'"'; n]), None);
            assert_eq!(find_quote_or_backslash(&vec![b'!'; n]), None);
        }
    }

    #[test]
    fn containers() {
        let s = br#"{"a":[1,{"b":"}\"]"}],"c":{}} tail"#;
        assert_eq!(skip_container(s, 0), Skip::End(s.len() - 5));
        assert_eq!(skip_container(br#"{"a":[1"#, 0), Skip::Incomplete);
        assert_eq!(skip_container(br#"{"a":"x\"#, 0), Skip::Incomplete);
        assert_eq!(skip_container(br#"{"a":1]"#, 0), Skip::Invalid(6));
        assert_eq!(skip_container(br#"{"a":\1}"#, 0), Skip::Invalid(5));
        // escapes at every offset relative to the 8-byte words
        for pad in 0..10 {
            let p = "x".repeat(pad);
            let t = format!(r#"{{"{p}":"a\\\"}}]\\","b":[{{}}]}}"#);
            assert_eq!(skip_container(t.as_bytes(), 0), Skip::End(t.len()), "{t}");
        }
    }

    #[test]
    fn pack_and_prefix_xor() {
        for bits in 0..=255u32 {
            let mut m = 0u64;
            for k in 0..8 {
                if bits & (1 << k) != 0 {
                    m |= 0x80 << (8 * k);
                }
            }
            assert_eq!(pack(m), bits);
            let mut inside = false;
            let mut want = 0;
            for k in 0..8 {
                if bits & (1 << k) != 0 {
                    inside = !inside;
                }
                if inside {
                    want |= 1 << k;
                }
            }
            assert_eq!(prefix_xor(bits), want, "{bits:#010b}");
        }
    }

    #[test]
    fn masks_are_exact() {
        for c in 0..=255u8 {
            for pos in 0..8 {
                let mut b = [b'a'; 8];
                b[pos] = c;
                let w = u64::from_le_bytes(b);
                let want = if matches!(c, b'"' | b'\\' | b'{' | b'}' | b'[' | b']') {
                    0x80u64 << (8 * pos)
                } else {
                    0
                };
                assert_eq!(special_mask(w), want, "byte {c:#x} at {pos}");
            }
        }
    }

    proptest! {
        #[test]
        fn swar_matches_naive(v in proptest::collection::vec(any::<u8>(), 0..64)) {
            let naive = v.iter().position(|&c| c == b'"' || c == b'\\');
            prop_assert_eq!(find_quote_or_backslash(&v), naive);
        }

        /// The block scanner and the SWAR one agree on any bytes, valid JSON or not.
        #[test]
        fn block_scanner_agrees_with_swar(v in proptest::collection::vec(
            prop_oneof![Just(b'{'), Just(b'}'), Just(b'['), Just(b']'), Just(b'"'), Just(b'\\'), Just(b'a'), Just(b' ')],
            1..300,
        )) {
            let mut bytes = v;
            bytes[0] = b'{';
            prop_assert_eq!(skip_container(&bytes, 0), skip_container_swar(&bytes, 0));
        }

        #[test]
        fn skip_agrees_with_serde(v in json_value(), tail in "[ ,x]{0,3}") {
            let text = serde_json::to_string(&v).unwrap();
            if text.starts_with('{') || text.starts_with('[') {
                let full = format!("{text}{tail}");
                prop_assert_eq!(skip_container(full.as_bytes(), 0), Skip::End(text.len()));
                // every strict prefix is incomplete
                let cut = text.len() / 2;
                prop_assert_eq!(skip_container(&full.as_bytes()[..cut.max(1)], 0), Skip::Incomplete);
            }
        }
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i32>().prop_map(serde_json::Value::from),
            "[a-z\"\\\\{}\\[\\] é\u{1}]{0,12}".prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                proptest::collection::btree_map("[a-z\"{]{0,4}", inner, 0..4)
                    .prop_map(|m| { serde_json::Value::Object(m.into_iter().collect()) }),
            ]
        })
    }
}
