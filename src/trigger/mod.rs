//! Trigger stage: recognises the body a Microsoft Sentinel playbook trigger delivers and pulls
//! out the incident reference and the raw IP address strings.
//!
//! Three shapes are accepted and distinguished by their fields: the incident trigger
//! (`objectSchemaType` and `object`), the alert trigger (PascalCase, `SystemAlertId` and
//! `Entities`) and the entity trigger (`Entity` and `IncidentArmID`). This module does not parse
//! the addresses themselves; that is the parse stage's job.

mod alert;
mod entity;
mod incident;

use serde::Serialize;
use serde_json::Value;

/// Kind of playbook trigger that produced the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    Incident,
    Alert,
    Entity,
}

/// The incident a body refers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentRef {
    /// ARM id, "/subscriptions/…/workspaces/NAME/providers/Microsoft.SecurityInsights/Incidents/ID".
    pub id: String,
    /// The number analysts see in the portal; absent from the entity trigger.
    pub number: Option<i64>,
    pub title: Option<String>,
}

impl IncidentRef {
    /// ARM id of the Log Analytics workspace that contains the incident, taken from the incident id.
    pub fn workspace_id(&self) -> Option<&str> {
        let lower = self.id.to_ascii_lowercase();
        let at = lower.find("/providers/microsoft.securityinsights/")?;
        Some(&self.id[..at])
    }

    /// Checks that the id is a Sentinel incident ARM id, "/subscriptions/S/resourceGroups/G/
    /// providers/Microsoft.OperationalInsights/workspaces/W/providers/
    /// Microsoft.SecurityInsights/Incidents/I", with no character that could change a URL.
    pub fn is_well_formed(&self) -> bool {
        const FIXED: [(usize, &str); 8] = [
            (1, "subscriptions"),
            (3, "resourcegroups"),
            (5, "providers"),
            (6, "microsoft.operationalinsights"),
            (7, "workspaces"),
            (9, "providers"),
            (10, "microsoft.securityinsights"),
            (11, "incidents"),
        ];
        let segments: Vec<&str> = self.id.split('/').collect();
        if segments.len() != 13 || !segments[0].is_empty() {
            return false;
        }
        let fixed_match = FIXED
            .iter()
            .all(|(index, name)| segments[*index].eq_ignore_ascii_case(name));
        let names_safe = [2, 4, 8, 12].iter().all(|index| {
            let name = segments[*index];
            !name.is_empty()
                && name != "."
                && name != ".."
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')'))
        });
        fixed_match && names_safe
    }

    /// Returns the incident's own id, the last segment of the ARM id.
    pub fn name(&self) -> &str {
        self.id.rsplit('/').next().unwrap_or(&self.id)
    }
}

/// A recognised trigger body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub kind: TriggerKind,
    pub incident: Option<IncidentRef>,
    /// Address fields of the IP entities, as found, in entity order.
    pub addresses: Vec<String>,
}

/// Error of the trigger stage. Variants quote the part of the body that was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    /// Occurs when the body is not JSON at all.
    #[error("the body is not JSON: {reason}")]
    NotJson { reason: String },
    /// Occurs when the body is JSON but matches none of the three trigger shapes.
    #[error(
        "the body is not a Microsoft Sentinel incident, alert or entity trigger payload (top-level fields: {fields})"
    )]
    UnknownShape { fields: String },
    /// Occurs when a field that the shape requires has the wrong type or is missing.
    #[error("invalid {kind:?} trigger payload: {field} {problem}")]
    InvalidField {
        kind: TriggerKind,
        field: &'static str,
        problem: String,
    },
}

/// Parses a trigger body from bytes.
///
/// NOTE: the whole body becomes a `serde_json::Value` tree before the shape is detected. For an
/// incident with 100,000 entities that tree is the largest part of the run's memory; a typed
/// parse of only the fields read here would shrink it.
pub fn parse_bytes(body: &[u8]) -> Result<Trigger, TriggerError> {
    let value: Value = serde_json::from_slice(body).map_err(|error| TriggerError::NotJson {
        reason: error.to_string(),
    })?;
    parse(&value)
}

/// Detects the trigger shape of a JSON body and extracts its incident and addresses.
///
/// A JSON string that itself contains JSON is unwrapped first, because hosts and HTTP actions
/// sometimes encode a body twice.
pub fn parse(body: &Value) -> Result<Trigger, TriggerError> {
    if let Value::String(text) = body {
        let inner: Value = serde_json::from_str(text).map_err(|error| TriggerError::NotJson {
            reason: format!("a JSON string that does not hold JSON: {error}"),
        })?;
        return parse(&inner);
    }

    let Value::Object(fields) = body else {
        return Err(TriggerError::UnknownShape {
            fields: format!("none, the body is a JSON {}", json_type(body)),
        });
    };

    if fields.contains_key("object") && fields.contains_key("objectSchemaType") {
        return incident::parse(body);
    }
    if fields.contains_key("SystemAlertId") || fields.contains_key("Entities") {
        return alert::parse(body);
    }
    if fields.contains_key("Entity") {
        return entity::parse(body);
    }

    let mut names: Vec<&str> = fields.keys().map(String::as_str).take(10).collect();
    if names.is_empty() {
        names.push("none");
    }
    Err(TriggerError::UnknownShape {
        fields: names.join(", "),
    })
}

/// Returns the address of an IP entity's property bag, accepting `address` and `Address`.
fn entity_address(properties: &Value) -> Option<&str> {
    properties
        .get("address")
        .or_else(|| properties.get("Address"))
        .and_then(Value::as_str)
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_id_from_incident_id() {
        let incident = IncidentRef {
            id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/law/providers/Microsoft.SecurityInsights/Incidents/abc".into(),
            number: None,
            title: None,
        };
        assert_eq!(
            incident.workspace_id(),
            Some(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/law"
            )
        );
        assert_eq!(incident.name(), "abc");
        assert!(incident.is_well_formed());
    }

    #[test]
    fn malformed_incident_ids_rejected() {
        let base = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/law/providers/Microsoft.SecurityInsights/Incidents/";
        for suffix in ["abc?x=1", "..", "abc/comments/1", "", "a#b"] {
            let incident = IncidentRef {
                id: format!("{base}{suffix}"),
                number: None,
                title: None,
            };
            assert!(!incident.is_well_formed(), "{suffix}");
        }
    }

    #[test]
    fn unknown_shape_lists_fields() {
        let error = parse(&serde_json::json!({"foo": 1})).unwrap_err();
        assert!(error.to_string().contains("foo"), "{error}");
    }

    #[test]
    fn array_body_is_rejected() {
        let error = parse(&serde_json::json!([1, 2])).unwrap_err();
        assert!(error.to_string().contains("array"), "{error}");
    }

    #[test]
    fn double_encoded_body_is_unwrapped() {
        let inner = serde_json::json!({"Entity": {"properties": {"Address": "1.1.1.1"}}, "IncidentArmID": null});
        let outer = Value::String(inner.to_string());
        let trigger = parse(&outer).unwrap();
        assert_eq!(trigger.addresses, vec!["1.1.1.1"]);
    }
}
