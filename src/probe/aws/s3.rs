//! `aws.s3`: one bucket's protection at rest — default encryption, versioning, the public-access
//! block (the bucket's own, the account's, and the two combined as S3 applies them), whether its
//! policy refuses plain HTTP, object lock — and discovery of every bucket (`*`). Each bucket is read in its own region. A configuration that does not exist (no
//! encryption rule, no public-access block, no policy) is an observed `false`/`null`, not an
//! error. It does not judge: "must be encrypted with KMS" is a control's business.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_smithy_runtime_api::client::result::SdkError;
use serde_json::{Value, json};

use super::common::walk_pages;
use super::{ApiCalls, Aws, Session, show, unobserved, unobserved_notes};
use crate::probe::{
    FactSpec, FactType, Observation, Params, Probe, ProbeContext, ProbeError, ProbeErrorKind, fact,
};

const SERVICE: &str = "s3";

/// Buckets per ListBuckets page (the API's maximum is 10,000; 1,000 keeps pages small).
const PAGE_SIZE: i32 = 1000;

const FACTS: &[FactSpec] = &[
    fact("region", FactType::String, "the region the bucket lives in"),
    fact(
        "encryption.enabled",
        FactType::Bool,
        "a default server-side encryption rule is set",
    ),
    fact(
        "encryption.algorithm",
        FactType::String,
        "default encryption: AES256 (SSE-S3), aws:kms (SSE-KMS) or aws:kms:dsse; null without a rule",
    ),
    fact(
        "encryption.kms_key_id",
        FactType::String,
        "the KMS key of SSE-KMS as configured (id, ARN or alias); null when none is named",
    ),
    fact(
        "encryption.bucket_key_enabled",
        FactType::Bool,
        "S3 Bucket Keys reduce KMS calls for SSE-KMS",
    ),
    fact(
        "encryption.customer_managed_key",
        FactType::Bool,
        "default encryption uses a customer-managed KMS key (resolved with KMS DescribeKey); false for SSE-S3, no rule, or the AWS-managed aws/s3 key",
    ),
    fact(
        "encryption.sse_c_blocked",
        FactType::Bool,
        "the encryption configuration blocks SSE-C (customer-provided keys) uploads (BlockedEncryptionTypes)",
    ),
    fact(
        "versioning.status",
        FactType::String,
        "Enabled, Suspended, or Disabled (never enabled)",
    ),
    fact(
        "public_access_block.all",
        FactType::Bool,
        "all four bucket-level public-access-block settings are on",
    ),
    fact(
        "public_access_block.block_public_acls",
        FactType::Bool,
        "new public ACLs are refused",
    ),
    fact(
        "public_access_block.ignore_public_acls",
        FactType::Bool,
        "existing public ACLs are ignored",
    ),
    fact(
        "public_access_block.block_public_policy",
        FactType::Bool,
        "public bucket policies are refused",
    ),
    fact(
        "public_access_block.restrict_public_buckets",
        FactType::Bool,
        "public and cross-account access through a public policy is restricted",
    ),
    fact(
        "public_access_block.account_all",
        FactType::Bool,
        "all four account-level public-access-block settings are on (S3 Control, read once per run)",
    ),
    fact(
        "public_access_block.effective_all",
        FactType::Bool,
        "each of the four settings is on for the bucket or for the account: what S3 enforces",
    ),
    fact(
        "policy.denies_insecure_transport",
        FactType::Bool,
        "one statement of the bucket policy denies every request made without TLS: Deny, principal *, s3:*, the bucket's objects, and aws:SecureTransport = false as its only condition",
    ),
    fact(
        "object_lock.enabled",
        FactType::Bool,
        "S3 Object Lock (WORM) is enabled on the bucket",
    ),
];

/// The `aws.s3` probe. Holds the shared AWS factory and the regions discovery learnt, so a
/// discovered bucket needs no extra call to find its region.
pub struct S3Probe {
    aws: Arc<Aws>,
    regions: Mutex<HashMap<String, String>>,
    page_size: i32,
    /// The account's public-access block, read once per session (keyed by its address).
    account_block: Mutex<HashMap<usize, Arc<AccountBlockCell>>>,
}

