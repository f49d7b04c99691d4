//! Kubeconfig files: loading and merging them as kubectl does, and picking the cluster, user and
//! namespace a command talks to.
//!
//! Files come from `--kubeconfig`, else every file of `$KUBECONFIG` (colon-separated; for each
//! map entry and each top-level field the first file that sets it wins), else `~/.kube/config`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What can go wrong reading kubeconfig.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("error loading config file \"{path}\": {message}")]
    Parse { path: String, message: String },
    #[error("context was not found for specified context: {0}")]
    NoContext(String),
    #[error("no context exists with the name: \"{0}\"")]
    NoSuchContext(String),
    #[error("auth info \"{0}\" does not exist")]
    NoUser(String),
    #[error("cluster \"{0}\" does not exist")]
    NoCluster(String),
    #[error("current-context is not set")]
    NoCurrentContext,
    #[error(
        "The connection to the server localhost:8080 was refused - did you specify the right host or port?"
    )]
    NoServer,
    #[error("failed to write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A result with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Overrides from the command line (`--context`, `--server`, ...).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub kubeconfig: Option<String>,
    pub context: Option<String>,
    pub cluster: Option<String>,
    pub user: Option<String>,
    pub namespace: Option<String>,
    pub server: Option<String>,
    pub token: Option<String>,
    pub insecure_skip_tls_verify: bool,
    pub certificate_authority: Option<String>,
    pub client_certificate: Option<String>,
    pub client_key: Option<String>,
}

/// The merged configuration: each section keeps entries as JSON objects (`{name, cluster}`), so
/// that `config view` prints back what was read.
#[derive(Debug, Clone, Default)]
pub struct Kubeconfig {
    pub clusters: Vec<Named>,
    pub users: Vec<Named>,
    pub contexts: Vec<Named>,
    pub current_context: String,
    pub preferences: Value,
    /// The files read, first one first (where `config use-context` writes).
    pub files: Vec<PathBuf>,
}

/// One `{name, <section>}` entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Named {
    pub name: String,
    pub value: Value,
}

/// What a command connects with: the resolved cluster and user.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub server: String,
    pub ca_pem: Option<Vec<u8>>,
    pub insecure: bool,
    pub tls_server_name: Option<String>,
    pub client_cert_pem: Option<Vec<u8>>,
    pub client_key_pem: Option<Vec<u8>>,
    pub token: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub namespace: String,
}

fn home_config() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube").join("config"))
}

/// The files kubectl would read, in precedence order.
pub fn config_files(explicit: Option<&str>) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![PathBuf::from(p)];
    }
    if let Ok(list) = std::env::var("KUBECONFIG") {
        let files: Vec<PathBuf> = list
            .split(':')
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect();
        if !files.is_empty() {
            return files;
        }
    }
    home_config().into_iter().collect()
}

