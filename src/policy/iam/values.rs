//! Typed condition values: numbers, dates (ISO 8601 and epoch seconds) and CIDR blocks.

use std::net::IpAddr;

/// Parse a `Numeric*` operand (integer or decimal).
pub fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty()
        || !t
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
    {
        return None;
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn num(s: &str, len: usize) -> Option<i64> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Parse a `Date*` operand to milliseconds since the Unix epoch.
///
/// Accepts epoch seconds (`1700000000`, `1700000000.5`), `YYYY-MM-DD`, and
/// `YYYY-MM-DDTHH:MM[:SS[.fff]]` followed by `Z`, `+HH:MM`, `-HH:MM`, `+HHMM` or nothing (UTC).
pub fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') && !s.contains('-') {
        let secs: f64 = s.parse().ok()?;
        return Some((secs * 1000.0).round() as i64);
    }
    let (date, time) = match s.split_once(['T', 't', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut dp = date.split('-');
    let y = num(dp.next()?, 4)?;
    let mo = num(dp.next()?, 2)?;
    let d = num(dp.next()?, 2)?;
    if dp.next().is_some() || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut ms = days_from_civil(y, mo, d) * 86_400_000;
    let Some(time) = time else { return Some(ms) };
    // split off the zone designator
    let (clock, offset_min) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(pos) = time.rfind(['+', '-']) {
        let (c, z) = time.split_at(pos);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let z = z[1..].replace(':', "");
        if !z.is_ascii() {
            return None;
        }
        let hh = num(z.get(..2)?, 2)?;
        let mm = if z.len() == 4 {
            num(z.get(2..)?, 2)?
        } else if z.len() == 2 {
            0
        } else {
            return None;
        };
        (c, sign * (hh * 60 + mm))
    } else {
        (time, 0)
    };
    let mut cp = clock.split(':');
    let h = num(cp.next()?, 2)?;
    let mi = num(cp.next()?, 2)?;
    let (sec, frac_ms) = match cp.next() {
        Some(sf) => {
            let (sec, frac) = match sf.split_once('.') {
                Some((a, b)) => (a, Some(b)),
                None => (sf, None),
            };
            let sec = num(sec, 2)?;
            let frac_ms = match frac {
                Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
                    let f3: String = f.chars().chain("000".chars()).take(3).collect();
                    f3.parse::<i64>().ok()?
                }
                Some(_) => return None,
                None => 0,
            };
            (sec, frac_ms)
        }
        None => (0, 0),
    };
    if cp.next().is_some() || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    ms += ((h * 60 + mi - offset_min) * 60 + sec) * 1000 + frac_ms;
    Some(ms)
}

/// A CIDR block (IPv4 or IPv6); a bare address is a /32 or /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parse `203.0.113.0/24`, `2001:db8::/32`, or a bare address.
    pub fn parse(s: &str) -> Option<Cidr> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok()?
            }
            Some(_) => return None,
            None => max,
        };
        (prefix <= max).then_some(Cidr { addr, prefix })
    }

    /// Does this block contain `ip`? Addresses of the other family never match.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.prefix)
                };
                (u32::from(net) & mask) == (u32::from(*ip) & mask)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.prefix)
                };
                (u128::from(net) & mask) == (u128::from(*ip) & mask)
            }
            _ => false,
        }
    }
}

/// Parse a request's source address (a bare address; a `/n` suffix is ignored).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    let a = s.trim().split('/').next()?;
    a.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number("10"), Some(10.0));
        assert_eq!(parse_number("-2.5"), Some(-2.5));
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number(""), None);
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_date("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_date("2020-01-01T00:00:00Z"), Some(1_577_836_800_000));
        assert_eq!(parse_date("1577836800"), Some(1_577_836_800_000));
        assert_eq!(
            parse_date("2020-01-01T09:00:00+09:00"),
            Some(1_577_836_800_000)
        );
        assert_eq!(
            parse_date("2019-12-31T19:00:00-0500"),
            Some(1_577_836_800_000)
        );
        assert_eq!(
            parse_date("2020-01-01T00:00:00.250Z"),
            Some(1_577_836_800_250)
        );
        assert_eq!(parse_date("2020-01-01T00:00Z"), Some(1_577_836_800_000));
        assert_eq!(parse_date("2024-02-29T12:00:00Z"), Some(1_709_208_000_000));
        assert_eq!(parse_date("2020-13-01"), None);
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date("2020-01-01T25:00:00Z"), None);
        // malformed zones, including non-ASCII, are rejected without panicking
        assert_eq!(parse_date("2020-01-01T00:00+aé"), None);
        assert_eq!(parse_date("2020-01-01T00:00+é"), None);
        assert_eq!(parse_date("2020-01-01T00:00+1"), None);
        assert_eq!(parse_date("2020-01-01Té"), None);
    }

    #[test]
    fn cidrs() {
        let c = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(c.contains(&"203.0.113.77".parse().unwrap()));
        assert!(!c.contains(&"203.0.114.1".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains(&"8.8.8.8".parse().unwrap()));
        assert!(Cidr::parse("10.1.2.3")
            .unwrap()
            .contains(&"10.1.2.3".parse().unwrap()));
        assert!(!Cidr::parse("10.1.2.3")
            .unwrap()
            .contains(&"10.1.2.4".parse().unwrap()));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(&"2001:db8:1::5".parse().unwrap()));
        assert!(!v6.contains(&"2001:db9::5".parse().unwrap()));
        assert!(!v6.contains(&"10.0.0.1".parse().unwrap()));
        assert!(Cidr::parse("::/0")
            .unwrap()
            .contains(&"::1".parse().unwrap()));
        assert_eq!(Cidr::parse("10.0.0.0/33"), None);
        assert_eq!(Cidr::parse("10.0.0/8"), None);
        assert_eq!(Cidr::parse("10.0.0.0/"), None);
        assert_eq!(parse_ip("10.0.0.1/32"), Some("10.0.0.1".parse().unwrap()));
    }
}
