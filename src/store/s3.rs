//! A store in S3 (`s3://bucket/prefix`), reached through the AWS client factory the probes use
//! (same region, profile, endpoint and credential chain as `[aws]`). Every object is created
//! with `If-None-Match: *`, so nothing already stored is ever replaced: a second writer of the
//! same ledger slot gets 412 and takes the next one. When the bucket has Object Lock with a
//! default retention, or `[store] retention_mode` and `retention_days` are set, each object is
//! put with that mode and a retain-until date `retention_days` after the write, so nobody can
//! delete or rewrite it during the audit period.
//!
//! Permissions: `s3:PutObject`, `s3:GetObject`, `s3:ListBucket`,
//! `s3:GetBucketObjectLockConfiguration` on the store's bucket (docs/evidence.md).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{ObjectLockMode, ObjectLockRetentionMode};
use jiff::Timestamp;

use super::{Backend, Retention, RetentionMode, StoreSettings};
use crate::inventory::Inventory;
use crate::probe::aws::Aws;
use crate::probe::{ProbeContext, ProbeOptions};

/// A store in an S3 bucket.
pub struct S3Backend {
    client: aws_sdk_s3::Client,
    bucket: String,
    /// `""` or `some/prefix/`.
    prefix: String,
    retention: Option<Retention>,
    rt: tokio::runtime::Runtime,
}

impl std::fmt::Debug for S3Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Backend")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

fn sdk_message<E: std::error::Error + 'static>(e: &E) -> String {
    use std::fmt::Write;
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let _ = write!(out, ": {s}");
        source = s.source();
    }
    out
}

impl S3Backend {
    /// Opens `s3://bucket/prefix` with the inventory's `[aws]` settings (`aws`: a factory with
    /// overrides, for tests; `None`: the standard one), and reads the bucket's Object Lock
    /// configuration: the retention put on each object is `[store] retention_mode` /
    /// `retention_days` when set, else the bucket's default retention, else none.
    pub fn open(
        bucket: &str,
        prefix: &str,
        settings: &StoreSettings,
        inventory: &Inventory,
        aws: Option<Arc<Aws>>,
    ) -> Result<S3Backend> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let aws = aws.unwrap_or_default();
        let ctx = ProbeContext::new(
            Arc::new(inventory.clone()),
            ProbeOptions {
                timeout: std::time::Duration::from_secs(60),
                ..ProbeOptions::default()
            },
        );
        let session = rt
            .block_on(aws.session(&ctx))
            .map_err(|e| anyhow!("opening the store s3://{bucket}: {e}"))?;
        let client: aws_sdk_s3::Client = session.client(None);
        let configured = match (settings.retention_mode, settings.retention_days) {
            (Some(mode), Some(days)) => Some(Retention { mode, days }),
            (None, None) => None,
            _ => bail!(
                "[store] retention_mode and retention_days go together: give both, or neither to \
                 use the bucket's default retention"
            ),
        };
        let bucket_default = rt.block_on(async {
            match client
                .get_object_lock_configuration()
                .bucket(bucket)
                .send()
                .await
            {
                Ok(out) => Ok(out
                    .object_lock_configuration()
                    .and_then(|c| c.rule())
                    .and_then(|r| r.default_retention())
                    .and_then(|d| {
                        let mode = match d.mode()? {
                            ObjectLockRetentionMode::Compliance => RetentionMode::Compliance,
                            ObjectLockRetentionMode::Governance => RetentionMode::Governance,
                            _ => return None,
                        };
                        let days = match (d.days(), d.years()) {
                            (Some(days), _) => u32::try_from(days).ok()?,
                            (None, Some(years)) => u32::try_from(years).ok()?.checked_mul(366)?,
                            _ => return None,
                        };
                        Some(Retention { mode, days })
                    })),
                Err(e) => {
                    let code = e.as_service_error().and_then(|s| {
                        use aws_sdk_s3::error::ProvideErrorMetadata;
                        s.code().map(str::to_string)
                    });
                    match code.as_deref() {
                        // No Object Lock on the bucket: objects are written without retention.
                        Some("ObjectLockConfigurationNotFoundError") => Ok(None),
                        _ => Err(anyhow!(
                            "reading the Object Lock configuration of s3://{bucket}: {}",
                            sdk_message(&e)
                        )),
                    }
                }
            }
        })?;
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", prefix.trim_matches('/'))
        };
        Ok(S3Backend {
            client,
            bucket: bucket.to_string(),
            prefix,
            retention: configured.or(bucket_default),
            rt,
        })
    }

    /// The retention put on each new object, if any.
    pub fn retention(&self) -> Option<Retention> {
        self.retention
    }

    fn object_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

