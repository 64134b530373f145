//! Evidence of AWS API calls: an interceptor that keeps each call's raw response (status,
//! request id, body) and the record an observation files, with the body turned into JSON (AWS
//! speaks JSON and XML) and secrets redacted. It does not decide what a response means.

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::{Map, Value, json};

use crate::probe::Observation;

/// Bodies larger than this are summarised, not kept (evidence must stay bounded).
const MAX_BODY: usize = 512 * 1024;

#[derive(Debug, Default)]
struct Captured {
    attempts: u32,
    status: Option<u16>,
    request_id: Option<String>,
    extended_request_id: Option<String>,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
}

/// Interceptor attached to one call (`.customize().interceptor(capture)`) that keeps the last
/// attempt's response for the evidence.
#[derive(Clone, Debug, Default)]
pub struct Capture(Arc<Mutex<Captured>>);

impl Capture {
    /// Attempts made (first try plus retries).
    pub fn attempts(&self) -> u32 {
        self.0.lock().expect("capture lock").attempts
    }
}

impl Intercept for Capture {
    fn name(&self) -> &'static str {
        "vouch::Capture"
    }

    fn read_before_transmit(
        &self,
        _ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.lock().expect("capture lock").attempts += 1;
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        ctx: &AfterDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = ctx.response();
        let header = |name: &str| response.headers().get(name).map(str::to_string);
        let mut c = self.0.lock().expect("capture lock");
        c.status = Some(response.status().as_u16());
        c.request_id = header("x-amzn-requestid").or_else(|| header("x-amz-request-id"));
        c.extended_request_id = header("x-amz-id-2");
        c.content_type = header("content-type");
        c.body = response.body().bytes().map(|b| b.to_vec());
        Ok(())
    }
}

/// The API calls behind one observation, in the order they completed. Shared by the concurrent
/// calls of one observation, hence the lock.
#[derive(Debug, Default)]
pub struct ApiCalls(Mutex<Vec<Value>>);

impl ApiCalls {
    pub(super) fn record(
        &self,
        capture: &Capture,
        service: &str,
        action: &str,
        region: &str,
        error_code: Option<&str>,
    ) {
        let c = capture.0.lock().expect("capture lock");
        let mut call = Map::new();
        call.insert("action".into(), json!(format!("{service}:{action}")));
        call.insert("region".into(), json!(region));
        call.insert("at".into(), json!(jiff::Timestamp::now().to_string()));
        call.insert("request_id".into(), json!(c.request_id));
        if let Some(id) = &c.extended_request_id {
            call.insert("extended_request_id".into(), json!(id));
        }
        call.insert("status".into(), json!(c.status));
        if c.attempts > 1 {
            call.insert("attempts".into(), json!(c.attempts));
        }
        if let Some(code) = error_code {
            call.insert("error_code".into(), json!(code));
        }
        let response = match &c.body {
            None => Value::Null,
            Some(b) if b.len() > MAX_BODY => json!({"omitted_bytes": b.len()}),
            Some(b) => redact_json(body_json(b, c.content_type.as_deref())),
        };
        call.insert("response".into(), response);
        self.0
            .lock()
            .expect("api calls lock")
            .push(Value::Object(call));
    }

    /// The calls recorded so far, with their responses (to file one shared call, such as an
    /// account-level setting read once per run, into each observation it feeds).
    pub fn records(&self) -> Vec<Value> {
        self.0.lock().expect("api calls lock").clone()
    }

    /// Adds calls recorded elsewhere (see [`ApiCalls::records`]).
    pub fn extend(&self, records: impl IntoIterator<Item = Value>) {
        self.0.lock().expect("api calls lock").extend(records);
    }

    /// How many calls were recorded.
    pub fn len(&self) -> usize {
        self.0.lock().expect("api calls lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The calls without their response bodies (for run-level provenance, where the bodies
    /// would repeat what the targets already say).
    pub fn into_summaries(self) -> Value {
        let mut calls = self.0.into_inner().expect("api calls lock");
        for c in &mut calls {
            if let Some(map) = c.as_object_mut() {
                map.remove("response");
            }
        }
        Value::Array(calls)
    }

    /// Files the calls as the observation's `api_calls` evidence.
    pub fn into_evidence(self, obs: &mut Observation) {
        let calls = self.0.into_inner().expect("api calls lock");
        obs.evidence("api_calls", Value::Array(calls));
    }
}

/// A response body as JSON: parsed JSON, XML turned into nested objects, or else the text.
fn body_json(body: &[u8], content_type: Option<&str>) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        if let Ok(v) = serde_json::from_str(trimmed) {
            return v;
        }
    }
    if trimmed.starts_with('<') || content_type.is_some_and(|t| t.contains("xml")) {
        if let Some(v) = xml_to_json(trimmed) {
            return v;
        }
    }
    Value::String(text.into_owned())
}

