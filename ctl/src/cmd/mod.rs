//! The verbs, one module each, and what they share: global flags, the lazily built client and
//! discovery, and error reporting as kubectl words it.

mod api_resources;
mod apply;
mod autoscale;
mod completion;
mod config;
mod cordon;
mod cp;
mod create;
mod delete;
mod describe;
mod diff;
mod drain;
mod edit;
mod exec;
mod explain;
mod expose;
mod get;
mod label;
mod logs;
mod patch;
mod port_forward;
mod rollout;
mod run;
mod scale;
mod set;
mod taint;
mod target;
mod top;
mod version;
mod wait;

use std::io::Write as _;

use clap::{Args, Parser, Subcommand};
use tokio::sync::OnceCell;

use crate::client::{self, Client};
use crate::discovery::Discovery;
use crate::kubeconfig::{Kubeconfig, Overrides};

/// rkctl controls an rkube (or any Kubernetes) cluster.
#[derive(Debug, Parser)]
#[command(name = "rkctl", version, about, disable_version_flag = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every verb takes.
#[derive(Debug, Args, Clone, Default)]
pub struct Global {
    /// Path to the kubeconfig file to use.
    #[arg(long, global = true)]
    pub kubeconfig: Option<String>,
    /// The name of the kubeconfig context to use.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// The name of the kubeconfig cluster to use.
    #[arg(long, global = true)]
    pub cluster: Option<String>,
    /// The name of the kubeconfig user to use.
    #[arg(long, global = true)]
    pub user: Option<String>,
    /// The namespace scope for this request.
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    /// The address and port of the Kubernetes API server.
    #[arg(short = 's', long, global = true)]
    pub server: Option<String>,
    /// Bearer token for authentication to the API server.
    #[arg(long, global = true)]
    pub token: Option<String>,
    /// Do not check the server's certificate (insecure).
    #[arg(long, global = true)]
    pub insecure_skip_tls_verify: bool,
    /// Path to a cert file for the certificate authority.
    #[arg(long, global = true)]
    pub certificate_authority: Option<String>,
    /// Path to a client certificate file for TLS.
    #[arg(long, global = true)]
    pub client_certificate: Option<String>,
    /// Path to a client key file for TLS.
    #[arg(long, global = true)]
    pub client_key: Option<String>,
    /// Log level (accepted for kubectl compatibility).
    #[arg(short = 'v', long = "v", global = true)]
    pub verbosity: Option<u8>,
    /// Request timeout (accepted for kubectl compatibility).
    #[arg(long, global = true)]
    pub request_timeout: Option<String>,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the client and server version information.
    Version(version::Opts),
    /// Print the supported API resources on the server.
    ApiResources(api_resources::Opts),
    /// Display one or many resources.
    Get(get::Opts),
    /// Show details of a specific resource or group of resources.
    Describe(describe::Opts),
    /// Apply a configuration to a resource by file name or stdin.
    Apply(apply::Opts),
    /// Create a resource from a file or from stdin.
    Create(create::Opts),
    /// Replace a resource by file name or stdin.
    Replace(create::ReplaceOpts),
    /// Delete resources by file names, stdin, resources and names, or by resources and label selector.
    Delete(delete::Opts),
    /// Update the labels on a resource.
    Label(label::Opts),
    /// Update the annotations on a resource.
    Annotate(label::Opts),
    /// Set a new size for a deployment, replica set, or stateful set.
    Scale(scale::Opts),
    /// Update fields of a resource.
    Patch(patch::Opts),
    /// Experimental: Wait for a specific condition on one or many resources.
    Wait(wait::Opts),
    /// Modify kubeconfig files.
    #[command(subcommand)]
    Config(config::Command),
    /// Manage the rollout of a resource.
    #[command(subcommand)]
    Rollout(rollout::Command),
    /// Mark node as unschedulable.
    Cordon(cordon::Opts),
    /// Mark node as schedulable.
    Uncordon(cordon::Opts),
    /// Update the taints on one or more nodes.
    Taint(taint::Opts),
    /// Set specific features on objects.
    #[command(subcommand)]
    Set(set::Command),
    /// Auto-scale a deployment, replica set, stateful set, or replication controller.
    Autoscale(autoscale::Opts),
    /// Take a workload, service or pod and expose it as a new Kubernetes service.
    Expose(expose::Opts),
    /// Run a particular image on the cluster.
    Run(run::Opts),
    /// Edit a resource on the server.
    Edit(edit::Opts),
    /// Get documentation for a resource.
    Explain(explain::Opts),
    /// Print the logs for a container in a pod.
    Logs(logs::Opts),
    /// Execute a command in a container.
    Exec(exec::Opts),
    /// Attach to a running container.
    Attach(exec::AttachOpts),
    /// Forward one or more local ports to a pod.
    PortForward(port_forward::Opts),
    /// Copy files and directories to and from containers.
    Cp(cp::Opts),
    /// Display resource (CPU/memory) usage.
    #[command(subcommand)]
    Top(top::Command),
    /// Drain node in preparation for maintenance.
    Drain(drain::Opts),
    /// Diff the live version against a would-be applied version.
    Diff(diff::Opts),
    /// Output shell completion code for bash or zsh.
    Completion(completion::Opts),
}

