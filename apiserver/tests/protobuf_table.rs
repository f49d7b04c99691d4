//! Generates `apiserver/src/protobuf/table.rs`, the protobuf field table of the built-in kinds,
//! and checks that the committed table is up to date.
//!
//! Sources, all maintained upstream rather than typed by hand:
//! - the crate `k8s-pb` (prost-generated types of Kubernetes' `.proto` files): every message's
//!   fields, their tags and wire types, read from its source in the cargo registry;
//! - rkube-api's OpenAPI schemas ([`Schemas::builtin`]): the JSON name of each field (prost's
//!   `pod_ip` is matched to the property `podIP` ignoring case and `_`/`-`/`$`), whether it is
//!   required, and which nested messages are Go embedded structs (`json:",inline"`);
//! - Kubernetes' Go struct tags: which fields are pointers or `omitempty` values, through the
//!   committed `protobuf_table/k8s_go_fields.txt` (see `protobuf_table/go_fields.rs`).
//!
//! The table holds the messages reachable from every kind the schemas know, the
//! `runtime.Unknown` envelope and the messages with a JSON form of their own. Regenerate after
//! bumping k8s-pb or changing the schemas with
//! `RKUBE_REGENERATE=1 cargo test -p rkube-apiserver --test protobuf_table`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use rkube_api::schema::Schemas;
use serde_json::Value;

#[path = "protobuf_table/go_fields.rs"]
mod go_fields;

use go_fields::{GoFields, Presence};

/// Where the generated table lives, relative to the apiserver crate.
const TABLE: &str = "src/protobuf/table.rs";
/// The envelope message, decoded before the kind is known.
const UNKNOWN: &str = "io.k8s.apimachinery.pkg.runtime.Unknown";

/// Messages with a JSON form of their own (see `Shape` in `src/protobuf/types.rs`).
const SHAPES: &[(&str, &str)] = &[
    (
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
        "IntOrString",
    ),
    ("io.k8s.apimachinery.pkg.api.resource.Quantity", "Quantity"),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.Time", "Time"),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
        "MicroTime",
    ),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.Duration", "Duration"),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1", "RawJson"),
    ("io.k8s.apimachinery.pkg.runtime.RawExtension", "RawJson"),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
        "RawJson",
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray",
        "Union",
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool",
        "Union",
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray",
        "Union",
    ),
];

/// A field's protobuf type as prost declares it.
#[derive(Debug, Clone)]
enum FieldType {
    Scalar(&'static str),
    Message(String),
    Map(Box<FieldType>),
}

#[derive(Debug, Clone)]
struct PbField {
    tag: u32,
    rust_name: String,
    repeated: bool,
    ty: FieldType,
}

#[derive(Debug, Clone)]
struct PbMessage {
    /// `api::core::v1::Pod` as segments.
    path: Vec<String>,
    fields: Vec<PbField>,
}

/// The OpenAPI-style definition name of a k8s-pb path: `io.k8s.api.core.v1.Pod`.
fn definition_name(path: &[String]) -> String {
    let mut parts = vec!["io".to_owned(), "k8s".to_owned()];
    for (i, p) in path.iter().enumerate() {
        parts.push(if i == 0 {
            p.replace('_', "-")
        } else {
            p.clone()
        });
    }
    parts.join(".")
}

/// The Rust static holding a message: `API_CORE_V1_POD_SPEC`.
fn static_name(path: &[String]) -> String {
    let (last, modules) = path.split_last().expect("a message path is never empty");
    let mut out: Vec<String> = modules.iter().map(|m| m.to_ascii_uppercase()).collect();
    let chars: Vec<char> = last.chars().collect();
    let mut word = String::new();
    for (i, c) in chars.iter().enumerate() {
        let prev_lower =
            i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
        let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
        let prev_upper = i > 0 && chars[i - 1].is_ascii_uppercase();
        if c.is_ascii_uppercase() && !word.is_empty() && (prev_lower || (prev_upper && next_lower))
        {
            word.push('_');
        }
        word.push(c.to_ascii_uppercase());
    }
    out.push(word);
    out.join("_")
}

fn lower_camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The key JSON and prost names are matched on.
fn normalized(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '_' | '-' | '$'))
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The source directory of the k8s-pb crate the workspace's lock file pins, as cargo unpacked
/// it into its registry (the crate is a dev-dependency, so it is there after any test build),
/// and its version.
fn k8s_pb_source() -> (PathBuf, String) {
    let lock_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    let lock = std::fs::read_to_string(&lock_path).expect("the workspace has a Cargo.lock");
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("\nname = \"k8s-pb\"\n"))
        .and_then(|p| p.split("\nversion = \"").nth(1))
        .and_then(|v| v.split('"').next())
        .expect("Cargo.lock pins k8s-pb")
        .to_owned();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("CARGO_HOME or HOME is set");
    let registry = cargo_home.join("registry/src");
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(&registry)
        .expect("the cargo registry is readable")
        .filter_map(|e| e.ok())
        .map(|e| e.path().join(format!("k8s-pb-{version}/src")))
        .filter(|p| p.is_dir())
        .collect();
    candidates.sort();
    let dir = candidates.pop().unwrap_or_else(|| {
        panic!(
            "k8s-pb {version} is not unpacked under {}",
            registry.display()
        )
    });
    (dir, version)
}