impl Backend for S3Backend {
    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let full = self.object_key(prefix);
        self.rt.block_on(async {
            let mut out = Vec::new();
            let mut token: Option<String> = None;
            for _ in 0..100_000 {
                let page = self
                    .client
                    .list_objects_v2()
                    .bucket(&self.bucket)
                    .prefix(&full)
                    .set_continuation_token(token.clone())
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow!("listing s3://{}/{full}: {}", self.bucket, sdk_message(&e))
                    })?;
                for o in page.contents() {
                    if let Some(k) = o.key().and_then(|k| k.strip_prefix(&self.prefix)) {
                        out.push(k.to_string());
                    }
                }
                match page.next_continuation_token() {
                    Some(t) if page.is_truncated() == Some(true) && Some(t) != token.as_deref() => {
                        token = Some(t.to_string())
                    }
                    _ => break,
                }
            }
            out.sort();
            Ok(out)
        })
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let full = self.object_key(key);
        self.rt.block_on(async {
            match self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(&full)
                .send()
                .await
            {
                Ok(out) => {
                    let bytes = out
                        .body
                        .collect()
                        .await
                        .with_context(|| format!("reading s3://{}/{full}", self.bucket))?;
                    Ok(Some(bytes.into_bytes().to_vec()))
                }
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
                Err(e) => Err(anyhow!(
                    "reading s3://{}/{full}: {}",
                    self.bucket,
                    sdk_message(&e)
                )),
            }
        })
    }

    fn put_new(&self, key: &str, bytes: &[u8], now: Timestamp) -> Result<bool> {
        let full = self.object_key(key);
        self.rt.block_on(async {
            let mut put = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(&full)
                .if_none_match("*")
                .body(ByteStream::from(bytes.to_vec()));
            if let Some(r) = self.retention {
                let until = now.as_second() + i64::from(r.days) * 86_400;
                put = put
                    .object_lock_mode(ObjectLockMode::from(r.mode.as_str()))
                    .object_lock_retain_until_date(DateTime::from_secs(until));
            }
            match put.send().await {
                Ok(_) => Ok(true),
                Err(e) => {
                    let status = e.raw_response().map(|r| r.status().as_u16());
                    // 412: the key exists; 409: another conditional write of it is in flight.
                    if matches!(status, Some(412 | 409)) {
                        return Ok(false);
                    }
                    Err(anyhow!(
                        "writing s3://{}/{full}: {}",
                        self.bucket,
                        sdk_message(&e)
                    ))
                }
            }
        })
    }

    fn put_bundle(&self, key: &str, bundle: &Path, now: Timestamp) -> Result<()> {
        let mut files = Vec::new();
        super::list_local(bundle, bundle, &mut files)?;
        // MANIFEST and its signature last: a bundle whose MANIFEST is stored is complete.
        files.sort_by_key(|f| (f.starts_with(crate::evidence::MANIFEST), f.clone()));
        for rel in files {
            let bytes = std::fs::read(bundle.join(&rel))
                .with_context(|| format!("reading {}", bundle.join(&rel).display()))?;
            let k = format!("{key}/{rel}");
            if !self.put_new(&k, &bytes, now)? {
                bail!(
                    "s3://{}/{} already exists: a run's keys are never reused, nothing was \
                     overwritten",
                    self.bucket,
                    self.object_key(&k)
                );
            }
        }
        Ok(())
    }

    fn bundle_dir(&self, key: &str) -> Result<(PathBuf, Option<tempfile::TempDir>)> {
        let tmp = tempfile::tempdir().context("creating a temporary folder")?;
        let dir = tmp.path().join("bundle");
        let prefix = format!("{key}/");
        let keys = self.list(&prefix)?;
        if keys.is_empty() {
            // Absent: the caller reports the run as deleted.
            return Ok((dir, Some(tmp)));
        }
        for k in keys {
            let rel = &k[prefix.len()..];
            if rel.split('/').any(|p| p == ".." || p.is_empty()) {
                bail!("s3 key {k} is not a bundle path");
            }
            let Some(bytes) = self.get(&k)? else {
                continue;
            };
            let path = dir.join(rel);
            if let Some(p) = path.parent() {
                std::fs::create_dir_all(p)?;
            }
            std::fs::write(&path, bytes)?;
        }
        Ok((dir, Some(tmp)))
    }
}
