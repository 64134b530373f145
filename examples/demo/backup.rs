//! A stand-in for the AWS Backup read calls moto lacks, in front of moto's server.
//!
//! moto implements Backup vaults but no job history, protected resources or restore testing, so
//! without this the demo's restore controls could only be `error`. Every request whose SigV4
//! credential scope names the service `backup` and whose path is one of the calls below is
//! answered here, with bodies shaped as the AWS Backup API reference gives them (REST-JSON,
//! timestamps in epoch seconds, errors with `x-amzn-ErrorType`); every other request (S3, KMS,
//! RDS, DynamoDB, Backup's `DescribeBackupVault` and `ListBackupVaults`, …) is forwarded to moto
//! byte for byte, one request per connection.
//!
//! Answered: `ListProtectedResources` (`GET /resources/`), `DescribeProtectedResource`
//! (`GET /resources/{arn}`), `ListRecoveryPointsByResource` (`…/recovery-points/`),
//! `ListRestoreJobsByProtectedResource` (`…/restore-jobs/`), `ListRestoreJobs`
//! (`GET /restore-jobs/`, with its `status`, `createdAfter`/`Before` and
//! `completeAfter`/`Before` filters), `ListRecoveryPointsByBackupVault`
//! (`GET /backup-vaults/{name}/recovery-points/`), `ListRestoreTestingPlans`
//! (`GET /restore-testing/plans`) and `ListRestoreTestingSelections`
//! (`GET /restore-testing/plans/{name}/selections`).
//!
//! The history, dated relative to now, in the home region (the DR region protects nothing):
//! - `opendoors-app-db`: restored by the weekly restore testing plan a month ago, validation
//!   SUCCESSFUL (BACKUP-RESTORE-TESTED passes);
//! - `opendoors-reporting-db`: validated 120 days ago, and its newest restore, 3 days ago,
//!   FAILED validation (fails: a failed validation never counts);
//! - `opendoors-sessions` (DynamoDB): backed up daily, never restored (fails);
//! - the `opendoors-uploads` file system: restored by hand 45 days ago (passes);
//! - `opendoors-audit-events` and the build-cache file system: never protected, so
//!   BACKUP-COVERAGE fails them.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// moto's account.
const ACCOUNT: &str = "123456789012";
/// The home region's restore testing plan (it selects the RDS databases).
const PLAN: &str = "opendoors_weekly_restore_tests";
const DAY: i64 = 86_400;

/// A resource AWS Backup protects in the demo.
struct Protected {
    arn: String,
    kind: &'static str,
    name: &'static str,
    /// Seconds before now of the newest backup.
    last_backup_ago: i64,
}

/// A restore job of the demo's history.
struct Job {
    id: &'static str,
    resource: usize,
    status: &'static str,
    completed_ago: i64,
    validation: Option<(&'static str, &'static str)>,
    by_testing_plan: bool,
}

/// The stand-in's data; times are relative to `now` (epoch seconds) when it started.
pub struct Backup {
    moto: SocketAddr,
    region: String,
    vault: String,
    vault_key: String,
    now: i64,
    protected: Vec<Protected>,
    jobs: Vec<Job>,
}

impl Backup {
    /// The demo's history in `region`, the vault `vault` encrypted with `vault_key`; the
    /// protected file system is `uploads_fs_arn`.
    pub fn demo(
        moto: SocketAddr,
        region: &str,
        vault: &str,
        vault_key: &str,
        uploads_fs_arn: &str,
    ) -> Backup {
        let rds = |id: &str| format!("arn:aws:rds:{region}:{ACCOUNT}:db:{id}");
        let protected = vec![
            Protected {
                arn: rds("opendoors-app-db"),
                kind: "RDS",
                name: "opendoors-app-db",
                last_backup_ago: 6 * 3600,
            },
            Protected {
                arn: rds("opendoors-reporting-db"),
                kind: "RDS",
                name: "opendoors-reporting-db",
                last_backup_ago: 7 * 3600,
            },
            Protected {
                arn: format!("arn:aws:dynamodb:{region}:{ACCOUNT}:table/opendoors-sessions"),
                kind: "DynamoDB",
                name: "opendoors-sessions",
                last_backup_ago: 5 * 3600,
            },
            Protected {
                arn: uploads_fs_arn.to_string(),
                kind: "EFS",
                name: "opendoors-uploads",
                last_backup_ago: 8 * 3600,
            },
        ];
        let jobs = vec![
            Job {
                id: "d1b4c7e2-app-db-weekly-restore-test",
                resource: 0,
                status: "COMPLETED",
                completed_ago: 30 * DAY,
                validation: Some(("SUCCESSFUL", "validation script passed: 1,204 orders read")),
                by_testing_plan: true,
            },
            Job {
                id: "0a9f3b51-reporting-db-q3-restore-test",
                resource: 1,
                status: "COMPLETED",
                completed_ago: 120 * DAY,
                validation: Some(("SUCCESSFUL", "validation script passed")),
                by_testing_plan: true,
            },
            Job {
                id: "7c2e8d94-reporting-db-weekly-restore-test",
                resource: 1,
                status: "COMPLETED",
                completed_ago: 3 * DAY,
                validation: Some((
                    "FAILED",
                    "validation script exited 1: relation \"reports\" does not exist",
                )),
                by_testing_plan: true,
            },
            Job {
                id: "5e6f7a8b-uploads-manual-restore",
                resource: 3,
                status: "COMPLETED",
                completed_ago: 45 * DAY,
                validation: None,
                by_testing_plan: false,
            },
        ];
        Backup {
            moto,
            region: region.to_string(),
            vault: vault.to_string(),
            vault_key: vault_key.to_string(),
            now: jiff::Timestamp::now().as_second(),
            protected,
            jobs,
        }
    }

