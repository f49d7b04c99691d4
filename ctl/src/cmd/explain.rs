//! `rkctl explain`: a resource's fields from the server's `/openapi/v3` documents, in kubectl's
//! layout (descriptions wrapped at 76 columns).

use clap::Args;
use serde_json::Value;

use super::{out, Ctx};

/// Flags of `rkctl explain`.
#[derive(Debug, Args)]
pub struct Opts {
    /// TYPE[.FIELD[.FIELD...]], e.g. `deploy.spec.replicas`.
    path: String,
    /// List every field beneath, indented, without descriptions.
    #[arg(long)]
    recursive: bool,
}

const REF_PREFIX: &str = "#/components/schemas/";

/// Greedy word wrap at `width` as Go's wordwrap does: runs of spaces between words are kept,
/// the run where a line breaks is dropped, the text's own line breaks stay, long words stand
/// alone.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        let mut len = 0;
        let mut rest = para;
        while !rest.is_empty() {
            let spaces = rest.len() - rest.trim_start_matches(' ').len();
            let after = &rest[spaces..];
            let word_len = after.find(' ').unwrap_or(after.len());
            let word = &after[..word_len];
            rest = &after[word_len..];
            if word.is_empty() {
                break;
            }
            let wl = word.chars().count();
            if len > 0 && len + spaces + wl > width {
                lines.push(std::mem::take(&mut line));
                len = 0;
            } else {
                line.push_str(&" ".repeat(spaces));
                len += spaces;
            }
            line.push_str(word);
            len += wl;
        }
        lines.push(line);
    }
    lines
}

fn reference(schema: &Value) -> Option<&str> {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .or_else(|| {
            schema
                .get("allOf")?
                .as_array()?
                .first()?
                .get("$ref")?
                .as_str()
        })
        .and_then(|r| r.strip_prefix(REF_PREFIX))
}

fn resolve<'a>(schemas: &'a Value, schema: &'a Value) -> &'a Value {
    match reference(schema).and_then(|r| schemas.get(r)) {
        Some(target) => target,
        None => schema,
    }
}

/// kubectl's type name: `string`, `[]Container`, `map[string]string`, `DeploymentSpec`.
pub fn type_name(schemas: &Value, schema: &Value) -> String {
    if let Some(r) = reference(schema) {
        let short = r.rsplit('.').next().unwrap_or(r);
        let target = schemas.get(r);
        return match target.and_then(|t| t.get("type")).and_then(Value::as_str) {
            Some("string") if short != "Quantity" && short != "IntOrString" => "string".into(),
            _ => short.to_owned(),
        };
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("array") => format!(
            "[]{}",
            schema
                .get("items")
                .map_or_else(|| "Object".into(), |i| type_name(schemas, i))
        ),
        Some("object") => match schema.get("additionalProperties") {
            Some(a) if a.is_object() => format!("map[string]{}", type_name(schemas, a)),
            _ => "Object".into(),
        },
        Some(t) => t.to_owned(),
        None if schema.get("x-kubernetes-int-or-string").is_some() => "IntOrString".into(),
        None => "Object".into(),
    }
}

fn description_lines(text: &str) -> String {
    wrap(text, 76)
        .iter()
        .map(|l| format!("    {l}\n"))
        .collect()
}

/// The object schema a field's values have: its own, its items' or its map values', resolved.
fn value_schema<'a>(schemas: &'a Value, schema: &'a Value) -> &'a Value {
    let item = match schema.get("items") {
        Some(i) => i,
        None => schema
            .get("additionalProperties")
            .filter(|a| a.is_object())
            .unwrap_or(schema),
    };
    resolve(schemas, item)
}

/// `--recursive`: every field under `target`, two spaces deeper per level, each schema
/// entered once per path (so self-referencing schemas end).
fn field_tree(
    schemas: &Value,
    target: &Value,
    depth: usize,
    path: &mut Vec<String>,
    text: &mut String,
) {
    let Some(props) = target.get("properties").and_then(Value::as_object) else {
        return;
    };
    let required: Vec<&str> = target
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut names: Vec<&String> = props.keys().collect();
    names.sort();
    for name in names {
        let p = &props[name];
        let req = if required.contains(&name.as_str()) {
            " -required-"
        } else {
            ""
        };
        let indent = "  ".repeat(depth);
        text.push_str(&format!(
            "{indent}{name}\t<{}>{req}\n",
            type_name(schemas, p)
        ));
        let inner = p
            .get("items")
            .or_else(|| p.get("additionalProperties").filter(|a| a.is_object()))
            .unwrap_or(p);
        let Some(r) = reference(inner) else {
            field_tree(schemas, value_schema(schemas, p), depth + 1, path, text);
            continue;
        };
        if path.iter().any(|seen| seen == r) {
            continue;
        }
        path.push(r.to_owned());
        field_tree(schemas, value_schema(schemas, p), depth + 1, path, text);
        path.pop();
    }
}

