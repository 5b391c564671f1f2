//! Flattening the nested OU tree of the file into paths, with each company's
//! environment OUs added.

use std::collections::BTreeMap;

use super::model::{OuConfig, OuNode};
use super::source::join_key;

/// One OU as declared, flattened.
#[derive(Debug, Clone)]
pub struct FlatOu {
    /// Its path.
    pub path: crate::model::OuPath,
    /// Where it is declared in the file (field path).
    pub field: String,
    /// Declared tags.
    pub tags: BTreeMap<String, String>,
    /// Previous name, for renames.
    pub renamed_from: Option<String>,
    /// Whether it comes from an `environments` list rather than its own entry.
    pub from_environments: bool,
}

/// Walks the tree. `company_parent` is the path whose direct children are
/// companies; they get `environments` (or their own override) as child OUs.
pub fn flatten(
    roots: &BTreeMap<String, OuNode>,
    company_parent: &str,
    environments: &[String],
) -> Vec<FlatOu> {
    let mut out = Vec::new();
    for (name, node) in roots {
        walk(
            &crate::model::OuPath::root(),
            name,
            &node.0,
            &join_key("organizational_units", name),
            company_parent,
            environments,
            &mut out,
        );
    }
    out
}

fn walk(
    parent: &crate::model::OuPath,
    name: &str,
    ou: &OuConfig,
    field: &str,
    company_parent: &str,
    environments: &[String],
    out: &mut Vec<FlatOu>,
) {
    let path = parent.child(name);
    out.push(FlatOu {
        path: path.clone(),
        field: field.to_string(),
        tags: ou.tags.clone(),
        renamed_from: ou.renamed_from.clone(),
        from_environments: false,
    });
    let is_company = parent.to_string() == company_parent;
    if is_company {
        let envs = ou.environments.as_deref().unwrap_or(environments);
        let env_field = if ou.environments.is_some() {
            format!("{field}.environments")
        } else {
            "environments".to_string()
        };
        for (i, env) in envs.iter().enumerate() {
            out.push(FlatOu {
                path: path.child(env),
                field: format!("{env_field}[{i}]"),
                tags: BTreeMap::new(),
                renamed_from: None,
                from_environments: true,
            });
        }
    }
    let children_field = format!("{field}.children");
    for (child, node) in &ou.children {
        walk(
            &path,
            child,
            &node.0,
            &join_key(&children_field, child),
            company_parent,
            environments,
            out,
        );
    }
}