    fn vault_arn(&self) -> String {
        format!(
            "arn:aws:backup:{}:{ACCOUNT}:backup-vault:{}",
            self.region, self.vault
        )
    }

    fn rp_arn(&self, resource: usize, n: i64) -> String {
        format!(
            "arn:aws:backup:{}:{ACCOUNT}:recovery-point:{}-{n}",
            self.region, self.protected[resource].name
        )
    }

    /// The resource's recovery points: one a day, the newest at its last backup.
    fn points(&self, resource: usize) -> Vec<(String, i64)> {
        let last = self.now - self.protected[resource].last_backup_ago;
        (0..3)
            .map(|n| (self.rp_arn(resource, n), last - n * DAY))
            .collect()
    }

    fn protected_json(&self, p: &Protected) -> Value {
        let i = self.protected.iter().position(|q| q.arn == p.arn).unwrap();
        json!({
            "ResourceArn": p.arn,
            "ResourceType": p.kind,
            "ResourceName": p.name,
            "LastBackupTime": self.now - p.last_backup_ago,
            "LastBackupVaultArn": self.vault_arn(),
            "LastRecoveryPointArn": self.rp_arn(i, 0),
        })
    }

    fn job_json(&self, job: &Job) -> Value {
        let done = self.now - job.completed_ago;
        let p = &self.protected[job.resource];
        let mut v = json!({
            "AccountId": ACCOUNT,
            "RestoreJobId": job.id,
            "RecoveryPointArn": self.rp_arn(job.resource, 1),
            "RecoveryPointCreationDate": done - DAY,
            "CreationDate": done - 2400,
            "CompletionDate": done,
            "Status": job.status,
            "PercentDone": "100.0",
            "BackupSizeInBytes": 5_368_709_120_i64,
            "IamRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/service-role/AWSBackupDefaultServiceRole"),
            "CreatedResourceArn": format!("{}-restored-{}", p.arn, &job.id[..8]),
            "ResourceType": p.kind,
            "SourceResourceArn": p.arn,
            "BackupVaultArn": self.vault_arn(),
        });
        if let Some((status, message)) = job.validation {
            v["ValidationStatus"] = json!(status);
            v["ValidationStatusMessage"] = json!(message);
        }
        if job.by_testing_plan {
            v["CreatedBy"] = json!({"RestoreTestingPlanArn": self.plan_arn()});
            v["DeletionStatus"] = json!("SUCCESSFUL");
        }
        v
    }

    fn plan_arn(&self) -> String {
        format!(
            "arn:aws:backup:{}:{ACCOUNT}:restore-testing-plan:opendoors_weekly_restore_tests-8b5a7c1d",
            self.region
        )
    }

    /// The answer to a Backup call in `region`, or `None` to forward it to moto.
    fn answer(&self, region: &str, path: &str, query: &str) -> Option<(u16, Value)> {
        let home = region == self.region;
        let segments: Vec<String> = path
            .trim_matches('/')
            .split('/')
            .map(percent_decode)
            .collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let find = |arn: &str| self.protected.iter().position(|p| home && p.arn == arn);
        let not_found = |arn: &str| {
            (
                404,
                json!({
                    "__type": "ResourceNotFoundException",
                    "Code": "ERROR_3005",
                    "Message": format!("Resource not found: {arn}"),
                    "Type": "Resource",
                    "Context": arn,
                }),
            )
        };
        let answer = match segments.as_slice() {
            ["resources"] => {
                let list: Vec<Value> = if home {
                    self.protected
                        .iter()
                        .map(|p| self.protected_json(p))
                        .collect()
                } else {
                    vec![]
                };
                (200, json!({"Results": list}))
            }
            ["resources", arn] => match find(arn) {
                Some(i) => {
                    let mut v = self.protected_json(&self.protected[i]);
                    if let Some(job) = self
                        .jobs
                        .iter()
                        .filter(|j| j.resource == i)
                        .min_by_key(|j| j.completed_ago)
                    {
                        v["LatestRestoreJobCreationDate"] =
                            json!(self.now - job.completed_ago - 2400);
                        v["LatestRestoreExecutionTimeMinutes"] = json!(40);
                        v["LatestRestoreRecoveryPointCreationDate"] =
                            json!(self.now - job.completed_ago - DAY);
                    }
                    (200, v)
                }
                None => not_found(arn),
            },
            ["resources", arn, "recovery-points"] => match find(arn) {
                Some(i) => {
                    let points: Vec<Value> = self
                        .points(i)
                        .into_iter()
                        .map(|(rp, created)| {
                            json!({
                                "RecoveryPointArn": rp,
                                "CreationDate": created,
                                "Status": "COMPLETED",
                                "EncryptionKeyArn": self.vault_key,
                                "BackupSizeBytes": 5_368_709_120_i64,
                                "BackupVaultName": self.vault,
                                "ResourceName": self.protected[i].name,
                                "VaultType": "BACKUP_VAULT",
                            })
                        })
                        .collect();
                    (200, json!({"RecoveryPoints": points}))
                }
                None => not_found(arn),
            },
            ["resources", arn, "restore-jobs"] => match find(arn) {
                Some(i) => {
                    let jobs: Vec<Value> = self
                        .jobs
                        .iter()
                        .filter(|j| j.resource == i)
                        .map(|j| self.job_json(j))
                        .collect();
                    (200, json!({"RestoreJobs": jobs}))
                }
                None => not_found(arn),
            },
            ["restore-jobs"] => {
                let params = query_params(query);
                let time = |name: &str| {
                    params
                        .iter()
                        .find(|(k, _)| k == name)
                        .and_then(|(_, v)| v.parse::<jiff::Timestamp>().ok())
                        .map(|t| t.as_second())
                };
                let status = params
                    .iter()
                    .find(|(k, _)| k == "status")
                    .map(|(_, v)| v.clone());
                let jobs: Vec<Value> = self
                    .jobs
                    .iter()
                    .filter(|_| home)
                    .filter(|j| {
                        let done = self.now - j.completed_ago;
                        let created = done - 2400;
                        status.as_deref().is_none_or(|s| s == j.status)
                            && time("completeAfter").is_none_or(|t| done > t)
                            && time("completeBefore").is_none_or(|t| done < t)
                            && time("createdAfter").is_none_or(|t| created > t)
                            && time("createdBefore").is_none_or(|t| created < t)
                    })
                    .map(|j| self.job_json(j))
                    .collect();
                (200, json!({"RestoreJobs": jobs}))
            }
            ["backup-vaults", vault, "recovery-points"] if home && *vault == self.vault => {
                let mut points = Vec::new();
                for (i, p) in self.protected.iter().enumerate() {
                    for (rp, created) in self.points(i) {
                        points.push(json!({
                            "RecoveryPointArn": rp,
                            "BackupVaultName": self.vault,
                            "BackupVaultArn": self.vault_arn(),
                            "ResourceArn": p.arn,
                            "ResourceType": p.kind,
                            "ResourceName": p.name,
                            "IamRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/service-role/AWSBackupDefaultServiceRole"),
                            "Status": "COMPLETED",
                            "CreationDate": created,
                            "CompletionDate": created + 1800,
                            "BackupSizeInBytes": 5_368_709_120_i64,
                            "EncryptionKeyArn": self.vault_key,
                            "IsEncrypted": true,
                            "VaultType": "BACKUP_VAULT",
                        }));
                    }
                }
                (200, json!({"RecoveryPoints": points}))
            }
            ["restore-testing", "plans"] => {
                let plans = if home {
                    vec![json!({
                        "CreationTime": self.now - 200 * DAY,
                        "LastExecutionTime": self.now - 3 * DAY - 2400,
                        "LastUpdateTime": self.now - 60 * DAY,
                        "RestoreTestingPlanArn": self.plan_arn(),
                        "RestoreTestingPlanName": PLAN,
                        "ScheduleExpression": "cron(0 5 ? * 1 *)",
                        "ScheduleExpressionTimezone": "Etc/UTC",
                        "StartWindowHours": 24,
                    })]
                } else {
                    vec![]
                };
                (200, json!({"RestoreTestingPlans": plans}))
            }
            ["restore-testing", "plans", plan, "selections"] => {
                let selections = if home && *plan == PLAN {
                    vec![json!({
                        "CreationTime": self.now - 200 * DAY,
                        "IamRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/service-role/AWSBackupDefaultServiceRole"),
                        "ProtectedResourceType": "RDS",
                        "RestoreTestingPlanName": PLAN,
                        "RestoreTestingSelectionName": "opendoors_databases",
                        "ValidationWindowHours": 2,
                    })]
                } else if home {
                    return Some((
                        404,
                        json!({
                            "__type": "ResourceNotFoundException",
                            "Message": format!("Restore testing plan {plan} not found"),
                            "Type": "RestoreTestingPlan",
                            "Context": plan,
                        }),
                    ));
                } else {
                    vec![]
                };
                (200, json!({"RestoreTestingSelections": selections}))
            }
            _ => return None,
        };
        Some(answer)
    }

    /// One connection: one request, answered here or forwarded to moto.
    async fn handle(&self, mut client: TcpStream) -> Result<()> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = client.read(&mut chunk).await?;
            if n == 0 || buf.len() > 256 * 1024 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let request = lines.next().unwrap_or_default();
        let mut parts = request.split(' ');
        let method = parts.next().unwrap_or_default();
        let target = parts.next().unwrap_or("/");
        let scope = lines.clone().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("authorization")
                .then(|| credential_scope(v))
                .flatten()
        });
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        if let Some((region, service)) = &scope {
            if service == "backup" && method == "GET" {
                if let Some((status, body)) = self.answer(region, path, query) {
                    return respond(&mut client, status, &body).await;
                }
            }
        }
        // Forwarded unchanged but for `Connection: close` (one request per connection, so
        // the next one, perhaps a Backup call, comes here again).
        let mut forwarded = String::new();
        forwarded.push_str(request);
        forwarded.push_str("\r\n");
        for l in lines.filter(|l| !l.is_empty()) {
            let name = l.split(':').next().unwrap_or_default().trim();
            if !name.eq_ignore_ascii_case("connection") {
                forwarded.push_str(l);
                forwarded.push_str("\r\n");
            }
        }
        forwarded.push_str("Connection: close\r\n\r\n");
        let mut upstream = TcpStream::connect(self.moto)
            .await
            .context("connecting to moto")?;
        upstream.write_all(forwarded.as_bytes()).await?;
        upstream.write_all(&buf[head_end..]).await?;
        tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
        Ok(())
    }
}

