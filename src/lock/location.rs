//! Where the lock lives: `s3://bucket/key`.

use std::fmt;
use std::str::FromStr;

/// The lock object's key when the location names only a bucket or a prefix.
pub const DEFAULT_KEY: &str = "lzctl.lock.json";

/// An S3 object that holds the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockLocation {
    /// Bucket.
    pub bucket: String,
    /// Object key.
    pub key: String,
}

/// Why a location does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a lock location: {why}; write s3://BUCKET/KEY, e.g. s3://acme-lzctl-state/landing-zone.lock")]
pub struct LocationError {
    /// What was given.
    pub text: String,
    /// What is wrong.
    pub why: &'static str,
}

/// S3 bucket names: 3-63 characters of lower-case letters, digits, dots and
/// hyphens, starting and ending with a letter or digit.
fn is_bucket_name(name: &str) -> bool {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    let ends = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (3..=63).contains(&name.len())
        && ok_chars
        && ends(name.bytes().next())
        && ends(name.bytes().last())
}

impl FromStr for LockLocation {
    type Err = LocationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |why| LocationError {
            text: text.to_string(),
            why,
        };
        let rest = text
            .strip_prefix("s3://")
            .ok_or_else(|| err("only s3:// locations are supported"))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if !is_bucket_name(bucket) {
            return Err(err("the bucket name is not a valid S3 bucket name"));
        }
        let key = if key.is_empty() {
            DEFAULT_KEY.to_string()
        } else if key.ends_with('/') {
            format!("{key}{DEFAULT_KEY}")
        } else {
            key.to_string()
        };
        if key.len() > 1024 {
            return Err(err("the key is longer than 1,024 bytes"));
        }
        Ok(LockLocation {
            bucket: bucket.to_string(),
            key,
        })
    }
}

impl fmt::Display for LockLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bucket_and_key_with_defaults_for_prefixes() {
        let l: LockLocation = "s3://acme-state/lz/main.lock".parse().unwrap();
        assert_eq!(
            (l.bucket.as_str(), l.key.as_str()),
            ("acme-state", "lz/main.lock")
        );
        let l: LockLocation = "s3://acme-state".parse().unwrap();
        assert_eq!(l.key, DEFAULT_KEY);
        let l: LockLocation = "s3://acme-state/lz/".parse().unwrap();
        assert_eq!(l.key, format!("lz/{DEFAULT_KEY}"));
        assert_eq!(l.to_string(), format!("s3://acme-state/lz/{DEFAULT_KEY}"));
    }

    #[test]
    fn refuses_other_schemes_and_bad_buckets() {
        for bad in [
            "acme-state/x",
            "dynamodb://t",
            "s3://Acme/x",
            "s3://ab/x",
            "s3://-a-b/x",
        ] {
            let e = bad.parse::<LockLocation>().unwrap_err();
            assert!(e.to_string().contains("s3://BUCKET/KEY"), "{e}");
        }
    }
}
