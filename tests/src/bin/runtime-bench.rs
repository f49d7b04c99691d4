//! `runtime-bench`: the container lifecycle (create, start, wait, delete) of a busybox `true`
//! with rkube's runtime against crun and runc (Debian's), on the same busybox root file system
//! and the same OCI spec, in one run. Prints a markdown table of median and p99.
//!
//! rkube's lifecycle includes what the kubelet does per container: the overlay mount of the
//! image layer and its removal, and the shim process; crun and runc run on the plain directory.
//! On a cgroup v1 hybrid host crun runs with `--cgroup-manager=disabled` (it refuses hybrid
//! cgroups), so it creates no cgroup where rkube and runc do.
//!
//! ```text
//! cargo build --release -p rkube --bin rkube -p rkube-tests --bin runtime-bench
//! target/release/runtime-bench --runs 100
//! ```

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use rkube_kubelet::runtime::container::{runtime_spec, ContainerConfig, Runtime};
use rkube_tests::rootfs::{busybox_layer, remove_cgroup_parent};
use rkube_tests::store_proc::rkube_binary;

#[derive(Debug, Parser)]
struct Args {
    /// Lifecycles per runtime.
    #[arg(long, default_value_t = 100)]
    runs: usize,
}

fn config(id: &str, layer: &Path, dir: &Path) -> ContainerConfig {
    ContainerConfig {
        id: id.into(),
        layers: vec![layer.to_owned()],
        args: vec!["true".into()],
        env: vec!["PATH=/bin".into()],
        cwd: "/".into(),
        hostname: "bench".into(),
        log_path: dir.join("logs").join(format!("{id}.log")),
        cgroup_path: Some(format!("/rkube-bench-{}/{id}", std::process::id())),
        ..Default::default()
    }
}

fn stats(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = ms(samples[samples.len() / 2]);
    let p99 = ms(samples[((samples.len() * 99) / 100).min(samples.len() - 1)]);
    (median, p99)
}

/// `crun run` / `runc run`: create, start, wait and delete in one command, on a bundle whose
/// root is the plain layer directory.
fn low_level(tool: &str, layer: &Path, dir: &Path, runs: usize) -> Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(runs);
    for i in 0..runs {
        let id = format!("{tool}-{i}");
        let bundle = dir.join(&id);
        std::fs::create_dir_all(&bundle)?;
        let mut spec = runtime_spec(&config(&id, layer, dir));
        spec["root"] = serde_json::json!({"path": layer, "readonly": true});
        if tool == "crun" {
            // Nor can it mount cgroupfs there.
            if let Some(mounts) = spec["mounts"].as_array_mut() {
                mounts.retain(|m| m["type"] != "cgroup");
            }
        }
        std::fs::write(bundle.join("config.json"), serde_json::to_vec(&spec)?)?;
        let started = Instant::now();
        let mut command = Command::new(tool);
        if tool == "crun" {
            // crun refuses cgroups on a v1 hybrid host ("cgroups in hybrid mode not
            // supported"): it runs without any there, which only makes it faster.
            command.arg("--cgroup-manager=disabled");
        }
        let status = command
            .args(["run", "--bundle"])
            .arg(&bundle)
            .arg(&id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .status()
            .with_context(|| format!("running {tool} (apt-get install {tool})"))?;
        samples.push(started.elapsed());
        if !status.success() {
            bail!("{tool} run failed: {status}");
        }
        std::fs::remove_dir_all(&bundle)?;
    }
    Ok(samples)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let layer = busybox_layer(dir.path(), &["sh", "true"])?;
    let runtime = Runtime::new(dir.path().join("containers"), rkube_binary()?)?;
    let mut ours = Vec::with_capacity(args.runs);
    for i in 0..args.runs {
        let id = format!("rkube-{i}");
        let c = config(&id, &layer, dir.path());
        let started = Instant::now();
        runtime.run(&c).await?;
        let exit = runtime.wait(&id).await?;
        runtime.delete(&id).await?;
        ours.push(started.elapsed());
        if exit.exit_code != 0 {
            bail!("the container exited with {}", exit.exit_code);
        }
    }
    let crun = low_level("crun", &layer, dir.path(), args.runs)?;
    let runc = low_level("runc", &layer, dir.path(), args.runs)?;
    remove_cgroup_parent("rkube-bench");
    let (o_med, o_p99) = stats(ours);
    let (c_med, c_p99) = stats(crun);
    let (r_med, r_p99) = stats(runc);
    println!("| runtime | median | p99 | median vs crun |");
    println!("|---|---|---|---|");
    println!(
        "| rkube (shim + libcontainer) | {o_med:.1} ms | {o_p99:.1} ms | {:.2} |",
        o_med / c_med
    );
    println!("| crun | {c_med:.1} ms | {c_p99:.1} ms | 1.00 |");
    println!(
        "| runc | {r_med:.1} ms | {r_p99:.1} ms | {:.2} |",
        r_med / c_med
    );
    Ok(())
}
