//! Writing YAML scalars and small flow collections that read back exactly:
//! plain where that cannot be misread, JSON-quoted otherwise (a JSON string
//! is a valid YAML double-quoted scalar).

use std::collections::BTreeMap;

/// Words YAML 1.1 or 1.2 would read as something other than a string.
const SPECIAL: &[&str] = &[
    "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
];

/// Whether `text` can be written plain (in flow context too).
fn is_plain(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    first.is_ascii_alphabetic()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '@' | '+'))
        && !SPECIAL.contains(&text.to_ascii_lowercase().as_str())
}

/// A string value.
pub fn scalar(text: &str) -> String {
    if is_plain(text) {
        text.to_string()
    } else {
        serde_json::to_string(text).expect("a string serializes")
    }
}

/// A mapping key.
pub fn key(text: &str) -> String {
    scalar(text)
}

/// `[a, b, "c d"]`
pub fn flow_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(scalar).collect();
    format!("[{}]", items.join(", "))
}

/// `{ k: v, ... }`
pub fn flow_map(map: &BTreeMap<String, String>) -> String {
    let entries: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{}: {}", key(k), scalar(v)))
        .collect();
    format!("{{ {} }}", entries.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_reads_back_as_the_same_string() {
        for text in [
            "prod",
            "Companies/A/prod",
            "aws+a@example.com",
            "yes",
            "No",
            "123",
            "0123",
            "a: b",
            "x #y",
            "[x]",
            "{x}",
            "",
            " lead",
            "日本",
            "quote\"d",
            "-dash",
            "*star",
        ] {
            let doc = format!(
                "k: {}\nl: {}\nm: {}\n",
                scalar(text),
                flow_list([text]),
                flow_map(&BTreeMap::from([(text.to_string(), text.to_string())]))
            );
            let value: serde_yaml::Value =
                serde_yaml::from_str(&doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
            assert_eq!(value["k"].as_str(), Some(text), "{doc}");
            assert_eq!(value["l"][0].as_str(), Some(text), "{doc}");
            assert_eq!(value["m"][text].as_str(), Some(text), "{doc}");
        }
    }
}
