//! Who is asking: a client certificate signed by the cluster CA, or a bearer token: one from
//! the static token file (`<data-dir>/tokens.csv`, Kubernetes' `token,user,uid,"group1,group2"`
//! format) or a service-account token this server signed (see [`crate::satoken`]).
//! Anonymous requests and unknown tokens get 401 except on the health endpoints.

use std::collections::HashMap;
use std::path::Path;

use http::{header, HeaderMap};

use crate::ApiServer;

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
        self.get(bearer_token(headers)?)
    }

    /// The identity of a static token.
    pub fn get(&self, token: &str) -> Option<Identity> {
        self.0.get(token).cloned()
    }
}

/// The token of a request's `Authorization: Bearer` header.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The identity of a request's bearer token: a static token, else a service-account token
/// whose account (and bound object) still exists. `None` means 401.
pub async fn authenticate_bearer(server: &ApiServer, headers: &HeaderMap) -> Option<Identity> {
    let token = bearer_token(headers)?;
    if let Some(identity) = server.tokens.get(token) {
        return Some(identity);
    }
    match server.service_accounts().authenticate(server, token).await {
        Ok(identity) => Some(identity),
        Err(e) => {
            tracing::debug!(error = %e, "bearer token refused");
            None
        }
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

    #[test]
    fn bearer_header_forms() {
        let token = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, v.parse().unwrap());
            bearer_token(&h).map(str::to_owned)
        };
        assert_eq!(token("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(token("bearer  abc ").as_deref(), Some("abc"));
        assert_eq!(token("BEARER abc").as_deref(), Some("abc"));
        assert_eq!(token("Bearer "), None);
        assert_eq!(token("Basic YWxpY2U6cHc="), None);
        assert_eq!(token("abc"), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
