//! Rows for the Log Analytics custom table, one per distinct address of a run.
//!
//! Columns are typed for the table's schema; everything provider-specific goes into the one
//! `Details` dynamic column, because sending whole provider objects as columns once pushed a
//! table past the 500 custom column limit. Logs Ingestion caps one field value at 64 KB, so
//! `Details` is trimmed below that.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;

use crate::pipeline::{AddressRecord, ProviderDetail};
use crate::trigger::IncidentRef;
use crate::verdict::Basis;

/// Default table name.
pub const TABLE: &str = "IPReputation_CL";
/// Maximum size of the serialised `Details` value, in bytes, under the 64 KB field limit.
const DETAILS_MAX_BYTES: usize = 60 * 1024;

/// One row of the IPReputation_CL table.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Row {
    pub time_generated: DateTime<Utc>,
    pub incident_arm_id: Option<String>,
    pub incident_number: Option<i64>,
    #[serde(rename = "IPAddress")]
    pub ip_address: Option<String>,
    /// Every spelling the address had in the entities, comma-separated.
    pub input: String,
    /// The provider that decided the verdict, else every provider consulted, comma-separated.
    pub provider: String,
    pub status: String,
    pub verdict: String,
    pub reason: String,
    pub reputation: Option<i64>,
    pub malicious: Option<u32>,
    pub suspicious: Option<u32>,
    pub harmless: Option<u32>,
    pub undetected: Option<u32>,
    pub country: Option<String>,
    pub asn: Option<i64>,
    pub as_owner: Option<String>,
    pub network: Option<String>,
    pub last_analysis_time: Option<DateTime<Utc>>,
    /// Serialised once when the row is built, because a JSON tree per row costs several times
    /// the memory of its text on incidents with many addresses.
    pub details: Box<RawValue>,
}

/// Builds one row per distinct address; invalid inputs get a row each, keyed by their text.
pub fn build_rows(
    incident: Option<&IncidentRef>,
    records: &[AddressRecord],
    now: DateTime<Utc>,
) -> Vec<Row> {
    // First occurrence decides the order; later spellings of the same address join its Input.
    let mut order: Vec<String> = Vec::new();
    let mut groups: BTreeMap<String, Vec<&AddressRecord>> = BTreeMap::new();
    for record in records {
        let key = match record.ip {
            Some(ip) => ip.to_string(),
            None => format!("invalid:{}", record.input),
        };
        let group = groups.entry(key.clone()).or_default();
        if group.is_empty() {
            order.push(key);
        }
        group.push(record);
    }

    order
        .iter()
        .filter_map(|key| groups.get(key))
        .map(|group| build_row(incident, group, now))
        .collect()
}

fn build_row(incident: Option<&IncidentRef>, group: &[&AddressRecord], now: DateTime<Utc>) -> Row {
    let record = group[0];
    let mut inputs: Vec<&str> = group.iter().map(|record| record.input.as_str()).collect();
    inputs.dedup();

    // Typed columns come from the first provider report that has engine data.
    let report = record
        .providers
        .iter()
        .filter_map(|detail| detail.report.as_ref())
        .find(|report| report.stats.is_some() || report.reputation.is_some());
    let stats = report.and_then(|report| report.stats);

    let provider = match record.verdict_provider {
        Some(provider) => provider.to_string(),
        None => record
            .providers
            .iter()
            .map(|detail| detail.provider)
            .collect::<Vec<_>>()
            .join(","),
    };

    let details = Details {
        verdict_basis: record.verdict_basis,
        occurrences: group.len(),
        providers: &record.providers,
    };

    Row {
        time_generated: now,
        incident_arm_id: incident.map(|incident| incident.id.clone()),
        incident_number: incident.and_then(|incident| incident.number),
        ip_address: record.ip.map(|ip| ip.to_string()),
        input: inputs.join(", "),
        provider,
        status: record.status.as_str().to_string(),
        verdict: record.verdict.as_str().to_string(),
        reason: record.reason.clone(),
        reputation: report.and_then(|report| report.reputation),
        malicious: stats.map(|stats| stats.malicious),
        suspicious: stats.map(|stats| stats.suspicious),
        harmless: stats.map(|stats| stats.harmless),
        undetected: stats.map(|stats| stats.undetected),
        country: report.and_then(|report| report.country.clone()),
        asn: report.and_then(|report| report.asn),
        as_owner: report.and_then(|report| report.as_owner.clone()),
        network: report.and_then(|report| report.network.clone()),
        last_analysis_time: report.and_then(|report| report.last_analysis_time),
        details: cap_details(details),
    }
}

/// The `Details` column: the verdict's basis and every provider's result.
#[derive(Serialize)]
struct Details<'a> {
    verdict_basis: Basis,
    occurrences: usize,
    providers: &'a [ProviderDetail],
}

/// Serialises the details, replacing them with a note when they exceed the field limit.
fn cap_details(details: Details<'_>) -> Box<RawValue> {
    let full = serde_json::value::to_raw_value(&details).expect("details serialise to JSON");
    let size = full.get().len();
    if size <= DETAILS_MAX_BYTES {
        return full;
    }
    let note = json!({
        "verdict_basis": details.verdict_basis,
        "occurrences": details.occurrences,
        "truncated": format!("provider details were {size} bytes, over the {DETAILS_MAX_BYTES} byte limit"),
    });
    serde_json::value::to_raw_value(&note).expect("the note serialises to JSON")
}
