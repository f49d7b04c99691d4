//! `rkctl get`: server-side tables, or objects as `-o` asks; `-w` watches.

use clap::Args;
use http::Method;
use http_body_util::BodyExt as _;
use serde_json::Value;

use super::{err, out, query, split_type_args, Ctx, Reported};
use crate::discovery::ApiResource;
use crate::output::table::{align, rows, TableOptions};
use crate::output::{self, Format};

/// What `get` asks for when it wants a Table.
pub const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

/// Flags of `rkctl get`.
#[derive(Debug, Args)]
pub struct Opts {
    /// TYPE[,TYPE...] [NAME...] or TYPE/NAME...
    args: Vec<String>,
    /// Output format: json|yaml|name|wide|jsonpath=...|jsonpath-file=...|custom-columns=...
    #[arg(short = 'o', long)]
    output: Option<String>,
    /// Selector (label query) to filter on.
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// Selector (field query) to filter on.
    #[arg(long)]
    field_selector: Option<String>,
    /// List the requested object(s) across all namespaces.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// After listing/getting the requested object, watch for changes.
    #[arg(short = 'w', long)]
    watch: bool,
    /// Watch for changes to the requested object(s), without listing/getting first.
    #[arg(long)]
    watch_only: bool,
    /// Output watch event objects when --watch or --watch-only is used.
    #[arg(long)]
    output_watch_events: bool,
    /// When printing, show all labels as the last column.
    #[arg(long)]
    show_labels: bool,
    /// Accepts a comma separated list of labels that are going to be presented as columns.
    #[arg(short = 'L', long = "label-columns", value_delimiter = ',')]
    label_columns: Vec<String>,
    /// When using the default or custom-column output format, don't print headers.
    #[arg(long)]
    no_headers: bool,
    /// Return large lists in chunks rather than all at once.
    #[arg(long, default_value_t = 500)]
    chunk_size: u64,
    /// If true, keep the managedFields when printing objects in JSON or YAML format.
    #[arg(long)]
    show_managed_fields: bool,
    /// If true, ignore any errors in templates when a field or map key is missing in the template.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    allow_missing_template_keys: bool,
    /// If present, list the resource type for the requested object(s).
    #[arg(long)]
    ignore_not_found: bool,
    /// Accepted for kubectl compatibility (`get --raw PATH`).
    #[arg(long)]
    raw: Option<String>,
    /// Sort by a JSONPath expression (e.g. `.metadata.name`, `{.spec.replicas}`).
    #[arg(long)]
    sort_by: Option<String>,
}

/// One fetched group: the resource and either its Table or its objects.
struct Fetched {
    resource: ApiResource,
    table: Option<Value>,
    objects: Vec<Value>,
    resource_version: String,
}

/// Sets `kind` and `apiVersion` on list items (lists omit them).
pub fn with_kind(mut obj: Value, r: &ApiResource) -> Value {
    if let Value::Object(m) = &mut obj {
        if !m.contains_key("kind") {
            m.insert("kind".into(), Value::String(r.kind.clone()));
        }
        if !m.contains_key("apiVersion") {
            m.insert("apiVersion".into(), Value::String(r.api_version()));
        }
    }
    obj
}

