//! Wildcard, action and ARN matching.
//!
//! Patterns are sequences of [`Tok`]: literal characters, `*` (any run, possibly empty) and
//! `?` (exactly one character). Literal `*`/`?` come from the policy-variable escapes
//! `${*}`/`${?}` or from substituted variable values (see `variables`).

/// One token of a wildcard pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    /// A character that must match itself.
    Lit(char),
    /// `*`: any sequence of characters.
    Star,
    /// `?`: any single character.
    One,
}

/// Tokenise a plain pattern string: `*` and `?` are wildcards, everything else literal.
pub fn tokens(pattern: &str) -> Vec<Tok> {
    pattern
        .chars()
        .map(|c| match c {
            '*' => Tok::Star,
            '?' => Tok::One,
            c => Tok::Lit(c),
        })
        .collect()
}

/// Tokenise with every character literal (no wildcards).
pub fn literal(text: &str) -> Vec<Tok> {
    text.chars().map(Tok::Lit).collect()
}

fn eq_char(a: char, b: char, ignore_case: bool) -> bool {
    a == b || (ignore_case && a.to_lowercase().eq(b.to_lowercase()))
}

/// Match `text` against a tokenised pattern (whole string), optionally ignoring case.
pub fn glob_match(pat: &[Tok], text: &str, ignore_case: bool) -> bool {
    let t: Vec<char> = text.chars().collect();
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None; // (pattern index after star, text index)
    while i < t.len() {
        if p < pat.len() {
            match pat[p] {
                Tok::Star => {
                    star = Some((p + 1, i));
                    p += 1;
                    continue;
                }
                Tok::One => {
                    p += 1;
                    i += 1;
                    continue;
                }
                Tok::Lit(c) if eq_char(c, t[i], ignore_case) => {
                    p += 1;
                    i += 1;
                    continue;
                }
                Tok::Lit(_) => {}
            }
        }
        match star {
            Some((sp, si)) => {
                p = sp;
                i = si + 1;
                star = Some((sp, si + 1));
            }
            None => return false,
        }
    }
    pat[p..].iter().all(|t| *t == Tok::Star)
}

/// Byte-level glob for ASCII pattern and text (`*` and `?` wildcards), no allocation.
fn glob_ascii(pat: &[u8], t: &[u8], ignore_case: bool) -> bool {
    let eq = |a: u8, b: u8| a == b || (ignore_case && a.eq_ignore_ascii_case(&b));
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < t.len() {
        if p < pat.len() {
            match pat[p] {
                b'*' => {
                    star = Some((p + 1, i));
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    i += 1;
                    continue;
                }
                c if eq(c, t[i]) => {
                    p += 1;
                    i += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, si)) => {
                p = sp;
                i = si + 1;
                star = Some((sp, si + 1));
            }
            None => return false,
        }
    }
    pat[p..].iter().all(|c| *c == b'*')
}

/// Match a plain wildcard pattern string (`*`, `?`; no policy variables) against text.
pub fn wildcard_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    if pattern.is_ascii() && text.is_ascii() {
        glob_ascii(pattern.as_bytes(), text.as_bytes(), ignore_case)
    } else {
        glob_match(&tokens(pattern), text, ignore_case)
    }
}

/// [`arn_match`] for a plain pattern string (no policy variables).
pub fn arn_match_str(pattern: &str, arn: &str) -> bool {
    let mut pp = pattern.splitn(6, ':');
    let mut ap = arn.splitn(6, ':');
    for _ in 0..6 {
        match (pp.next(), ap.next()) {
            (Some(p), Some(a)) => {
                if !wildcard_match(p, a, false) {
                    return false;
                }
            }
            _ => return false,
        }
    }
    true
}

/// [`resource_match`] for a plain pattern string (no policy variables).
pub fn resource_match_str(pattern: &str, resource: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    if pattern.splitn(6, ':').count() == 6 && resource.splitn(6, ':').count() == 6 {
        pattern
            .splitn(6, ':')
            .zip(resource.splitn(6, ':'))
            .enumerate()
            .all(|(i, (p, r))| wildcard_match(p, r, i < 5))
    } else {
        wildcard_match(pattern, resource, false)
    }
}

/// Does an `Action`/`NotAction` pattern match an action? Case-insensitive, `*`/`?` anywhere.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    pattern == "*" || wildcard_match(pattern, action, true)
}

/// Split an ARN (string or token list) into its six parts: the first five colons separate
/// `arn`, partition, service, region, account; the sixth part (resource) keeps any colons.
pub fn split_arn_tokens(pat: &[Tok]) -> Option<Vec<&[Tok]>> {
    let mut parts = Vec::with_capacity(6);
    let mut start = 0;
    for (i, t) in pat.iter().enumerate() {
        if parts.len() == 5 {
            break;
        }
        if *t == Tok::Lit(':') {
            parts.push(&pat[start..i]);
            start = i + 1;
        }
    }
    if parts.len() < 5 {
        return None;
    }
    parts.push(&pat[start..]);
    Some(parts)
}

/// Split an ARN string into its six parts (see [`split_arn_tokens`]).
pub fn split_arn(arn: &str) -> Option<Vec<&str>> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    (parts.len() == 6).then_some(parts)
}

/// ARN matching as `ArnLike`/`ArnEquals` do it: both must have six parts and each part is
/// matched separately (case-sensitive), so a wildcard never spans a colon of the first five.
pub fn arn_match(pat: &[Tok], arn: &str) -> bool {
    let (Some(pp), Some(ap)) = (split_arn_tokens(pat), split_arn(arn)) else {
        return false;
    };
    pp.iter()
        .zip(ap.iter())
        .all(|(p, a)| glob_match(p, a, false))
}

