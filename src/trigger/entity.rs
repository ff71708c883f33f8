//! The "Microsoft Sentinel entity" trigger body for an IP entity.

use serde_json::Value;

use super::{IncidentRef, Trigger, TriggerError, TriggerKind, entity_address};

pub(super) fn parse(body: &Value) -> Result<Trigger, TriggerError> {
    let entity = body.get("Entity").unwrap_or(&Value::Null);
    if !entity.is_object() {
        return Err(TriggerError::InvalidField {
            kind: TriggerKind::Entity,
            field: "Entity",
            problem: "is not a JSON object".into(),
        });
    }

    let address = entity
        .get("properties")
        .and_then(entity_address)
        .or_else(|| entity_address(entity));

    // The incident id is null when the playbook runs on an entity outside an incident.
    let incident = body
        .get("IncidentArmID")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(|id| IncidentRef {
            id: id.to_string(),
            number: None,
            title: None,
        });

    Ok(Trigger {
        kind: TriggerKind::Entity,
        incident,
        addresses: address.into_iter().map(str::to_string).collect(),
    })
}
