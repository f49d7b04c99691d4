//! Reading manifests (`-f FILE|DIR|URL|-`, `-R`): YAML streams and JSON, `List` kinds expanded,
//! every document parsed before anything is sent, errors naming the file, document and line.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// One object read from a manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The file's name as given (`STDIN` for `-`).
    pub source: String,
    /// The object.
    pub object: Value,
}

/// What can go wrong reading manifests.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the path \"{0}\" does not exist")]
    Missing(String),
    #[error("failed to read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("error parsing {source_name}: error converting YAML to JSON: yaml: line {line}: {message}{hint}")]
    Yaml {
        source_name: String,
        line: usize,
        message: String,
        hint: String,
    },
    #[error("error validating \"{0}\": error validating data: {1}; if you choose to ignore these errors, turn validation off with --validate=false")]
    Invalid(String, String),
    #[error("must specify one of -f and -k")]
    NoFiles,
    #[error("unable to read URL \"{url}\", server reported {status}, status code={code}")]
    UrlStatus {
        url: String,
        status: String,
        code: u16,
    },
    #[error("Get \"{url}\": {message}")]
    UrlFetch { url: String, message: String },
}

/// Reads every source, in order, expanding directories (recursively with `recursive`) and
/// fetching `http://` and `https://` URLs.
///
/// # Errors
/// Missing files, unreadable files or URLs, documents that do not parse or lack
/// `apiVersion`/`kind`.
pub async fn read(files: &[String], recursive: bool) -> Result<Vec<Document>, Error> {
    if files.is_empty() {
        return Err(Error::NoFiles);
    }
    let mut docs = Vec::new();
    for f in files {
        if f == "-" {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(|source| {
                Error::Read {
                    path: "STDIN".into(),
                    source,
                }
            })?;
            docs.extend(parse_stream("STDIN", &text)?);
            continue;
        }
        if f.starts_with("http://") || f.starts_with("https://") {
            let text = fetch(f).await?;
            docs.extend(parse_stream(f, &text)?);
            continue;
        }
        let path = Path::new(f);
        if !path.exists() {
            return Err(Error::Missing(f.clone()));
        }
        if path.is_dir() {
            for file in dir_files(path, recursive)? {
                let text = read_file(&file)?;
                docs.extend(parse_stream(&file.display().to_string(), &text)?);
            }
        } else {
            let text = read_file(path)?;
            docs.extend(parse_stream(f, &text)?);
        }
    }
    Ok(docs)
}

/// Where Debian keeps the trusted roots for HTTPS URLs.
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The body of `GET url` (a manifest on a web server), checked against the system's roots.
async fn fetch(url: &str) -> Result<String, Error> {
    let failed = |message: String| Error::UrlFetch {
        url: url.to_owned(),
        message,
    };
    let uri: http::Uri = url.parse().map_err(|e| failed(format!("{e}")))?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(failed("not an absolute URL".into()));
    };
    let conn = crate::kubeconfig::Connection {
        server: format!("{scheme}://{authority}"),
        ca_pem: std::fs::read(SYSTEM_ROOTS).ok(),
        ..crate::kubeconfig::Connection::default()
    };
    let client = crate::client::Client::new(&conn).map_err(|e| failed(e.to_string()))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let resp = client
        .send(http::Method::GET, path, "*/*", None, Vec::new())
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !resp.status.is_success() {
        return Err(Error::UrlStatus {
            url: url.to_owned(),
            status: resp.status.to_string(),
            code: resp.status.as_u16(),
        });
    }
    String::from_utf8(resp.body.to_vec()).map_err(|_| failed("the body is not UTF-8 text".into()))
}

fn read_file(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.display().to_string(),
        source,
    })
}

fn dir_files(dir: &Path, recursive: bool) -> Result<Vec<PathBuf>, Error> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| Error::Read {
            path: dir.display().to_string(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    let mut out = Vec::new();
    for p in entries {
        if p.is_dir() {
            if recursive {
                out.extend(dir_files(&p, true)?);
            }
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        {
            out.push(p);
        }
    }
    Ok(out)
}

/// Splits a YAML stream at `---` lines: each document's text and its first line (1-based).
pub fn split_documents(text: &str) -> Vec<(String, usize)> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut start = 1;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let is_separator = line.strip_prefix("---").is_some_and(|rest| {
            let rest = rest.trim();
            rest.is_empty() || rest.starts_with('#')
        });
        if is_separator {
            docs.push((std::mem::take(&mut current), start));
            start = i + 2;
        } else {
            current.push_str(line);
        }
    }
    docs.push((current, start));
    docs
}