/// The account-level block's four flags (`None`: no configuration) and the call that read it.
type AccountBlock = Result<(Option<[bool; 4]>, Vec<Value>), ProbeError>;
type AccountBlockCell = tokio::sync::OnceCell<AccountBlock>;

impl S3Probe {
    pub fn new(aws: Arc<Aws>) -> S3Probe {
        S3Probe {
            aws,
            regions: Mutex::default(),
            page_size: PAGE_SIZE,
            account_block: Mutex::default(),
        }
    }

    /// The account-level public-access block (S3 Control GetPublicAccessBlock), asked once per
    /// session whatever the number of buckets. No configuration is an observed `None`.
    async fn account_block(&self, session: &Arc<Session>) -> AccountBlock {
        let cell = self
            .account_block
            .lock()
            .expect("account block lock")
            .entry(Arc::as_ptr(session) as usize)
            .or_default()
            .clone();
        cell.get_or_init(|| async {
            let account = session
                .identity()
                .map(|i| i.account.clone())
                .ok_or_else(|| {
                    ProbeError::new(
                        ProbeErrorKind::Config,
                        "the account id is unknown (STS GetCallerIdentity failed), so the \
                     account-level public-access block cannot be read",
                    )
                })?;
            let control: aws_sdk_s3control::Client = session.client(None);
            let calls = ApiCalls::default();
            let out = session
                .call_optional(
                    &calls,
                    SERVICE,
                    // The IAM action (S3 Control's API calls it GetPublicAccessBlock).
                    "GetAccountPublicAccessBlock",
                    session.region(),
                    &["NoSuchPublicAccessBlockConfiguration"],
                    |c| {
                        control
                            .get_public_access_block()
                            .account_id(&account)
                            .customize()
                            .interceptor(c)
                            .send()
                    },
                )
                .await;
            // The call has a fixed path and names no resource, so a 404 can only mean "no
            // configuration": AWS says NoSuchPublicAccessBlockConfiguration in S3 Control's
            // wrapped error form, moto in S3's unwrapped one, whose code the SDK cannot read.
            // Taking it as "none" can only make the effective block weaker, never a false pass.
            let out = match out {
                Err(e) if e.kind == ProbeErrorKind::NotFound => None,
                other => other?,
            };
            let flags = out
                .as_ref()
                .and_then(|o| o.public_access_block_configuration())
                .map(|c| {
                    [
                        c.block_public_acls().unwrap_or(false),
                        c.ignore_public_acls().unwrap_or(false),
                        c.block_public_policy().unwrap_or(false),
                        c.restrict_public_buckets().unwrap_or(false),
                    ]
                });
            Ok((flags, calls.records()))
        })
        .await
        .clone()
    }

    /// Lists with smaller pages (tests of pagination).
    pub fn with_page_size(mut self, page_size: i32) -> S3Probe {
        self.page_size = page_size.max(1);
        self
    }

    /// The bucket's region: learnt at discovery, else asked with HeadBucket (which also says
    /// whether the bucket exists and is reachable with these credentials).
    async fn bucket_region(
        &self,
        session: &Session,
        calls: &ApiCalls,
        bucket: &str,
    ) -> Result<String, ProbeError> {
        if let Some(r) = self.regions.lock().expect("regions lock").get(bucket) {
            return Ok(r.clone());
        }
        let s3: Client = session.client(None);
        let (res, attempts) = session
            .call_raw(calls, SERVICE, "HeadBucket", session.region(), |c| {
                s3.head_bucket()
                    .bucket(bucket)
                    .customize()
                    .interceptor(c)
                    .send()
            })
            .await;
        let region = match &res {
            Ok(out) => out.bucket_region().map(str::to_string),
            // Another region answers 301 (or 400) and still names the bucket's region; a 403
            // names it too, and the Get* calls may yet be allowed.
            Err(SdkError::ServiceError(se)) if se.raw().status().as_u16() != 404 => se
                .raw()
                .headers()
                .get("x-amz-bucket-region")
                .map(str::to_string),
            Err(_) => None,
        };
        match (region, res) {
            (Some(r), _) => Ok(r),
            (None, Ok(_)) => Ok(session.region().to_string()),
            (None, Err(e)) => {
                let mut err = session.map_error(&e, SERVICE, "HeadBucket", attempts);
                if err.kind == ProbeErrorKind::NotFound {
                    err.message = format!("no bucket named `{bucket}` ({})", err.message);
                }
                Err(err)
            }
        }
    }
}

