//! The parameters kube-apiserver documents on its operations, in one catalogue.

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum In {
    Path,
    Query,
}

/// One parameter, in a form both document versions render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Param {
    pub name: &'static str,
    pub location: In,
    /// The JSON type: `string`, `integer` or `boolean`.
    pub ty: &'static str,
    pub description: &'static str,
}

const fn query(name: &'static str, ty: &'static str, description: &'static str) -> Param {
    Param {
        name,
        location: In::Query,
        ty,
        description,
    }
}

pub(super) const NAME: Param = Param {
    name: "name",
    location: In::Path,
    ty: "string",
    description: "name of the object",
};
pub(super) const NAMESPACE: Param = Param {
    name: "namespace",
    location: In::Path,
    ty: "string",
    description: "object name and auth scope, such as for teams and projects",
};
pub(super) const PRETTY: Param = query(
    "pretty",
    "string",
    "If 'true', the output is pretty printed.",
);

const ALLOW_WATCH_BOOKMARKS: Param = query(
    "allowWatchBookmarks",
    "boolean",
    "Requests watch events of type BOOKMARK. Servers may ignore it.",
);
const CONTINUE: Param = query(
    "continue",
    "string",
    "The continue token of a previous paginated list call, to fetch the next page.",
);
const DRY_RUN: Param = query(
    "dryRun",
    "string",
    "When present, modifications are not persisted. Valid values: All (every dry-run stage is processed).",
);
const FIELD_MANAGER: Param = query(
    "fieldManager",
    "string",
    "The name of the actor making these changes, recorded in managedFields.",
);
const FIELD_SELECTOR: Param = query(
    "fieldSelector",
    "string",
    "Restricts the returned objects by their fields. Defaults to everything.",
);
const FIELD_VALIDATION: Param = query(
    "fieldValidation",
    "string",
    "How the server treats unknown or duplicate fields in the request body: Ignore (drop them), Warn (drop them and warn, the default) or Strict (reject the request).",
);
const FORCE: Param = query(
    "force",
    "boolean",
    "Force an apply request through, taking ownership of conflicting fields. Only for apply patches.",
);
const GRACE_PERIOD_SECONDS: Param = query(
    "gracePeriodSeconds",
    "integer",
    "Seconds before the object is deleted; zero deletes immediately. Defaults to the kind's default.",
);
const IGNORE_STORE_READ_ERROR: Param = query(
    "ignoreStoreReadErrorWithClusterBreakingPotential",
    "boolean",
    "Deletes a corrupt object that cannot be read from storage. Dangerous.",
);
const LABEL_SELECTOR: Param = query(
    "labelSelector",
    "string",
    "Restricts the returned objects by their labels. Defaults to everything.",
);
const LIMIT: Param = query(
    "limit",
    "integer",
    "The maximum number of objects to return in one page of a list call.",
);
const ORPHAN_DEPENDENTS: Param = query(
    "orphanDependents",
    "boolean",
    "Deprecated: use propagationPolicy. Whether dependents are orphaned.",
);
const PROPAGATION_POLICY: Param = query(
    "propagationPolicy",
    "string",
    "Whether and how garbage collection deletes dependents: Orphan, Background or Foreground.",
);
const RESOURCE_VERSION: Param = query(
    "resourceVersion",
    "string",
    "Constrains the resource versions a request may be served from. Defaults to the latest.",
);
const RESOURCE_VERSION_MATCH: Param = query(
    "resourceVersionMatch",
    "string",
    "How resourceVersion applies to list calls: Exact or NotOlderThan.",
);
const SEND_INITIAL_EVENTS: Param = query(
    "sendInitialEvents",
    "boolean",
    "With watch=true, starts the watch stream with synthetic events for the current state.",
);
const TIMEOUT_SECONDS: Param = query(
    "timeoutSeconds",
    "integer",
    "Timeout of the list or watch call, whatever the activity.",
);
const WATCH: Param = query(
    "watch",
    "boolean",
    "Watch for changes to the described objects and return them as a stream of events.",
);

/// Query parameters of list and watch calls.
pub(super) const LIST: &[Param] = &[
    ALLOW_WATCH_BOOKMARKS,
    CONTINUE,
    FIELD_SELECTOR,
    LABEL_SELECTOR,
    LIMIT,
    RESOURCE_VERSION,
    RESOURCE_VERSION_MATCH,
    SEND_INITIAL_EVENTS,
    TIMEOUT_SECONDS,
    WATCH,
];

/// Query parameters of create and replace calls.
pub(super) const WRITE: &[Param] = &[DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];

/// Query parameters of patch calls.
pub(super) const PATCH: &[Param] = &[DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE];

/// Query parameters of delete calls.
pub(super) const DELETE: &[Param] = &[
    DRY_RUN,
    GRACE_PERIOD_SECONDS,
    IGNORE_STORE_READ_ERROR,
    ORPHAN_DEPENDENTS,
    PROPAGATION_POLICY,
];

/// Query parameters of deletecollection calls.
pub(super) const DELETE_COLLECTION: &[Param] = &[
    CONTINUE,
    DRY_RUN,
    FIELD_SELECTOR,
    GRACE_PERIOD_SECONDS,
    IGNORE_STORE_READ_ERROR,
    LABEL_SELECTOR,
    LIMIT,
    ORPHAN_DEPENDENTS,
    PROPAGATION_POLICY,
    RESOURCE_VERSION,
    RESOURCE_VERSION_MATCH,
    SEND_INITIAL_EVENTS,
    TIMEOUT_SECONDS,
];

/// Query parameters of `pods/log`.
pub(super) const LOG: &[Param] = &[
    query(
        "container",
        "string",
        "The container to stream logs of. Defaults to the only container.",
    ),
    query("follow", "boolean", "Follow the log stream."),
    query(
        "insecureSkipTLSVerifyBackend",
        "boolean",
        "Skip verifying the serving certificate of the kubelet.",
    ),
    query("limitBytes", "integer", "Stop after this many bytes."),
    query(
        "previous",
        "boolean",
        "Return the logs of the previous, terminated container.",
    ),
    query(
        "sinceSeconds",
        "integer",
        "Only logs newer than this many seconds.",
    ),
    query("sinceTime", "string", "Only logs after this RFC 3339 time."),
    query(
        "tailLines",
        "integer",
        "Only this many lines from the end of the log.",
    ),
    query(
        "timestamps",
        "boolean",
        "Prefix each line with an RFC 3339 timestamp.",
    ),
];

/// Query parameters of `pods/exec` and `pods/attach`.
pub(super) const EXEC: &[Param] = &[
    query(
        "command",
        "string",
        "The command to execute (repeat for each argument).",
    ),
    query(
        "container",
        "string",
        "The container to run in. Defaults to the only container.",
    ),
    query("stderr", "boolean", "Redirect the standard error stream."),
    query("stdin", "boolean", "Redirect the standard input stream."),
    query("stdout", "boolean", "Redirect the standard output stream."),
    query("tty", "boolean", "Allocate a terminal."),
];

/// Query parameters of `pods/portforward`.
pub(super) const PORT_FORWARD: &[Param] = &[query("ports", "integer", "The ports to forward to.")];
