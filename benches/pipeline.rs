//! Cost per address of the in-process pipeline stages, on incidents of 10, 1,000 and 100,000
//! addresses, with criterion's Throughput::Elements so reports show addresses per second.
//!
//! Every incident has distinct addresses: 70% global IPv4, 10% global IPv6 and 20% private
//! IPv4, which the parse stage skips. Groups:
//! - `parse_trigger`: `trigger::parse_bytes` on the incident body (JSON decoding included);
//! - `classify`: `parse::parse_field` on every address string;
//! - `lookup_cache_hit`: `Lookups::lookup_all` on the global addresses with a warm cache;
//!   elements are the global addresses (80% of the incident);
//! - `enrich_cache_hit`: `Enricher::enrich` (parse, lookups, verdicts, rows, comment, labels)
//!   with a warm cache; elements are all the incident's addresses.
//!
//! The provider is the built-in example feed, and none of the addresses is in it. No tracing
//! subscriber is installed, so log statements cost almost nothing here, unlike under `serve`.
//!
//! Run: `cargo bench --bench pipeline`; `cargo bench --bench pipeline -- --test` runs each
//! benchmark once without timing.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group,
    criterion_main, measurement::WallTime,
};
use sentinel_ip_enrich::lookup::cache::{CacheOptions, LookupCache};
use sentinel_ip_enrich::lookup::feed::{EXAMPLE_FEED, EXAMPLE_FEED_NAME, Feed};
use sentinel_ip_enrich::lookup::{Lookups, Provider, RunContext};
use sentinel_ip_enrich::parse::{Parsed, parse_field};
use sentinel_ip_enrich::pipeline::{Enricher, ReportOptions};
use sentinel_ip_enrich::trigger::{self, Trigger};
use sentinel_ip_enrich::verdict::VerdictPolicy;
use serde_json::json;
use tokio::runtime::Runtime;

/// Addresses per incident.
const SIZES: [usize; 3] = [10, 1_000, 100_000];
/// Larger than any incident here, so nothing is evicted and every lookup is a hit.
const CACHE_ENTRIES: u64 = 200_000;

/// One benchmark input: the incident body and what the stages make of it.
struct Incident {
    addresses: Vec<String>,
    body: Vec<u8>,
    trigger: Trigger,
    global: Vec<IpAddr>,
}

impl Incident {
    fn new(size: usize) -> Self {
        let addresses: Vec<String> = (0..size).map(address).collect();
        let entities: Vec<serde_json::Value> = addresses
            .iter()
            .map(|address| json!({"kind": "Ip", "properties": {"address": address}}))
            .collect();
        let body = json!({
            "objectSchemaType": "Incident",
            "object": {
                "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/law/providers/Microsoft.SecurityInsights/Incidents/bench",
                "properties": {"incidentNumber": 1, "title": "bench", "relatedEntities": entities}
            }
        })
        .to_string()
        .into_bytes();
        let trigger = trigger::parse_bytes(&body).expect("the generated body is a trigger");
        let global = addresses
            .iter()
            .flat_map(|address| parse_field(address))
            .filter_map(|occurrence| match occurrence.parsed {
                Parsed::Lookup(ip) => Some(ip),
                _ => None,
            })
            .collect();
        Self {
            addresses,
            body,
            trigger,
            global,
        }
    }
}

/// Returns the `index`th address of the mix: every fifth is private, every tenth (of the rest)
/// is global IPv6, the others are global IPv4. All are distinct.
fn address(index: usize) -> String {
    let index = index as u32;
    if index % 5 == 4 {
        Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 0, 0, 0)) + index).to_string()
    } else if index % 10 == 3 {
        Ipv6Addr::new(
            0x2a00,
            0x1450,
            (index >> 16) as u16,
            index as u16,
            0,
            0,
            0,
            1,
        )
        .to_string()
    } else {
        Ipv4Addr::from(u32::from(Ipv4Addr::new(81, 0, 0, 0)) + index).to_string()
    }
}

fn example_feed() -> Arc<dyn Provider> {
    let mut feed = Feed::new();
    feed.load_text(EXAMPLE_FEED_NAME, EXAMPLE_FEED)
        .expect("the built-in example feed is plain text");
    Arc::new(feed)
}

fn lookups() -> Lookups {
    let cache = LookupCache::new(CacheOptions {
        max_entries: CACHE_ENTRIES,
        ..CacheOptions::default()
    });
    Lookups::new(vec![example_feed()], cache)
}

/// Sets the sampling for the next benchmark of `group`. The largest incidents take tens to
/// hundreds of milliseconds per iteration, so they get 10 samples of equal iteration counts.
fn configure(group: &mut BenchmarkGroup<'_, WallTime>, size: usize) {
    if size >= 100_000 {
        group.sample_size(10);
        group.sampling_mode(SamplingMode::Flat);
    } else {
        group.sample_size(50);
        group.sampling_mode(SamplingMode::Auto);
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
}

fn bench_parse_trigger(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_trigger");
    for size in SIZES {
        let incident = Incident::new(size);
        configure(&mut group, size);
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(size),
            &incident,
            |b, incident| b.iter(|| trigger::parse_bytes(black_box(&incident.body))),
        );
    }
    group.finish();
}

fn bench_classify(c: &mut Criterion) {
    let mut group = c.benchmark_group("classify");
    for size in SIZES {
        let incident = Incident::new(size);
        configure(&mut group, size);
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(size),
            &incident,
            |b, incident| {
                b.iter(|| {
                    for address in &incident.addresses {
                        black_box(parse_field(black_box(address)));
                    }
                })
            },
        );
    }
    group.finish();
}

fn bench_lookup_cache_hit(c: &mut Criterion) {
    let runtime = runtime();
    let run = RunContext::new(None);
    let mut group = c.benchmark_group("lookup_cache_hit");
    for size in SIZES {
        let incident = Incident::new(size);
        let lookups = lookups();
        runtime.block_on(lookups.lookup_all(&incident.global, &run));

        configure(&mut group, size);
        group.throughput(Throughput::Elements(incident.global.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(size),
            &incident,
            |b, incident| {
                b.iter(|| runtime.block_on(lookups.lookup_all(black_box(&incident.global), &run)))
            },
        );
    }
    group.finish();
}

fn bench_enrich_cache_hit(c: &mut Criterion) {
    let runtime = runtime();
    let now = chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("a valid time");
    let mut group = c.benchmark_group("enrich_cache_hit");
    for size in SIZES {
        let incident = Incident::new(size);
        let enricher = Enricher::new(
            lookups(),
            VerdictPolicy::default(),
            ReportOptions::default(),
        );
        runtime.block_on(enricher.enrich(&incident.trigger, now));

        configure(&mut group, size);
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(size),
            &incident,
            |b, incident| {
                b.iter(|| runtime.block_on(enricher.enrich(black_box(&incident.trigger), now)))
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = pipeline;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = bench_parse_trigger, bench_classify, bench_lookup_cache_hit, bench_enrich_cache_hit
}
criterion_main!(pipeline);