/// Process-wide state: flags, and the client and discovery built on first use.
#[derive(Debug)]
pub struct Ctx {
    pub global: Global,
    client: OnceCell<Client>,
    discovery: OnceCell<Discovery>,
}

/// A failure already reported to the user: exit 1 without another message.
#[derive(Debug, thiserror::Error)]
#[error("failed")]
pub struct Reported;

/// A failure already reported, ending rkctl with this exit code (a remote command's).
#[derive(Debug, thiserror::Error)]
#[error("exit code {0}")]
pub struct ExitWith(pub u8);

impl Ctx {
    fn new(global: Global) -> Ctx {
        Ctx {
            global,
            client: OnceCell::new(),
            discovery: OnceCell::new(),
        }
    }

    /// The flag overrides for kubeconfig.
    pub fn overrides(&self) -> Overrides {
        let g = &self.global;
        Overrides {
            kubeconfig: g.kubeconfig.clone(),
            context: g.context.clone(),
            cluster: g.cluster.clone(),
            user: g.user.clone(),
            namespace: g.namespace.clone(),
            server: g.server.clone(),
            token: g.token.clone(),
            insecure_skip_tls_verify: g.insecure_skip_tls_verify,
            certificate_authority: g.certificate_authority.clone(),
            client_certificate: g.client_certificate.clone(),
            client_key: g.client_key.clone(),
        }
    }

    /// The client, built on first use.
    ///
    /// # Errors
    /// Bad kubeconfig or TLS material.
    pub async fn client(&self) -> anyhow::Result<&Client> {
        self.client
            .get_or_try_init(|| async {
                let overrides = self.overrides();
                let cfg = Kubeconfig::load(overrides.kubeconfig.as_deref())?;
                let conn = cfg.connection(&overrides)?;
                Ok::<_, anyhow::Error>(Client::new(&conn)?)
            })
            .await
    }

    /// What the server serves, asked once per process.
    ///
    /// # Errors
    /// Connection failures.
    pub async fn discovery(&self) -> anyhow::Result<&Discovery> {
        let client = self.client().await?;
        self.discovery
            .get_or_try_init(|| async { Ok::<_, anyhow::Error>(Discovery::load(client).await?) })
            .await
    }
}

pub use apply::LAST_APPLIED;