#[async_trait]
impl Probe for S3Probe {
    fn kind(&self) -> &'static str {
        "aws.s3"
    }
    fn description(&self) -> &'static str {
        "an S3 bucket's encryption at rest, versioning, public-access block, TLS-only policy and object lock"
    }
    fn target_syntax(&self) -> &'static str {
        "a bucket name, or `*` for every bucket of the account"
    }
    fn facts(&self) -> &'static [FactSpec] {
        FACTS
    }
    fn check_target(&self, target: &str) -> Result<(), String> {
        if target == "*" || valid_bucket_name(target) {
            Ok(())
        } else {
            Err(
                "a bucket name has 3 to 63 characters: lowercase letters, digits, dots and \
                 hyphens, starting and ending with a letter or digit"
                    .into(),
            )
        }
    }
    fn is_pattern(&self, target: &str) -> bool {
        target == "*"
    }

    async fn discover(&self, pattern: &str, ctx: &ProbeContext) -> Result<Vec<String>, ProbeError> {
        if pattern != "*" {
            return Ok(vec![pattern.to_string()]);
        }
        let session = self.aws.session(ctx).await?;
        let s3: Client = session.client(None);
        let calls = ApiCalls::default();
        let mut names = Vec::new();
        let s3 = &s3;
        walk_pages(
            "s3:ListBuckets",
            |token| {
                session.call(&calls, SERVICE, "ListBuckets", session.region(), move |c| {
                    s3.list_buckets()
                        .max_buckets(self.page_size)
                        .set_continuation_token(token.clone())
                        .customize()
                        .interceptor(c)
                        .send()
                })
            },
            |page| {
                let mut regions = self.regions.lock().expect("regions lock");
                for b in page.buckets() {
                    if let Some(name) = b.name() {
                        names.push(name.to_string());
                        if let Some(r) = b.bucket_region() {
                            regions.insert(name.to_string(), r.to_string());
                        }
                    }
                }
                page.continuation_token
            },
        )
        .await?;
        names.sort();
        names.dedup();
        // The population's provenance, for the report's run section (bodies left out: the
        // names are the targets themselves).
        ctx.record_run_info(
            "aws.s3.discovery",
            json!({"buckets": names.len(), "api_calls": calls.into_summaries()}),
        );
        Ok(names)
    }

    async fn observe(
        &self,
        bucket: &str,
        _params: &Params,
        ctx: &ProbeContext,
    ) -> Result<Observation, ProbeError> {
        self.check_target(bucket)
            .map_err(|e| ProbeError::new(ProbeErrorKind::InvalidTarget, e))?;
        let started = Instant::now();
        let session = self.aws.session(ctx).await?;
        let calls = ApiCalls::default();
        let region = self.bucket_region(&session, &calls, bucket).await?;
        let s3: Client = session.client(Some(&region));

        let (account, encryption, versioning, pab, policy, lock) = tokio::join!(
            self.account_block(&session),
            session.call_optional(
                &calls,
                SERVICE,
                "GetBucketEncryption",
                &region,
                &["ServerSideEncryptionConfigurationNotFoundError"],
                |c| s3
                    .get_bucket_encryption()
                    .bucket(bucket)
                    .customize()
                    .interceptor(c)
                    .send(),
            ),
            session.call(&calls, SERVICE, "GetBucketVersioning", &region, |c| s3
                .get_bucket_versioning()
                .bucket(bucket)
                .customize()
                .interceptor(c)
                .send()),
            session.call_optional(
                &calls,
                SERVICE,
                "GetPublicAccessBlock",
                &region,
                &["NoSuchPublicAccessBlockConfiguration"],
                |c| s3
                    .get_public_access_block()
                    .bucket(bucket)
                    .customize()
                    .interceptor(c)
                    .send(),
            ),
            session.call_optional(
                &calls,
                SERVICE,
                "GetBucketPolicy",
                &region,
                &["NoSuchBucketPolicy"],
                |c| s3
                    .get_bucket_policy()
                    .bucket(bucket)
                    .customize()
                    .interceptor(c)
                    .send(),
            ),
            session.call_optional(
                &calls,
                SERVICE,
                "GetObjectLockConfiguration",
                &region,
                &["ObjectLockConfigurationNotFoundError"],
                |c| s3
                    .get_object_lock_configuration()
                    .bucket(bucket)
                    .customize()
                    .interceptor(c)
                    .send(),
            ),
        );

        // A bucket deleted mid-scan, or never there: the whole observation is NotFound.
        for e in [
            encryption.as_ref().err(),
            versioning.as_ref().err(),
            pab.as_ref().err(),
            policy.as_ref().err(),
            lock.as_ref().err(),
        ]
        .into_iter()
        .flatten()
        {
            if e.kind == ProbeErrorKind::NotFound {
                return Err(e.clone());
            }
        }

        let mut obs = Observation::new(self.kind(), bucket);
        obs.fact("region", region.as_str());

        const ENC: [&str; 6] = [
            "encryption.enabled",
            "encryption.algorithm",
            "encryption.kms_key_id",
            "encryption.bucket_key_enabled",
            "encryption.customer_managed_key",
            "encryption.sse_c_blocked",
        ];
        match encryption {
            Ok(out) => {
                let rules = out
                    .as_ref()
                    .and_then(|o| o.server_side_encryption_configuration())
                    .map(|c| c.rules())
                    .unwrap_or_default();
                obs.fact(
                    "encryption.sse_c_blocked",
                    rules.iter().any(|r| {
                        r.blocked_encryption_types().is_some_and(|b| {
                            b.encryption_type()
                                .contains(&aws_sdk_s3::types::EncryptionType::SseC)
                        })
                    }),
                );
                let rule = out
                    .as_ref()
                    .and_then(|o| o.server_side_encryption_configuration())
                    .and_then(|c| {
                        c.rules()
                            .iter()
                            .find(|r| r.apply_server_side_encryption_by_default().is_some())
                    });
                let default = rule.and_then(|r| r.apply_server_side_encryption_by_default());
                obs.fact("encryption.enabled", default.is_some());
                obs.fact(
                    "encryption.algorithm",
                    default.map(|d| d.sse_algorithm().as_str().to_string()),
                );
                obs.fact(
                    "encryption.kms_key_id",
                    default.and_then(|d| d.kms_master_key_id().map(str::to_string)),
                );
                obs.fact(
                    "encryption.bucket_key_enabled",
                    rule.and_then(|r| r.bucket_key_enabled()).unwrap_or(false),
                );
                let kms = default
                    .filter(|d| d.sse_algorithm().as_str().starts_with("aws:kms"))
                    .map(|d| d.kms_master_key_id().unwrap_or(""));
                match kms {
                    // SSE-S3, or no rule: S3-owned keys.
                    None => {
                        obs.fact("encryption.customer_managed_key", false);
                    }
                    Some(key) if aws_managed_s3_key(key) => {
                        obs.fact("encryption.customer_managed_key", false);
                    }
                    Some(key) => match key_manager(&session, &calls, &region, key).await {
                        Ok(manager) => {
                            obs.fact("encryption.customer_managed_key", manager == "CUSTOMER");
                        }
                        Err(e) => unobserved(&mut obs, &["encryption.customer_managed_key"], &e),
                    },
                }
            }
            Err(e) => unobserved(&mut obs, &ENC, &e),
        }

        match versioning {
            Ok(out) => {
                let status = out.status().map(|s| s.as_str()).unwrap_or("Disabled");
                obs.fact("versioning.status", status);
            }
            Err(e) => unobserved(&mut obs, &["versioning.status"], &e),
        }

        const PAB: [&str; 5] = [
            "public_access_block.all",
            "public_access_block.block_public_acls",
            "public_access_block.ignore_public_acls",
            "public_access_block.block_public_policy",
            "public_access_block.restrict_public_buckets",
        ];
        let bucket_flags = match pab {
            Ok(out) => {
                let conf = out
                    .as_ref()
                    .and_then(|o| o.public_access_block_configuration());
                let flags = [
                    conf.and_then(|c| c.block_public_acls()).unwrap_or(false),
                    conf.and_then(|c| c.ignore_public_acls()).unwrap_or(false),
                    conf.and_then(|c| c.block_public_policy()).unwrap_or(false),
                    conf.and_then(|c| c.restrict_public_buckets())
                        .unwrap_or(false),
                ];
                obs.fact(PAB[0], flags.iter().all(|f| *f));
                for (path, flag) in PAB[1..].iter().zip(flags) {
                    obs.fact(path, flag);
                }
                Some(flags)
            }
            Err(e) => {
                unobserved(&mut obs, &PAB, &e);
                None
            }
        };
        // S3 enforces a setting when the bucket or the account turns it on.
        match account {
            Ok((account_flags, records)) => {
                let account_flags = account_flags.unwrap_or([false; 4]);
                obs.fact(
                    "public_access_block.account_all",
                    account_flags.iter().all(|f| *f),
                );
                match bucket_flags {
                    Some(b) => obs.fact(
                        "public_access_block.effective_all",
                        b.iter().zip(account_flags).all(|(b, a)| *b || a),
                    ),
                    None => obs.unobserved(
                        "public_access_block.effective_all",
                        "the bucket's own public-access block was not read",
                    ),
                };
                calls.extend(records);
            }
            Err(e) => unobserved(
                &mut obs,
                &[
                    "public_access_block.account_all",
                    "public_access_block.effective_all",
                ],
                &e,
            ),
        }

        match policy {
            Ok(out) => {
                let text = out.as_ref().and_then(|o| o.policy()).unwrap_or("");
                obs.fact(
                    "policy.denies_insecure_transport",
                    denies_insecure_transport(text, bucket),
                );
            }
            Err(e) => unobserved(&mut obs, &["policy.denies_insecure_transport"], &e),
        }

        match lock {
            Ok(out) => {
                let enabled = out
                    .as_ref()
                    .and_then(|o| o.object_lock_configuration())
                    .and_then(|c| c.object_lock_enabled())
                    .is_some_and(|e| e.as_str() == "Enabled");
                obs.fact("object_lock.enabled", enabled);
            }
            Err(e) => unobserved(&mut obs, &["object_lock.enabled"], &e),
        }

        obs.evidence("bucket", bucket);
        obs.evidence("region", region.as_str());
        obs.evidence("account", json!(session.identity().map(|i| &i.account)));
        calls.into_evidence(&mut obs);
        obs.duration_ms = started.elapsed().as_millis() as u64;
        Ok(obs)
    }

    fn render(&self, obs: &Observation) -> Option<String> {
        self.render_all(std::slice::from_ref(obs))
    }

    fn render_all(&self, observations: &[Observation]) -> Option<String> {
        let mut t = comfy_table::Table::new();
        t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
            .set_header(vec![
                "bucket",
                "region",
                "encryption",
                "kms key",
                "bucket key",
                "versioning",
                "public access block",
                "TLS-only policy",
                "object lock",
            ]);
        for obs in observations {
            let f = |k: &str| show(obs, k);
            t.add_row(vec![
                obs.target.clone(),
                f("region"),
                f("encryption.algorithm"),
                f("encryption.kms_key_id"),
                f("encryption.bucket_key_enabled"),
                f("versioning.status"),
                f("public_access_block.effective_all"),
                f("policy.denies_insecure_transport"),
                f("object_lock.enabled"),
            ]);
        }
        Some(format!("{t}\n{}", unobserved_notes(observations)))
    }
}

