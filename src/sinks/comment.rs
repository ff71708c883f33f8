//! The incident comment: an HTML table an analyst reads at a glance.
//!
//! Verdicts come first (most severe on top), then engine counts; skipped, invalid and failed
//! addresses are summarised below the table, and a KQL line finds the rows. Sentinel caps a
//! comment at 30,000 characters, so rows and list items that do not fit are replaced with an
//! "N more" line. Every value from the payload or a provider is HTML-escaped.

use std::fmt::Write;

use crate::pipeline::{AddressRecord, Status, Summary};
use crate::trigger::IncidentRef;

/// Maximum comment length in characters, the Microsoft Sentinel service limit.
pub const MAX_CHARS: usize = 30_000;
/// Characters kept free for each "N more" line.
const MORE_LINE_RESERVE: usize = 200;
/// Maximum length of an incident id quoted in the query. A longer id is left out of it.
const MAX_QUOTED_ID_CHARS: usize = 1_000;

/// Builds the comment HTML for one run.
pub fn build(
    incident: Option<&IncidentRef>,
    records: &[AddressRecord],
    summary: &Summary,
    table: &str,
) -> String {
    let footer = query_footer(incident, table);
    let mut out = String::new();
    out.push_str(&headline(summary));

    // Three "N more" lines at most: table, lists, and one spare.
    let budget = MAX_CHARS.saturating_sub(footer.chars().count() + 3 * MORE_LINE_RESERVE);
    let mut used = out.chars().count();

    let mut looked_up: Vec<&AddressRecord> = records
        .iter()
        .filter(|record| matches!(record.status, Status::Enriched | Status::NotFound))
        .collect();
    looked_up.sort_by(|a, b| b.verdict.cmp(&a.verdict).then_with(|| a.ip.cmp(&b.ip)));
    looked_up.dedup_by(|a, b| a.ip == b.ip);

    if !looked_up.is_empty() {
        let header = "<table><tr><th>IP address</th><th>Verdict</th><th>Decided by</th><th>Engines malicious / suspicious / harmless / undetected</th><th>Reputation</th><th>Country</th><th>AS owner</th></tr>";
        let closing = "</table>";
        out.push_str(header);
        used += header.chars().count() + closing.chars().count();
        let mut omitted = 0;
        for record in &looked_up {
            let line = table_row(record);
            let length = line.chars().count();
            if omitted == 0 && used + length <= budget {
                out.push_str(&line);
                used += length;
            } else {
                omitted += 1;
            }
        }
        out.push_str(closing);
        if omitted > 0 {
            let _ = write!(
                out,
                "<p>{omitted} more looked-up addresses are not shown; the query below lists them.</p>"
            );
        }
    }

    let sections = [
        (Status::Failed, "Failed (retry or check the logs)"),
        (
            Status::Skipped,
            "Not looked up (not globally reachable, never sent to a provider)",
        ),
        (Status::Invalid, "Invalid (not an unambiguous IP address)"),
    ];
    for (status, title) in sections {
        // An address that several entities carry is listed once.
        let mut seen = std::collections::HashSet::new();
        let items: Vec<String> = records
            .iter()
            .filter(|record| record.status == status)
            .map(list_item)
            .filter(|item| seen.insert(item.clone()))
            .collect();
        if items.is_empty() {
            continue;
        }
        let head = format!("<p><b>{title}</b>: ");
        used += head.chars().count() + 4;
        out.push_str(&head);
        let mut shown = 0;
        for item in &items {
            let separator = if shown == 0 { "" } else { ", " };
            let length = separator.len() + item.chars().count();
            if used + length > budget {
                break;
            }
            out.push_str(separator);
            out.push_str(item);
            used += length;
            shown += 1;
        }
        if shown < items.len() {
            let _ = write!(out, " and {} more", items.len() - shown);
            used += 20;
        }
        out.push_str("</p>");
    }

    out.push_str(&footer);
    out
}

