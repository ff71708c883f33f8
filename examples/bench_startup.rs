//! Start-up benchmark: starts `sentinel-ip-enrich serve` several times, measures the time from
//! spawning the process to the port accepting a connection, and reads the idle resident memory
//! (VmRSS in /proc/PID/status) after a short settling time. Prints a markdown table.
//!
//! The handler inherits this process's environment, which must point every upstream at mocks
//! (bench/run.sh sets it); only FUNCTIONS_CUSTOMHANDLER_PORT is set here, to a free port.
//! Linux only, because of /proc.
//!
//! Usage: `bench_startup --bin target/release/sentinel-ip-enrich [--runs 10] [--settle-ms 500]`.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;

/// Interval between connection attempts while waiting for the port.
const POLL_INTERVAL: Duration = Duration::from_millis(1);
/// Maximum wait for the port before a run counts as failed.
const START_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Parser)]
struct Args {
    /// Path of the sentinel-ip-enrich binary.
    #[arg(long)]
    bin: PathBuf,

    /// Number of starts.
    #[arg(long, default_value_t = 10)]
    runs: usize,

    /// Wait after the port opens before reading memory, in milliseconds.
    #[arg(long, default_value_t = 500)]
    settle_ms: u64,
}

/// One start of the handler.
struct Start {
    to_listening: Duration,
    idle_rss_kib: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut starts = Vec::with_capacity(args.runs);
    for _ in 0..args.runs {
        starts.push(start_once(&args)?);
    }

    let mut times: Vec<Duration> = starts.iter().map(|start| start.to_listening).collect();
    times.sort();
    let mut rss: Vec<u64> = starts.iter().map(|start| start.idle_rss_kib).collect();
    rss.sort();
    let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;

    println!("| runs | start to listening, median (min to max), ms | idle VmRSS, median, MiB |");
    println!("|---:|---:|---:|");
    println!(
        "| {} | {:.1} ({:.1} to {:.1}) | {:.1} |",
        args.runs,
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1]),
        rss[rss.len() / 2] as f64 / 1024.0
    );
    Ok(())
}

fn start_once(args: &Args) -> anyhow::Result<Start> {
    let port = free_port()?;
    let started = Instant::now();
    let child = Command::new(&args.bin)
        .arg("serve")
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {}", args.bin.display()))?;
    let mut child = KillOnDrop(child);

    let to_listening = wait_for_port(&mut child.0, port, started)?;
    std::thread::sleep(Duration::from_millis(args.settle_ms));
    let idle_rss_kib = status_kib(child.0.id(), "VmRSS")?;

    Ok(Start {
        to_listening,
        idle_rss_kib,
    })
}

/// Polls the port until it accepts a connection; returns the time since `started`.
fn wait_for_port(child: &mut Child, port: u16, started: Instant) -> anyhow::Result<Duration> {
    while started.elapsed() < START_TIMEOUT {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(started.elapsed());
        }
        if let Some(status) = child.try_wait()? {
            bail!("the handler exited with {status} before listening; its stderr is above");
        }
        std::thread::sleep(POLL_INTERVAL);
    }
    bail!("the handler did not listen on port {port} within {START_TIMEOUT:?}")
}

/// Reads a field such as "VmRSS:   12345 kB" from /proc/PID/status, in KiB.
fn status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("{path} has no {field} line"))
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Stops the child when a run ends, including on an error.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
