//! The "Microsoft Sentinel alert" trigger body: PascalCase fields, no incident id.

use serde_json::Value;

use super::{Trigger, TriggerError, TriggerKind, entity_address};

pub(super) fn parse(body: &Value) -> Result<Trigger, TriggerError> {
    let invalid = |problem: String| TriggerError::InvalidField {
        kind: TriggerKind::Alert,
        field: "Entities",
        problem,
    };

    // Some connectors deliver `Entities` as a JSON string holding the array.
    let parsed_string;
    let entities = match body.get("Entities") {
        None | Some(Value::Null) => &Vec::new(),
        Some(Value::Array(entities)) => entities,
        Some(Value::String(text)) if text.trim().is_empty() => &Vec::new(),
        Some(Value::String(text)) => {
            parsed_string = serde_json::from_str::<Value>(text).map_err(|error| {
                invalid(format!("is a string that does not hold JSON: {error}"))
            })?;
            parsed_string
                .as_array()
                .ok_or_else(|| invalid("is a string that does not hold a JSON array".into()))?
        }
        Some(_) => return Err(invalid("is neither an array nor a JSON string".into())),
    };

    let addresses = entities
        .iter()
        .filter(|entity| {
            entity
                .get("Type")
                .or_else(|| entity.get("type"))
                .and_then(Value::as_str)
                .is_some_and(|kind| kind.eq_ignore_ascii_case("ip"))
        })
        .filter_map(|entity| {
            entity_address(entity).or_else(|| entity.get("properties").and_then(entity_address))
        })
        .map(str::to_string)
        .collect();

    Ok(Trigger {
        kind: TriggerKind::Alert,
        incident: None,
        addresses,
    })
}
