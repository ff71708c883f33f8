//! What the sinks receive: rows, the comment and the labels.

use sentinel_ip_enrich::pipeline::Status;
use sentinel_ip_enrich::sinks::comment::MAX_CHARS;

use crate::common::{feed_enricher, fixed_now, incident_with, trigger_fixture};

#[tokio::test]
async fn comment_capped_for_2000_addresses() {
    let mut addresses: Vec<String> = (0..2000)
        .map(|i| format!("11.0.{}.{}", i / 250, i % 250 + 1))
        .collect();
    addresses.extend((0..500).map(|i| format!("10.0.{}.{}", i / 250, i % 250 + 1)));
    addresses.extend((0..50).map(|i| format!("bogus-{i}")));
    let fields: Vec<&str> = addresses.iter().map(String::as_str).collect();

    let enricher = feed_enricher("0.0.0.0/0 ; everything\n");
    let enrichment = enricher.enrich(&incident_with(&fields), fixed_now()).await;

    assert_eq!(enrichment.ips.len(), 2550);
    assert_eq!(enrichment.rows.len(), 2550);
    let length = enrichment.comment.chars().count();
    assert!(length <= MAX_CHARS, "comment is {length} characters");
    assert!(
        enrichment
            .comment
            .contains("more looked-up addresses are not shown")
    );
    assert!(
        enrichment.comment.contains("KQL"),
        "the query survives the cap"
    );
    assert!(enrichment.comment.ends_with("</p>"));
}

#[tokio::test]
async fn comment_escapes_payload_text() {
    let enricher = feed_enricher("1.2.3.4 ; <script>alert(1)</script>\n");
    let enrichment = enricher
        .enrich(&incident_with(&["<img src=x>", "1.2.3.4"]), fixed_now())
        .await;
    assert!(
        !enrichment.comment.contains("<img"),
        "{}",
        enrichment.comment
    );
    assert!(enrichment.comment.contains("&lt;img src=x&gt;"));
}

#[tokio::test]
async fn comment_lists_verdicts_first() {
    let enricher = feed_enricher("45.33.32.0/24\n");
    let enrichment = enricher
        .enrich(&trigger_fixture("incident-trigger.json"), fixed_now())
        .await;
    let comment = &enrichment.comment;
    let malicious = comment.find("45.33.32.156").unwrap();
    let clean = comment.find("1.1.1.1").unwrap();
    assert!(malicious < clean, "{comment}");
    assert!(comment.contains("10.20.30.40 (private)"));
    assert!(comment.contains("IPReputation_CL | where IncidentArmId =~"));
}

#[tokio::test]
async fn rows_carry_every_column() {
    let enricher = feed_enricher("45.33.32.0/24 ; demo\n");
    let enrichment = enricher
        .enrich(&trigger_fixture("incident-trigger.json"), fixed_now())
        .await;
    let row = serde_json::to_value(&enrichment.rows[0]).unwrap();
    let columns = [
        "TimeGenerated",
        "IncidentArmId",
        "IncidentNumber",
        "IPAddress",
        "Input",
        "Provider",
        "Status",
        "Verdict",
        "Reason",
        "Reputation",
        "Malicious",
        "Suspicious",
        "Harmless",
        "Undetected",
        "Country",
        "Asn",
        "AsOwner",
        "Network",
        "LastAnalysisTime",
        "Details",
    ];
    let object = row.as_object().unwrap();
    for column in columns {
        assert!(object.contains_key(column), "missing column {column}");
    }
    assert_eq!(
        object.len(),
        columns.len(),
        "no extra columns: {:?}",
        object.keys()
    );
    assert_eq!(row["IPAddress"], "45.33.32.156");
    assert_eq!(row["Provider"], "feed");
    assert_eq!(row["Verdict"], "malicious");
    assert_eq!(row["IncidentNumber"], 4211);
    assert_eq!(row["TimeGenerated"], "2026-01-01T00:00:00Z");
}

#[tokio::test]
async fn duplicate_spellings_share_a_row() {
    let enricher = feed_enricher("9.9.9.9\n");
    let enrichment = enricher
        .enrich(
            &incident_with(&["2606:4700:4700:0:0:0:0:1111", "2606:4700:4700::1111"]),
            fixed_now(),
        )
        .await;
    assert_eq!(enrichment.rows.len(), 1);
    assert_eq!(
        enrichment.rows[0].input,
        "2606:4700:4700:0:0:0:0:1111, 2606:4700:4700::1111"
    );
    assert_eq!(enrichment.rows[0].status, "not_found");
}

#[tokio::test]
async fn skipped_and_invalid_get_rows() {
    let enricher = feed_enricher("9.9.9.9\n");
    let enrichment = enricher
        .enrich(&incident_with(&["10.0.0.1", "0127.0.0.1"]), fixed_now())
        .await;
    assert_eq!(enrichment.ips[0].status, Status::Skipped);
    assert_eq!(enrichment.ips[1].status, Status::Invalid);
    assert!(enrichment.ips[1].ip.is_none());
    assert_eq!(enrichment.rows.len(), 2);
    assert_eq!(enrichment.rows[1].ip_address, None);
    assert!(enrichment.rows[1].reason.contains("leading zero"));
    assert!(enrichment.labels.is_empty());
}

#[tokio::test]
async fn comment_lists_duplicate_once() {
    let enricher = feed_enricher("9.9.9.9\n");
    let enrichment = enricher
        .enrich(
            &incident_with(&["10.0.0.1", "10.0.0.1:443", "bad", "bad"]),
            fixed_now(),
        )
        .await;
    assert_eq!(
        enrichment.comment.matches("10.0.0.1 (private)").count(),
        1,
        "{}",
        enrichment.comment
    );
    assert_eq!(
        enrichment.comment.matches("\"bad\"").count(),
        1,
        "{}",
        enrichment.comment
    );
}
