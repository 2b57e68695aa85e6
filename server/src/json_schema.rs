//! The JSON Schema check of a task's final answer, for tasks started with an output
//! schema (`agentls exec --output-schema FILE`, `agent/startTask {outputSchema}`).
//!
//! The schema is also sent to the provider as structured output, which makes a model
//! that supports it answer in shape; this check is what makes the guarantee hold with
//! providers that ignore it (most local servers), and what names the mismatch when it
//! does not hold. It is our own rather than a validator crate because a final-answer
//! schema uses a small, stable set of keywords, and the full validators bring their own
//! regex engines, URI and date libraries and remote-reference loading (the `jsonschema`
//! crate pulls in about 60 crates) for keywords such a schema never has.
//!
//! Checked (JSON Schema 2020-12 meaning, with draft-7's array `items` too): `type`,
//! `enum`, `const`; `properties`, `required`, `additionalProperties`,
//! `patternProperties`, `propertyNames`, `minProperties`, `maxProperties`; `items`,
//! `prefixItems`, `additionalItems`, `minItems`, `maxItems`, `uniqueItems`, `contains`;
//! `minLength`, `maxLength` (in characters), `pattern` (Rust `regex` syntax: ECMA-262's
//! common subset, without look-around or backreferences); `minimum`, `maximum`,
//! `exclusiveMinimum`, `exclusiveMaximum`, `multipleOf`; `allOf`, `anyOf`, `oneOf`, `not`,
//! `if`/`then`/`else`; `$ref` to a JSON pointer inside the schema (`#`, `#/$defs/…`,
//! `#/definitions/…`); `true` and `false` schemas. `format` is an annotation, as in
//! 2020-12. Other asserting keywords are not checked: [`Schema::unchecked`] lists the
//! ones a schema uses, so the caller can say so.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use regex_automata::meta::Regex;
use serde_json::{Map, Value};

/// A schema ready to check answers against: its `$ref`s resolve and its patterns compile.
#[derive(Debug, Clone)]
pub struct Schema {
    root: Value,
    patterns: HashMap<String, Regex>,
}

/// One way an answer does not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer to the offending value (`""`: the answer itself).
    pub at: String,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at.is_empty() {
            write!(f, "the answer: {}", self.message)
        } else {
            write!(f, "{}: {}", self.at, self.message)
        }
    }
}

/// Asserting keywords this module does not check.
const UNCHECKED: &[&str] = &[
    "dependentRequired",
    "dependentSchemas",
    "dependencies",
    "unevaluatedProperties",
    "unevaluatedItems",
    "minContains",
    "maxContains",
    "$dynamicRef",
    "$recursiveRef",
];

/// Violations named in a failure message; the rest are counted.
const MAX_REPORTED: usize = 10;

/// Nesting beyond which a check gives up (a `$ref` that loops without descending).
const MAX_DEPTH: usize = 256;

impl Schema {
    /// Checks that `root` is a schema this module can use: an object or a boolean, every
    /// `$ref` pointing inside it, every `pattern` compiling.
    pub fn new(root: Value) -> Result<Schema, String> {
        if !root.is_object() && !root.is_boolean() {
            return Err(format!(
                "a JSON Schema is an object (or true/false), not {}",
                describe(&root)
            ));
        }
        let mut patterns = HashMap::new();
        let mut problems = Vec::new();
        walk(&root, &mut |schema| {
            let Some(object) = schema.as_object() else {
                return;
            };
            if let Some(reference) = object.get("$ref") {
                match reference.as_str().map(|r| resolve(&root, r)) {
                    Some(Ok(_)) => {}
                    Some(Err(message)) => problems.push(message),
                    None => problems.push(format!("`$ref` must be a string, not {reference}")),
                }
            }
            let named = object.get("patternProperties").and_then(Value::as_object);
            let sources = object
                .get("pattern")
                .and_then(Value::as_str)
                .into_iter()
                .chain(named.into_iter().flat_map(|m| m.keys().map(String::as_str)));
            for source in sources {
                if patterns.contains_key(source) {
                    continue;
                }
                match Regex::new(source) {
                    Ok(regex) => {
                        patterns.insert(source.to_string(), regex);
                    }
                    Err(error) => {
                        problems.push(format!("the pattern `{source}` does not compile: {error}"))
                    }
                }
            }
        });
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        Ok(Schema { root, patterns })
    }