/// Whether SSE-KMS's key id names the AWS-managed `aws/s3` key: none at all (S3 then uses
/// `aws/s3`), its alias, or its alias ARN. Anything else must be resolved with KMS.
fn aws_managed_s3_key(key: &str) -> bool {
    key.is_empty() || key == "alias/aws/s3" || key.ends_with(":alias/aws/s3")
}

/// The `KeyManager` (`CUSTOMER` or `AWS`) of the key a bucket's default encryption names, asked
/// of KMS in the key's own region (from its ARN) or else the bucket's (S3 requires the same).
async fn key_manager(
    session: &Session,
    calls: &ApiCalls,
    bucket_region: &str,
    key: &str,
) -> Result<String, ProbeError> {
    let region = super::common::arn_region(key).unwrap_or(bucket_region);
    let kms: aws_sdk_kms::Client = session.client(Some(region));
    let out = session
        .call(calls, "kms", "DescribeKey", region, |c| {
            kms.describe_key()
                .key_id(key)
                .customize()
                .interceptor(c)
                .send()
        })
        .await?;
    out.key_metadata()
        .and_then(|m| m.key_manager())
        .map(|m| m.as_str().to_string())
        .ok_or_else(|| {
            ProbeError::new(
                ProbeErrorKind::Protocol,
                format!("KMS DescribeKey of `{key}` named no KeyManager"),
            )
        })
}

