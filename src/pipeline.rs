//! The whole run for one trigger body: parse → lookup → verdict → what the sinks write.
//!
//! [`Enricher`] is built once per process and shared by the command line and the Functions
//! handler, so both run the same code and share the lookup cache.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::lookup::{Finding, Lookups, ProviderResult, Report, RunContext};
use crate::parse::{Occurrence, Parsed, parse_field};
use crate::sinks::{comment, labels, row};
use crate::trigger::{IncidentRef, Trigger, TriggerKind};
use crate::verdict::{Basis, Decision, Verdict, VerdictPolicy};

/// Skipped and invalid addresses logged one by one per run; the rest are counted.
const PARSE_LOG_LINES: usize = 50;

/// Final state of one address occurrence, separate from its verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// At least one provider returned data and none failed.
    Enriched,
    /// Every provider reported that it has no record.
    NotFound,
    /// Not globally reachable; never sent to a provider.
    Skipped,
    /// Not an unambiguous IP address.
    Invalid,
    /// At least one provider returned an error.
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Enriched => "enriched",
            Status::NotFound => "not_found",
            Status::Skipped => "skipped",
            Status::Invalid => "invalid",
            Status::Failed => "failed",
        }
    }
}

/// One provider's part of an address record.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderDetail {
    pub provider: &'static str,
    /// "found", "not_found" or "failed".
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<&'static str>,
    /// Whether a later delivery may succeed where this one failed.
    #[serde(skip)]
    pub transient: bool,
}

impl ProviderDetail {
    fn from_result(result: &ProviderResult) -> Self {
        let (outcome, report, error) = match &result.outcome {
            Ok(Finding::Found(report)) => ("found", Some(Report::clone(report)), None),
            Ok(Finding::NotFound) => ("not_found", None, None),
            Err(error) => ("failed", None, Some(error)),
        };
        Self {
            provider: result.provider,
            outcome,
            report,
            error: error.map(ToString::to_string),
            error_type: error.map(|error| error.kind()),
            transient: error.is_some_and(|error| error.is_transient()),
        }
    }
}

/// The result for one address occurrence, in the order the entities listed them.
#[derive(Debug, Clone, Serialize)]
pub struct AddressRecord {
    /// The text as found in the entity, after splitting a comma-separated field.
    pub input: String,
    /// Canonical address, or null when the input is invalid.
    pub ip: Option<IpAddr>,
    pub status: Status,
    pub verdict: Verdict,
    /// Source of the verdict: engines, community, feed, template_reputation or none.
    pub verdict_basis: Basis,
    /// The provider whose data decided the verdict.
    pub verdict_provider: Option<&'static str>,
    /// Reason for this status and verdict, in one line.
    pub reason: String,
    pub providers: Vec<ProviderDetail>,
}

impl AddressRecord {
    /// Returns true when the address failed for a transient reason that a later delivery may not meet.
    pub fn failed_transiently(&self) -> bool {
        self.status == Status::Failed && self.providers.iter().any(|detail| detail.transient)
    }
}

/// Counts of one run, by status and by verdict.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub addresses: usize,
    pub by_status: BTreeMap<&'static str, usize>,
    pub by_verdict: BTreeMap<&'static str, usize>,
}