    pub fn value(&self) -> &Value {
        &self.root
    }

    /// The asserting keywords the schema uses that [`Schema::validate`] does not check.
    pub fn unchecked(&self) -> Vec<String> {
        let mut found = BTreeSet::new();
        walk(&self.root, &mut |schema| {
            if let Some(object) = schema.as_object() {
                found.extend(
                    UNCHECKED
                        .iter()
                        .filter(|k| object.contains_key(**k))
                        .map(|k| k.to_string()),
                );
            }
        });
        found.into_iter().collect()
    }

    /// The answer as JSON if it is JSON and matches; otherwise what is wrong, in words
    /// for the task's failure message.
    pub fn check(&self, answer: &str) -> Result<Value, String> {
        let value: Value = serde_json::from_str(answer.trim()).map_err(|error| {
            format!(
                "the final answer is not JSON ({error}), but the task has an output schema: \
                 {}",
                short_str(answer)
            )
        })?;
        let violations = self.validate(&value);
        if violations.is_empty() {
            return Ok(value);
        }
        let shown: Vec<String> = violations
            .iter()
            .take(MAX_REPORTED)
            .map(Violation::to_string)
            .collect();
        let more = match violations.len().saturating_sub(MAX_REPORTED) {
            0 => String::new(),
            n => format!(" (and {n} more)"),
        };
        Err(format!(
            "the final answer does not match the output schema: {}{more}",
            shown.join("; ")
        ))
    }

    /// Every way `instance` does not match; empty when it does.
    pub fn validate(&self, instance: &Value) -> Vec<Violation> {
        let mut check = Check {
            schema: self,
            violations: Vec::new(),
        };
        check.value(&self.root, instance, &mut String::new(), 0);
        check.violations
    }
}

struct Check<'a> {
    schema: &'a Schema,
    violations: Vec<Violation>,
}

