//! Day-like workload for the upstream-efficiency benchmark: sends incidents to a running
//! `sentinel-ip-enrich serve` through the Functions invocation protocol, then reads the mock's
//! request counts and prints a markdown table of VirusTotal calls against their lower limit.
//!
//! Each incident carries 1 to 6 global addresses drawn with a Zipf distribution from a pool of
//! `--distinct` addresses (10% IPv6), some spelled with a port or as IPv4-mapped IPv6, and 0 to
//! 2 addresses that are not globally reachable. The lower limit of VirusTotal calls is the number
//! of distinct global addresses the incidents used, because each costs one call per cache TTL.
//!
//! Checks, each of which makes the exit status 1: every invocation returns statusCode 200 with
//! no failed address, no VirusTotal call is for an address that is not global, and no address
//! is looked up more than once.
//!
//! Usage: `bench_workload --handler http://127.0.0.1:PORT --mocks http://127.0.0.1:PORT
//! [--incidents 2000] [--distinct 500] [--concurrency 16] [--zipf-exponent 1.0] [--seed 1]`.
//! The handler must use the mocks as VirusTotal and start with an empty cache.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Parser;
use futures::StreamExt;
use sentinel_ip_enrich::parse::{Parsed, parse_one};
use serde_json::{Value, json};

/// Incidents are created in the sample incident's workspace, which bench/run.sh allows.
const WORKSPACE: &str = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-soc-example/providers/Microsoft.OperationalInsights/workspaces/law-soc-example";
/// Global addresses per incident are drawn uniformly from 1 to this.
const MAX_GLOBAL_PER_INCIDENT: u64 = 6;
/// Addresses that are not global per incident are drawn uniformly from 0 to this.
const MAX_OTHER_PER_INCIDENT: u64 = 2;
/// Addresses that are not globally reachable, one or more per skip reason.
const NOT_GLOBAL: [&str; 20] = [
    "10.0.0.5",
    "10.20.30.40",
    "172.16.5.4",
    "192.168.1.10",
    "100.64.10.1",
    "127.0.0.1",
    "169.254.10.20",
    "192.0.2.7",
    "198.51.100.9",
    "203.0.113.45",
    "198.18.0.1",
    "224.0.0.251",
    "255.255.255.255",
    "0.0.0.0",
    "240.0.0.1",
    "fe80::1",
    "fd00::1234",
    "::1",
    "2001:db8::5",
    "fc00::7",
];

#[derive(Parser)]
struct Args {
    /// Base URL of the handler, such as http://127.0.0.1:7071.
    #[arg(long)]
    handler: String,

    /// Base URL of bench_mocks, which the handler uses as VirusTotal.
    #[arg(long)]
    mocks: String,

    /// Number of incidents to send.
    #[arg(long, default_value_t = 2000)]
    incidents: u64,

    /// Size of the pool of global addresses.
    #[arg(long, default_value_t = 500)]
    distinct: u32,

    /// Invocations in progress at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,

    /// Zipf exponent s: the address of rank k (from 1) is drawn with weight 1/k^s.
    #[arg(long, default_value_t = 1.0)]
    zipf_exponent: f64,

    /// Seed of the generator, so runs send the same incidents.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// The generated incidents and what they contain.
struct Workload {
    invocations: Vec<Value>,
    /// Distinct canonical global addresses the incidents use: the lower limit of lookups.
    global_used: HashSet<IpAddr>,
    global_occurrences: u64,
    other_occurrences: u64,
}

/// Outcome of sending every invocation.
struct Sent {
    wall: Duration,
    latencies: Vec<Duration>,
    failures: Vec<String>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()?;

    let pool = global_pool(args.distinct)?;
    let not_global = not_global_pool()?;
    let mut workload = generate(&args, &pool, &not_global);
    let invocations = std::mem::take(&mut workload.invocations);

    let reset = format!("{}/__reset", args.mocks);
    client.post(&reset).send().await?.error_for_status()?;

    let sent = send_all(&client, &args, invocations).await;

