//! Writes benchmark inputs to stdout: an incident trigger body with N distinct global IPv4
//! addresses, or the invocation the Functions host would send for such a body or for a file.
//!
//! Usage:
//! - `bench_incident --addresses N [--first K]`: an incident trigger body whose addresses are
//!   the Kth to the (K+N-1)th address after 45.0.0.0, all globally reachable;
//! - `bench_incident --addresses N --invocation`: the same body inside an `EnrichIncident`
//!   invocation;
//! - `bench_incident --wrap FILE`: the trigger body in FILE inside an `EnrichIncident` invocation.
//!
//! The incident belongs to the sample incident's workspace, which bench/run.sh allows.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::{Value, json};

/// ARM id of the generated incident, in the workspace of examples/incident.json.
const INCIDENT_ID: &str = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-soc-example/providers/Microsoft.OperationalInsights/workspaces/law-soc-example/providers/Microsoft.SecurityInsights/Incidents/b0000000-0000-4000-8000-000000000001";
/// 45.0.0.0/8 is globally reachable, so every generated address is looked up.
const FIRST_ADDRESS: Ipv4Addr = Ipv4Addr::new(45, 0, 0, 0);

#[derive(Parser)]
struct Args {
    /// Number of distinct addresses in the generated incident.
    #[arg(long, conflicts_with = "wrap")]
    addresses: Option<u32>,

    /// Offset of the first generated address after 45.0.0.0.
    #[arg(long, default_value_t = 1)]
    first: u32,

    /// Write the invocation the Functions host sends, not the bare trigger body.
    #[arg(long)]
    invocation: bool,

    /// Trigger body file to wrap in an invocation.
    #[arg(long)]
    wrap: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();

    let output = match (&args.wrap, args.addresses) {
        (Some(path), _) => {
            let body = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            invocation(body)
        }
        (None, Some(count)) => {
            let body = incident(count, args.first).to_string();
            if args.invocation {
                invocation(body)
            } else {
                body
            }
        }
        (None, None) => bail!("missing input: give --addresses N or --wrap FILE"),
    };

    println!("{output}");
    Ok(())
}

/// Builds an incident trigger body with `count` IP entities, starting `first` addresses after
/// 45.0.0.0.
fn incident(count: u32, first: u32) -> Value {
    let base = u32::from(FIRST_ADDRESS) + first;
    let entities: Vec<Value> = (0..count)
        .map(|index| {
            let address = Ipv4Addr::from(base + index).to_string();
            json!({"kind": "Ip", "properties": {"address": address}})
        })
        .collect();
    json!({
        "objectSchemaType": "Incident",
        "objectEventType": "Create",
        "object": {
            "id": INCIDENT_ID,
            "properties": {
                "incidentNumber": 9001,
                "title": format!("Benchmark incident with {count} addresses"),
                "relatedEntities": entities,
            }
        }
    })
}

/// Wraps a trigger body in the HTTP trigger invocation the Functions host posts to
/// `/EnrichIncident`: the request body travels as a string in `Data.req.Body`.
fn invocation(body: String) -> String {
    json!({
        "Data": {"req": {
            "Url": "http://localhost:7071/api/EnrichIncident",
            "Method": "POST",
            "Query": {},
            "Headers": {"Content-Type": ["application/json"]},
            "Params": {},
            "Identities": [],
            "Body": body,
        }},
        "Metadata": {"Query": {}, "Headers": {}, "sys": {"MethodName": "EnrichIncident"}}
    })
    .to_string()
}
