//! The "Microsoft Sentinel incident" trigger body.

use serde_json::Value;

use super::{IncidentRef, Trigger, TriggerError, TriggerKind, entity_address};

pub(super) fn parse(body: &Value) -> Result<Trigger, TriggerError> {
    let invalid = |field: &'static str, problem: &str| TriggerError::InvalidField {
        kind: TriggerKind::Incident,
        field,
        problem: problem.to_string(),
    };

    let object = body
        .get("object")
        .filter(|object| object.is_object())
        .ok_or_else(|| invalid("object", "is not a JSON object"))?;
    let id = object
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| invalid("object.id", "is missing or not a string"))?;
    let properties = object.get("properties").unwrap_or(&Value::Null);

    let addresses = match properties.get("relatedEntities") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(entities)) => entities
            .iter()
            .filter(|entity| is_ip_entity(entity))
            .filter_map(|entity| entity.get("properties").and_then(entity_address))
            .map(str::to_string)
            .collect(),
        Some(_) => {
            return Err(invalid(
                "object.properties.relatedEntities",
                "is not an array",
            ));
        }
    };

    Ok(Trigger {
        kind: TriggerKind::Incident,
        incident: Some(IncidentRef {
            id: id.to_string(),
            number: properties.get("incidentNumber").and_then(Value::as_i64),
            title: properties
                .get("title")
                .and_then(Value::as_str)
                .map(str::to_string),
        }),
        addresses,
    })
}

fn is_ip_entity(entity: &Value) -> bool {
    entity
        .get("kind")
        .or_else(|| entity.get("Kind"))
        .and_then(Value::as_str)
        .is_some_and(|kind| kind.eq_ignore_ascii_case("ip"))
}