/// Every `.rs` file under `dir`, with the module path its location implies.
fn source_files(root: &Path, dir: &Path, out: &mut Vec<(Vec<String>, PathBuf)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("k8s-pb source is readable")
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            source_files(root, &path, out);
        } else if path.file_name().is_some_and(|n| n == "mod.rs") {
            let rel = path
                .parent()
                .expect("parent")
                .strip_prefix(root)
                .expect("under root");
            let module = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push((module, path));
        }
    }
}

/// Reads the prost structs of one generated module.
fn parse_module(module: &[String], text: &str, out: &mut BTreeMap<String, PbMessage>) {
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix("pub struct ") else {
            continue;
        };
        let (name, empty) = match (rest.strip_suffix(" {"), rest.strip_suffix(" {}")) {
            (Some(name), _) => (name, false),
            (None, Some(name)) => (name, true),
            (None, None) => continue,
        };
        let mut body = String::new();
        for line in lines.by_ref().take_while(|_| !empty) {
            if line == "}" {
                break;
            }
            let trimmed = line.trim();
            if !trimmed.starts_with("//") {
                body.push_str(trimmed);
                body.push(' ');
            }
        }
        let mut path = module.to_vec();
        path.push(name.to_owned());
        let fields = parse_fields(module, &body);
        out.insert(definition_name(&path), PbMessage { path, fields });
    }
}

fn parse_fields(module: &[String], body: &str) -> Vec<PbField> {
    let mut fields = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find("#[prost(") {
        let after = &rest[start + "#[prost(".len()..];
        let end = after.find(")]").expect("prost attribute closes");
        let attr = &after[..end];
        let decl = after[end + 2..].trim_start();
        let decl = decl.strip_prefix("pub ").expect("prost fields are public");
        let colon = decl.find(':').expect("field has a type");
        let rust_name = decl[..colon].trim().trim_start_matches("r#").to_owned();
        let mut depth = 0i32;
        let mut ty_end = decl.len();
        for (i, c) in decl[colon + 1..].char_indices() {
            match c {
                '<' => depth += 1,
                '>' => depth -= 1,
                ',' if depth == 0 => {
                    ty_end = colon + 1 + i;
                    break;
                }
                _ => {}
            }
        }
        let rust_ty: String = decl[colon + 1..ty_end].split_whitespace().collect();
        fields.push(parse_field(module, attr, rust_name, &rust_ty));
        rest = &decl[ty_end..];
    }
    fields.sort_by_key(|f| f.tag);
    fields
}

fn parse_field(module: &[String], attr: &str, rust_name: String, rust_ty: &str) -> PbField {
    let tag = attr
        .split("tag = \"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no tag in #[prost({attr})]"));
    let repeated = attr.contains(", repeated,");
    let scalar = |word: &str| -> Option<FieldType> {
        Some(FieldType::Scalar(match word {
            "string" => "String",
            "bool" => "Bool",
            "int32" => "Int32",
            "int64" => "Int64",
            "double" => "Double",
            "bytes" => "Bytes",
            _ => return None,
        }))
    };
    let kind = attr.split([',', ' ']).next().unwrap_or_default();
    let ty = if kind == "message" {
        FieldType::Message(resolve(module, rust_ty))
    } else if kind == "btree_map" {
        let spec = attr.split('"').nth(1).expect("map types");
        let (key, value) = spec.split_once(", ").expect("map key and value");
        assert_eq!(key, "string", "only string-keyed maps are expected");
        let value = if value == "message" {
            FieldType::Message(resolve(module, rust_ty))
        } else {
            scalar(value).unwrap_or_else(|| panic!("unexpected map value {value}"))
        };
        FieldType::Map(Box::new(value))
    } else {
        scalar(kind).unwrap_or_else(|| panic!("unexpected prost type in #[prost({attr})]"))
    };
    PbField {
        tag,
        rust_name,
        repeated,
        ty,
    }
}

