//! Where an evidence store is and how it locks what it keeps (`--store`, `[store]` in
//! `vouch.toml`): plain settings, read by the inventory and used by [`crate::store`]. Kept apart
//! from the store itself so that reading the inventory does not depend on the store's code.

use std::path::PathBuf;

use serde::Serialize;

/// Where a store is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl Location {
    /// Parses `/var/lib/vouch`, `relative/dir`, `file:///var/lib/vouch` or `s3://bucket/prefix`.
    /// The error says what would be valid.
    pub fn parse(text: &str) -> Result<Location, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err(
                "the store location is empty: give a folder, file:///path or s3://bucket/prefix"
                    .into(),
            );
        }
        if let Some(rest) = t.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let valid_bucket = (3..=63).contains(&bucket.len())
                && bucket.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                });
            if !valid_bucket {
                return Err(format!(
                    "`{t}`: `{bucket}` is not an S3 bucket name (3-63 lower-case letters, digits, \
                     `-` and `.`); write s3://bucket/prefix"
                ));
            }
            let prefix = prefix.trim_matches('/').to_string();
            if prefix.split('/').any(|p| p == ".." || p == ".") {
                return Err(format!(
                    "`{t}`: the prefix may not contain `.` or `..` parts"
                ));
            }
            return Ok(Location::S3 {
                bucket: bucket.to_string(),
                prefix,
            });
        }
        if let Some(rest) = t.strip_prefix("file://") {
            if !rest.starts_with('/') {
                return Err(format!(
                    "`{t}`: a file:// URL needs an absolute path (file:///var/lib/vouch)"
                ));
            }
            return Ok(Location::Local(PathBuf::from(rest)));
        }
        if let Some((scheme, _)) = t.split_once("://") {
            return Err(format!(
                "`{t}`: `{scheme}://` stores are not supported; give a folder, file:///path or \
                 s3://bucket/prefix"
            ));
        }
        Ok(Location::Local(PathBuf::from(t)))
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Location::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// `[store]` in `vouch.toml`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StoreSettings {
    /// `location`: used when `--store` is not given.
    pub location: Option<String>,
    /// `retention_mode`: S3 Object Lock mode put on every object (`GOVERNANCE` or `COMPLIANCE`).
    pub retention_mode: Option<RetentionMode>,
    /// `retention_days`: how long each object stays locked.
    pub retention_days: Option<u32>,
    /// `timestamp_url`: an RFC 3161 time-stamping authority that countersigns each run's MANIFEST
    /// digest (`--timestamp-url` overrides it).
    pub timestamp_url: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum RetentionMode {
    #[serde(rename = "GOVERNANCE")]
    Governance,
    #[serde(rename = "COMPLIANCE")]
    Compliance,
}

impl RetentionMode {
    pub fn parse(s: &str) -> Result<RetentionMode, String> {
        match s {
            "GOVERNANCE" | "governance" => Ok(RetentionMode::Governance),
            "COMPLIANCE" | "compliance" => Ok(RetentionMode::Compliance),
            _ => Err(format!(
                "`{s}` is not an Object Lock mode: \"GOVERNANCE\" or \"COMPLIANCE\""
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RetentionMode::Governance => "GOVERNANCE",
            RetentionMode::Compliance => "COMPLIANCE",
        }
    }
}
