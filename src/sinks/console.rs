//! A run rendered as text for a person at a terminal.

use std::fmt::Write;

use crate::pipeline::{Enrichment, Status};
use crate::verdict::Verdict;

/// Renders the run: the incident, one line per address, the labels and the counts.
pub fn render(enrichment: &Enrichment) -> String {
    let mut out = String::new();
    match &enrichment.incident {
        Some(incident) => {
            let number = incident
                .number
                .map(|number| format!(" #{number}"))
                .unwrap_or_default();
            let title = incident.title.as_deref().unwrap_or("");
            let _ = writeln!(out, "Incident{number}: {title}\n  {}", incident.id);
        }
        None => {
            let _ = writeln!(out, "No incident ({:?} trigger)", enrichment.trigger);
        }
    }

    if enrichment.ips.is_empty() {
        let _ = writeln!(out, "\nNo IP entities found.");
    } else {
        let _ = writeln!(
            out,
            "\n{:<39} {:<10} {:<11} reason",
            "address", "status", "verdict"
        );
    }
    for record in &enrichment.ips {
        // The canonical address fits the column (39 characters is the longest IPv6 form); a
        // different spelling in the entity is shown with the reason instead.
        let (address, spelling) = match record.ip {
            Some(ip) if ip.to_string() == record.input => (ip.to_string(), String::new()),
            Some(ip) => (
                ip.to_string(),
                format!(" (entity wrote {:?})", record.input),
            ),
            None => (format!("{:?}", record.input), String::new()),
        };
        let verdict = match record.status {
            Status::Enriched => record.verdict.as_str(),
            Status::Failed if record.verdict != Verdict::Unknown => record.verdict.as_str(),
            _ => "-",
        };
        let _ = writeln!(
            out,
            "{:<39} {:<10} {:<11} {}{}",
            address,
            record.status.as_str(),
            verdict,
            record.reason,
            spelling
        );
    }

    if enrichment.summary.addresses > 0 {
        let _ = writeln!(
            out,
            "\nAddresses: {} ({})",
            enrichment.summary.addresses,
            enrichment.summary.status_counts()
        );
    }
    let labels = if enrichment.labels.is_empty() {
        "none".to_string()
    } else {
        enrichment.labels.join(", ")
    };
    let _ = writeln!(out, "Labels: {labels}");
    let _ = writeln!(
        out,
        "Rows for Log Analytics: {}; comment: {} characters",
        enrichment.rows.len(),
        enrichment.comment.chars().count()
    );
    out
}