impl Check<'_> {
    fn fail(&mut self, at: &str, message: String) {
        self.violations.push(Violation {
            at: at.to_string(),
            message,
        });
    }

    /// Whether `instance` matches `schema`, without reporting why not.
    fn matches(&self, schema: &Value, instance: &Value, at: &str, depth: usize) -> bool {
        self.violations_of(schema, instance, at, depth).is_empty()
    }

    fn violations_of(
        &self,
        schema: &Value,
        instance: &Value,
        at: &str,
        depth: usize,
    ) -> Vec<Violation> {
        let mut inner = Check {
            schema: self.schema,
            violations: Vec::new(),
        };
        inner.value(schema, instance, &mut at.to_string(), depth + 1);
        inner.violations
    }

    fn value(&mut self, schema: &Value, instance: &Value, at: &mut String, depth: usize) {
        if depth > MAX_DEPTH {
            self.fail(
                at,
                "the schema nests too deep here (a `$ref` that refers to itself?)".into(),
            );
            return;
        }
        let object = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => return self.fail(at, "no value is allowed here".into()),
            Value::Object(object) => object,
            _ => return,
        };
        if let Some(Ok(target)) = object
            .get("$ref")
            .and_then(Value::as_str)
            .map(|r| resolve(&self.schema.root, r))
        {
            self.value(target, instance, at, depth + 1);
        }
        if let Some(expected) = object.get("type")
            && !type_matches(expected, instance)
        {
            let names: Vec<&str> = match expected {
                Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
                other => other.as_str().into_iter().collect(),
            };
            let message = format!(
                "expected {}, got {}",
                names.join(" or "),
                describe(instance)
            );
            return self.fail(at, message);
        }
        if let Some(options) = object.get("enum").and_then(Value::as_array)
            && !options.iter().any(|option| equal(option, instance))
        {
            let list: Vec<String> = options.iter().map(short).collect();
            self.fail(
                at,
                format!("{} is not one of {}", short(instance), list.join(", ")),
            );
        }
        if let Some(expected) = object.get("const")
            && !equal(expected, instance)
        {
            self.fail(
                at,
                format!("expected {}, got {}", short(expected), short(instance)),
            );
        }
        match instance {
            Value::String(text) => self.string(object, text, at),
            Value::Number(_) => self.number(object, instance, at),
            Value::Object(members) => self.object(object, members, at, depth),
            Value::Array(elements) => self.array(object, elements, at, depth),
            _ => {}
        }
        self.combinators(object, instance, at, depth);
    }

    fn string(&mut self, schema: &Map<String, Value>, text: &str, at: &str) {
        let length = text.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && length < min
        {
            self.fail(
                at,
                format!("{length} characters, fewer than minLength {min}"),
            );
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && length > max
        {
            self.fail(
                at,
                format!("{length} characters, more than maxLength {max}"),
            );
        }
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
            && let Some(regex) = self.schema.patterns.get(pattern)
            && !regex.is_match(text)
        {
            self.fail(
                at,
                format!("{} does not match the pattern `{pattern}`", short_str(text)),
            );
        }
    }

    fn number(&mut self, schema: &Map<String, Value>, instance: &Value, at: &str) {
        let Some(n) = instance.as_f64() else {
            return;
        };
        let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
        // Draft 4 wrote exclusive bounds as booleans next to minimum/maximum.
        let flag = |key: &str| schema.get(key).and_then(Value::as_bool).unwrap_or(false);
        if let Some(min) = bound("minimum") {
            if flag("exclusiveMinimum") && n <= min {
                self.fail(at, format!("{n} is not greater than {min}"));
            } else if n < min {
                self.fail(at, format!("{n} is less than the minimum {min}"));
            }
        }
        if let Some(max) = bound("maximum") {
            if flag("exclusiveMaximum") && n >= max {
                self.fail(at, format!("{n} is not less than {max}"));
            } else if n > max {
                self.fail(at, format!("{n} is more than the maximum {max}"));
            }
        }
        if let Some(min) = bound("exclusiveMinimum")
            && n <= min
        {
            self.fail(at, format!("{n} is not greater than {min}"));
        }
        if let Some(max) = bound("exclusiveMaximum")
            && n >= max
        {
            self.fail(at, format!("{n} is not less than {max}"));
        }
        if let Some(step) = bound("multipleOf").filter(|step| *step > 0.0) {
            let ratio = n / step;
            if (ratio - ratio.round()).abs() > 1e-9 * ratio.abs().max(1.0) {
                self.fail(at, format!("{n} is not a multiple of {step}"));
            }
        }
    }

    fn object(
        &mut self,
        schema: &Map<String, Value>,
        members: &Map<String, Value>,
        at: &str,
        depth: usize,
    ) {
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !members.contains_key(name) {
                self.fail(at, format!("the required property `{name}` is missing"));
            }
        }
        let count = members.len() as u64;
        if let Some(min) = schema.get("minProperties").and_then(Value::as_u64)
            && count < min
        {
            self.fail(
                at,
                format!("{count} properties, fewer than minProperties {min}"),
            );
        }
        if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64)
            && count > max
        {
            self.fail(
                at,
                format!("{count} properties, more than maxProperties {max}"),
            );
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        let patterned = schema.get("patternProperties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        for (name, member) in members {
            let mut path = child(at, name);
            if let Some(names) = schema.get("propertyNames") {
                let key = Value::String(name.clone());
                if !self.matches(names, &key, &path, depth) {
                    self.fail(
                        at,
                        format!("the property name `{name}` does not match `propertyNames`"),
                    );
                }
            }
            let mut described = false;
            if let Some(property) = properties.and_then(|p| p.get(name)) {
                described = true;
                self.value(property, member, &mut path, depth + 1);
            }
            for (pattern, property) in patterned.into_iter().flatten() {
                if self
                    .schema
                    .patterns
                    .get(pattern)
                    .is_some_and(|regex| regex.is_match(name))
                {
                    described = true;
                    self.value(property, member, &mut path, depth + 1);
                }
            }
            match additional {
                Some(Value::Bool(false)) if !described => self.fail(
                    at,
                    format!("the property `{name}` is not allowed (additionalProperties is false)"),
                ),
                Some(extra) if !described => self.value(extra, member, &mut path, depth + 1),
                _ => {}
            }
        }
    }

    fn array(&mut self, schema: &Map<String, Value>, elements: &[Value], at: &str, depth: usize) {
        let count = elements.len() as u64;
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
            && count < min
        {
            self.fail(at, format!("{count} items, fewer than minItems {min}"));
        }
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
            && count > max
        {
            self.fail(at, format!("{count} items, more than maxItems {max}"));
        }
        // Positional schemas: 2020-12's prefixItems, or draft 7's array-valued items
        // (then additionalItems covers the rest).
        let (positional, rest) = match (schema.get("prefixItems"), schema.get("items")) {
            (Some(Value::Array(prefix)), items) => (prefix.as_slice(), items),
            (_, Some(Value::Array(tuple))) => (tuple.as_slice(), schema.get("additionalItems")),
            (_, items) => (&[][..], items),
        };
        for (index, element) in elements.iter().enumerate() {
            let mut path = child(at, &index.to_string());
            if let Some(item) = positional.get(index).or(rest) {
                self.value(item, element, &mut path, depth + 1);
            }
        }
        if schema.get("uniqueItems").and_then(Value::as_bool) == Some(true) {
            for (i, a) in elements.iter().enumerate() {
                if let Some(j) = elements[i + 1..].iter().position(|b| equal(a, b)) {
                    self.fail(
                        at,
                        format!("items {i} and {} are equal (uniqueItems)", i + 1 + j),
                    );
                    break;
                }
            }
        }
        if let Some(contains) = schema.get("contains")
            && !elements
                .iter()
                .enumerate()
                .any(|(i, e)| self.matches(contains, e, &child(at, &i.to_string()), depth))
        {
            self.fail(at, "no item matches `contains`".into());
        }
    }

    fn combinators(
        &mut self,
        schema: &Map<String, Value>,
        instance: &Value,
        at: &mut String,
        depth: usize,
    ) {
        let list = |key: &str| schema.get(key).and_then(Value::as_array).map(Vec::as_slice);
        for part in list("allOf").into_iter().flatten() {
            self.value(part, instance, at, depth + 1);
        }
        if let Some(options) = list("anyOf") {
            let outcomes: Vec<Vec<Violation>> = options
                .iter()
                .map(|option| self.violations_of(option, instance, at, depth))
                .collect();
            if outcomes.iter().all(|v| !v.is_empty()) {
                self.fail(at, none_matched("anyOf", &outcomes));
            }
        }
        if let Some(options) = list("oneOf") {
            let outcomes: Vec<Vec<Violation>> = options
                .iter()
                .map(|option| self.violations_of(option, instance, at, depth))
                .collect();
            match outcomes.iter().filter(|v| v.is_empty()).count() {
                1 => {}
                0 => self.fail(at, none_matched("oneOf", &outcomes)),
                n => self.fail(
                    at,
                    format!("matches {n} of the `oneOf` alternatives; exactly one must match"),
                ),
            }
        }
        if let Some(not) = schema.get("not")
            && self.matches(not, instance, at, depth)
        {
            self.fail(at, "matches the `not` schema, which it must not".into());
        }
        if let Some(condition) = schema.get("if") {
            let branch = if self.matches(condition, instance, at, depth) {
                schema.get("then")
            } else {
                schema.get("else")
            };
            if let Some(branch) = branch {
                self.value(branch, instance, at, depth + 1);
            }
        }
    }
}