impl Summary {
    /// Formats the counts by status, such as "1 enriched, 3 skipped".
    pub fn status_counts(&self) -> String {
        self.by_status
            .iter()
            .map(|(status, count)| format!("{count} {status}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Everything one run produced: the records and what each sink writes.
#[derive(Debug, Clone, Serialize)]
pub struct Enrichment {
    pub trigger: TriggerKind,
    pub incident: Option<IncidentRef>,
    pub ips: Vec<AddressRecord>,
    pub summary: Summary,
    /// HTML for the incident comment, at most 30,000 characters.
    pub comment: String,
    /// Labels to add to the incident.
    pub labels: Vec<String>,
    /// Rows for the Log Analytics table, one per distinct address.
    pub rows: Vec<row::Row>,
}

impl Enrichment {
    /// Returns true when any address ended with status failed.
    pub fn any_failed(&self) -> bool {
        self.ips
            .iter()
            .any(|record| record.status == Status::Failed)
    }

    /// Returns true when any address failed for a transient reason (quota, server error,
    /// timeout), so a later delivery may succeed.
    pub fn any_failed_transiently(&self) -> bool {
        self.ips.iter().any(AddressRecord::failed_transiently)
    }

    /// Returns the message of the first provider error that rejected its credential, if any.
    /// Such a failure is a configuration problem that no retry fixes.
    pub fn rejected_credential(&self) -> Option<&str> {
        self.ips
            .iter()
            .flat_map(|record| &record.providers)
            .find(|detail| detail.error_type == Some("unauthorized"))
            .and_then(|detail| detail.error.as_deref())
    }
}

/// Settings of the report the sinks receive.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Log Analytics table the rows go to, named in the comment's query. Default "IPReputation_CL".
    pub table: String,
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            table: row::TABLE.to_string(),
        }
    }
}

/// The pipeline with its providers, cache and verdict rules.
pub struct Enricher {
    lookups: Lookups,
    policy: VerdictPolicy,
    report: ReportOptions,
    run_deadline: Option<Duration>,
}

impl Enricher {
    pub fn new(lookups: Lookups, policy: VerdictPolicy, report: ReportOptions) -> Self {
        Self {
            lookups,
            policy,
            report,
            run_deadline: None,
        }
    }

    /// Limits how long one run's lookups may take. Lookups still running at the deadline fail
    /// as transient, so the caller can reply before its own timeout and be retried later.
    pub fn set_run_deadline(&mut self, deadline: Option<Duration>) {
        self.run_deadline = deadline;
    }

    /// Names of the configured providers.
    pub fn provider_names(&self) -> Vec<&'static str> {
        self.lookups.provider_names()
    }

    /// Runs one trigger body through the pipeline; `now` stamps the rows.
    pub async fn enrich(&self, trigger: &Trigger, now: DateTime<Utc>) -> Enrichment {
        let incident_id = trigger
            .incident
            .as_ref()
            .map(|incident| incident.id.clone());
        let run = RunContext::new(incident_id).with_deadline(self.run_deadline);

        let occurrences: Vec<Occurrence> = trigger
            .addresses
            .iter()
            .flat_map(|field| parse_field(field))
            .collect();
        log_parse_outcomes(&run, &occurrences);

        let to_look_up: Vec<IpAddr> = occurrences
            .iter()
            .filter_map(|occurrence| match occurrence.parsed {
                Parsed::Lookup(ip) => Some(ip),
                _ => None,
            })
            .collect();
        let results = self.lookups.lookup_all(&to_look_up, &run).await;

        let mut decisions: HashMap<IpAddr, Decision> = HashMap::with_capacity(results.len());
        for (ip, provider_results) in &results {
            let decision = self.policy.decide(provider_results);
            tracing::info!(
                stage = "verdict",
                incident = run.incident_for_logs(),
                ip = %ip,
                provider = decision.provider.unwrap_or("none"),
                verdict = decision.verdict.as_str(),
                basis = decision.basis.as_str(),
                "verdict decided"
            );
            decisions.insert(*ip, decision);
        }

        let ips: Vec<AddressRecord> = occurrences
            .into_iter()
            .map(|occurrence| build_record(occurrence, &results, &decisions))
            .collect();
        let summary = summarise(&ips);
        let rows = row::build_rows(trigger.incident.as_ref(), &ips, now);
        let comment = comment::build(
            trigger.incident.as_ref(),
            &ips,
            &summary,
            &self.report.table,
        );
        let labels = labels::build(&ips);

        Enrichment {
            trigger: trigger.kind,
            incident: trigger.incident.clone(),
            ips,
            summary,
            comment,
            labels,
            rows,
        }
    }
}

