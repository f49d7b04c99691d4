//! Decisions of the garbage collector on small graphs.

use kube::discovery::{ApiCapabilities, ApiResource, Scope};

use super::*;

fn resources() -> Resources {
    let mut r = Resources::default();
    for (group, version, kind, plural, scope) in [
        ("apps", "v1", "ReplicaSet", "replicasets", Scope::Namespaced),
        ("", "v1", "ConfigMap", "configmaps", Scope::Namespaced),
        ("", "v1", "Node", "nodes", Scope::Cluster),
    ] {
        let api_version = if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        };
        r.insert_for_tests(
            ApiResource {
                group: group.into(),
                version: version.into(),
                api_version,
                kind: kind.into(),
                plural: plural.into(),
            },
            &ApiCapabilities {
                scope,
                subresources: Vec::new(),
                operations: ["list", "watch", "delete"].map(String::from).to_vec(),
            },
        );
    }
    r
}

fn node(kind: &str, ns: Option<&str>, name: &str, uid: &str) -> Node {
    let (group, plural, api_version) = match kind {
        "ReplicaSet" => ("apps", "replicasets", "apps/v1"),
        "Node" => ("", "nodes", "v1"),
        _ => ("", "configmaps", "v1"),
    };
    Node {
        resource: (group.into(), plural.into()),
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: ns.map(Into::into),
        name: name.into(),
        uid: uid.into(),
        resource_version: Some("1".into()),
        owners: Vec::new(),
        finalizers: Vec::new(),
        deleting: false,
    }
}

fn owner_ref(kind: &str, name: &str, uid: &str, block: bool) -> OwnerReference {
    OwnerReference {
        api_version: if kind == "ReplicaSet" {
            "apps/v1"
        } else {
            "v1"
        }
        .into(),
        kind: kind.into(),
        name: name.into(),
        uid: uid.into(),
        block_owner_deletion: block.then_some(true),
        controller: None,
    }
}

fn owned(mut dep: Node, refs: Vec<OwnerReference>) -> Node {
    dep.owners = refs;
    dep
}

fn lookup(ns: Option<&str>, name: &str, uid: &str) -> Lookup {
    Lookup {
        resource: ("apps".into(), "replicasets".into()),
        namespace: ns.map(Into::into),
        name: name.into(),
        uid: uid.into(),
    }
}