/// "matches none of the `anyOf` alternatives", with why the closest one failed.
fn none_matched(keyword: &str, outcomes: &[Vec<Violation>]) -> String {
    let closest = outcomes.iter().min_by_key(|v| v.len());
    match closest.and_then(|v| v.first()) {
        Some(first) => format!(
            "matches none of the `{keyword}` alternatives (the closest fails with: {first})"
        ),
        None => format!("`{keyword}` has no alternatives"),
    }
}

/// Calls `visit` on `schema` and every schema inside it.
fn walk(schema: &Value, visit: &mut dyn FnMut(&Value)) {
    visit(schema);
    let Some(object) = schema.as_object() else {
        return;
    };
    for key in [
        "additionalProperties",
        "propertyNames",
        "items",
        "additionalItems",
        "contains",
        "not",
        "if",
        "then",
        "else",
    ] {
        match object.get(key) {
            Some(Value::Array(schemas)) => schemas.iter().for_each(|s| walk(s, visit)),
            Some(schema) => walk(schema, visit),
            None => {}
        }
    }
    for key in ["prefixItems", "allOf", "anyOf", "oneOf"] {
        for schema in object
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            walk(schema, visit);
        }
    }
    for key in ["properties", "patternProperties", "$defs", "definitions"] {
        for schema in object
            .get(key)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            walk(schema.1, visit);
        }
    }
}

