//! What lzctl reads of a CloudFormation template before sending it: its
//! Parameters (to check the file's values, typed), its resources (to tell
//! which capabilities it needs and whether it names global IAM resources),
//! and its Transform. YAML with the short intrinsic forms (`!Ref`, `!Sub`)
//! and JSON both parse.

use std::collections::BTreeMap;

use serde_yaml::Value;

/// The largest TemplateBody CloudFormation accepts (bytes); larger
/// templates need an S3 TemplateURL.
pub const MAX_TEMPLATE_BODY: usize = 51_200;

/// One declared parameter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParamSpec {
    /// `String`, `Number`, `List<Number>`, `CommaDelimitedList`, an AWS
    /// type (`AWS::EC2::VPC::Id`), `AWS::SSM::Parameter::Value<...>`.
    pub kind: String,
    /// Default, as text.
    pub default: Option<String>,
    /// AllowedValues.
    pub allowed_values: Vec<String>,
    /// AllowedPattern.
    pub allowed_pattern: Option<String>,
    /// MinLength / MaxLength.
    pub min_length: Option<u64>,
    /// MaxLength.
    pub max_length: Option<u64>,
    /// MinValue.
    pub min_value: Option<f64>,
    /// MaxValue.
    pub max_value: Option<f64>,
    /// NoEcho (DescribeStackSet shows `****`).
    pub no_echo: bool,
    /// Description.
    pub description: String,
}

impl ParamSpec {
    /// Whether the type takes a list (`List<...>`, `CommaDelimitedList`).
    pub fn is_list(&self) -> bool {
        self.kind == "CommaDelimitedList"
            || (self.kind.starts_with("List<") && self.kind.ends_with('>'))
            || self.kind.starts_with("AWS::SSM::Parameter::Value<List<")
    }

    /// Whether list items or the value are numbers.
    pub fn is_number(&self) -> bool {
        self.kind == "Number" || self.kind == "List<Number>"
    }
}

/// One resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// Logical id.
    pub logical_id: String,
    /// `AWS::IAM::Role`.
    pub kind: String,
    /// Properties.
    pub properties: Value,
}

/// A parsed template.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CfnTemplate {
    /// Parameters by name.
    pub parameters: BTreeMap<String, ParamSpec>,
    /// Resources.
    pub resources: Vec<Resource>,
    /// Whether it has a Transform (macros need CAPABILITY_AUTO_EXPAND).
    pub has_transform: bool,
}

/// The property that names each IAM resource type (a named IAM resource
/// needs CAPABILITY_NAMED_IAM and exists once per account, not per region).
const IAM_NAME_PROPERTIES: &[(&str, &str)] = &[
    ("AWS::IAM::Role", "RoleName"),
    ("AWS::IAM::User", "UserName"),
    ("AWS::IAM::Group", "GroupName"),
    ("AWS::IAM::ManagedPolicy", "ManagedPolicyName"),
    ("AWS::IAM::InstanceProfile", "InstanceProfileName"),
];

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn number(value: Option<&Value>) -> Option<f64> {
    value.and_then(scalar).and_then(|s| s.parse().ok())
}

impl CfnTemplate {
    /// Parses a template body (YAML or JSON).
    pub fn parse(text: &str) -> Result<CfnTemplate, String> {
        let value: Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        let Value::Mapping(top) = value else {
            return Err("a template is a mapping with `Resources`".into());
        };
        let mut out = CfnTemplate {
            has_transform: top.contains_key("Transform"),
            ..CfnTemplate::default()
        };
        match top.get("Resources") {
            Some(Value::Mapping(resources)) if !resources.is_empty() => {
                for (id, body) in resources {
                    let logical_id = scalar(id).unwrap_or_default();
                    let kind = body
                        .get("Type")
                        .and_then(scalar)
                        .ok_or_else(|| format!("resource `{logical_id}` has no `Type`"))?;
                    out.resources.push(Resource {
                        logical_id,
                        kind,
                        properties: body.get("Properties").cloned().unwrap_or(Value::Null),
                    });
                }
            }
            _ => return Err("the template has no `Resources`".into()),
        }
        if let Some(params) = top.get("Parameters") {
            let Value::Mapping(params) = params else {
                return Err("`Parameters` is not a mapping".into());
            };
            for (name, spec) in params {
                let name = scalar(name).unwrap_or_default();
                let kind = spec
                    .get("Type")
                    .and_then(scalar)
                    .ok_or_else(|| format!("parameter `{name}` has no `Type`"))?;
                let allowed_values = match spec.get("AllowedValues") {
                    Some(Value::Sequence(items)) => items.iter().filter_map(scalar).collect(),
                    _ => Vec::new(),
                };
                out.parameters.insert(
                    name,
                    ParamSpec {
                        kind,
                        default: spec.get("Default").and_then(|d| match d {
                            Value::Sequence(items) => Some(
                                items.iter().filter_map(scalar).collect::<Vec<_>>().join(","),
                            ),
                            other => scalar(other),
                        }),
                        allowed_values,
                        allowed_pattern: spec.get("AllowedPattern").and_then(scalar),
                        min_length: number(spec.get("MinLength")).map(|n| n as u64),
                        max_length: number(spec.get("MaxLength")).map(|n| n as u64),
                        min_value: number(spec.get("MinValue")),
                        max_value: number(spec.get("MaxValue")),
                        no_echo: spec
                            .get("NoEcho")
                            .and_then(scalar)
                            .is_some_and(|s| s.eq_ignore_ascii_case("true")),
                        description: spec.get("Description").and_then(scalar).unwrap_or_default(),
                    },
                );
            }
        }
        Ok(out)
    }

