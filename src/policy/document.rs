//! Policy documents as strings: minify, normalize, compare.

use serde_json::Value;

/// The document as AWS stores it after lzctl uploads it: minified JSON with keys
/// in the order written. Whitespace counts toward the size limit, so lzctl
/// always sends this form.
pub fn minify(value: &Value) -> String {
    serde_json::to_string(value).expect("a JSON value serializes")
}

/// A form of a document for comparison: parsed, keys sorted, minified. Two
/// documents that differ only in whitespace or key order compare equal.
/// Returns None when the text is not JSON.
pub fn normalize(text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    Some(serde_json::to_string(&sort_keys(value)).expect("serializes"))
}

fn sort_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

/// Pretty form for showing a document diff to a person.
pub fn pretty(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => serde_json::to_string_pretty(&v).expect("serializes"),
        Err(_) => text.to_string(),
    }
}

/// Whether a document has at least one Allow statement: an SCP without one gives
/// its targets no Allow path.
pub fn has_allow_statement(text: &str) -> bool {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    let statements = match value.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(single @ Value::Object(_)) => vec![single.clone()],
        _ => return false,
    };
    statements
        .iter()
        .any(|s| s.get("Effect").and_then(Value::as_str) == Some("Allow"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_ignores_whitespace_and_key_order() {
        let a = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*"}]}"#;
        let b = "{\n \"Statement\": [ {\"Action\": \"*\", \"Effect\": \"Deny\"} ],\n \"Version\": \"2012-10-17\" }";
        assert_eq!(normalize(a), normalize(b));
        assert_ne!(normalize(a), normalize(&a.replace("Deny", "Allow")));
        assert_eq!(normalize("{not json"), None);
    }

    #[test]
    fn detects_allow_statements() {
        assert!(has_allow_statement(
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#
        ));
        assert!(!has_allow_statement(
            r#"{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#
        ));
    }
}
