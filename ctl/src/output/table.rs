//! Server-side Tables rendered as kubectl's printer does: uppercase headers, columns padded by
//! three spaces (Go's tabwriter with kubectl's settings), `-o wide`, `-A`, `--show-labels`.

use serde_json::Value;

/// How to print a table.
#[derive(Debug, Clone, Default)]
pub struct TableOptions {
    pub wide: bool,
    pub no_headers: bool,
    pub show_labels: bool,
    /// Adds a NAMESPACE column (`-A`).
    pub with_namespace: bool,
    /// Prefixes names with `kind.group/` (several types in one command).
    pub kind_prefix: Option<String>,
    /// Extra columns from `-L key`.
    pub label_columns: Vec<String>,
}

/// Aligns tab-separated cells as Go's tabwriter does with kubectl's settings (minimum width 6,
/// padding 3); the last cell of each line is not padded.
pub fn align(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < row.len() {
                widths[i] = widths[i].max((cell.chars().count() + 3).max(6));
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                let w = cell.chars().count();
                out.extend(std::iter::repeat_n(' ', widths[i].saturating_sub(w)));
            }
        }
        out.push('\n');
    }
    out
}

fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => match s.find(['\n', '\r', '\u{c}']) {
            Some(i) => format!("{}...", &s[..i]),
            None => s.clone(),
        },
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// Formats labels as kubectl's LABELS column: `k=v` sorted by key, comma-separated.
pub fn labels_text(labels: Option<&Value>) -> String {
    let mut pairs: Vec<(String, String)> = labels
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    if pairs.is_empty() {
        return "<none>".into();
    }
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The header and rows of a `Table` (meta.k8s.io/v1) as cells.
pub fn rows(table: &Value, opts: &TableOptions) -> Vec<Vec<String>> {
    let columns: Vec<&Value> = table
        .get("columnDefinitions")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let shown: Vec<bool> = columns
        .iter()
        .map(|c| opts.wide || c.get("priority").and_then(Value::as_i64).unwrap_or(0) == 0)
        .collect();
    let mut out = Vec::new();
    if !opts.no_headers {
        let mut header = Vec::new();
        if opts.with_namespace {
            header.push("NAMESPACE".to_owned());
        }
        for (c, show) in columns.iter().zip(&shown) {
            if *show {
                header.push(
                    c.get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_uppercase(),
                );
            }
        }
        for l in &opts.label_columns {
            header.push(l.rsplit('/').next().unwrap_or(l).to_uppercase());
        }
        if opts.show_labels {
            header.push("LABELS".to_owned());
        }
        out.push(header);
    }
    for row in table
        .get("rows")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let metadata = row.pointer("/object/metadata");
        let mut line = Vec::new();
        if opts.with_namespace {
            line.push(
                metadata
                    .and_then(|m| m.get("namespace"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        let cells = row.get("cells").and_then(Value::as_array);
        for (i, show) in shown.iter().enumerate() {
            if !*show {
                continue;
            }
            let mut text = cells
                .and_then(|c| c.get(i))
                .map(cell_text)
                .unwrap_or_default();
            if i == 0 {
                if let Some(prefix) = &opts.kind_prefix {
                    text = format!("{prefix}/{text}");
                }
            }
            line.push(text);
        }
        let labels = metadata.and_then(|m| m.get("labels"));
        for l in &opts.label_columns {
            line.push(
                labels
                    .and_then(|m| m.get(l))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        if opts.show_labels {
            line.push(labels_text(labels));
        }
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn aligns_like_kubectl() {
        let table = json!({
            "columnDefinitions": [
                {"name": "Name", "priority": 0}, {"name": "Ready", "priority": 0},
                {"name": "Age", "priority": 0}, {"name": "Containers", "priority": 1}],
            "rows": [
                {"cells": ["web", "1/1", "5m", "nginx"], "object": {"metadata": {"namespace": "demo", "labels": {"b": "2", "a": "1"}}}},
                {"cells": ["a-much-longer-name", "0/1", "10s", "x"], "object": {"metadata": {"namespace": "demo"}}}]
        });
        let text = align(&rows(&table, &TableOptions::default()));
        assert_eq!(
            text,
            "NAME                 READY   AGE\nweb                  1/1     5m\na-much-longer-name   0/1     10s\n"
        );
        let wide = TableOptions {
            wide: true,
            with_namespace: true,
            show_labels: true,
            ..TableOptions::default()
        };
        let text = align(&rows(&table, &wide));
        assert_eq!(
            text,
            "NAMESPACE   NAME                 READY   AGE   CONTAINERS   LABELS\n\
             demo        web                  1/1     5m    nginx        a=1,b=2\n\
             demo        a-much-longer-name   0/1     10s   x            <none>\n"
        );
    }
}
