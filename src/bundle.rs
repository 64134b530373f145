//! The evidence bundle's file layout: the name of every file in a bundle and the exact bytes of
//! an observation file. Both the bundle writer (`evidence`) and the renderers that point
//! into a bundle (OSCAL's `rlinks`) use these, so a report never has to ask the bundle module where
//! its files are; this module depends on nothing but the [`Observation`] model.
//!
//! ```text
//! MANIFEST  MANIFEST.sig  report.json
//! observations/sha256-<hex>.json      the observation whose report key is `sha256:<hex>`
//! attachments/sha256-<hex>.<ext>      an attachment, named by its content's digest
//! inputs/controls/NNN-<name>.toml     the control files the run loaded, in load order
//! inputs/waivers.toml                 the waivers file, when there was one
//! ```

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::probe::{Attachment, Observation};

pub const MANIFEST: &str = "MANIFEST";
pub const SIGNATURE: &str = "MANIFEST.sig";
pub const REPORT: &str = "report.json";

/// The bytes of an observation file, and what [`observation_id`] hashes: compact
/// JSON, fields in declaration order, every JSON object inside (params, evidence, object facts)
/// with its keys sorted. Sorting makes the key the same in every build: serde_json keeps
/// insertion order when its `preserve_order` feature is on (as it is in test builds through a
/// dev-dependency), and sorts otherwise.
pub fn observation_bytes(obs: &Observation) -> Vec<u8> {
    let mut o = obs.clone();
    sort_map(&mut o.params);
    sort_map(&mut o.evidence);
    o.facts.values_mut().for_each(sort_keys);
    serde_json::to_vec(&o).unwrap_or_default()
}

fn sort_map(m: &mut serde_json::Map<String, serde_json::Value>) {
    let mut entries: Vec<(String, serde_json::Value)> = std::mem::take(m).into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (k, mut v) in entries {
        sort_keys(&mut v);
        m.insert(k, v);
    }
}

fn sort_keys(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => sort_map(m),
        serde_json::Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// The bundle path of the observation with key `id` (`sha256:<hex>`).
pub fn observation_path(id: &str) -> String {
    format!(
        "observations/sha256-{}.json",
        id.strip_prefix("sha256:").unwrap_or(id)
    )
}

/// The bundle path of an attachment: its content's digest and an extension from its type.
pub fn attachment_path(a: &Attachment) -> String {
    let digest = hex::encode(Sha256::digest(a.content.as_bytes()));
    let ext = match a.media_type.as_str() {
        "application/x-pem-file" | "application/pem-certificate-chain" => "pem",
        "application/json" => "json",
        "text/plain" => "txt",
        "text/html" => "html",
        "message/http" => "http",
        _ => Path::new(&a.name)
            .extension()
            .and_then(|e| e.to_str())
            .filter(|e| e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric()))
            .unwrap_or("bin"),
    };
    format!("attachments/sha256-{digest}.{ext}")
}

/// Where a bundle keeps the control files of its run.
pub const INPUT_CONTROLS: &str = "inputs/controls";
/// Where a bundle keeps the waivers file of its run.
pub const INPUT_WAIVERS: &str = "inputs/waivers.toml";

/// The key of an observation in the report: `sha256:` + the digest of its
/// [`observation_bytes`].
pub fn observation_id(obs: &Observation) -> String {
    // The bundle's observation files hold exactly these bytes (sorted keys, any build).
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(observation_bytes(obs)))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_names_are_digests_with_a_sensible_extension() {
        let a = Attachment {
            name: "leaf.pem".into(),
            media_type: "application/x-pem-file".into(),
            content: "-----BEGIN CERTIFICATE-----\n".into(),
        };
        let p = attachment_path(&a);
        assert!(
            p.starts_with("attachments/sha256-") && p.ends_with(".pem"),
            "{p}"
        );
        let b = Attachment {
            media_type: "application/octet-stream".into(),
            name: "../../x".into(),
            ..a
        };
        assert!(attachment_path(&b).ends_with(".bin"));
    }

    #[test]
    fn observation_files_are_named_by_the_report_key() {
        let mut obs = Observation::new("attestation", "pentest");
        obs.fact("age_days", 3)
            .attach("note.txt", "text/plain", "hello");
        let id = observation_id(&obs);
        let bytes = observation_bytes(&obs);
        assert_eq!(
            observation_path(&id),
            format!(
                "observations/sha256-{}.json",
                hex::encode(Sha256::digest(&bytes))
            )
        );
        // Reading the file back and serialising again gives the same bytes (replay relies on it),
        // and insertion order does not matter.
        let mut reversed = Observation::new("attestation", "pentest");
        reversed.observed_at = obs.observed_at;
        reversed.facts = obs.facts.clone();
        reversed.attachments = obs.attachments.clone();
        reversed
            .evidence("z", serde_json::json!({"b": 1, "a": [{"y": 2, "x": 1}]}))
            .evidence("a", 1);
        let mut sorted = reversed.clone();
        sorted.evidence = serde_json::Map::new();
        sorted
            .evidence("a", 1)
            .evidence("z", serde_json::json!({"a": [{"x": 1, "y": 2}], "b": 1}));
        assert_eq!(observation_bytes(&reversed), observation_bytes(&sorted));
        assert!(
            String::from_utf8(observation_bytes(&reversed))
                .unwrap()
                .contains(r#""evidence":{"a":1,"z":{"a":[{"x":1,"y":2}],"b":1}}"#)
        );
        let back: Observation = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(observation_bytes(&back), bytes);
    }
}