/// `(region, service)` of a SigV4 `Authorization` header's credential scope
/// (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`).
fn credential_scope(authorization: &str) -> Option<(String, String)> {
    let credential = authorization
        .split([' ', ','])
        .find_map(|p| p.trim().strip_prefix("Credential="))?;
    let mut scope = credential.split('/').skip(2);
    Some((scope.next()?.to_string(), scope.next()?.to_string()))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_params(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// A REST-JSON answer as AWS Backup sends it; an error carries its code in `x-amzn-ErrorType`.
async fn respond(stream: &mut TcpStream, status: u16, body: &Value) -> Result<()> {
    let body = body.to_string();
    let reason = if status == 200 { "OK" } else { "Not Found" };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         x-amzn-requestid: {}\r\nconnection: close\r\n",
        body.len(),
        uuid_like(body.len())
    );
    if status != 200 {
        head.push_str("x-amzn-errortype: ResourceNotFoundException\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await?;
    Ok(())
}

fn uuid_like(n: usize) -> String {
    let t = jiff::Timestamp::now().as_nanosecond() as u128;
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (t >> 32) as u32,
        (t >> 16) as u16,
        (t & 0xfff) as u16,
        n & 0xfff,
        t & 0xffff_ffff_ffff
    )
}

/// Serves the stand-in on a free loopback port until the task is aborted; returns its URL (the
/// demo inventory's `[aws] endpoint_url`).
pub async fn serve(backup: Backup) -> Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let backup = std::sync::Arc::new(backup);
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let backup = backup.clone();
            tokio::spawn(async move {
                if let Err(e) = backup.handle(stream).await {
                    eprintln!("aws stand-in: {e:#}");
                }
            });
        }
    });
    Ok((format!("http://{addr}"), task))
}
