//! Find the line and column of a finding's [`Location`] in a policy's JSON text, so that a
//! finding in a policy file points at its element (`Statement[1].Action[2]` -> line 9).

use super::super::iam::Location;

/// A JSON value with the byte offset where it starts.
enum Node {
    Object(Vec<(String, usize, Node)>),
    Array(Vec<(usize, Node)>),
    Scalar,
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        self.ws();
        (self.s.get(self.i) == Some(&b)).then(|| self.i += 1)
    }

    fn string(&mut self) -> Option<String> {
        self.eat(b'"')?;
        let mut buf: Vec<u8> = Vec::new();
        loop {
            let c = *self.s.get(self.i)?;
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(buf).ok(),
                b'\\' => {
                    let e = *self.s.get(self.i)?;
                    self.i += 1;
                    match e {
                        b'n' => buf.push(b'\n'),
                        b't' => buf.push(b'\t'),
                        b'r' => buf.push(b'\r'),
                        b'b' => buf.push(8),
                        b'f' => buf.push(12),
                        b'u' => {
                            let hex = std::str::from_utf8(self.s.get(self.i..self.i + 4)?).ok()?;
                            self.i += 4;
                            let ch = char::from_u32(u32::from_str_radix(hex, 16).ok()?)
                                .unwrap_or('\u{fffd}');
                            buf.extend_from_slice(ch.to_string().as_bytes());
                        }
                        other => buf.push(other),
                    }
                }
                other => buf.push(other),
            }
        }
    }

    fn value(&mut self) -> Option<(usize, Node)> {
        self.ws();
        let start = self.i;
        match *self.s.get(self.i)? {
            b'{' => {
                self.i += 1;
                let mut members = Vec::new();
                if self.eat(b'}').is_some() {
                    return Some((start, Node::Object(members)));
                }
                loop {
                    self.ws();
                    let key_at = self.i;
                    let key = self.string()?;
                    self.eat(b':')?;
                    let (_, v) = self.value()?;
                    members.push((key, key_at, v));
                    if self.eat(b',').is_none() {
                        self.eat(b'}')?;
                        return Some((start, Node::Object(members)));
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                if self.eat(b']').is_some() {
                    return Some((start, Node::Array(items)));
                }
                loop {
                    items.push(self.value()?);
                    if self.eat(b',').is_none() {
                        self.eat(b']')?;
                        return Some((start, Node::Array(items)));
                    }
                }
            }
            b'"' => self.string().map(|_| (start, Node::Scalar)),
            _ => {
                while self.i < self.s.len()
                    && !matches!(
                        self.s[self.i],
                        b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'
                    )
                {
                    self.i += 1;
                }
                (self.i > start).then_some((start, Node::Scalar))
            }
        }
    }
}

/// Follow a dotted element path (`Condition.StringEquals.aws:ResourceTag/a.b`, `Action[2]`,
/// `Action.[1]`) from `node`; object keys may contain dots, so the longest key that fits wins.
/// Returns the offset of the deepest element reached (a key's offset for object members).
fn walk(node: &Node, at: usize, path: &str, segments: &mut Vec<String>) -> usize {
    let path = path.strip_prefix('.').unwrap_or(path);
    if path.is_empty() {
        return at;
    }
    match node {
        Node::Array(items) => {
            let Some(rest) = path.strip_prefix('[') else {
                return at;
            };
            let Some((num, rest)) = rest.split_once(']') else {
                return at;
            };
            match num.parse::<usize>().ok().and_then(|n| items.get(n)) {
                Some((off, child)) => {
                    segments.push(num.to_string());
                    walk(child, *off, rest, segments)
                }
                None => at,
            }
        }
        Node::Object(members) => {
            let best = members
                .iter()
                .filter(|(k, _, _)| {
                    path == k
                        || path
                            .strip_prefix(k.as_str())
                            .is_some_and(|r| r.starts_with('.') || r.starts_with('['))
                })
                .max_by_key(|(k, _, _)| k.len());
            match best {
                Some((k, key_at, child)) => {
                    segments.push(k.clone());
                    let rest = &path[k.len()..];
                    if rest.is_empty() {
                        *key_at
                    } else {
                        walk(child, *key_at, rest, segments)
                    }
                }
                None => at,
            }
        }
        Node::Scalar => at,
    }
}

/// 1-based (line, column in characters) of `location` in the JSON `text`: the element's key
/// or list item, or the closest enclosing element found. `None` when `text` is not JSON.
/// Locations that carry a line already (JSON syntax errors) return it.
pub fn locate(text: &str, location: &Location) -> Option<(usize, usize)> {
    if let Some(lc) = location.line_col {
        return Some(lc);
    }
    resolve(text, location).map(|(line_col, _)| line_col)
}

/// The JSON pointer (RFC 6901, e.g. `/Statement/1/Principal`) of `location` in the JSON
/// `text`: of the element, or of the closest enclosing element found (`""` is the whole
/// document). `None` when `text` is not JSON.
pub fn json_pointer(text: &str, location: &Location) -> Option<String> {
    resolve(text, location).map(|(_, segments)| {
        segments
            .iter()
            .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
            .collect()
    })
}

fn resolve(text: &str, location: &Location) -> Option<((usize, usize), Vec<String>)> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let (root_at, root) = p.value()?;
    p.ws();
    if p.i != text.len() {
        return None;
    }
    let mut path = String::new();
    if let Some(i) = location.statement {
        let is_list = matches!(&root, Node::Object(m) if m.iter().any(|(k, _, v)| k == "Statement" && matches!(v, Node::Array(_))));
        path = if is_list {
            format!("Statement[{i}]")
        } else {
            "Statement".to_string()
        };
    }
    if let Some(e) = &location.element {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(e);
    }
    let mut segments = Vec::new();
    let offset = walk(&root, root_at, &path, &mut segments);
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    Some(((line, col), segments))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "*", "Resource": "*"},
    {
      "Effect": "Deny",
      "Action": [
        "s3:GetObject",
        "s3:GetObjekt"
      ],
      "Resource": "*",
      "Condition": {
        "StringEquals": {"aws:ResourceTag/a.b": "x", "aws:ResourceTag/a": "y"}
      }
    }
  ]
}"#;

    #[test]
    fn finds_elements_list_items_and_dotted_keys() {
        let at = |l: Location| locate(TEXT, &l).unwrap();
        assert_eq!(at(Location::statement(1, "Action[1]")), (9, 9));
        assert_eq!(at(Location::statement(1, "Action.[0]")), (8, 9));
        assert_eq!(at(Location::statement(1, "Action")), (7, 7));
        assert_eq!(at(Location::statement(1, "")), (5, 5));
        assert_eq!(at(Location::statement(0, "Action")), (4, 25));
        assert_eq!(
            at(Location::statement(1, "Condition")
                .child("StringEquals")
                .child("aws:ResourceTag/a.b")),
            (13, 26)
        );
        assert_eq!(
            at(Location::statement(1, "Condition")
                .child("StringEquals")
                .child("aws:ResourceTag/a")),
            (13, 54)
        );
        assert_eq!(at(Location::top("Version")), (2, 3));
        let ptr = |l: Location| json_pointer(TEXT, &l).unwrap();
        assert_eq!(
            ptr(Location::statement(1, "Action[1]")),
            "/Statement/1/Action/1"
        );
        assert_eq!(
            ptr(Location::statement(1, "Condition")
                .child("StringEquals")
                .child("aws:ResourceTag/a.b")),
            "/Statement/1/Condition/StringEquals/aws:ResourceTag~1a.b"
        );
        assert_eq!(ptr(Location::document()), "");
        assert_eq!(ptr(Location::statement(7, "Action")), "/Statement");
        assert_eq!(at(Location::document()), (1, 1));
        // Missing parts stop at the closest element found.
        assert_eq!(at(Location::statement(1, "NotResource")), (5, 5));
        assert_eq!(at(Location::statement(7, "Action")), (3, 3));
    }

    #[test]
    fn single_statement_objects_and_non_json() {
        let text = "{\"Statement\": {\n \"Effect\": \"Deny\",\n \"Principal\": \"*\"}}";
        assert_eq!(
            locate(text, &Location::statement(0, "Principal")),
            Some((3, 2))
        );
        assert_eq!(locate("not json", &Location::statement(0, "Action")), None);
        let mut syntax = Location::document();
        syntax.line_col = Some((4, 2));
        assert_eq!(locate("{", &syntax), Some((4, 2)));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;
        use serde_json::{json, Value};

        /// Text from (1-based line, column in characters) onwards.
        fn from(text: &str, (line, col): (usize, usize)) -> String {
            let l = text.split('\n').nth(line - 1).unwrap();
            let mut rest: String = l.chars().skip(col - 1).collect();
            for more in text.split('\n').skip(line) {
                rest.push('\n');
                rest.push_str(more);
            }
            rest
        }

        proptest! {
            /// Every action of a generated policy, pretty-printed or minified, is found at
            /// the position where its JSON string starts; condition keys with dots too.
            #[test]
            fn actions_and_keys_are_found_where_they_are(
                statements in prop::collection::vec(
                    (prop::collection::vec("[a-z0-9]{1,4}:[A-Za-z.*\"é]{1,6}", 1..5), any::<bool>(),
                     "[a-z]{1,3}(\\.[a-z]{1,3}){0,2}"),
                    1..4),
                pretty in any::<bool>(),
            ) {
                let sts: Vec<Value> = statements.iter().map(|(actions, single, key)| {
                    let action = if *single { json!(actions[0]) } else { json!(actions) };
                    json!({"Effect": "Deny", "Action": action, "Resource": "*",
                           "Condition": {"StringEquals": {key.clone(): "v", format!("{key}.x"): "w"}}})
                }).collect();
                let doc = json!({"Version": "2012-10-17", "Statement": sts});
                let text = if pretty { serde_json::to_string_pretty(&doc).unwrap() } else { doc.to_string() };
                for (i, (actions, single, key)) in statements.iter().enumerate() {
                    if *single {
                        let at = locate(&text, &Location::statement(i, "Action")).unwrap();
                        prop_assert!(from(&text, at).starts_with("\"Action\""));
                    } else {
                        for (j, a) in actions.iter().enumerate() {
                            let at = locate(&text, &Location::statement(i, &format!("Action[{j}]"))).unwrap();
                            let want = serde_json::to_string(a).unwrap();
                            prop_assert!(from(&text, at).starts_with(&want), "{} at {:?}", want, at);
                        }
                    }
                    for k in [key.clone(), format!("{key}.x")] {
                        let loc = Location::statement(i, "Condition").child("StringEquals").child(&k);
                        let at = locate(&text, &loc).unwrap();
                        let want = serde_json::to_string(&k).unwrap();
                        prop_assert!(from(&text, at).starts_with(&want), "{} at {:?}", want, at);
                    }
                }
            }
        }
    }
}
