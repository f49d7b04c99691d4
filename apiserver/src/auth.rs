//! Who is asking: a client certificate signed by the cluster CA, or a bearer token from the
//! static token file (`<data-dir>/tokens.csv`, Kubernetes' `token,user,uid,"group1,group2"`
//! format). Anonymous requests get 401 except on the health endpoints.

use std::collections::HashMap;
use std::path::Path;

use http::{header, HeaderMap};

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub groups: Vec<String>,
}

/// The static bearer tokens.
#[derive(Debug, Default)]
pub struct Tokens(HashMap<String, Identity>);

impl Tokens {
    /// Loads `path`; a missing file means no tokens.
    pub fn load(path: &Path) -> std::io::Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Tokens::default()),
            Err(e) => return Err(e),
        };
        Ok(Tokens::parse(&text))
    }

    fn parse(text: &str) -> Self {
        let mut map = HashMap::new();
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let fields = split_csv(line);
            if fields.len() < 2 || fields[0].is_empty() {
                tracing::warn!("ignoring a malformed line of the token file");
                continue;
            }
            let groups = fields
                .get(3)
                .map(|g| {
                    g.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            map.insert(
                fields[0].clone(),
                Identity {
                    user: fields[1].clone(),
                    groups,
                },
            );
        }
        Tokens(map)
    }

    /// The identity a request's `Authorization: Bearer` header names.
    pub fn authenticate(&self, headers: &HeaderMap) -> Option<Identity> {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))?;
        self.0.get(token.trim()).cloned()
    }
}

/// Splits one CSV line, honouring double quotes.
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file() {
        let t = Tokens::parse("# comment\nabc,alice,1,\"dev,ops\"\nxyz,bob,2\n");
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        let id = t.authenticate(&h).unwrap();
        assert_eq!(id.user, "alice");
        assert_eq!(id.groups, vec!["dev", "ops"]);
        h.insert(header::AUTHORIZATION, "Bearer nope".parse().unwrap());
        assert!(t.authenticate(&h).is_none());
    }
}