fn is_blank(doc: &str) -> bool {
    doc.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#')
    })
}

/// Parses one source's text into objects.
///
/// # Errors
/// [`Error::Yaml`] with the file's line; [`Error::Invalid`] when `apiVersion` or `kind` is
/// missing.
pub fn parse_stream(source: &str, text: &str) -> Result<Vec<Document>, Error> {
    let mut out = Vec::new();
    let documents = split_documents(text);
    let several = documents.iter().filter(|(d, _)| !is_blank(d)).count() > 1;
    for (index, (doc, start)) in documents.into_iter().enumerate() {
        if is_blank(&doc) {
            continue;
        }
        let where_ = if several {
            format!(
                "\n  in document {} of {source}, which starts at line {start}",
                index + 1
            )
        } else {
            String::new()
        };
        if let Some((offset, _)) = doc
            .lines()
            .enumerate()
            .find(|(_, l)| l.trim_start_matches(' ').starts_with('\t') && !l.trim().is_empty())
        {
            return Err(Error::Yaml {
                source_name: source.to_owned(),
                line: start + offset,
                message: "found character that cannot start any token".into(),
                hint: format!(
                    "\n  line {} is indented with a tab: YAML does not allow tabs for indentation, use spaces{where_}",
                    start + offset
                ),
            });
        }
        let value: Value = serde_saphyr::from_str(&doc).map_err(|e| {
            let line = e
                .location()
                .map(|l| usize::try_from(l.line()).unwrap_or(0))
                .unwrap_or(1)
                .max(1);
            let full = e.to_string();
            let mut message = full.lines().next().unwrap_or_default().trim().to_owned();
            // serde-saphyr says `error: line L column C: what`; keep the what.
            if let Some(rest) = message.strip_prefix("error: line ") {
                if let Some((_, what)) = rest.split_once(": ") {
                    message = what.to_owned();
                }
            }
            Error::Yaml {
                source_name: source.to_owned(),
                line: start + line - 1,
                message: message
                    .split_once(" at line ")
                    .map(|(m, _)| m.to_owned())
                    .unwrap_or(message),
                hint: where_.clone(),
            }
        })?;
        if value.is_null() {
            continue;
        }
        expand(source, value, &mut out)?;
    }
    Ok(out)
}

fn expand(source: &str, value: Value, out: &mut Vec<Document>) -> Result<(), Error> {
    if !value.is_object() {
        return Err(Error::Invalid(
            source.to_owned(),
            "the document is not a mapping (an object with apiVersion, kind and metadata)".into(),
        ));
    }
    let api_version = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if api_version.is_empty() || kind.is_empty() {
        let mut missing = Vec::new();
        if api_version.is_empty() {
            missing.push("apiVersion not set");
        }
        if kind.is_empty() {
            missing.push("kind not set");
        }
        return Err(Error::Invalid(source.to_owned(), missing.join(", ")));
    }
    if kind.ends_with("List") && value.get("items").is_some_and(Value::is_array) {
        if let Some(Value::Array(items)) = value.get("items").cloned() {
            for item in items {
                expand(source, item, out)?;
            }
        }
        return Ok(());
    }
    out.push(Document {
        source: source.to_owned(),
        object: value,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_streams_and_lists() {
        let text = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n# nothing\n--- # c\n{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"b\"}}]}\n";
        let docs = parse_stream("f.yaml", text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].object["kind"], "ConfigMap");
    }

    #[test]
    fn tabs_name_the_line() {
        let text = "apiVersion: v1\nkind: ConfigMap\n---\napiVersion: v1\nkind: Pod\nmetadata:\n\tname: x\n";
        let e = parse_stream("pod.yaml", text).unwrap_err().to_string();
        assert!(
            e.starts_with("error parsing pod.yaml: error converting YAML to JSON: yaml: line 7: found character that cannot start any token"),
            "{e}"
        );
        assert!(e.contains("tab"), "{e}");
        assert!(
            e.ends_with("\n  in document 2 of pod.yaml, which starts at line 4"),
            "{e}"
        );
    }

    #[test]
    fn bad_nesting_names_the_line() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n  - name: a\n   image: b\n";
        let e = parse_stream("pod.yaml", text).unwrap_err().to_string();
        assert!(
            e.starts_with("error parsing pod.yaml: error converting YAML to JSON: yaml: line "),
            "{e}"
        );
    }

    #[test]
    fn missing_kind() {
        let e = parse_stream("x.yaml", "apiVersion: v1\nmetadata: {}\n")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "error validating \"x.yaml\": error validating data: kind not set; if you choose to ignore these errors, turn validation off with --validate=false");
    }
}