/// Today's rules (3–63 of `a-z 0-9 . -`) plus what old us-east-1 buckets may still be named
/// (up to 255 characters, capitals and underscores): discovery returns those too.
fn valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=255).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
        && b[0].is_ascii_alphanumeric()
}

/// Whether a bucket policy denies, to everyone, every S3 action on the bucket's objects when
/// the request did not use TLS: an `Effect: Deny` statement with principal `*`, action `s3:*`
/// (or `*`), a resource covering the objects, and `aws:SecureTransport` false under `Bool` or
/// `BoolIfExists` as the statement's only condition. Narrower statements (one action, one
/// prefix, a principal excepted, a further condition such as `aws:SourceVpce`) do not count:
/// they leave other requests allowed over plain HTTP.
pub fn denies_insecure_transport(policy: &str, bucket: &str) -> bool {
    let Ok(doc) = serde_json::from_str::<Value>(policy) else {
        return false;
    };
    let statements = match doc.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect::<Vec<_>>(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => return false,
    };
    statements
        .into_iter()
        .any(|s| statement_denies_http(s, bucket))
}

fn statement_denies_http(s: &Value, bucket: &str) -> bool {
    let strings = |v: Option<&Value>| -> Vec<String> {
        match v {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            Some(Value::Bool(b)) => vec![b.to_string()],
            _ => Vec::new(),
        }
    };
    if s.get("Effect").and_then(Value::as_str) != Some("Deny") {
        return false;
    }
    let everyone = match s.get("Principal") {
        Some(Value::String(p)) => p == "*",
        Some(Value::Object(m)) => strings(m.get("AWS")).iter().any(|p| p == "*"),
        _ => false,
    };
    let all_actions = strings(s.get("Action"))
        .iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case("s3:*"));
    let objects = format!("arn:aws:s3:::{bucket}/*");
    let covers_objects = strings(s.get("Resource")).iter().any(|r| {
        r == "*"
            || r == &objects
            // Other partitions (aws-cn, aws-us-gov) spell the ARN prefix differently.
            || (r.starts_with("arn:aws") && r.ends_with(&format!(":::{bucket}/*")))
    });
    // aws:SecureTransport must be the statement's only condition: every condition of a
    // statement must hold for it to apply, so another one (say `StringNotEquals aws:SourceVpce`)
    // narrows the deny and leaves some plain-HTTP requests allowed.
    let insecure_denied = s
        .get("Condition")
        .and_then(Value::as_object)
        .is_some_and(|cond| {
            cond.len() == 1
                && cond.iter().all(|(op, kv)| {
                    (op == "Bool" || op == "BoolIfExists")
                        && kv.as_object().is_some_and(|kv| {
                            kv.len() == 1
                                && kv.iter().all(|(k, v)| {
                                    k.eq_ignore_ascii_case("aws:SecureTransport")
                                        && strings(Some(v)).iter().any(|x| x == "false")
                                })
                        })
                })
        });
    everyone && all_actions && covers_objects && insecure_denied
}