/// The schema a `$ref` names: a JSON pointer fragment into the same document.
fn resolve<'a>(root: &'a Value, reference: &str) -> Result<&'a Value, String> {
    let Some(pointer) = reference.strip_prefix('#') else {
        return Err(format!(
            "`$ref: {reference}` points outside the schema; only references inside it \
             (`#/$defs/…`) are supported"
        ));
    };
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Err(format!(
            "`$ref: {reference}` names an anchor; use a JSON pointer (`#/$defs/…`) instead"
        ));
    }
    root.pointer(&percent_decode(pointer))
        .ok_or_else(|| format!("`$ref: {reference}` points at nothing in the schema"))
}

/// URI fragments may percent-encode characters of a pointer (`%25` for `%`, …).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn type_matches(expected: &Value, instance: &Value) -> bool {
    let one = |name: &str| match name {
        "null" => instance.is_null(),
        "boolean" => instance.is_boolean(),
        "object" => instance.is_object(),
        "array" => instance.is_array(),
        "string" => instance.is_string(),
        "number" => instance.is_number(),
        "integer" => {
            instance.is_i64()
                || instance.is_u64()
                || instance.as_f64().is_some_and(|n| n.fract() == 0.0)
        }
        // An unknown type name constrains nothing we can check.
        _ => true,
    };
    match expected {
        Value::String(name) => one(name),
        Value::Array(names) => names.iter().filter_map(Value::as_str).any(one),
        _ => true,
    }
}

/// JSON equality, with numbers compared by value (`1` equals `1.0`).
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

fn child(at: &str, key: &str) -> String {
    format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"))
}

/// "a string", "an object", … with the value when it is short.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(_) | Value::Number(_) => value.to_string(),
        Value::String(text) => format!("the string {}", short_str(text)),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 40 {
        return text;
    }
    let cut: String = text.chars().take(37).collect();
    format!("{cut}…")
}

