//! kubectl's `describe` layout: `Field:  value` lines aligned by Go's tabwriter, nested levels
//! indented by two spaces, and the object's events at the end.

mod hpa;
mod kinds;
mod pod;

pub use kinds::selector_text;

use http::Method;
use serde_json::Value;

use crate::client::Client;
use crate::cmd::query;
use crate::discovery::ApiResource;
use crate::output::tabwriter;

/// Collects describe lines (tab-separated cells) and aligns them at the end.
#[derive(Debug, Default)]
pub struct Writer {
    text: String,
}

impl Writer {
    /// Writes text as is (no alignment role unless it has tabs).
    pub fn raw(&mut self, text: &str) {
        self.text.push_str(text);
    }

    /// Writes `Label:\tvalue` at `level`.
    pub fn field(&mut self, level: usize, label: &str, value: &str) {
        self.line(level, &format!("{label}:\t{value}"));
    }

    /// Writes a raw line (cells separated by tabs) at `level`.
    pub fn line(&mut self, level: usize, text: &str) {
        self.text.push_str(&"  ".repeat(level));
        self.text.push_str(text);
        self.text.push('\n');
    }

    /// `Labels:` / `Annotations:` style maps: the first pair on the label's line, the rest
    /// aligned under it; `<none>` when empty. Annotations read `key: value`, the others
    /// `key=value`, as kubectl prints them.
    pub fn map(&mut self, level: usize, label: &str, map: Option<&Value>, skip: &[&str]) {
        let mut pairs: Vec<(String, String)> = map
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| !skip.contains(&k.as_str()))
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        pairs.sort();
        if pairs.is_empty() {
            self.field(level, label, "<none>");
            return;
        }
        let sep = if label == "Annotations" { ": " } else { "=" };
        for (i, (k, v)) in pairs.iter().enumerate() {
            let text = format!("{k}{sep}{v}");
            if i == 0 {
                self.field(level, label, &text);
            } else {
                self.line(level, &format!("\t{text}"));
            }
        }
    }

    /// The aligned text.
    pub fn finish(self) -> String {
        tabwriter::format(&self.text, 0, 2)
    }
}

/// A string field of `v` at `pointer`, or `""`.
pub fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Events whose `involvedObject` is `obj`, oldest first.
///
/// # Errors
/// Server errors.
pub async fn events_for(client: &Client, obj: &Value) -> Result<Value, crate::client::Error> {
    let mut selector = vec![format!("involvedObject.name={}", s(obj, "/metadata/name"))];
    let ns = s(obj, "/metadata/namespace");
    if !ns.is_empty() {
        selector.push(format!("involvedObject.namespace={ns}"));
    }
    let uid = s(obj, "/metadata/uid");
    if !uid.is_empty() {
        selector.push(format!("involvedObject.uid={uid}"));
    }
    let kind = s(obj, "/kind");
    if !kind.is_empty() {
        selector.push(format!("involvedObject.kind={kind}"));
    }
    let base = if ns.is_empty() {
        "/api/v1/events".to_owned()
    } else {
        format!("/api/v1/namespaces/{ns}/events")
    };
    let path = format!("{base}{}", query(&[("fieldSelector", &selector.join(","))]));
    client.json(Method::GET, &path, None, None).await
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
        .unwrap_or(0)
}

/// The `Events:` section as kubectl prints it.
pub fn write_events(w: &mut Writer, events: Option<&Value>) {
    let Some(list) = events else { return };
    let mut items: Vec<&Value> = list
        .get("items")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    if items.is_empty() {
        w.line(0, "Events:\t<none>");
        return;
    }
    let time = |e: &Value| {
        let t = [
            s(e, "/lastTimestamp"),
            s(e, "/eventTime"),
            s(e, "/firstTimestamp"),
            s(e, "/metadata/creationTimestamp"),
        ]
        .into_iter()
        .find(|t| !t.is_empty())
        .unwrap_or_default()
        .to_owned();
        rkube_api::printers::parse_rfc3339(&t)
    };
    items.sort_by_key(|e| time(e));
    w.line(0, "Events:");
    w.line(1, "Type\tReason\tAge\tFrom\tMessage");
    w.line(1, "----\t------\t----\t----\t-------");
    let now = now_unix();
    for e in items {
        let count = e.get("count").and_then(Value::as_i64).unwrap_or(1);
        let last = time(e)
            .map(|t| rkube_api::printers::human_duration(now - t))
            .unwrap_or_else(|| "<unknown>".into());
        let first = [s(e, "/firstTimestamp"), s(e, "/eventTime")]
            .into_iter()
            .find(|t| !t.is_empty())
            .and_then(rkube_api::printers::parse_rfc3339)
            .map(|t| rkube_api::printers::human_duration(now - t));
        let age = match (count > 1, first) {
            (true, Some(f)) => format!("{last} (x{count} over {f})"),
            _ => last,
        };
        let from = {
            let c = s(e, "/source/component");
            let c = if c.is_empty() {
                s(e, "/reportingComponent")
            } else {
                c
            };
            let h = s(e, "/source/host");
            if h.is_empty() {
                c.to_owned()
            } else {
                format!("{c}, {h}")
            }
        };
        w.line(
            1,
            &format!(
                "{}\t{}\t{age}\t{from}\t{}",
                s(e, "/type"),
                s(e, "/reason"),
                s(e, "/message").trim()
            ),
        );
    }
}

/// Related objects some kinds show: a deployment's replica sets, a service's endpoint slices.
///
/// # Errors
/// Server errors.
pub async fn related(
    client: &Client,
    resource: &ApiResource,
    obj: &Value,
) -> Result<Value, crate::client::Error> {
    let ns = s(obj, "/metadata/namespace");
    let name = s(obj, "/metadata/name");
    let mut extra = serde_json::Map::new();
    match (resource.group.as_str(), resource.kind.as_str()) {
        ("apps", "Deployment") => {
            let sel = crate::describe::kinds::selector_text(obj.pointer("/spec/selector"));
            let path = format!(
                "/apis/apps/v1/namespaces/{ns}/replicasets{}",
                query(&[("labelSelector", &sel)])
            );
            let list = client.get(&path).await?;
            extra.insert(
                "replicaSets".into(),
                list.get("items").cloned().unwrap_or(Value::Null),
            );
        }
        ("", "Service") => {
            let path = format!(
                "/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices{}",
                query(&[(
                    "labelSelector",
                    &format!("kubernetes.io/service-name={name}")
                )])
            );
            if let Ok(list) = client.get(&path).await {
                extra.insert(
                    "endpointSlices".into(),
                    list.get("items").cloned().unwrap_or(Value::Null),
                );
            }
        }
        _ => {}
    }
    Ok(Value::Object(extra))
}

/// Describes one object.
pub fn describe(
    resource: &ApiResource,
    obj: &Value,
    extra: &Value,
    events: Option<&Value>,
) -> String {
    let mut w = Writer::default();
    kinds::describe(&mut w, resource, obj, extra);
    // Namespaces show quotas and limit ranges instead of events.
    if !(resource.group.is_empty() && resource.kind == "Namespace") {
        write_events(&mut w, events);
    }
    w.finish()
}