/// Writes to stdout (ignoring a closed pipe).
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// Writes to stderr.
pub fn err(text: &str) {
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// Prints a command's error as kubectl does: API errors as `Error from server (...)`, the rest
/// as `error: ...`.
pub fn report(e: &anyhow::Error) {
    if e.downcast_ref::<Reported>().is_some() || e.downcast_ref::<ExitWith>().is_some() {
        return;
    }
    if let Some(client::Error::Api(api)) = e.downcast_ref::<client::Error>() {
        if api.code == 401 {
            err(&format!(
                "error: You must be logged in to the server ({})\n",
                api.message
            ));
        } else {
            err(&format!("{api}\n"));
        }
        return;
    }
    if let Some(crate::discovery::Error::Client(client::Error::Api(api))) =
        e.downcast_ref::<crate::discovery::Error>()
    {
        err(&format!("{api}\n"));
        return;
    }
    if let Some(k @ crate::kubeconfig::Error::NoServer) =
        e.downcast_ref::<crate::kubeconfig::Error>()
    {
        err(&format!("{k}\n"));
        return;
    }
    if let Some(c) = e.downcast_ref::<client::Error>() {
        if matches!(c, client::Error::Refused(_) | client::Error::Connect(_)) {
            err(&format!("{c}\n"));
            return;
        }
    }
    err(&format!("error: {e:#}\n"));
}

/// Runs the command line.
///
/// # Errors
/// Whatever the verb reports.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let ctx = Ctx::new(cli.global);
    match cli.command {
        Command::Version(o) => version::run(&ctx, o).await,
        Command::ApiResources(o) => api_resources::run(&ctx, o).await,
        Command::Get(o) => get::run(&ctx, o).await,
        Command::Describe(o) => describe::run(&ctx, o).await,
        Command::Apply(o) => apply::run(&ctx, o).await,
        Command::Create(o) => create::run(&ctx, o).await,
        Command::Replace(o) => create::replace(&ctx, o).await,
        Command::Delete(o) => delete::run(&ctx, o).await,
        Command::Label(o) => label::run(&ctx, o, label::Field::Labels).await,
        Command::Annotate(o) => label::run(&ctx, o, label::Field::Annotations).await,
        Command::Scale(o) => scale::run(&ctx, o).await,
        Command::Patch(o) => patch::run(&ctx, o).await,
        Command::Wait(o) => wait::run(&ctx, o).await,
        Command::Config(c) => config::run(&ctx, c),
        Command::Rollout(c) => rollout::run(&ctx, c).await,
        Command::Cordon(o) => cordon::run(&ctx, o, true).await,
        Command::Uncordon(o) => cordon::run(&ctx, o, false).await,
        Command::Taint(o) => taint::run(&ctx, o).await,
        Command::Set(c) => set::run(&ctx, c).await,
        Command::Autoscale(o) => autoscale::run(&ctx, o).await,
        Command::Expose(o) => expose::run(&ctx, o).await,
        Command::Run(o) => run::run(&ctx, o).await,
        Command::Edit(o) => edit::run(&ctx, o).await,
        Command::Explain(o) => explain::run(&ctx, o).await,
        Command::Logs(o) => logs::run(&ctx, o).await,
        Command::Exec(o) => exec::run(&ctx, o).await,
        Command::Attach(o) => exec::attach(&ctx, o).await,
        Command::PortForward(o) => port_forward::run(&ctx, o).await,
        Command::Cp(o) => cp::run(&ctx, o).await,
        Command::Top(c) => top::run(&ctx, c).await,
        Command::Drain(o) => drain::run(&ctx, o).await,
        Command::Diff(o) => diff::run(&ctx, o).await,
        Command::Completion(o) => completion::run(o),
    }
}

/// Splits `get`-style arguments into (type, names): `TYPE NAME...`, `TYPE/NAME ...`,
/// `TYPE1,TYPE2`.
pub fn split_type_args(args: &[String]) -> anyhow::Result<Vec<(String, Vec<String>)>> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    if args.is_empty() {
        return Ok(out);
    }
    if args.iter().any(|a| a.contains('/')) {
        for a in args {
            let Some((t, n)) = a.split_once('/') else {
                anyhow::bail!(
                    "there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'rkctl get resource/<resource_name>' instead of 'rkctl get resource resource/<resource_name>'"
                );
            };
            match out.iter_mut().find(|(ty, _)| ty == t) {
                Some((_, names)) => names.push(n.to_owned()),
                None => out.push((t.to_owned(), vec![n.to_owned()])),
            }
        }
        return Ok(out);
    }
    let names: Vec<String> = args[1..].to_vec();
    for t in args[0].split(',').filter(|t| !t.is_empty()) {
        out.push((t.to_owned(), names.clone()));
    }
    Ok(out)
}

/// Query-string encoding of `pairs`.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    let q = ser.finish();
    if q.is_empty() {
        q
    } else {
        format!("?{q}")
    }
}