/// Logs each skipped and invalid address, up to [`PARSE_LOG_LINES`] lines a run, then one line
/// with the count of the rest, so one incident with thousands of private addresses cannot
/// flood the log.
fn log_parse_outcomes(run: &RunContext, occurrences: &[Occurrence]) {
    let mut logged = 0;
    let mut not_logged = 0;
    for occurrence in occurrences {
        if matches!(occurrence.parsed, Parsed::Lookup(_)) {
            continue;
        }
        if logged == PARSE_LOG_LINES {
            not_logged += 1;
            continue;
        }
        logged += 1;
        match &occurrence.parsed {
            Parsed::Lookup(_) => {}
            Parsed::Skip(ip, reason) => tracing::info!(
                stage = "parse",
                incident = run.incident_for_logs(),
                ip = %ip,
                status = "skipped",
                reason = reason.as_str(),
                "address not globally reachable; not sent to any provider"
            ),
            Parsed::Invalid(error) => tracing::warn!(
                stage = "parse",
                incident = run.incident_for_logs(),
                ip = error.input(),
                status = "invalid",
                error = %error,
                "invalid address in entity"
            ),
        }
    }
    if not_logged > 0 {
        tracing::info!(
            stage = "parse",
            incident = run.incident_for_logs(),
            not_logged,
            "more skipped or invalid addresses; the output and the rows list each one"
        );
    }
}

fn build_record(
    occurrence: Occurrence,
    results: &HashMap<IpAddr, Vec<ProviderResult>>,
    decisions: &HashMap<IpAddr, Decision>,
) -> AddressRecord {
    let unknown = |status, reason: String| AddressRecord {
        input: occurrence.input.clone(),
        ip: occurrence.ip(),
        status,
        verdict: Verdict::Unknown,
        verdict_basis: Basis::None,
        verdict_provider: None,
        reason,
        providers: Vec::new(),
    };

    match &occurrence.parsed {
        Parsed::Skip(_, reason) => unknown(
            Status::Skipped,
            format!("{reason} address; not sent to any provider"),
        ),
        Parsed::Invalid(error) => unknown(Status::Invalid, error.to_string()),
        Parsed::Lookup(ip) => {
            let provider_results = results.get(ip).map(Vec::as_slice).unwrap_or_default();
            let providers: Vec<ProviderDetail> = provider_results
                .iter()
                .map(ProviderDetail::from_result)
                .collect();
            let decision = decisions
                .get(ip)
                .cloned()
                .unwrap_or_else(|| VerdictPolicy::default().decide(&[]));

            let failures: Vec<String> = providers
                .iter()
                .filter_map(|detail| detail.error.clone())
                .collect();
            let any_found = providers.iter().any(|detail| detail.outcome == "found");
            let (status, reason) = if !failures.is_empty() {
                let mut reason = failures.join("; ");
                if decision.verdict != Verdict::Unknown {
                    reason.push_str(&format!("; other providers: {}", decision.reason));
                }
                (Status::Failed, reason)
            } else if any_found {
                (Status::Enriched, decision.reason.clone())
            } else if providers.is_empty() {
                (Status::Failed, "no provider is configured".to_string())
            } else {
                (
                    Status::NotFound,
                    "no provider has a record of this address".to_string(),
                )
            };

            AddressRecord {
                input: occurrence.input,
                ip: Some(*ip),
                status,
                verdict: decision.verdict,
                verdict_basis: decision.basis,
                verdict_provider: decision.provider,
                reason,
                providers,
            }
        }
    }
}

fn summarise(records: &[AddressRecord]) -> Summary {
    let mut summary = Summary {
        addresses: records.len(),
        ..Summary::default()
    };
    for record in records {
        *summary.by_status.entry(record.status.as_str()).or_default() += 1;
        *summary
            .by_verdict
            .entry(record.verdict.as_str())
            .or_default() += 1;
    }
    summary
}