/// Renders the explanation of `schema` (the field `field` with type `ty`, or the kind itself),
/// with every field beneath (no descriptions) when `recursive`.
pub fn render(
    schemas: &Value,
    group: &str,
    kind: &str,
    version: &str,
    field: Option<(&str, &Value)>,
    kind_schema: &Value,
    recursive: bool,
) -> String {
    let mut text = String::new();
    if !group.is_empty() {
        text.push_str(&format!("GROUP:      {group}\n"));
    }
    text.push_str(&format!("KIND:       {kind}\nVERSION:    {version}\n\n"));
    let (own, target) = match field {
        Some((name, schema)) => {
            text.push_str(&format!(
                "FIELD: {name} <{}>\n\n\n",
                type_name(schemas, schema)
            ));
            let item = match schema.get("items") {
                Some(i) => i,
                None => schema
                    .get("additionalProperties")
                    .filter(|a| a.is_object())
                    .unwrap_or(schema),
            };
            (schema, resolve(schemas, item))
        }
        None => (kind_schema, kind_schema),
    };
    text.push_str("DESCRIPTION:\n");
    let mut descriptions = Vec::new();
    for d in [
        own.get("description"),
        (!std::ptr::eq(own, target))
            .then(|| target.get("description"))
            .flatten(),
    ]
    .into_iter()
    .flatten()
    .filter_map(Value::as_str)
    {
        if !descriptions.contains(&d) {
            descriptions.push(d);
        }
    }
    for d in descriptions {
        text.push_str(&description_lines(d));
    }
    text.push_str("    \n");
    if recursive {
        if target.get("properties").is_some() {
            text.push_str("FIELDS:\n");
            field_tree(schemas, target, 1, &mut Vec::new(), &mut text);
        }
    } else if let Some(props) = target.get("properties").and_then(Value::as_object) {
        let required: Vec<&str> = target
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        text.push_str("FIELDS:\n");
        let mut names: Vec<&String> = props.keys().collect();
        names.sort();
        for name in names {
            let p = &props[name];
            let req = if required.contains(&name.as_str()) {
                " -required-"
            } else {
                ""
            };
            text.push_str(&format!("  {name}\t<{}>{req}\n", type_name(schemas, p)));
            let own = p
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !own.is_empty() {
                text.push_str(&description_lines(own));
            }
            text.push('\n');
        }
    }
    text.push('\n');
    text
}

/// Runs `rkctl explain`.
///
/// # Errors
/// Unknown types or fields (kubectl's messages), server errors.
pub async fn run(ctx: &Ctx, o: Opts) -> anyhow::Result<()> {
    let mut parts = o.path.split('.');
    let type_name_arg = parts.next().unwrap_or_default();
    let fields: Vec<&str> = parts.collect();
    let discovery = ctx.discovery().await?;
    let r = match discovery.resolve(type_name_arg) {
        Ok(r) => r.clone(),
        Err(e) => {
            // kubectl prints this one without its usual `error: `.
            super::err(&format!("{e}\n"));
            return Err(super::Reported.into());
        }
    };
    let client = ctx.client().await?;
    let gv = if r.group.is_empty() {
        format!("api/{}", r.version)
    } else {
        format!("apis/{}/{}", r.group, r.version)
    };
    let doc = client.get(&format!("/openapi/v3/{gv}")).await?;
    let schemas = doc
        .pointer("/components/schemas")
        .cloned()
        .unwrap_or(Value::Null);
    let Some((_, kind_schema)) = schemas.as_object().and_then(|m| {
        m.iter().find(|(_, s)| {
            s.get("x-kubernetes-group-version-kind")
                .and_then(Value::as_array)
                .is_some_and(|gvks| {
                    gvks.iter().any(|g| {
                        g.get("group").and_then(Value::as_str).unwrap_or_default() == r.group
                            && g.get("version").and_then(Value::as_str) == Some(r.version.as_str())
                            && g.get("kind").and_then(Value::as_str) == Some(r.kind.as_str())
                    })
                })
        })
    }) else {
        anyhow::bail!("couldn't find resource for \"{}\"", r.group_resource());
    };
    let mut current = kind_schema;
    let mut field: Option<(&str, &Value)> = None;
    for name in &fields {
        let container = match field {
            None => current,
            Some((_, schema)) => {
                let item = schema
                    .get("items")
                    .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()))
                    .unwrap_or(schema);
                resolve(&schemas, item)
            }
        };
        let Some(next) = container.get("properties").and_then(|p| p.get(*name)) else {
            let header = if r.group.is_empty() {
                String::new()
            } else {
                format!("GROUP:      {}\n", r.group)
            };
            out(&format!(
                "{header}KIND:       {}\nVERSION:    {}\n\n",
                r.kind, r.version
            ));
            anyhow::bail!("field \"{name}\" does not exist");
        };
        current = container;
        field = Some((name, next));
    }
    let _ = current;
    out(&render(
        &schemas,
        &r.group,
        &r.kind,
        &r.version,
        field,
        kind_schema,
        o.recursive,
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_76() {
        let text = "The number of old ReplicaSets to retain to allow rollback. This is a pointer to distinguish between explicit zero and not specified. Defaults to 10.";
        assert_eq!(
            wrap(text, 76),
            [
                "The number of old ReplicaSets to retain to allow rollback. This is a pointer",
                "to distinguish between explicit zero and not specified. Defaults to 10."
            ]
        );
    }
}