/// Turns an XML document into JSON: an element with children becomes an object (repeated
/// names become arrays), a leaf becomes its text. Attributes (namespaces) are dropped: AWS
/// responses carry their data in elements.
fn xml_to_json(xml: &str) -> Option<Value> {
    use xmlparser::{ElementEnd, Token, Tokenizer};
    // Each open element: its name, its children so far, its text.
    let mut stack: Vec<(String, Map<String, Value>, String)> =
        vec![("".into(), Map::new(), String::new())];
    for token in Tokenizer::from(xml) {
        match token.ok()? {
            Token::ElementStart { local, .. } => {
                stack.push((local.as_str().to_string(), Map::new(), String::new()));
            }
            Token::ElementEnd { end, .. } => match end {
                ElementEnd::Open => {}
                ElementEnd::Close(..) | ElementEnd::Empty => {
                    let (name, children, text) = stack.pop()?;
                    let value = if children.is_empty() {
                        Value::String(unescape(text.trim()))
                    } else {
                        Value::Object(children)
                    };
                    let parent = &mut stack.last_mut()?.1;
                    match parent.get_mut(&name) {
                        None => {
                            parent.insert(name, value);
                        }
                        Some(Value::Array(list)) => list.push(value),
                        Some(existing) => {
                            let first = existing.take();
                            *existing = Value::Array(vec![first, value]);
                        }
                    }
                }
            },
            Token::Text { text } | Token::Cdata { text, .. } => {
                stack.last_mut()?.2.push_str(text.as_str());
            }
            _ => {}
        }
    }
    let (_, root, _) = stack.pop()?;
    stack.is_empty().then_some(Value::Object(root))
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#xD;", "\r")
        .replace("&#xA;", "\n")
        .replace("&amp;", "&")
}

/// Field names whose values are secrets wherever they appear in a response.
fn is_secret_field(name: &str) -> bool {
    let n = name.to_ascii_lowercase().replace(['_', '-'], "");
    const EXACT: [&str; 6] = [
        "plaintext",
        "password",
        "masteruserpassword",
        "privatekey",
        "privatekeyplaintext",
        "authorization",
    ];
    EXACT.contains(&n.as_str())
        || n.contains("secretaccesskey")
        || n.contains("sessiontoken")
        || n.ends_with("secret")
        || n.ends_with("secretstring")
        || n.ends_with("secretbinary")
        || n == "token"
        || n.ends_with("authtoken")
        || n.ends_with("password")
}

/// Replaces the values of secret-bearing fields (credentials, tokens, passwords, plaintext
/// key material) with `"[redacted]"`, at any depth.
pub fn redact_json(mut value: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if is_secret_field(k) && !v.is_null() {
                        *v = Value::String("[redacted]".into());
                    } else {
                        walk(v);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_bodies_become_nested_json_with_lists_for_repeats() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Buckets><Bucket><Name>a</Name></Bucket><Bucket><Name>b&amp;c</Name></Bucket></Buckets>
  <Owner><ID>x</ID></Owner><Empty/>
</ListAllMyBucketsResult>"#;
        let v = body_json(xml.as_bytes(), Some("application/xml"));
        assert_eq!(
            v,
            json!({"ListAllMyBucketsResult": {
                "Buckets": {"Bucket": [{"Name": "a"}, {"Name": "b&c"}]},
                "Owner": {"ID": "x"}, "Empty": ""}})
        );
    }

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let v = redact_json(json!({
            "Credentials": {"AccessKeyId": "AKIA", "SecretAccessKey": "s", "SessionToken": "t"},
            "Items": [{"MasterUserPassword": "p", "Plaintext": "k"}],
            "KeyId": "1234"
        }));
        assert_eq!(v["Credentials"]["AccessKeyId"], "AKIA");
        assert_eq!(v["Credentials"]["SecretAccessKey"], "[redacted]");
        assert_eq!(v["Credentials"]["SessionToken"], "[redacted]");
        assert_eq!(v["Items"][0]["MasterUserPassword"], "[redacted]");
        assert_eq!(v["Items"][0]["Plaintext"], "[redacted]");
        assert_eq!(v["KeyId"], "1234");
    }

    #[test]
    fn unreadable_bodies_are_kept_as_text() {
        assert_eq!(body_json(b"not json", None), json!("not json"));
        assert_eq!(body_json(b"", None), Value::Null);
    }
}