    let counts_url = format!("{}/__counts", args.mocks);
    let counts: Value = client.get(&counts_url).send().await?.json().await?;

    let problems = check(&sent, &counts, &workload, &not_global);
    print_table(&args, &workload, &sent, &counts);

    if problems.is_empty() {
        return Ok(());
    }
    for problem in &problems {
        eprintln!("error: {problem}");
    }
    bail!("{} check(s) failed", problems.len())
}

/// Builds `count` distinct global addresses: every tenth is IPv6 in 2a00:1450::/32, the rest
/// IPv4 in 81.0.0.0/8. Fails if the parse stage would not look one of them up.
fn global_pool(count: u32) -> anyhow::Result<Vec<IpAddr>> {
    let mut pool = Vec::with_capacity(count as usize);
    for index in 0..count {
        let ip = if index % 10 == 9 {
            IpAddr::V6(Ipv6Addr::new(
                0x2a00,
                0x1450,
                0x4001,
                index as u16,
                0,
                0,
                0,
                5,
            ))
        } else {
            IpAddr::V4(Ipv4Addr::from(
                u32::from(Ipv4Addr::new(81, 0, 0, 1)) + index * 7,
            ))
        };
        if !matches!(parse_one(&ip.to_string()), Parsed::Lookup(_)) {
            bail!("pool address {ip} is not looked up by the parse stage; change the pool");
        }
        pool.push(ip);
    }
    Ok(pool)
}

/// Parses [`NOT_GLOBAL`]; fails if the parse stage would look one of them up.
fn not_global_pool() -> anyhow::Result<Vec<IpAddr>> {
    let mut pool = Vec::with_capacity(NOT_GLOBAL.len());
    for text in NOT_GLOBAL {
        match parse_one(text) {
            Parsed::Skip(ip, _) => pool.push(ip),
            other => bail!("{text} is expected to be skipped, but parses as {other:?}"),
        }
    }
    Ok(pool)
}

fn generate(args: &Args, pool: &[IpAddr], not_global: &[IpAddr]) -> Workload {
    let mut rng = SplitMix64(args.seed);
    let zipf = Zipf::new(pool.len(), args.zipf_exponent);
    let mut workload = Workload {
        invocations: Vec::with_capacity(args.incidents as usize),
        global_used: HashSet::new(),
        global_occurrences: 0,
        other_occurrences: 0,
    };

    for number in 0..args.incidents {
        let mut addresses = Vec::new();

        let global_count = 1 + rng.below(MAX_GLOBAL_PER_INCIDENT);
        for _ in 0..global_count {
            let ip = pool[zipf.sample(&mut rng)];
            workload.global_used.insert(ip);
            addresses.push(spell(ip, rng.below(10)));
        }
        workload.global_occurrences += global_count;

        let other_count = rng.below(MAX_OTHER_PER_INCIDENT + 1);
        for _ in 0..other_count {
            let ip = not_global[rng.below(not_global.len() as u64) as usize];
            addresses.push(ip.to_string());
        }
        workload.other_occurrences += other_count;

        workload.invocations.push(invocation(number, &addresses));
    }
    workload
}

/// Spells an address as an entity may carry it: usually plain, one time in ten with a port,
/// one in ten as IPv4-mapped IPv6 (IPv4) or in upper case (IPv6). All spellings have the same
/// canonical form, so they must share one lookup.
fn spell(ip: IpAddr, variant: u64) -> String {
    match (ip, variant) {
        (IpAddr::V4(v4), 0) => format!("{v4}:443"),
        (IpAddr::V4(v4), 1) => format!("::ffff:{v4}"),
        (IpAddr::V6(v6), 0) => format!("[{v6}]:443"),
        (IpAddr::V6(v6), 1) => v6.to_string().to_uppercase(),
        _ => ip.to_string(),
    }
}

/// Builds the `EnrichIncident` invocation for incident `number` with one IP entity per address.
fn invocation(number: u64, addresses: &[String]) -> Value {
    let entities: Vec<Value> = addresses
        .iter()
        .map(|address| json!({"kind": "Ip", "properties": {"address": address}}))
        .collect();
    let body = json!({
        "objectSchemaType": "Incident",
        "objectEventType": "Create",
        "object": {
            "id": format!("{WORKSPACE}/providers/Microsoft.SecurityInsights/Incidents/c0000000-0000-4000-8000-{number:012}"),
            "properties": {
                "incidentNumber": 10_000 + number,
                "title": format!("Workload incident {number}"),
                "relatedEntities": entities,
            }
        }
    });
    json!({
        "Data": {"req": {
            "Url": "http://localhost:7071/api/EnrichIncident",
            "Method": "POST",
            "Query": {},
            "Headers": {"Content-Type": ["application/json"]},
            "Params": {},
            "Identities": [],
            "Body": body.to_string(),
        }},
        "Metadata": {"Query": {}, "Headers": {}, "sys": {"MethodName": "EnrichIncident"}}
    })
}

/// Sends every invocation, `--concurrency` at a time, and records latency and failures.
async fn send_all(client: &reqwest::Client, args: &Args, invocations: Vec<Value>) -> Sent {
    let url = format!("{}/EnrichIncident", args.handler);
    let started = Instant::now();

    let results: Vec<(Duration, Result<(), String>)> = futures::stream::iter(invocations)
        .enumerate()
        .map(|(index, invocation)| {
            let url = &url;
            async move {
                let sent_at = Instant::now();
                let result = invoke(client, url, index, &invocation).await;
                (sent_at.elapsed(), result)
            }
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;

    let wall = started.elapsed();
    let mut sent = Sent {
        wall,
        latencies: Vec::with_capacity(results.len()),
        failures: Vec::new(),
    };
    for (latency, result) in results {
        sent.latencies.push(latency);
        if let Err(failure) = result {
            sent.failures.push(failure);
        }
    }
    sent.latencies.sort();
    sent
}

/// Sends one invocation; succeeds when the HTTP output is 200 and no address failed.
async fn invoke(
    client: &reqwest::Client,
    url: &str,
    index: usize,
    invocation: &Value,
) -> Result<(), String> {
    let response = client
        .post(url)
        .header(
            "X-Azure-Functions-InvocationId",
            format!("00000000-0000-4000-8000-{index:012}"),
        )
        .json(invocation)
        .send()
        .await
        .map_err(|error| format!("invocation {index}: request failed: {error}"))?;
    let host_status = response.status().as_u16();
    let reply: Value = response
        .json()
        .await
        .map_err(|error| format!("invocation {index}: reply is not JSON: {error}"))?;

    let output = &reply["Outputs"]["res"];
    let status = output["statusCode"].as_u64().unwrap_or(0);
    if host_status != 200 || status != 200 {
        return Err(format!(
            "invocation {index}: host status {host_status}, statusCode {status}: {}",
            output["body"]
        ));
    }
    let body: Value = output["body"]
        .as_str()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default();
    let failed = body["summary"]["by_status"]["failed"].as_u64().unwrap_or(0);
    if failed > 0 {
        return Err(format!("invocation {index}: {failed} address(es) failed"));
    }
    Ok(())
}

/// Returns a description of every check that failed.
fn check(sent: &Sent, counts: &Value, workload: &Workload, not_global: &[IpAddr]) -> Vec<String> {
    let mut problems: Vec<String> = sent.failures.iter().take(5).cloned().collect();
    if sent.failures.len() > 5 {
        problems.push(format!(
            "{} more failed invocations",
            sent.failures.len() - 5
        ));
    }

    let by_address = counts["virustotal_by_address"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (address, calls) in &by_address {
        let calls = calls.as_u64().unwrap_or(0);
        let ip = match parse_one(address) {
            Parsed::Lookup(ip) => ip,
            other => {
                problems.push(format!(
                    "VirusTotal was called {calls} time(s) for {address}, which is not a global address ({other:?})"
                ));
                continue;
            }
        };
        if not_global.contains(&ip) {
            problems.push(format!(
                "VirusTotal was called for {address}, which the workload sent as not global"
            ));
        }
        if !workload.global_used.contains(&ip) {
            problems.push(format!(
                "VirusTotal was called for {address}, which no incident contains"
            ));
        }
        if calls > 1 {
            problems.push(format!(
                "VirusTotal was called {calls} times for {address}; the cache should make it once"
            ));
        }
    }
    problems
}

fn print_table(args: &Args, workload: &Workload, sent: &Sent, counts: &Value) {
    let count = |name: &str| counts[name].as_u64().unwrap_or(0);
    let vt_calls = count("virustotal");
    let lower_limit = workload.global_used.len() as u64;
    let by_address: BTreeMap<String, Value> = counts["virustotal_by_address"]
        .as_object()
        .map(|map| map.clone().into_iter().collect())
        .unwrap_or_default();
    let calls_not_global = by_address
        .iter()
        .filter(|(address, _)| !matches!(parse_one(address), Parsed::Lookup(_)))
        .map(|(_, calls)| calls.as_u64().unwrap_or(0))
        .sum::<u64>();
    let one_per_entity = workload.global_occurrences + workload.other_occurrences;
    let seconds = sent.wall.as_secs_f64();

    println!(
        "| incidents | concurrency | pool of global addresses | Zipf s | global occurrences | other occurrences |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {} | {} | {} | {} | {} |",
        args.incidents,
        args.concurrency,
        args.distinct,
        args.zipf_exponent,
        workload.global_occurrences,
        workload.other_occurrences
    );
    println!();
    println!("| measure | value |");
    println!("|---|---:|");
    println!(
        "| distinct global addresses used (lower limit of VirusTotal calls) | {lower_limit} |"
    );
    println!("| VirusTotal calls made | {vt_calls} |");
    println!(
        "| calls / lower limit | {:.3} |",
        vt_calls as f64 / lower_limit.max(1) as f64
    );
    println!("| distinct addresses called | {} |", by_address.len());
    println!("| calls for addresses that are not global | {calls_not_global} |");
    println!(
        "| calls with one lookup per IP entity and no cache (as the Logic App template) | {one_per_entity} |"
    );
    println!("| invocations that failed | {} |", sent.failures.len());
    println!(
        "| identity / incident GET / incident PUT / comment PUT / Logs Ingestion requests | {} / {} / {} / {} / {} |",
        count("token"),
        count("incident_get"),
        count("incident_put"),
        count("comment_put"),
        count("logs_post")
    );
    println!(
        "| unexpected requests to the mocks | {} |",
        count("unexpected")
    );
    println!("| wall time, s | {seconds:.2} |");
    println!(
        "| invocations per second | {:.0} |",
        args.incidents as f64 / seconds
    );
    println!(
        "| latency p50 / p99, ms | {:.1} / {:.1} |",
        percentile_ms(&sent.latencies, 0.50),
        percentile_ms(&sent.latencies, 0.99)
    );
}

/// Returns the nearest-rank percentile of sorted durations, in milliseconds.
fn percentile_ms(sorted: &[Duration], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((fraction * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

/// SplitMix64, a small deterministic generator: enough for drawing workloads, not for anything
/// secret.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Returns a number from 0 to `bound - 1`; the modulo bias is negligible for small bounds.
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    /// Returns a number in [0, 1) with 53 random bits.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Zipf distribution over ranks 0..n: rank k is drawn with weight 1/(k+1)^s.
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, exponent: f64) -> Self {
        let mut total = 0.0;
        let cumulative = (0..n)
            .map(|rank| {
                total += 1.0 / ((rank + 1) as f64).powf(exponent);
                total
            })
            .collect::<Vec<f64>>();
        let cumulative = cumulative.iter().map(|sum| sum / total).collect();
        Self { cumulative }
    }

    fn sample(&self, rng: &mut SplitMix64) -> usize {
        let u = rng.unit();
        self.cumulative
            .partition_point(|&sum| sum <= u)
            .min(self.cumulative.len() - 1)
    }
}