/// The definition name of the message a Rust type (possibly wrapped, possibly `super::`
/// relative) names.
fn resolve(module: &[String], rust_ty: &str) -> String {
    let mut ty = rust_ty;
    for wrapper in [
        "::core::option::Option<",
        "::prost::alloc::vec::Vec<",
        "::prost::alloc::boxed::Box<",
        "::prost::alloc::collections::BTreeMap<::prost::alloc::string::String,",
    ] {
        if let Some(inner) = ty.strip_prefix(wrapper) {
            // rustfmt leaves a trailing comma in wrapped generic arguments.
            ty = inner
                .strip_suffix('>')
                .expect("balanced wrapper")
                .trim_end_matches(',');
        }
    }
    if let Some(inner) = ty.strip_prefix("::prost::alloc::boxed::Box<") {
        ty = inner.strip_suffix('>').expect("balanced wrapper");
    }
    let mut path = module.to_vec();
    let mut segments: Vec<&str> = ty.split("::").collect();
    while segments.first() == Some(&"super") {
        segments.remove(0);
        path.pop();
    }
    path.extend(segments.iter().map(|s| s.to_string()));
    definition_name(&path)
}

/// Renames messages to their OpenAPI definition names where only the case differs: prost
/// camel-cases Go's acronyms (`JsonSchemaProps`, `HttpGetAction` for `JSONSchemaProps`,
/// `HTTPGetAction`).
fn canonical_names(
    messages: BTreeMap<String, PbMessage>,
    schemas: &Schemas,
) -> BTreeMap<String, PbMessage> {
    let by_lower: BTreeMap<String, &String> = schemas
        .definitions()
        .keys()
        .map(|k| (k.to_ascii_lowercase(), k))
        .collect();
    let canonical = |name: &str| -> String {
        by_lower
            .get(&name.to_ascii_lowercase())
            .map_or_else(|| name.to_owned(), |k| (*k).clone())
    };
    let rename = |ty: &mut FieldType| {
        let ty = match ty {
            FieldType::Map(value) => value.as_mut(),
            other => other,
        };
        if let FieldType::Message(target) = ty {
            *target = canonical(target);
        }
    };
    messages
        .into_iter()
        .map(|(name, mut message)| {
            for field in &mut message.fields {
                rename(&mut field.ty);
            }
            (canonical(&name), message)
        })
        .collect()
}

