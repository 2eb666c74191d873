//! Helpers of the benchmark binaries: the release `auction-local` as its own process, and
//! percentiles.

#![allow(clippy::missing_panics_doc)]

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

/// CPU time used so far by the live threads of process `pid` (the sum of
/// `/proc/PID/task/*/schedstat`, in nanoseconds: clock ticks of 10 ms are too coarse).
#[must_use]
pub fn process_cpu(pid: u32) -> Duration {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    let nanos: u64 = tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
        .filter_map(|text| text.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

/// A running `auction-local` process.
pub struct LocalProcess {
    /// Its `http://host:port`.
    pub base: String,
    /// Its pid.
    pub pid: u32,
    _child: tokio::process::Child,
}

impl LocalProcess {
    /// `ws://host:port/ws`.
    #[must_use]
    pub fn ws_url(&self) -> String {
        format!("{}/ws", self.base.replacen("http://", "ws://", 1))
    }

    /// `GET /_local/stats`.
    pub async fn stats(&self, http: &reqwest::Client) -> serde_json::Value {
        http.get(format!("{}/_local/stats", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// Starts the `auction-local` next to the running benchmark binary with `args` (plus
/// `--port 0 --no-demo`), and waits for its first line. Its log goes to `BENCH_LOCAL_LOG` when
/// that is set.
pub async fn spawn_local(args: &[&str]) -> LocalProcess {
    // reqwest is built without a default TLS provider (the workspace picks ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let binary = std::env::current_exe()
        .unwrap()
        .with_file_name("auction-local");
    let mut child = tokio::process::Command::new(&binary)
        .args(["--port", "0", "--no-demo"])
        .args(args)
        .stdout(Stdio::piped())
        // `BENCH_LOCAL_LOG=FILE` keeps the stack's log (with `RUST_LOG`) for a run that misbehaves.
        .stderr(match std::env::var_os("BENCH_LOCAL_LOG") {
            Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
            None => Stdio::null(),
        })
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {}: {e} (build it with cargo build --release -p local)",
                binary.display()
            )
        });
    let pid = child.id().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    let base = first.strip_prefix("listening on ").unwrap().to_owned();
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    LocalProcess {
        base,
        pid,
        _child: child,
    }
}

/// The `p` quantile (0–1) of sorted values.
#[must_use]
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}