fn section(doc: &Value, key: &str, inner: &str) -> Vec<Named> {
    doc.get(key)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| {
                    Some(Named {
                        name: i.get("name")?.as_str()?.to_owned(),
                        value: i.get(inner).cloned().unwrap_or(Value::Object(Map::new())),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Parses one kubeconfig document (YAML or JSON).
///
/// # Errors
/// [`Error::Parse`] with the file's name.
pub fn parse(path: &Path, text: &str) -> Result<Kubeconfig> {
    let doc: Value = if text.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_saphyr::from_str(text).map_err(|e| Error::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })?
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut cfg = Kubeconfig {
        clusters: section(&doc, "clusters", "cluster"),
        users: section(&doc, "users", "user"),
        contexts: section(&doc, "contexts", "context"),
        current_context: doc
            .get("current-context")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        preferences: doc
            .get("preferences")
            .cloned()
            .unwrap_or(Value::Object(Map::new())),
        files: vec![path.to_path_buf()],
    };
    // Relative file references resolve against the file's own directory.
    for (entries, keys) in [
        (&mut cfg.clusters, &["certificate-authority"][..]),
        (
            &mut cfg.users,
            &["client-certificate", "client-key", "tokenFile"][..],
        ),
    ] {
        for entry in entries.iter_mut() {
            for key in keys {
                if let Some(Value::String(p)) = entry.value.get_mut(*key) {
                    if !p.is_empty() && Path::new(p.as_str()).is_relative() {
                        *p = dir.join(p.as_str()).display().to_string();
                    }
                }
            }
        }
    }
    Ok(cfg)
}

impl Kubeconfig {
    /// Reads and merges the files kubectl would read; missing files in `$KUBECONFIG` are skipped.
    ///
    /// # Errors
    /// When an explicit `--kubeconfig` is missing, or a file does not parse.
    pub fn load(explicit: Option<&str>) -> Result<Kubeconfig> {
        let mut merged = Kubeconfig {
            preferences: Value::Object(Map::new()),
            ..Kubeconfig::default()
        };
        let files = config_files(explicit);
        for path in &files {
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
                    continue
                }
                Err(source) => {
                    return Err(Error::Read {
                        path: path.display().to_string(),
                        source,
                    })
                }
            };
            merged.merge(parse(path, &text)?);
        }
        if merged.files.is_empty() {
            merged.files = files.into_iter().take(1).collect();
        }
        Ok(merged)
    }

    /// Adds a later file: what is already set wins.
    fn merge(&mut self, other: Kubeconfig) {
        fn add(into: &mut Vec<Named>, from: Vec<Named>) {
            for n in from {
                if !into.iter().any(|e| e.name == n.name) {
                    into.push(n);
                }
            }
        }
        add(&mut self.clusters, other.clusters);
        add(&mut self.users, other.users);
        add(&mut self.contexts, other.contexts);
        if self.current_context.is_empty() {
            self.current_context = other.current_context;
        }
        self.files.extend(other.files);
    }

    fn find<'a>(entries: &'a [Named], name: &str) -> Option<&'a Value> {
        entries.iter().find(|e| e.name == name).map(|e| &e.value)
    }

    /// The context in use: `--context`, else `current-context`.
    pub fn context_name(&self, overrides: &Overrides) -> String {
        overrides
            .context
            .clone()
            .unwrap_or_else(|| self.current_context.clone())
    }

    /// The context's fields (`cluster`, `user`, `namespace`), empty when it has none.
    pub fn context(&self, name: &str) -> Option<&Value> {
        Self::find(&self.contexts, name)
    }

    /// Resolves what to connect to.
    ///
    /// # Errors
    /// When `--context` names no context, or no server is known.
    pub fn connection(&self, o: &Overrides) -> Result<Connection> {
        let ctx_name = self.context_name(o);
        let empty = Value::Object(Map::new());
        let ctx = match self.context(&ctx_name) {
            Some(c) => c,
            None if o.context.is_some() => return Err(Error::NoContext(ctx_name)),
            None => &empty,
        };
        let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let cluster_name = o.cluster.clone().or_else(|| field(ctx, "cluster"));
        let user_name = o.user.clone().or_else(|| field(ctx, "user"));
        if let Some(u) = &o.user {
            if Self::find(&self.users, u).is_none() {
                return Err(Error::NoUser(u.clone()));
            }
        }
        if let Some(c) = &o.cluster {
            if Self::find(&self.clusters, c).is_none() {
                return Err(Error::NoCluster(c.clone()));
            }
        }
        let cluster = cluster_name
            .as_deref()
            .and_then(|n| Self::find(&self.clusters, n))
            .unwrap_or(&empty);
        let user = user_name
            .as_deref()
            .and_then(|n| Self::find(&self.users, n))
            .unwrap_or(&empty);
        let server = o
            .server
            .clone()
            .or_else(|| field(cluster, "server"))
            .ok_or(Error::NoServer)?;
        let read = |data_key: &str, file_key: &str, v: &Value| -> Result<Option<Vec<u8>>> {
            if let Some(data) = field(v, data_key) {
                use base64::Engine as _;
                return Ok(base64::engine::general_purpose::STANDARD
                    .decode(data.trim())
                    .ok());
            }
            if let Some(path) = field(v, file_key) {
                return std::fs::read(&path)
                    .map(Some)
                    .map_err(|source| Error::Read { path, source });
            }
            Ok(None)
        };
        let ca_pem = match &o.certificate_authority {
            Some(p) => Some(std::fs::read(p).map_err(|source| Error::Read {
                path: p.clone(),
                source,
            })?),
            None => read(
                "certificate-authority-data",
                "certificate-authority",
                cluster,
            )?,
        };
        let (client_cert_pem, client_key_pem) = match (&o.client_certificate, &o.client_key) {
            (Some(c), Some(k)) => (
                Some(std::fs::read(c).map_err(|source| Error::Read {
                    path: c.clone(),
                    source,
                })?),
                Some(std::fs::read(k).map_err(|source| Error::Read {
                    path: k.clone(),
                    source,
                })?),
            ),
            _ => (
                read("client-certificate-data", "client-certificate", user)?,
                read("client-key-data", "client-key", user)?,
            ),
        };
        let token = match &o.token {
            Some(t) => Some(t.clone()),
            None => match field(user, "token") {
                Some(t) => Some(t),
                None => match field(user, "tokenFile") {
                    Some(path) => Some(
                        std::fs::read_to_string(&path)
                            .map_err(|source| Error::Read { path, source })?
                            .trim()
                            .to_owned(),
                    ),
                    None => None,
                },
            },
        };
        let namespace = o
            .namespace
            .clone()
            .or_else(|| field(ctx, "namespace").filter(|n| !n.is_empty()))
            .unwrap_or_else(|| "default".to_owned());
        Ok(Connection {
            server: server.trim_end_matches('/').to_owned(),
            ca_pem,
            insecure: o.insecure_skip_tls_verify
                || cluster
                    .get("insecure-skip-tls-verify")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            tls_server_name: field(cluster, "tls-server-name"),
            client_cert_pem,
            client_key_pem,
            token,
            username: field(user, "username"),
            password: field(user, "password"),
            namespace,
        })
    }

    /// The document as kubectl's `config view` prints it (before redaction).
    pub fn to_value(&self) -> Value {
        let list = |entries: &[Named], inner: &str| {
            Value::Array(
                entries
                    .iter()
                    .map(|n| {
                        let mut m = Map::new();
                        m.insert(inner.to_owned(), n.value.clone());
                        m.insert("name".to_owned(), Value::String(n.name.clone()));
                        Value::Object(m)
                    })
                    .collect(),
            )
        };
        let mut m = Map::new();
        m.insert("apiVersion".into(), Value::String("v1".into()));
        m.insert("clusters".into(), list(&self.clusters, "cluster"));
        m.insert("contexts".into(), list(&self.contexts, "context"));
        m.insert(
            "current-context".into(),
            Value::String(self.current_context.clone()),
        );
        m.insert("kind".into(), Value::String("Config".into()));
        m.insert("preferences".into(), self.preferences.clone());
        m.insert("users".into(), list(&self.users, "user"));
        Value::Object(m)
    }

    /// Keeps only the current context and what it references (`config view --minify`).
    ///
    /// # Errors
    /// [`Error::NoCurrentContext`] when no context is selected.
    pub fn minify(&mut self, overrides: &Overrides) -> Result<()> {
        let name = self.context_name(overrides);
        if name.is_empty() {
            return Err(Error::NoCurrentContext);
        }
        let ctx = self
            .context(&name)
            .cloned()
            .ok_or_else(|| Error::NoContext(name.clone()))?;
        let cluster = ctx
            .get("cluster")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let user = ctx.get("user").and_then(Value::as_str).unwrap_or_default();
        self.contexts.retain(|c| c.name == name);
        self.clusters.retain(|c| c.name == cluster);
        self.users.retain(|u| u.name == user);
        self.current_context = name;
        Ok(())
    }

    /// Replaces secret data with kubectl's `DATA+OMITTED` / `REDACTED` markers.
    pub fn redact(&mut self) {
        for c in &mut self.clusters {
            if let Value::Object(m) = &mut c.value {
                if m.contains_key("certificate-authority-data") {
                    m.insert(
                        "certificate-authority-data".into(),
                        Value::String("DATA+OMITTED".into()),
                    );
                }
            }
        }
        for u in &mut self.users {
            if let Value::Object(m) = &mut u.value {
                for key in ["client-certificate-data", "client-key-data"] {
                    if m.contains_key(key) {
                        m.insert(key.into(), Value::String("DATA+OMITTED".into()));
                    }
                }
                for key in ["token", "password"] {
                    if m.contains_key(key) {
                        m.insert(key.into(), Value::String("REDACTED".into()));
                    }
                }
            }
        }
    }
}

/// Rewrites one file's document with `edit` applied (for `use-context` and `set-context`).
///
/// # Errors
/// When the file cannot be read, parsed or written.
pub fn edit_file(path: &Path, edit: impl FnOnce(&mut Value)) -> Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(Error::Read {
                path: path.display().to_string(),
                source,
            })
        }
    };
    let mut doc: Value = if text.trim().is_empty() {
        serde_json::json!({"apiVersion": "v1", "kind": "Config", "clusters": [], "contexts": [],
            "users": [], "current-context": "", "preferences": {}})
    } else {
        serde_saphyr::from_str(&text).map_err(|e| Error::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })?
    };
    edit(&mut doc);
    let out = crate::output::yaml::to_yaml(&doc);
    std::fs::write(path, out).map_err(|source| Error::Write {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests;