/// The generated table's text, and the definitions it holds.
fn generate(go: &GoFields) -> (String, BTreeSet<String>) {
    let (dir, version) = k8s_pb_source();
    let mut files = Vec::new();
    source_files(&dir, &dir, &mut files);
    let mut messages = BTreeMap::new();
    for (module, path) in &files {
        let text = std::fs::read_to_string(path).expect("readable source");
        parse_module(module, &text, &mut messages);
    }
    let schemas = Schemas::builtin();
    let messages = canonical_names(messages, schemas);
    let mut queue: VecDeque<String> = schemas.kinds().map(|(_, d)| d.to_owned()).collect();
    queue.push_back(UNKNOWN.to_owned());
    // Every special form, so that kinds added later find them decoded already.
    queue.extend(SHAPES.iter().map(|(name, _)| (*name).to_owned()));
    let mut reachable = BTreeSet::new();
    let mut missing = BTreeSet::new();
    while let Some(name) = queue.pop_front() {
        if reachable.contains(&name) || missing.contains(&name) {
            continue;
        }
        let Some(message) = messages.get(&name) else {
            missing.insert(name);
            continue;
        };
        reachable.insert(name);
        for field in &message.fields {
            let mut ty = &field.ty;
            if let FieldType::Map(value) = ty {
                ty = value;
            }
            if let FieldType::Message(target) = ty {
                queue.push_back(target.clone());
            }
        }
    }

    let mut fallback_names = Vec::new();
    let mut unnamed_messages = Vec::new();
    let mut no_go_presence = Vec::new();
    let mut body = String::new();
    // An embedded struct's message has no definition of its own: its fields are named by the
    // definition of the message embedding it.
    let mut embedders: BTreeMap<&str, &str> = BTreeMap::new();
    for name in &reachable {
        let properties = properties_of(schemas.definition(name));
        for field in &messages[name].fields {
            if !properties.contains_key(&normalized(&field.rust_name)) {
                if let Some(target) = embedded(&field.ty, &messages, &properties) {
                    embedders.insert(target, name);
                }
            }
        }
    }
    for name in &reachable {
        let message = &messages[name];
        let definition = schemas.definition(name).or_else(|| {
            embedders
                .get(name.as_str())
                .and_then(|e| schemas.definition(e))
        });
        let properties = properties_of(definition);
        let required: BTreeSet<&str> = definition
            .and_then(|d| d.get("required"))
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let shape = SHAPES
            .iter()
            .find(|(n, _)| n == name)
            .map_or("Object", |(_, s)| s);
        if definition.is_none() && shape == "Object" {
            unnamed_messages.push(name.clone());
        }
        body.push_str(&format!(
            "\npub(super) static {}: Message = Message {{\n    name: \"{name}\",\n    shape: Shape::{shape},\n    fields: &[\n",
            static_name(&message.path)
        ));
        for field in &message.fields {
            let mut inline = false;
            let json = match properties.get(&normalized(&field.rust_name)) {
                Some(json) => json.clone(),
                None => {
                    // Go's embedded structs (`json:",inline"`) are nested messages in protobuf;
                    // their fields are the parent's properties.
                    inline = embedded(&field.ty, &messages, &properties).is_some();
                    if shape == "Object" && definition.is_some() && !inline {
                        fallback_names.push(format!("{name}.{}", field.rust_name));
                    }
                    lower_camel(&field.rust_name)
                }
            };
            let scalar = matches!(field.ty, FieldType::Scalar(_));
            let go_presence = go
                .get(&name.to_ascii_lowercase())
                .and_then(|fields| fields.get(&field.tag));
            let label = if inline {
                "Inline"
            } else if field.repeated {
                "Repeated"
            } else if let Some(presence) = go_presence {
                match presence {
                    Presence::Omitempty => "Omitempty",
                    Presence::Pointer | Presence::Always => "Present",
                }
            } else {
                if scalar && shape == "Object" {
                    no_go_presence.push(format!("{name}.{json}"));
                }
                // Without Go's word: an empty string is unset unless the schema requires
                // the field; a number or boolean is kept, in case it is a pointer.
                match field.ty {
                    FieldType::Scalar("String" | "Bytes") if !required.contains(json.as_str()) => {
                        "Omitempty"
                    }
                    _ => "Present",
                }
            };
            body.push_str(&format!(
                "        Field::new({}, \"{json}\", {label}, {}),\n",
                field.tag,
                type_expr(&field.ty, &messages)
            ));
        }
        body.push_str("    ],\n};\n");
    }

    let statics: BTreeSet<String> = reachable
        .iter()
        .map(|n| static_name(&messages[n].path))
        .collect();
    assert_eq!(
        statics.len(),
        reachable.len(),
        "two messages share a static name"
    );

    let mut out = String::new();
    out.push_str(&format!(
        "//! The protobuf field table of the built-in kinds: tags, types and JSON names.\n\
         //!\n\
         //! @generated by apiserver/tests/protobuf_table.rs from k8s-pb {version} (field tags and\n\
         //! types), rkube-api's OpenAPI schemas (JSON names, required fields) and Kubernetes' Go\n\
         //! struct tags (pointer and omitempty fields, read from\n\
         //! apiserver/{go_file}). Do not edit:\n\
         //! regenerate with `RKUBE_REGENERATE=1 cargo test -p rkube-apiserver --test protobuf_table`.\n",
        go_file = go_fields::FILE
    ));
    if !missing.is_empty() {
        out.push_str("//!\n//! Kinds k8s-pb has no message for (not decodable from protobuf):\n");
        for name in &missing {
            out.push_str(&format!("//! - `{name}`\n"));
        }
    }
    if !fallback_names.is_empty() {
        out.push_str(
            "//!\n//! Fields without an OpenAPI property, named by camel-casing prost's name:\n",
        );
        for name in &fallback_names {
            out.push_str(&format!("//! - `{name}`\n"));
        }
    }
    if !unnamed_messages.is_empty() {
        out.push_str(
            "//!\n//! Messages without an OpenAPI definition, all fields named by camel-casing:\n",
        );
        for name in &unnamed_messages {
            out.push_str(&format!("//! - `{name}`\n"));
        }
    }
    if !no_go_presence.is_empty() {
        out.push_str("//!\n//! Scalar fields the Go sources do not describe (presence guessed):\n");
        for name in &no_go_presence {
            out.push_str(&format!("//! - `{name}`\n"));
        }
    }
    out.push_str(
        "\nuse super::types::Label::{Inline, Omitempty, Present, Repeated};\nuse super::types::{Field, Message, Shape, Type};\n\n",
    );
    out.push_str(
        "/// Every message, sorted by name.\npub(super) static MESSAGES: &[&Message] = &[\n",
    );
    for name in &reachable {
        out.push_str(&format!("    &{},\n", static_name(&messages[name].path)));
    }
    out.push_str("];\n");
    out.push_str(&body);
    (out, reachable)
}

