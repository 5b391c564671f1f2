//! Policy variables: `${aws:PrincipalAccount}`, `${aws:username, 'default'}` and the
//! escapes `${*}`, `${?}`, `${$}` (a literal `*`, `?`, `$`), in `Resource` and condition values.
//!
//! Substituted values are literal text: a `*` inside a variable's value is not a wildcard.
//! Policies without `"Version": "2012-10-17"` do not expand variables (see
//! [`Context::with_variables`]): `${...}` is then plain text.

use super::context::{Context, Lookup, Values};
use super::matching::Tok;

/// Result of resolving the variables of one policy string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// The pattern, ready for matching.
    Pattern(Vec<Tok>),
    /// A variable's key is absent (and has no default): the value cannot match.
    Absent(String),
    /// A variable's key is not in the context and might have been in the real request.
    Unknown(String),
}

impl Resolved {
    /// The tokens of a resolved pattern (empty for `Absent`/`Unknown`).
    pub fn into_tokens(self) -> Vec<Tok> {
        match self {
            Resolved::Pattern(t) => t,
            _ => Vec::new(),
        }
    }
}

/// True when `s` contains a `${...}` policy variable or escape.
pub fn has_variables(s: &str) -> bool {
    s.contains("${")
}

/// Resolve the variables of `s`. When `wildcards` is true, bare `*` and `?` in the text are
/// wildcards; otherwise every character is literal.
pub fn resolve(s: &str, ctx: &Context, wildcards: bool) -> Resolved {
    let mut out = Vec::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("${").filter(|_| ctx.variables()) {
            if let Some(end) = after.find('}') {
                let inner = &after[..end];
                rest = &after[end + 1..];
                match inner {
                    "*" => out.push(Tok::Lit('*')),
                    "?" => out.push(Tok::Lit('?')),
                    "$" => out.push(Tok::Lit('$')),
                    _ => {
                        let (key, default) = split_default(inner);
                        match ctx.get(key) {
                            Lookup::Present(Values::One(v)) => out.extend(v.chars().map(Tok::Lit)),
                            Lookup::Present(Values::Many(_)) => {
                                return Resolved::Absent(key.to_string())
                            }
                            Lookup::Absent => match default {
                                Some(d) => out.extend(d.chars().map(Tok::Lit)),
                                None => return Resolved::Absent(key.to_string()),
                            },
                            Lookup::Unknown => return Resolved::Unknown(key.to_string()),
                        }
                    }
                }
                continue;
            }
        }
        let c = rest.chars().next().expect("non-empty");
        rest = &rest[c.len_utf8()..];
        out.push(match c {
            '*' if wildcards => Tok::Star,
            '?' if wildcards => Tok::One,
            c => Tok::Lit(c),
        });
    }
    Resolved::Pattern(out)
}

/// `aws:username, 'fallback'` -> (`aws:username`, Some(`fallback`)).
fn split_default(inner: &str) -> (&str, Option<&str>) {
    if let Some((k, d)) = inner.split_once(',') {
        let d = d.trim();
        let d = d
            .strip_prefix('\'')
            .and_then(|d| d.strip_suffix('\''))
            .unwrap_or(d);
        (k.trim(), Some(d))
    } else {
        (inner.trim(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::super::context::{MissingKeys, Request};
    use super::super::matching::{glob_match, literal};
    use super::*;

    fn req(mode: MissingKeys) -> Request {
        let mut r = Request {
            account: "111122223333".into(),
            principal_arn: "arn:aws:iam::111122223333:user/bob".into(),
            missing_keys: mode,
            ..Default::default()
        };
        r.context.insert("aws:username".into(), "bob*".into());
        r.context
            .insert("aws:TagKeys".into(), vec!["a", "b"].into());
        r
    }

    #[test]
    fn substitutes_and_escapes() {
        let r = req(MissingKeys::Absent);
        let c = Context::of(&r);
        let Resolved::Pattern(p) = resolve("arn:aws:s3:::home/${aws:PrincipalAccount}/*", &c, true)
        else {
            panic!()
        };
        assert!(glob_match(&p, "arn:aws:s3:::home/111122223333/x", false));
        assert!(!glob_match(&p, "arn:aws:s3:::home/999/x", false));
        // substituted value is literal: `bob*` does not match `bobby`
        let Resolved::Pattern(p) = resolve("${aws:username}", &c, true) else {
            panic!()
        };
        assert_eq!(p, literal("bob*"));
        let Resolved::Pattern(p) = resolve("a${*}b${?}${$}", &c, true) else {
            panic!()
        };
        assert_eq!(p, literal("a*b?$"));
        let Resolved::Pattern(p) = resolve("a*", &c, false) else {
            panic!()
        };
        assert_eq!(p, literal("a*"));
        // unterminated stays literal
        let Resolved::Pattern(p) = resolve("a${aws:username}", &c.with_variables(false), false)
        else {
            panic!()
        };
        assert_eq!(p, literal("a${aws:username}"));
        let Resolved::Pattern(p) = resolve("x${y", &c, false) else {
            panic!()
        };
        assert_eq!(p, literal("x${y"));
    }

    #[test]
    fn missing_and_default() {
        let r = req(MissingKeys::Absent);
        let c = Context::of(&r);
        assert_eq!(
            resolve("${aws:userid}", &c, true),
            Resolved::Absent("aws:userid".into())
        );
        assert_eq!(
            resolve("${aws:userid, 'none'}", &c, true),
            Resolved::Pattern(literal("none"))
        );
        assert_eq!(
            resolve("${aws:TagKeys}", &c, true),
            Resolved::Absent("aws:TagKeys".into())
        );
        let r = req(MissingKeys::Unknown);
        let c = Context::of(&r);
        assert_eq!(
            resolve("${aws:userid}", &c, true),
            Resolved::Unknown("aws:userid".into())
        );
        assert!(has_variables("${x}") && !has_variables("$x"));
    }
}
