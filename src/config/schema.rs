//! The JSON Schema of the landing-zone file, generated (schemars) from the
//! same types that parse it: the `ConfigFile` structs of `model.rs` and each
//! family's section types. Unknown keys are refused (`additionalProperties:
//! false`) as validation refuses them. Fields the checker reads as any YAML
//! value (to give a precise message for a number where a quoted id belongs)
//! say here what they accept.

use schemars::generate::SchemaSettings;
use schemars::{json_schema, Schema, SchemaGenerator};

/// A 12-digit account id, quoted.
pub fn account_id(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "pattern": "^[0-9]{12}$",
        "description": "A 12-digit account id, quoted (\"012345678901\")."
    })
}

/// `governed`, or a list of region codes.
pub fn regions(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            { "const": "governed" },
            { "type": "array", "items": { "type": "string" } }
        ]
    })
}

/// An account name of the file, or a quoted 12-digit id.
pub fn account_ref(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string" })
}

/// A count (`10`) or a percentage (`"25%"`).
pub fn amount(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            { "type": "integer", "minimum": 0 },
            { "type": "string", "pattern": "^[0-9]+%$" }
        ]
    })
}

/// A policy's `rollout:` (read by `crate::rollout::config`, which gives
/// each field its own message).
pub fn rollout(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "additionalProperties": false,
        "required": ["waves", "trail"],
        "properties": {
            "waves": {
                "type": "array",
                "minItems": 1,
                "description": "Targets of each wave, first wave first: a target or a list of targets.",
                "items": {
                    "anyOf": [
                        { "type": "string" },
                        { "type": "array", "items": { "type": "string" } }
                    ]
                }
            },
            "soak": {
                "anyOf": [{ "type": "string" }, { "type": "integer", "minimum": 0 }],
                "description": "How long each wave is watched before the next, e.g. 30m."
            },
            "max_denials": {
                "type": "integer",
                "minimum": 0,
                "description": "SCP denials tolerated per wave before the rollout halts."
            },
            "trail": {
                "type": "string",
                "pattern": "^s3://",
                "description": "The organization trail's bucket, s3://BUCKET[/PREFIX]."
            },
            "trail_account": {
                "type": "string",
                "description": "The account (name in the file) that owns the trail bucket."
            }
        }
    })
}

/// Any YAML value (template and rule parameters).
pub fn any(_: &mut SchemaGenerator) -> Schema {
    json_schema!({})
}

/// The schema of the whole file, families' sections included.
pub fn schema() -> serde_json::Value {
    let mut generator = SchemaSettings::draft07().into_generator();
    let root = generator.root_schema_for::<super::model::ConfigFile>();
    let sections = crate::families::section_schemas(&mut generator);
    let mut root = root.to_value();
    let object = root.as_object_mut().expect("the root schema is an object");
    object.insert("title".into(), "lzctl landing-zone file (version 1)".into());
    if let Some(serde_json::Value::Object(properties)) = object.get_mut("properties") {
        for (key, schema) in sections {
            properties.insert(key.to_string(), schema.to_value());
        }
    }
    // Definitions the families' sections added.
    let definitions = generator.definitions().clone();
    if !definitions.is_empty() {
        let slot = object
            .entry("definitions")
            .or_insert_with(|| serde_json::Value::Object(Default::default()));
        if let serde_json::Value::Object(slot) = slot {
            for (k, v) in definitions {
                slot.entry(k).or_insert(v);
            }
        }
    }
    root
}