    /// The capabilities CloudFormation will ask for, with why.
    pub fn needed_capabilities(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some((r, prop)) = self.named_iam().first() {
            out.push((
                "CAPABILITY_NAMED_IAM",
                format!("{} `{}` sets {prop}", r.kind, r.logical_id),
            ));
        } else if let Some(r) = self.resources.iter().find(|r| r.kind.starts_with("AWS::IAM::")) {
            out.push((
                "CAPABILITY_IAM",
                format!("it creates IAM resources ({} `{}`)", r.kind, r.logical_id),
            ));
        }
        if self.has_transform {
            out.push(("CAPABILITY_AUTO_EXPAND", "it has a Transform".into()));
        }
        out
    }

    /// IAM resources with an explicit name, and the naming property.
    pub fn named_iam(&self) -> Vec<(&Resource, &'static str)> {
        self.resources
            .iter()
            .filter_map(|r| {
                let (_, prop) = IAM_NAME_PROPERTIES.iter().find(|(k, _)| *k == r.kind)?;
                r.properties.get(*prop).map(|_| (r, *prop))
            })
            .collect()
    }

    /// Named IAM resources whose name does not vary by region: deploying
    /// them to two regions of one account makes the second stack fail.
    pub fn region_independent_iam_names(&self) -> Vec<String> {
        self.named_iam()
            .into_iter()
            .filter(|(r, prop)| {
                let name = r.properties.get(*prop).cloned().unwrap_or(Value::Null);
                let text = serde_yaml::to_string(&name).unwrap_or_default();
                !text.contains("AWS::Region")
            })
            .map(|(r, prop)| format!("{} `{}` ({prop})", r.kind, r.logical_id))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  AuditAccountId:
    Type: String
    AllowedPattern: "^[0-9]{12}$"
  RoleName:
    Type: String
    Default: lzctl-audit
  Regions:
    Type: CommaDelimitedList
    Default: [a, b]
  Count:
    Type: Number
    MinValue: 1
    MaxValue: 5
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Ref RoleName
      AssumeRolePolicyDocument:
        Statement:
          - Principal: { AWS: !Sub "arn:${AWS::Partition}:iam::${AuditAccountId}:root" }
  Regional:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub "forwarder-${AWS::Region}"
"#;

    #[test]
    fn reads_parameters_resources_and_short_forms() {
        let t = CfnTemplate::parse(YAML).unwrap();
        assert_eq!(t.parameters.len(), 4);
        let audit = &t.parameters["AuditAccountId"];
        assert_eq!(audit.kind, "String");
        assert_eq!(audit.allowed_pattern.as_deref(), Some("^[0-9]{12}$"));
        assert_eq!(t.parameters["Regions"].default.as_deref(), Some("a,b"));
        assert!(t.parameters["Regions"].is_list());
        assert_eq!(t.parameters["Count"].max_value, Some(5.0));
        assert_eq!(t.resources.len(), 2);
        assert_eq!(
            t.needed_capabilities()[0].0,
            "CAPABILITY_NAMED_IAM",
            "a RoleName needs CAPABILITY_NAMED_IAM"
        );
        assert_eq!(
            t.region_independent_iam_names(),
            vec!["AWS::IAM::Role `Role` (RoleName)".to_string()]
        );
    }

    #[test]
    fn json_templates_parse_and_unnamed_iam_needs_capability_iam() {
        let t = CfnTemplate::parse(
            r#"{"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {}}}}"#,
        )
        .unwrap();
        assert_eq!(t.needed_capabilities()[0].0, "CAPABILITY_IAM");
        assert!(t.region_independent_iam_names().is_empty());
    }

    #[test]
    fn rejects_what_is_not_a_template() {
        assert!(CfnTemplate::parse("[1, 2]").is_err());
        assert!(CfnTemplate::parse("Parameters: {}").is_err());
        assert!(CfnTemplate::parse("Resources: {R: {Properties: {}}}").is_err());
        assert!(CfnTemplate::parse("Resources: {R: {Type: X}}\nParameters: {P: {}}").is_err());
    }
}