/// Runs `rkctl get`.
///
/// # Errors
/// Unknown types, server errors (printed as kubectl prints them).
pub async fn run(ctx: &Ctx, o: Opts) -> anyhow::Result<()> {
    if let Some(path) = &o.raw {
        let client = ctx.client().await?;
        let resp = client
            .send(Method::GET, path, "application/json, */*", None, Vec::new())
            .await?;
        if !resp.status.is_success() {
            return Err(
                crate::client::Error::Api(crate::client::ApiError::from_response(
                    resp.status,
                    &resp.body,
                ))
                .into(),
            );
        }
        out(&String::from_utf8_lossy(&resp.body));
        return Ok(());
    }
    let format = Format::parse(o.output.as_deref())?;
    let groups = split_type_args(&o.args)?;
    if groups.is_empty() {
        anyhow::bail!("Required resource not specified.\nUse \"rkctl explain <resource>\" for a detailed description of that resource (e.g. rkctl explain pods).\nSee 'rkctl get -h' for help and examples");
    }
    let discovery = ctx.discovery().await?;
    let mut types: Vec<(ApiResource, Vec<String>)> = Vec::new();
    for (t, names) in &groups {
        if t == "all" {
            for r in discovery.category("all") {
                types.push((r.clone(), names.clone()));
            }
        } else {
            types.push((discovery.resolve(t)?.clone(), names.clone()));
        }
    }
    let client = ctx.client().await?;
    let namespace = if o.all_namespaces {
        None
    } else {
        Some(client.namespace.clone())
    };
    let several_types = types.len() > 1;
    let single_object = types.len() == 1 && types[0].1.len() == 1;
    let mut failed = false;
    let mut fetched = Vec::new();
    for (r, names) in &types {
        let mut f = Fetched {
            resource: r.clone(),
            table: None,
            objects: Vec::new(),
            resource_version: String::new(),
        };
        let accept = if format.wants_objects() {
            "application/json"
        } else {
            TABLE_ACCEPT
        };
        if names.is_empty() {
            let mut cont = String::new();
            loop {
                let mut q: Vec<(&str, &str)> = Vec::new();
                if let Some(l) = &o.selector {
                    q.push(("labelSelector", l));
                }
                if let Some(fs) = &o.field_selector {
                    q.push(("fieldSelector", fs));
                }
                let limit = o.chunk_size.to_string();
                if o.chunk_size > 0 {
                    q.push(("limit", &limit));
                }
                if !cont.is_empty() {
                    q.push(("continue", &cont));
                }
                if o.sort_by.is_some() && !format.wants_objects() {
                    q.push(("includeObject", "Object"));
                }
                let path = format!("{}{}", r.collection_path(namespace.as_deref()), query(&q));
                let page = client
                    .json_accept(Method::GET, &path, accept, None, None)
                    .await?;
                f.resource_version = page
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                cont = page
                    .pointer("/metadata/continue")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                absorb(&mut f, page);
                if cont.is_empty() {
                    break;
                }
            }
        } else {
            for name in names {
                let path = r.object_path(namespace.as_deref().or(Some(&client.namespace)), name);
                match client
                    .json_accept(Method::GET, &path, accept, None, None)
                    .await
                {
                    Ok(v) => absorb(&mut f, v),
                    Err(crate::client::Error::Api(e)) if e.code == 404 && o.ignore_not_found => {}
                    Err(crate::client::Error::Api(e)) => {
                        err(&format!("{e}\n"));
                        failed = true;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        fetched.push(f);
    }
    if let Some(expr) = &o.sort_by {
        let template = rkube_api::jsonpath::relaxed_expression(expr)
            .ok_or_else(|| anyhow::anyhow!("unexpected path string, expected a 'name1.name2' or '.name1.name2' or '{{name1.name2}}' or '{{.name1.name2}}'"))?;
        let path = rkube_api::jsonpath::JsonPath::parse(&template)
            .map_err(|e| {
                anyhow::anyhow!(
                    "{}",
                    rkube_api::jsonpath::parse_error_message(&template, &e).trim_end()
                )
            })?
            .allow_missing_keys(true);
        for f in &mut fetched {
            sort_objects(&path, &mut f.objects, |v| v);
            if let Some(Value::Array(rows)) = f.table.as_mut().and_then(|t| t.get_mut("rows")) {
                sort_objects(&path, rows, |row| row.get("object").unwrap_or(&Value::Null));
            }
        }
    }
    let prefix = |r: &ApiResource| several_types.then(|| r.kind_group());
    let total: usize = fetched
        .iter()
        .map(|f| {
            f.objects.len()
                + f.table
                    .as_ref()
                    .and_then(|t| t.get("rows"))
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len)
        })
        .sum();
    let watching = o.watch || o.watch_only;
    let table_watch = watching && matches!(format, Format::Table | Format::Wide);
    if !o.watch_only && !table_watch {
        print_fetched(&o, &format, &fetched, single_object, prefix)?;
    }
    if total == 0
        && !failed
        && !o.watch
        && !o.watch_only
        && !matches!(format, Format::Json | Format::Yaml)
    {
        match &namespace {
            Some(ns) if types.iter().any(|(r, _)| r.namespaced) => {
                err(&format!("No resources found in {ns} namespace.\n"))
            }
            _ => err("No resources found\n"),
        }
    }
    if (o.watch || o.watch_only) && !fetched.is_empty() {
        watch(
            ctx,
            &o,
            &format,
            &fetched[0],
            namespace.as_deref(),
            &types[0].1,
        )
        .await?;
    }
    if failed {
        return Err(Reported.into());
    }
    Ok(())
}

/// Sorts by the value `path` finds on each item: numbers as numbers, the rest as text.
fn sort_objects(
    path: &rkube_api::jsonpath::JsonPath,
    items: &mut [Value],
    object: impl Fn(&Value) -> &Value,
) {
    let key = |v: &Value| -> (Option<f64>, String) {
        let found = path
            .find_results(object(v))
            .ok()
            .and_then(|groups| groups.into_iter().flatten().next());
        match found {
            Some(Value::Number(n)) => (n.as_f64(), String::new()),
            Some(Value::String(s)) => (None, s),
            Some(other) => (None, other.to_string()),
            None => (None, String::new()),
        }
    };
    items.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        match (ka.0, kb.0) {
            (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
            _ => ka.1.cmp(&kb.1),
        }
    });
}

fn absorb(f: &mut Fetched, v: Value) {
    if v.get("kind").and_then(Value::as_str) == Some("Table") {
        match &mut f.table {
            None => f.table = Some(v),
            Some(t) => {
                if let (Some(Value::Array(rows)), Some(Value::Array(more))) =
                    (t.get_mut("rows"), v.get("rows").cloned())
                {
                    rows.extend(more);
                }
            }
        }
    } else if let Some(Value::Array(items)) = v.get("items") {
        let r = f.resource.clone();
        f.objects
            .extend(items.iter().cloned().map(|i| with_kind(i, &r)));
    } else {
        f.objects.push(v);
    }
}

fn table_options(o: &Opts, format: &Format, kind_prefix: Option<String>) -> TableOptions {
    TableOptions {
        wide: matches!(format, Format::Wide),
        no_headers: o.no_headers,
        show_labels: o.show_labels,
        with_namespace: o.all_namespaces,
        kind_prefix,
        label_columns: o.label_columns.clone(),
    }
}

fn print_fetched(
    o: &Opts,
    format: &Format,
    fetched: &[Fetched],
    single_object: bool,
    prefix: impl Fn(&ApiResource) -> Option<String>,
) -> anyhow::Result<()> {
    match format {
        Format::Table | Format::Wide => {
            let mut first = true;
            for f in fetched {
                let Some(t) = &f.table else { continue };
                if t.get("rows")
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty)
                {
                    continue;
                }
                if !first {
                    out("\n");
                }
                first = false;
                let opts = table_options(o, format, prefix(&f.resource));
                out(&align(&rows(t, &opts)));
            }
        }
        Format::Name => {
            let text: String = fetched
                .iter()
                .flat_map(|f| {
                    f.objects.iter().map(|obj| {
                        format!(
                            "{}\n",
                            output::object_name(&with_kind(obj.clone(), &f.resource))
                        )
                    })
                })
                .collect();
            out(&text);
        }
        _ => {
            let mut objects: Vec<Value> = fetched
                .iter()
                .flat_map(|f| f.objects.iter().cloned())
                .collect();
            if !o.show_managed_fields {
                objects.iter_mut().for_each(output::strip_managed_fields);
            }
            let doc = if single_object && objects.len() == 1 {
                objects.remove(0)
            } else {
                output::list_of(objects.clone())
            };
            print_doc(format, &doc, &objects, o.no_headers)?;
        }
    }
    Ok(())
}

/// Prints one document in a non-table format.
///
/// # Errors
/// Templates that fail on the object.
pub fn print_doc(
    format: &Format,
    doc: &Value,
    objects: &[Value],
    no_headers: bool,
) -> anyhow::Result<()> {
    match format {
        Format::Json => out(&output::to_json(doc)),
        Format::Yaml => out(&output::yaml::to_yaml(doc)),
        Format::JsonPath(p) => match p.execute(doc) {
            Ok(text) => out(&text),
            Err(e) => anyhow::bail!(
                "{}",
                rkube_api::jsonpath::execution_error_message(p.template(), doc, &e).trim_end()
            ),
        },
        Format::CustomColumns(cols) => {
            let objs: Vec<Value> = if doc.get("kind").and_then(Value::as_str) == Some("List") {
                objects.to_vec()
            } else {
                vec![doc.clone()]
            };
            out(&output::custom_columns(cols, &objs, no_headers));
        }
        Format::Name => out(&format!("{}\n", output::object_name(doc))),
        Format::Table | Format::Wide => {}
    }
    Ok(())
}

async fn watch(
    ctx: &Ctx,
    o: &Opts,
    format: &Format,
    f: &Fetched,
    namespace: Option<&str>,
    names: &[String],
) -> anyhow::Result<()> {
    let client = ctx.client().await?;
    let r = &f.resource;
    let table_format = matches!(format, Format::Table | Format::Wide);
    let mut printer = WatchTable {
        widths: Vec::new(),
        columns: None,
        header_done: false,
        events: o.output_watch_events,
    };
    if o.output_watch_events {
        // Room for the longest event type, as kubectl leaves.
        printer.widths.push("MODIFIED".len() + 3);
    }
    if table_format && !o.watch_only {
        if let Some(t) = &f.table {
            printer.print(t, &table_options(o, format, None), "ADDED");
        }
    }
    let mut q: Vec<(&str, String)> = vec![("watch", "1".into())];
    if !f.resource_version.is_empty() {
        q.push(("resourceVersion", f.resource_version.clone()));
    }
    if let Some(l) = &o.selector {
        q.push(("labelSelector", l.clone()));
    }
    let mut fs = o.field_selector.clone().unwrap_or_default();
    if let [name] = names {
        if !fs.is_empty() {
            fs.push(',');
        }
        fs.push_str(&format!("metadata.name={name}"));
    }
    if !fs.is_empty() {
        q.push(("fieldSelector", fs));
    }
    let pairs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let path = format!("{}{}", r.collection_path(namespace), query(&pairs));
    let accept = if table_format {
        TABLE_ACCEPT
    } else {
        "application/json"
    };
    let mut body = client.stream(&path, accept).await?;
    let mut buf: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| anyhow::anyhow!("watch stream failed: {e}"))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buf.extend_from_slice(&data);
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            let Ok(event) = serde_json::from_slice::<Value>(&line) else {
                continue;
            };
            let kind = event
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if kind == "BOOKMARK" {
                continue;
            }
            let obj = event.get("object").cloned().unwrap_or(Value::Null);
            if kind == "ERROR" {
                anyhow::bail!(
                    "{}",
                    obj.get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("watch error")
                );
            }
            if table_format {
                printer.print(&obj, &table_options(o, format, None), &kind);
                continue;
            }
            let mut obj = with_kind(obj, r);
            if !o.show_managed_fields {
                output::strip_managed_fields(&mut obj);
            }
            let doc = if o.output_watch_events {
                serde_json::json!({"type": kind, "object": obj})
            } else {
                obj
            };
            print_doc(format, &doc, std::slice::from_ref(&doc), o.no_headers)?;
            if matches!(format, Format::Yaml) {
                out("---\n");
            }
        }
    }
    Ok(())
}

