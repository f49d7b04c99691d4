//! Member identity: IDs derived from peer URLs, as etcd does, so every member of a new
//! cluster computes the same IDs from the same `--initial-cluster`.

use crate::proto::internal::MemberAttributes;

/// FNV-1a: stable across builds and platforms (unlike std's hasher).
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The ID of a member with these peer URLs in the cluster named `token`. `salt` is 0 for
/// initial members; members added later mix in a time so a re-added URL gets a new ID.
pub fn member_id(peer_urls: &[String], token: &str, salt: u64) -> u64 {
    let mut urls: Vec<&str> = peer_urls.iter().map(String::as_str).collect();
    urls.sort_unstable();
    let joined = urls.join(",");
    let id = fnv1a(&[joined.as_bytes(), token.as_bytes(), &salt.to_be_bytes()]);
    id.max(1)
}

/// The cluster ID: derived from the initial members' IDs.
pub fn cluster_id(member_ids: &[u64]) -> u64 {
    let mut ids = member_ids.to_vec();
    ids.sort_unstable();
    let bytes: Vec<u8> = ids.iter().flat_map(|i| i.to_be_bytes()).collect();
    fnv1a(&[&bytes]).max(1)
}

/// Merges an attribute update: fields left empty keep their old value.
pub fn merge(old: &mut MemberAttributes, update: &MemberAttributes) {
    if !update.name.is_empty() {
        old.name = update.name.clone();
    }
    if !update.peer_urls.is_empty() {
        old.peer_urls = update.peer_urls.clone();
    }
    if !update.client_urls.is_empty() {
        old.client_urls = update.client_urls.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_order_free() {
        let a = member_id(&["http://b".into(), "http://a".into()], "t", 0);
        let b = member_id(&["http://a".into(), "http://b".into()], "t", 0);
        assert_eq!(a, b);
        assert_ne!(a, member_id(&["http://a".into()], "t", 0));
        assert_ne!(
            a,
            member_id(&["http://a".into(), "http://b".into()], "u", 0)
        );
        assert_eq!(cluster_id(&[2, 1]), cluster_id(&[1, 2]));
    }
}