/// A definition's properties by normalized name.
fn properties_of(definition: Option<&Value>) -> BTreeMap<String, String> {
    definition
        .and_then(|d| d.get("properties"))
        .and_then(Value::as_object)
        .map(|p| p.keys().map(|k| (normalized(k), k.clone())).collect())
        .unwrap_or_default()
}

/// The message a field embeds (Go's `json:",inline"`), recognized by most of its fields being
/// properties of the embedding definition (most, not all: the embedded struct may be newer
/// than the schemas).
fn embedded<'a>(
    ty: &'a FieldType,
    messages: &BTreeMap<String, PbMessage>,
    properties: &BTreeMap<String, String>,
) -> Option<&'a str> {
    let FieldType::Message(target) = ty else {
        return None;
    };
    let message = messages.get(target)?;
    let known = message
        .fields
        .iter()
        .filter(|f| properties.contains_key(&normalized(&f.rust_name)))
        .count();
    (known * 2 > message.fields.len()).then_some(target.as_str())
}

fn type_expr(ty: &FieldType, messages: &BTreeMap<String, PbMessage>) -> String {
    match ty {
        FieldType::Scalar(s) => format!("Type::{s}"),
        FieldType::Message(name) => format!(
            "Type::Message(&{})",
            static_name(
                &messages
                    .get(name)
                    .unwrap_or_else(|| panic!("no message {name}"))
                    .path
            )
        ),
        FieldType::Map(value) => format!("Type::Map(&{})", type_expr(value, messages)),
    }
}

/// Writes `text` to `file` (relative to the crate) when regenerating; otherwise checks that the
/// committed file equals it.
fn write_or_check(file: &str, text: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if std::env::var_os("RKUBE_REGENERATE").is_some() {
        if committed != text {
            std::fs::write(&path, text).expect("the file is writable");
        }
        return;
    }
    assert!(
        committed == text,
        "{file} is out of date; regenerate it with \
         `RKUBE_REGENERATE=1 cargo test -p rkube-apiserver --test protobuf_table` \
         (see apiserver/tests/protobuf_table/go_fields.rs for RKUBE_K8S_GO_SRC)"
    );
}

#[test]
fn table_is_up_to_date() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The Go step runs only where the Go sources are checked out; its output is committed.
    if let Some(src) = std::env::var_os("RKUBE_K8S_GO_SRC") {
        let (_, reachable) = generate(&GoFields::new());
        let wanted = reachable.iter().map(|n| n.to_ascii_lowercase()).collect();
        write_or_check(
            go_fields::FILE,
            &go_fields::generate(Path::new(&src), &wanted),
        );
    }
    let (table, _) = generate(&go_fields::load(crate_dir));
    write_or_check(TABLE, &table);
}

#[test]
fn static_names_split_words() {
    let path = |s: &str| s.split("::").map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(
        static_name(&path("api::core::v1::PodSpec")),
        "API_CORE_V1_POD_SPEC"
    );
    assert_eq!(
        static_name(&path("x::JSONSchemaProps")),
        "X_JSON_SCHEMA_PROPS"
    );
    assert_eq!(static_name(&path("x::HTTPGetAction")), "X_HTTP_GET_ACTION");
    assert_eq!(static_name(&path("x::IPBlock")), "X_IP_BLOCK");
}