/// Resource matching for `Resource`/`NotResource`: `*` matches everything; when both sides
/// are six-part ARNs they are compared part by part (`arn`, partition, service, region and
/// account ignoring case, the resource part case-sensitively), otherwise as one
/// case-sensitive wildcard string.
pub fn resource_match(pat: &[Tok], resource: &str) -> bool {
    if pat == [Tok::Star] {
        return true;
    }
    match (split_arn_tokens(pat), split_arn(resource)) {
        (Some(pp), Some(rp)) => pp
            .iter()
            .zip(rp.iter())
            .enumerate()
            .all(|(i, (p, r))| glob_match(p, r, i < 5)),
        _ => glob_match(pat, resource, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_basics() {
        assert!(wildcard_match("*", "", false));
        assert!(wildcard_match("a*c", "abbbc", false));
        assert!(wildcard_match("a*c", "ac", false));
        assert!(!wildcard_match("a*c", "acb", false));
        assert!(wildcard_match("a?c", "abc", false));
        assert!(!wildcard_match("a?c", "ac", false));
        assert!(wildcard_match("*a*b*", "xxaxxbxx", false));
        assert!(!wildcard_match("*a*b*", "xxbxxaxx", false));
        assert!(wildcard_match("ABC", "abc", true));
        assert!(!wildcard_match("ABC", "abc", false));
        assert!(wildcard_match("a**", "a", false));
    }

    #[test]
    fn literal_star_is_not_a_wildcard() {
        let pat = literal("a*");
        assert!(glob_match(&pat, "a*", false));
        assert!(!glob_match(&pat, "ab", false));
    }

    #[test]
    fn actions_case_insensitive_wildcards_anywhere() {
        assert!(action_matches("s3:Get*", "S3:GETOBJECT"));
        assert!(action_matches("*", "anything:Goes"));
        assert!(action_matches("ec2:*Instances", "ec2:RunInstances"));
        assert!(action_matches("ec2:Describe?egions", "ec2:DescribeRegions"));
        assert!(action_matches("*:Get*", "lambda:GetFunction"));
        assert!(!action_matches("s3:Get*", "s3:PutObject"));
        assert!(!action_matches("s3:GetObject", "s3:GetObjectAcl"));
    }

    #[test]
    fn arn_parts_are_matched_separately() {
        let p = tokens("arn:aws:iam::*:role/Admin");
        assert!(arn_match(&p, "arn:aws:iam::123456789012:role/Admin"));
        assert!(!arn_match(&p, "arn:aws:iam::123456789012:role/Admin2"));
        // a `*` in the account part cannot swallow the colon before the resource
        let p = tokens("arn:aws:iam::*");
        assert!(!arn_match(&p, "arn:aws:iam::123456789012:role/Admin"));
        let p = tokens("arn:*:iam::*:role/lzctl-*");
        assert!(arn_match(&p, "arn:aws-cn:iam::1:role/lzctl-deploy"));
        assert!(arn_match(
            &tokens("arn:aws:s3:::b/*"),
            "arn:aws:s3:::b/k:with:colons"
        ));
        assert!(!arn_match(&tokens("*"), "arn:aws:s3:::b"));
        assert!(!arn_match(&tokens("arn:aws:s3:::b"), "not-an-arn"));
    }

    #[test]
    fn string_fast_paths_agree_with_tokens() {
        let cases = [
            (
                "arn:aws:iam::*:role/Admin",
                "arn:aws:iam::123456789012:role/Admin",
            ),
            ("arn:aws:iam::*", "arn:aws:iam::123456789012:role/Admin"),
            ("arn:aws:s3:::b/*", "arn:aws:s3:::b/k:with:colons"),
            ("arn:*", "arn:aws:s3:::bucket2/a"),
            ("*", "x"),
            ("arn:aws:S3:::b", "arn:aws:s3:::b"),
            ("arn:aws:s3:::b?", "arn:aws:s3:::bü"),
            ("arn:aws:s3:::bü*", "arn:aws:s3:::büx"),
        ];
        for (p, t) in cases {
            assert_eq!(arn_match_str(p, t), arn_match(&tokens(p), t), "{p} {t}");
            assert_eq!(
                resource_match_str(p, t),
                resource_match(&tokens(p), t),
                "{p} {t}"
            );
            assert_eq!(
                wildcard_match(p, t, true),
                glob_match(&tokens(p), t, true),
                "{p} {t}"
            );
        }
    }

    #[test]
    fn resources() {
        assert!(resource_match(&tokens("*"), "whatever"));
        assert!(resource_match(
            &tokens("arn:aws:s3:::bucket/*"),
            "arn:aws:s3:::bucket/a/b"
        ));
        assert!(!resource_match(
            &tokens("arn:aws:s3:::bucket/*"),
            "arn:aws:s3:::bucket2/a"
        ));
        assert!(resource_match(
            &tokens("arn:aws:s3:::*"),
            "arn:aws:s3:::bucket2/a"
        ));
        assert!(resource_match(&tokens("arn:*"), "arn:aws:s3:::bucket2/a"));
        assert!(resource_match(&tokens("arn:aws:S3:::b"), "arn:aws:s3:::b"));
        assert!(!resource_match(&tokens("arn:aws:s3:::B"), "arn:aws:s3:::b"));
    }
}
