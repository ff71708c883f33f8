//! The Azure Functions custom handler protocol for functions that are not forwarded.
//!
//! The host sends `POST /{FunctionName}` with `{"Data": {binding: value}, "Metadata": {…}}` and
//! reads back `{"Outputs": {binding: value}, "Logs": [lines], "ReturnValue": value}` as JSON.
//! An HTTP trigger's `Data.req.Body` is a string, sometimes a JSON string that contains JSON
//! again; an Event Grid event may be an object or a JSON string. Both are decoded here.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Name of the HTTP trigger binding in function.json.
pub const HTTP_BINDING: &str = "req";
/// Name of the Event Grid trigger binding in function.json.
pub const EVENT_BINDING: &str = "event";
/// Name of the HTTP output binding in function.json.
pub const HTTP_OUTPUT: &str = "res";
/// Layers of JSON-in-a-string that are unwrapped, at most.
const MAX_ENCODING_LAYERS: usize = 3;

/// Body the Functions host posts for one invocation.
#[derive(Debug, Default, Deserialize)]
pub struct InvocationRequest {
    #[serde(rename = "Data", default)]
    pub data: Map<String, Value>,
    #[serde(rename = "Metadata", default)]
    pub metadata: Value,
}

/// Body returned to the Functions host.
#[derive(Debug, Default, Serialize)]
pub struct InvocationResponse {
    #[serde(rename = "Outputs")]
    pub outputs: Map<String, Value>,
    #[serde(rename = "Logs")]
    pub logs: Vec<String>,
    #[serde(rename = "ReturnValue")]
    pub return_value: Value,
}

/// Error of decoding an invocation before the trigger stage receives it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvocationError {
    /// Occurs when the host's request body is not the documented JSON object.
    #[error("the invocation is not valid JSON: {reason}")]
    InvalidInvocation { reason: String },
    /// Occurs when the expected binding is absent from `Data`.
    #[error("the invocation has no Data.{binding}")]
    MissingBinding { binding: &'static str },
    /// Occurs when a binding or body contains text that is not JSON.
    #[error("{part} is not JSON: {reason}")]
    NotJson { part: &'static str, reason: String },
    /// Occurs when the HTTP request has no body.
    #[error("the HTTP request body is empty; post the Microsoft Sentinel trigger body")]
    EmptyBody,
    /// Occurs when the event has no `data` field.
    #[error("the Event Grid event has no data field")]
    MissingEventData,
}

/// Extracts the trigger body from an HTTP trigger invocation.
pub fn http_trigger_body(request: &InvocationRequest) -> Result<Value, InvocationError> {
    let req = request
        .data
        .get(HTTP_BINDING)
        .ok_or(InvocationError::MissingBinding {
            binding: HTTP_BINDING,
        })?;
    let req = decode_layers(req, "Data.req")?;
    let body = req
        .get("Body")
        .or_else(|| req.get("body"))
        .ok_or(InvocationError::EmptyBody)?;
    match body {
        Value::Null => Err(InvocationError::EmptyBody),
        Value::String(text) if text.trim().is_empty() => Err(InvocationError::EmptyBody),
        other => decode_layers(other, "the HTTP request body"),
    }
}

/// Extracts the trigger body (the event's `data`) from an Event Grid trigger invocation.
pub fn event_trigger_body(request: &InvocationRequest) -> Result<Value, InvocationError> {
    // The binding is named in function.json; take any binding when the name differs.
    let event = request
        .data
        .get(EVENT_BINDING)
        .or_else(|| request.data.values().next());
    let event = match event {
        Some(event) => decode_layers(event, "Data.event")?,
        None => {
            return match request.metadata.get("data") {
                Some(data) => decode_layers(data, "Metadata.data"),
                None => Err(InvocationError::MissingBinding {
                    binding: EVENT_BINDING,
                }),
            };
        }
    };
    let data = event.get("data").ok_or(InvocationError::MissingEventData)?;
    decode_layers(data, "the event data")
}

/// Unwraps JSON strings that contain JSON, up to [`MAX_ENCODING_LAYERS`] times.
fn decode_layers(value: &Value, part: &'static str) -> Result<Value, InvocationError> {
    let mut current = value.clone();
    for _ in 0..MAX_ENCODING_LAYERS {
        let Value::String(text) = &current else {
            return Ok(current);
        };
        current = serde_json::from_str(text).map_err(|error| InvocationError::NotJson {
            part,
            reason: error.to_string(),
        })?;
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(data: Value) -> InvocationRequest {
        serde_json::from_value(json!({"Data": data, "Metadata": {}})).unwrap()
    }

    #[test]
    fn http_body_string() {
        let body = http_trigger_body(&request(json!({"req": {"Body": "{\"a\":1}"}}))).unwrap();
        assert_eq!(body, json!({"a": 1}));
    }

    #[test]
    fn http_body_double_encoded() {
        let inner = json!({"a": 1}).to_string();
        let twice = serde_json::to_string(&inner).unwrap();
        let body = http_trigger_body(&request(json!({"req": {"Body": twice}}))).unwrap();
        assert_eq!(body, json!({"a": 1}));
    }

    #[test]
    fn http_body_empty() {
        let error = http_trigger_body(&request(json!({"req": {"Body": ""}}))).unwrap_err();
        assert_eq!(error, InvocationError::EmptyBody);
    }

    #[test]
    fn http_body_not_json() {
        let error = http_trigger_body(&request(json!({"req": {"Body": "hello"}}))).unwrap_err();
        assert!(matches!(error, InvocationError::NotJson { .. }));
    }

    #[test]
    fn event_as_string_or_object() {
        let event = json!({"id": "1", "eventType": "x", "data": {"a": 1}});
        let from_object = event_trigger_body(&request(json!({"event": event}))).unwrap();
        let from_string =
            event_trigger_body(&request(json!({"event": event.to_string()}))).unwrap();
        assert_eq!(from_object, json!({"a": 1}));
        assert_eq!(from_string, json!({"a": 1}));
    }

    #[test]
    fn event_without_data() {
        let error = event_trigger_body(&request(json!({"event": {"id": "1"}}))).unwrap_err();
        assert_eq!(error, InvocationError::MissingEventData);
    }
}