fn deletes(plan: &Plan) -> Vec<(&str, bool)> {
    plan.actions
        .iter()
        .filter_map(|a| match a {
            Action::Delete { node, foreground } => Some((node.name.as_str(), *foreground)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_present_owner_keeps_its_dependents() {
    let mut g = Graph::default();
    g.upsert(node("ReplicaSet", Some("a"), "rs", "u1"));
    g.upsert(owned(
        node("ConfigMap", Some("a"), "cm", "u2"),
        vec![owner_ref("ReplicaSet", "rs", "u1", false)],
    ));
    let p = plan(&g, &resources(), &HashMap::new(), true);
    assert!(p.actions.is_empty(), "{:?}", p.actions);
    assert!(p.lookups.is_empty());
}

#[test]
fn an_unseen_owner_is_looked_up_then_its_dependent_deleted() {
    let mut g = Graph::default();
    g.upsert(owned(
        node("ConfigMap", Some("a"), "cm", "u2"),
        vec![owner_ref("ReplicaSet", "rs", "u1", false)],
    ));
    let r = resources();
    let p = plan(&g, &r, &HashMap::new(), true);
    assert!(p.actions.is_empty());
    assert_eq!(p.lookups, BTreeSet::from([lookup(Some("a"), "rs", "u1")]));

    let found = HashMap::from([(lookup(Some("a"), "rs", "u1"), Checked::Solid)]);
    assert!(plan(&g, &r, &found, true).actions.is_empty());

    let gone = HashMap::from([(lookup(Some("a"), "rs", "u1"), Checked::Absent)]);
    assert_eq!(deletes(&plan(&g, &r, &gone, true)), vec![("cm", false)]);
}

#[test]
fn a_dependent_with_one_owner_left_only_drops_the_gone_one() {
    let mut g = Graph::default();
    g.upsert(node("ReplicaSet", Some("a"), "rs1", "u1"));
    g.upsert(owned(
        node("ConfigMap", Some("a"), "cm", "u3"),
        vec![
            owner_ref("ReplicaSet", "rs1", "u1", false),
            owner_ref("ReplicaSet", "rs2", "u2", false),
        ],
    ));
    let gone = HashMap::from([(lookup(Some("a"), "rs2", "u2"), Checked::Absent)]);
    let p = plan(&g, &resources(), &gone, true);
    assert_eq!(
        p.actions,
        vec![Action::DropOwners {
            node: g.nodes["u3"].clone(),
            uids: BTreeSet::from(["u2".to_owned()]),
        }]
    );
}

#[test]
fn foreground_deletes_dependents_then_frees_the_owner() {
    let mut g = Graph::default();
    let mut rs = node("ReplicaSet", Some("a"), "rs", "u1");
    rs.deleting = true;
    rs.finalizers = vec![FOREGROUND.into()];
    g.upsert(rs.clone());
    g.upsert(owned(
        node("ConfigMap", Some("a"), "cm", "u2"),
        vec![owner_ref("ReplicaSet", "rs", "u1", true)],
    ));
    let r = resources();
    let p = plan(&g, &r, &HashMap::new(), true);
    assert_eq!(deletes(&p), vec![("cm", true)]);
    assert!(!p
        .actions
        .iter()
        .any(|a| matches!(a, Action::RemoveFinalizer { .. })));

    // Deleting but still there: the owner keeps waiting.
    let mut cm = g.nodes["u2"].clone();
    cm.deleting = true;
    g.upsert(cm);
    assert!(plan(&g, &r, &HashMap::new(), true).actions.is_empty());
    // Gone: the finalizer goes, but only once every watch has listed.
    g.remove("u2");
    assert!(plan(&g, &r, &HashMap::new(), false).actions.is_empty());
    assert_eq!(
        plan(&g, &r, &HashMap::new(), true).actions,
        vec![Action::RemoveFinalizer {
            node: rs,
            finalizer: FOREGROUND
        }]
    );
}

#[test]
fn orphaning_drops_references_then_the_finalizer() {
    let mut g = Graph::default();
    let mut rs = node("ReplicaSet", Some("a"), "rs", "u1");
    rs.deleting = true;
    rs.finalizers = vec![ORPHAN.into()];
    g.upsert(rs.clone());
    g.upsert(owned(
        node("ConfigMap", Some("a"), "cm", "u2"),
        vec![owner_ref("ReplicaSet", "rs", "u1", true)],
    ));
    let r = resources();
    let p = plan(&g, &r, &HashMap::new(), true);
    assert_eq!(
        p.actions,
        vec![Action::DropOwners {
            node: g.nodes["u2"].clone(),
            uids: BTreeSet::from(["u1".to_owned()]),
        }]
    );
    g.upsert(node("ConfigMap", Some("a"), "cm", "u2"));
    assert_eq!(
        plan(&g, &r, &HashMap::new(), true).actions,
        vec![Action::RemoveFinalizer {
            node: rs,
            finalizer: ORPHAN
        }]
    );
}

#[test]
fn owners_in_another_namespace_are_reported_and_looked_up_where_they_should_be() {
    let mut g = Graph::default();
    g.upsert(node("ReplicaSet", Some("b"), "rs", "u1"));
    g.upsert(owned(
        node("ConfigMap", Some("a"), "cm", "u2"),
        vec![owner_ref("ReplicaSet", "rs", "u1", false)],
    ));
    let p = plan(&g, &resources(), &HashMap::new(), true);
    assert!(matches!(
        p.actions.as_slice(),
        [Action::InvalidOwner { node, .. }] if node.name == "cm"
    ));
    assert_eq!(p.lookups, BTreeSet::from([lookup(Some("a"), "rs", "u1")]));
}

#[test]
fn cluster_scoped_dependents_of_namespaced_kinds_and_unknown_kinds_stay() {
    let mut g = Graph::default();
    g.upsert(owned(
        node("Node", None, "n1", "u2"),
        vec![owner_ref("ReplicaSet", "rs", "u1", false)],
    ));
    let mut unknown = owner_ref("Widget", "w", "u9", false);
    unknown.api_version = "example.com/v1".into();
    g.upsert(owned(
        node("ConfigMap", Some("a"), "cm", "u3"),
        vec![unknown],
    ));
    let p = plan(&g, &resources(), &HashMap::new(), true);
    assert!(deletes(&p).is_empty());
    assert!(p.lookups.is_empty());
    assert!(p
        .actions
        .iter()
        .any(|a| matches!(a, Action::InvalidOwner { node, .. } if node.name == "n1")));
    assert!(p
        .actions
        .iter()
        .any(|a| matches!(a, Action::UnknownKind { node, .. } if node.name == "cm")));
}