/// Prints watched tables as kubectl does: the header once, column widths remembered and only
/// growing across prints (Go tabwriter's RememberWidths).
struct WatchTable {
    widths: Vec<usize>,
    /// The servers sends column definitions with the first table only.
    columns: Option<Value>,
    header_done: bool,
    events: bool,
}

impl WatchTable {
    fn print(&mut self, table: &Value, opts: &TableOptions, event: &str) {
        let mut table = table.clone();
        match table
            .get("columnDefinitions")
            .filter(|c| c.as_array().is_some_and(|a| !a.is_empty()))
        {
            Some(c) => self.columns = Some(c.clone()),
            None => {
                if let Some(c) = &self.columns {
                    table["columnDefinitions"] = c.clone();
                }
            }
        }
        let table = &table;
        if table
            .get("rows")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
        {
            return;
        }
        let mut opts = opts.clone();
        opts.no_headers = opts.no_headers || self.header_done;
        let mut lines = rows(table, &opts);
        if self.events {
            for (i, l) in lines.iter_mut().enumerate() {
                let first = if !opts.no_headers && i == 0 {
                    "EVENT"
                } else {
                    event
                };
                l.insert(0, first.to_owned());
            }
        }
        if !opts.no_headers && !lines.is_empty() {
            self.header_done = true;
        }
        if lines.is_empty() {
            return;
        }
        out(&align_remembering(&lines, &mut self.widths));
    }
}

/// [`align`] with widths kept across calls (tabwriter's RememberWidths).
fn align_remembering(rows: &[Vec<String>], widths: &mut Vec<usize>) -> String {
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < row.len() {
                if widths.len() <= i {
                    widths.resize(i + 1, 0);
                }
                widths[i] = widths[i].max((cell.chars().count() + 3).max(6));
            }
        }
    }
    let mut text = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            text.push_str(cell);
            if i + 1 < row.len() {
                text.extend(std::iter::repeat_n(
                    ' ',
                    widths[i].saturating_sub(cell.chars().count()),
                ));
            }
        }
        text.push('\n');
    }
    text
}