fn headline(summary: &Summary) -> String {
    let count = |map: &std::collections::BTreeMap<&str, usize>, key: &str| {
        map.get(key).copied().unwrap_or(0)
    };
    let verdicts = &summary.by_verdict;
    let statuses = &summary.by_status;
    format!(
        "<p><b>IP reputation</b>: {}. Looked up: {} enriched, {} not found, {} failed. Not looked up: {} skipped, {} invalid.</p>{}",
        plural(summary.addresses, "address", "addresses"),
        count(statuses, "enriched"),
        count(statuses, "not_found"),
        count(statuses, "failed"),
        count(statuses, "skipped"),
        count(statuses, "invalid"),
        verdict_line(count(verdicts, "malicious"), count(verdicts, "suspicious")),
    )
}

fn verdict_line(malicious: usize, suspicious: usize) -> String {
    if malicious + suspicious == 0 {
        return String::new();
    }
    format!("<p><b>{malicious} malicious, {suspicious} suspicious</b></p>")
}

fn table_row(record: &AddressRecord) -> String {
    let report = record
        .providers
        .iter()
        .filter_map(|detail| detail.report.as_ref())
        .find(|report| report.stats.is_some() || report.reputation.is_some());
    let engines = report
        .and_then(|report| report.stats)
        .map(|stats| {
            format!(
                "{} / {} / {} / {}",
                stats.malicious, stats.suspicious, stats.harmless, stats.undetected
            )
        })
        .unwrap_or_default();
    let reputation = report
        .and_then(|report| report.reputation)
        .map(|score| score.to_string())
        .unwrap_or_default();
    let country = report
        .and_then(|report| report.country.as_deref())
        .unwrap_or("");
    let owner = report
        .and_then(|report| report.as_owner.as_deref())
        .unwrap_or("");
    let ip = record.ip.map(|ip| ip.to_string()).unwrap_or_default();
    let verdict = if record.status == Status::NotFound {
        "not found".to_string()
    } else {
        record.verdict.to_string()
    };
    let decided_by = match (record.verdict_provider, record.verdict_basis.as_str()) {
        (Some(provider), basis) if provider == basis => provider.to_string(),
        (Some(provider), basis) => format!("{provider} ({basis})"),
        (None, _) => String::new(),
    };
    format!(
        "<tr><td>{}</td><td><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        escape(&ip),
        escape(&verdict),
        escape(&decided_by),
        escape(&engines),
        escape(&reputation),
        escape(country),
        escape(owner),
    )
}

fn list_item(record: &AddressRecord) -> String {
    match (record.status, record.ip) {
        (Status::Skipped, Some(ip)) => {
            let reason = record.reason.split(' ').next().unwrap_or("");
            format!("{} ({})", escape(&ip.to_string()), escape(reason))
        }
        (Status::Failed, Some(ip)) => {
            format!("{}: {}", escape(&ip.to_string()), escape(&record.reason))
        }
        _ => format!("\"{}\"", escape(&record.input)),
    }
}

fn query_footer(incident: Option<&IncidentRef>, table: &str) -> String {
    let filter = match incident {
        Some(incident) if incident.id.chars().count() <= MAX_QUOTED_ID_CHARS => {
            format!(
                " | where IncidentArmId =~ \"{}\"",
                incident.id.replace('\\', "\\\\").replace('"', "\\\"")
            )
        }
        _ => String::new(),
    };
    let query = format!(
        "{table}{filter} | summarize arg_max(TimeGenerated, *) by IPAddress, Input | project IPAddress, Input, Status, Verdict, Reason, Malicious, Suspicious, Reputation"
    );
    format!("<p>KQL: <code>{}</code></p>", escape(&query))
}

/// Formats a count with the singular or plural noun.
pub(crate) fn plural(count: usize, one: &str, many: &str) -> String {
    if count == 1 {
        format!("{count} {one}")
    } else {
        format!("{count} {many}")
    }
}

/// Escapes text for an HTML element or attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup() {
        assert_eq!(
            escape("<b a=\"x\">&'"),
            "&lt;b a=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