#[cfg(test)]
mod tests {
    use super::*;

    const TLS_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"TlsOnly",
        "Effect":"Deny","Principal":"*","Action":"s3:*",
        "Resource":["arn:aws:s3:::b1","arn:aws:s3:::b1/*"],
        "Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;

    #[test]
    fn a_policy_denying_all_plain_http_requests_counts() {
        assert!(denies_insecure_transport(TLS_ONLY, "b1"));
        let principal_aws = TLS_ONLY.replace(r#""Principal":"*""#, r#""Principal":{"AWS":["*"]}"#);
        assert!(denies_insecure_transport(&principal_aws, "b1"));
        let bool_value = TLS_ONLY.replace(r#""false""#, "false");
        assert!(denies_insecure_transport(&bool_value, "b1"));
    }

    #[test]
    fn narrower_or_allowing_statements_do_not_count() {
        let allow = TLS_ONLY.replace("Deny", "Allow");
        assert!(!denies_insecure_transport(&allow, "b1"));
        let one_action = TLS_ONLY.replace(r#""s3:*""#, r#""s3:GetObject""#);
        assert!(!denies_insecure_transport(&one_action, "b1"));
        let one_prefix = TLS_ONLY.replace("b1/*", "b1/logs/*");
        assert!(!denies_insecure_transport(&one_prefix, "b1"));
        let true_cond = TLS_ONLY.replace(r#""false""#, r#""true""#);
        assert!(!denies_insecure_transport(&true_cond, "b1"));
        let one_principal = TLS_ONLY.replace(
            r#""Principal":"*""#,
            r#""Principal":{"AWS":"arn:aws:iam::1:root"}"#,
        );
        assert!(!denies_insecure_transport(&one_principal, "b1"));
        assert!(!denies_insecure_transport("", "b1"));
        assert!(!denies_insecure_transport("{not json", "b1"));
        assert!(!denies_insecure_transport(TLS_ONLY, "other-bucket"));
    }

    #[test]
    fn a_deny_with_conditions_beyond_secure_transport_does_not_count() {
        // Every condition must hold for a Deny to apply: each extra one exempts some requests.
        let vpce = TLS_ONLY.replace(
            r#""Condition":{"Bool":{"aws:SecureTransport":"false"}}"#,
            r#""Condition":{"Bool":{"aws:SecureTransport":"false"},
                "StringNotEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}"#,
        );
        assert!(!denies_insecure_transport(&vpce, "b1"));
        let same_operator = TLS_ONLY.replace(
            r#"{"aws:SecureTransport":"false"}"#,
            r#"{"aws:SecureTransport":"false","aws:MultiFactorAuthPresent":"false"}"#,
        );
        assert!(!denies_insecure_transport(&same_operator, "b1"));
        let ip = TLS_ONLY.replace(
            r#""Condition":{"Bool":{"aws:SecureTransport":"false"}}"#,
            r#""Condition":{"Bool":{"aws:SecureTransport":"false"},
                "NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
        );
        assert!(!denies_insecure_transport(&ip, "b1"));
        let not_principal = TLS_ONLY.replace(
            r#""Principal":"*""#,
            r#""NotPrincipal":{"AWS":"arn:aws:iam::1:root"}"#,
        );
        assert!(!denies_insecure_transport(&not_principal, "b1"));
        // A narrowed statement beside an exact one: the exact one still denies everything.
        let both = TLS_ONLY.replace(
            r#""Statement":["#,
            r#""Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*",
                "Resource":"arn:aws:s3:::b1/*","Condition":{"Bool":{"aws:SecureTransport":"false"},
                "StringNotEquals":{"aws:SourceVpce":"vpce-1"}}},"#,
        );
        assert!(denies_insecure_transport(&both, "b1"));
        let if_exists = TLS_ONLY.replace(r#""Bool""#, r#""BoolIfExists""#);
        assert!(denies_insecure_transport(&if_exists, "b1"));
    }

    #[test]
    fn the_aws_managed_s3_key_is_recognised_without_asking_kms() {
        assert!(aws_managed_s3_key(""));
        assert!(aws_managed_s3_key("alias/aws/s3"));
        assert!(aws_managed_s3_key(
            "arn:aws:kms:eu-west-1:111122223333:alias/aws/s3"
        ));
        assert!(!aws_managed_s3_key("alias/data"));
        assert!(!aws_managed_s3_key("1234abcd-12ab-34cd-56ef-1234567890ab"));
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        assert!(valid_bucket_name("my-bucket.logs"));
        assert!(valid_bucket_name("Legacy_Bucket"), "old us-east-1 names");
        assert!(!valid_bucket_name("ab"));
        assert!(!valid_bucket_name("-bucket"));
        assert!(!valid_bucket_name("a bucket"));
        assert!(!valid_bucket_name("bucket/key"));
    }
}
