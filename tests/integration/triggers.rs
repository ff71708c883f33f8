//! Trigger shapes: incident, alert and entity bodies, and malformed ones.

use sentinel_ip_enrich::trigger::{self, TriggerError, TriggerKind};
use serde_json::json;

use crate::common::{fixture, trigger_fixture};

#[test]
fn incident_fixture_yields_every_ip_entity() {
    let trigger = trigger_fixture("incident-trigger.json");
    assert_eq!(trigger.kind, TriggerKind::Incident);
    let incident = trigger.incident.as_ref().unwrap();
    assert!(
        incident
            .id
            .ends_with("/Incidents/a1b2c3d4-0000-4000-8000-00000000abcd")
    );
    assert_eq!(incident.number, Some(4211));
    assert_eq!(
        incident.title.as_deref(),
        Some("Multiple failed sign-ins followed by success from unfamiliar address")
    );
    assert_eq!(
        trigger.addresses,
        vec![
            "45.33.32.156",
            "1.1.1.1",
            "1.1.1.1",
            "2606:4700:4700:0:0:0:0:1111",
            "10.20.30.40",
            "100.64.10.1",
            "203.0.113.45"
        ]
    );
}

#[test]
fn incident_without_entities_is_valid() {
    let trigger = trigger_fixture("incident-trigger-no-entities.json");
    assert_eq!(trigger.kind, TriggerKind::Incident);
    assert!(trigger.addresses.is_empty());
    assert_eq!(trigger.incident.unwrap().number, Some(4212));
}

#[test]
fn alert_fixture_has_no_incident() {
    let trigger = trigger_fixture("alert-trigger.json");
    assert_eq!(trigger.kind, TriggerKind::Alert);
    assert!(trigger.incident.is_none());
    assert_eq!(
        trigger.addresses,
        vec!["45.33.32.156", "1.1.1.1", "192.168.1.10"]
    );
}

#[test]
fn alert_entities_as_json_string() {
    let mut body: serde_json::Value = serde_json::from_str(&fixture("alert-trigger.json")).unwrap();
    let entities = body["Entities"].to_string();
    body["Entities"] = serde_json::Value::String(entities);
    let trigger = trigger::parse(&body).unwrap();
    assert_eq!(
        trigger.addresses,
        vec!["45.33.32.156", "1.1.1.1", "192.168.1.10"]
    );
}

#[test]
fn alert_entities_string_not_json() {
    let body = json!({"SystemAlertId": "x", "Entities": "[{oops"});
    let error = trigger::parse(&body).unwrap_err();
    assert!(
        matches!(
            error,
            TriggerError::InvalidField {
                field: "Entities",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn entity_fixture_carries_incident_id() {
    let trigger = trigger_fixture("entity-trigger.json");
    assert_eq!(trigger.kind, TriggerKind::Entity);
    assert_eq!(trigger.addresses, vec!["45.33.32.156"]);
    let incident = trigger.incident.unwrap();
    assert_eq!(incident.name(), "a1b2c3d4-0000-4000-8000-00000000abcd");
    assert!(
        incident
            .workspace_id()
            .unwrap()
            .ends_with("/workspaces/law-soc-example")
    );
}

#[test]
fn entity_with_null_incident() {
    let body = json!({"Entity": {"properties": {"Address": "1.1.1.1"}}, "IncidentArmID": null});
    let trigger = trigger::parse(&body).unwrap();
    assert!(trigger.incident.is_none());
    assert_eq!(trigger.addresses, vec!["1.1.1.1"]);
}

#[test]
fn lowercase_address_property_accepted() {
    let body = json!({"Entity": {"properties": {"address": "1.1.1.1"}}, "IncidentArmID": null});
    assert_eq!(trigger::parse(&body).unwrap().addresses, vec!["1.1.1.1"]);
}

#[test]
fn body_not_json() {
    let error = trigger::parse_bytes(b"{not json").unwrap_err();
    assert!(matches!(error, TriggerError::NotJson { .. }), "{error}");
}

#[test]
fn body_unknown_shape() {
    let error = trigger::parse(&json!({"hello": "world"})).unwrap_err();
    assert!(
        matches!(error, TriggerError::UnknownShape { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("hello"));
}

#[test]
fn incident_object_not_an_object() {
    let error =
        trigger::parse(&json!({"objectSchemaType": "Incident", "object": "x"})).unwrap_err();
    assert!(
        matches!(
            error,
            TriggerError::InvalidField {
                field: "object",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn incident_entities_not_an_array() {
    let body = json!({"objectSchemaType": "Incident", "object": {"id": "/x", "properties": {"relatedEntities": {}}}});
    let error = trigger::parse(&body).unwrap_err();
    assert!(
        matches!(
            error,
            TriggerError::InvalidField {
                field: "object.properties.relatedEntities",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn non_string_address_is_ignored() {
    let body = json!({"objectSchemaType": "Incident", "object": {"id": "/x", "properties": {"relatedEntities": [
        {"kind": "Ip", "properties": {"address": 42}},
        {"kind": "Ip", "properties": {"address": "8.8.8.8"}}
    ]}}});
    assert_eq!(trigger::parse(&body).unwrap().addresses, vec!["8.8.8.8"]);
}