fn short_str(text: &str) -> String {
    short(&Value::String(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(schema: Value, instance: Value) -> Vec<String> {
        Schema::new(schema)
            .unwrap()
            .validate(&instance)
            .iter()
            .map(Violation::to_string)
            .collect()
    }

    #[test]
    fn a_typical_answer_schema_accepts_a_good_answer_and_names_what_a_bad_one_lacks() {
        let schema = json!({
            "type": "object",
            "properties": {
                "summary": {"type": "string", "minLength": 1},
                "files": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
                "risk": {"enum": ["low", "high"]}
            },
            "required": ["summary", "files", "risk"],
            "additionalProperties": false
        });
        let good = json!({"summary": "ok", "files": ["a.rs"], "risk": "low"});
        assert_eq!(check(schema.clone(), good), Vec::<String>::new());
        let bad = json!({"summary": "", "files": ["a", 2, "c"], "extra": true});
        assert_eq!(
            check(schema, bad),
            vec![
                "the answer: the required property `risk` is missing",
                "the answer: the property `extra` is not allowed (additionalProperties is false)",
                "/files: 3 items, more than maxItems 2",
                "/files/1: expected string, got 2",
                "/summary: 0 characters, fewer than minLength 1",
            ]
        );
    }

    #[test]
    fn types_numbers_and_constants() {
        assert!(check(json!({"type": "integer"}), json!(3.0)).is_empty());
        assert_eq!(
            check(json!({"type": "integer"}), json!(3.5)),
            ["the answer: expected integer, got 3.5"]
        );
        assert!(check(json!({"type": ["string", "null"]}), json!(null)).is_empty());
        assert_eq!(
            check(json!({"minimum": 1, "exclusiveMaximum": 10}), json!(10)),
            ["the answer: 10 is not less than 10"]
        );
        assert_eq!(
            check(json!({"multipleOf": 0.5}), json!(1.25)),
            ["the answer: 1.25 is not a multiple of 0.5"]
        );
        assert!(check(json!({"multipleOf": 0.1}), json!(0.3)).is_empty());
        assert!(check(json!({"const": 1}), json!(1.0)).is_empty());
        assert_eq!(
            check(json!({"enum": ["a", "b"]}), json!("c")),
            ["the answer: \"c\" is not one of \"a\", \"b\""]
        );
        assert_eq!(
            check(json!(false), json!(1)),
            ["the answer: no value is allowed here"]
        );
    }

    #[test]
    fn combinators_refs_and_patterns() {
        let schema = json!({
            "$defs": {"id": {"type": "string", "pattern": "^[a-z]+-[0-9]+$"}},
            "type": "object",
            "properties": {
                "id": {"$ref": "#/$defs/id"},
                "value": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                "either": {"anyOf": [{"type": "boolean"}, {"type": "string", "maxLength": 1}]}
            }
        });
        assert!(check(schema.clone(), json!({"id": "abc-12", "value": 3})).is_empty());
        assert_eq!(
            check(schema.clone(), json!({"id": "ABC", "either": "xy"})),
            [
                "/either: matches none of the `anyOf` alternatives (the closest fails with: \
                 /either: expected boolean, got the string \"xy\")",
                "/id: \"ABC\" does not match the pattern `^[a-z]+-[0-9]+$`",
            ]
        );
        assert_eq!(
            check(
                json!({"oneOf": [{"type": "number"}, {"type": "integer"}]}),
                json!(2)
            ),
            ["the answer: matches 2 of the `oneOf` alternatives; exactly one must match"]
        );
        assert_eq!(
            check(
                json!({"if": {"properties": {"kind": {"const": "file"}}}, "then": {"required": ["path"]}}),
                json!({"kind": "file"})
            ),
            ["the answer: the required property `path` is missing"]
        );
        assert_eq!(
            check(json!({"not": {"type": "null"}}), json!(null)),
            ["the answer: matches the `not` schema, which it must not"]
        );
    }

    #[test]
    fn arrays_tuples_and_uniqueness() {
        let tuple = json!({"prefixItems": [{"type": "string"}], "items": {"type": "number"}});
        assert!(check(tuple.clone(), json!(["a", 1, 2])).is_empty());
        assert_eq!(
            check(tuple, json!([1, "b"])),
            [
                "/0: expected string, got 1",
                "/1: expected number, got the string \"b\""
            ]
        );
        let draft7 = json!({"items": [{"type": "string"}], "additionalItems": false});
        assert_eq!(
            check(draft7, json!(["a", "b"])),
            ["/1: no value is allowed here"]
        );
        assert_eq!(
            check(json!({"uniqueItems": true}), json!([1, 2, 1.0])),
            ["the answer: items 0 and 2 are equal (uniqueItems)"]
        );
        assert_eq!(
            check(json!({"contains": {"const": 3}}), json!([1, 2])),
            ["the answer: no item matches `contains`"]
        );
    }

    #[test]
    fn unusable_schemas_are_refused_and_unchecked_keywords_are_named() {
        let refused = |schema: Value| Schema::new(schema).unwrap_err();
        assert!(refused(json!("object")).contains("not the string"));
        assert!(refused(json!({"$ref": "other.json#/a"})).contains("outside the schema"));
        assert!(refused(json!({"$ref": "#/$defs/missing"})).contains("points at nothing"));
        assert!(refused(json!({"pattern": "(unclosed"})).contains("does not compile"));
        let schema = Schema::new(json!({
            "properties": {"a": {"dependentRequired": {"b": ["c"]}}},
            "unevaluatedProperties": false
        }))
        .unwrap();
        assert_eq!(
            schema.unchecked(),
            ["dependentRequired", "unevaluatedProperties"]
        );
    }

    #[test]
    fn an_answer_is_parsed_then_checked() {
        let schema = Schema::new(json!({"type": "object", "required": ["ok"]})).unwrap();
        assert_eq!(
            schema.check(" {\"ok\": true}\n").unwrap(),
            json!({"ok": true})
        );
        let not_json = schema
            .check("Sure! Here it is: {\"ok\": true}")
            .unwrap_err();
        assert!(
            not_json.starts_with("the final answer is not JSON"),
            "{not_json}"
        );
        assert_eq!(
            schema.check("{}").unwrap_err(),
            "the final answer does not match the output schema: the answer: the required \
             property `ok` is missing"
        );
        let many = Schema::new(json!({"items": {"type": "string"}})).unwrap();
        let error = many
            .check(&json!((0..12).collect::<Vec<_>>()).to_string())
            .unwrap_err();
        assert!(
            error.ends_with("/9: expected string, got 9 (and 2 more)"),
            "{error}"
        );
    }

    #[test]
    fn a_self_referring_schema_stops_instead_of_overflowing() {
        let violations = check(json!({"$ref": "#"}), json!(1));
        assert_eq!(violations.len(), 1);
        assert!(violations[0].contains("nests too deep"), "{violations:?}");
        // Recursion that follows the value down is fine.
        let tree = json!({"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#"}}}});
        assert!(check(tree, json!({"children": [{"children": []}]})).is_empty());
    }
}
