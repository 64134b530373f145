//! `vouch init`: the files a new estate starts from, commented, never overwriting one.
//!
//! - `vouch.toml`: every inventory group the built-in library names, each with the controls that
//!   use it and an example, commented out (a group left out makes its controls `n/a` with a
//!   warning, never a silent pass); with `[aws] region` and `account_id` when the current AWS
//!   credentials resolve (STS GetCallerIdentity through the one client factory, under a short
//!   timeout), and then the `*` AWS groups switched on. Nothing secret is written: no key, no
//!   token, no profile's contents.
//! - `attestations.toml` and `waivers.toml`: skeletons with the format in comments, and the
//!   attestation ids the built-in library names.
//! - `.github/workflows/vouch.yml`: a scheduled and per-pull-request check.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::control::{Control, Targets};
use crate::inventory::Inventory;
use crate::probe::{ProbeContext, ProbeOptions, Registry};

/// The account and home region the current AWS credentials resolve to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsFound {
    pub account: String,
    pub region: String,
}

/// What `init` did with each file.
#[derive(Debug, Default)]
pub struct Outcome {
    pub written: Vec<PathBuf>,
    /// Files that existed and were left exactly as they were.
    pub kept: Vec<PathBuf>,
}

/// An example value per group the built-in library names (the groups of `examples/inventory.toml`).
const EXAMPLES: [(&str, &str, &str); 18] = [
    (
        "public_endpoints",
        r#"["app.example.com:443"]"#,
        "host[:port] or https://…",
    ),
    (
        "primary_domains",
        r#"["example.com"]"#,
        "a bare domain gets every HSTS/preload check",
    ),
    ("status_pages", r#"["https://status.example.com"]"#, "a URL"),
    (
        "aws_buckets",
        r#"["*"]"#,
        "bucket names, or \"*\" for every bucket",
    ),
    ("aws_keys", r#"["*"]"#, "key id, ARN, alias/NAME, or \"*\""),
    (
        "aws_databases",
        r#"["*"]"#,
        "instance identifiers/ARNs, or \"*\"",
    ),
    ("aws_tables", r#"["*"]"#, "table names, or \"*\""),
    (
        "aws_vaults",
        r#"["*"]"#,
        "vault names, resource ARNs, or \"*\"",
    ),
    (
        "aws_protected",
        r#"["protected:*"]"#,
        "every resource AWS Backup protects",
    ),
    (
        "aws_backup_coverage",
        r#"["coverage:*"]"#,
        "every RDS instance/cluster, DynamoDB table and EFS file system",
    ),
    (
        "aws_backup_regions",
        r#"["region:*"]"#,
        "every scanned region's restore testing plans",
    ),
    ("aws_trails", r#"["*"]"#, "trail names/ARNs, or \"*\""),
    (
        "aws_log_groups",
        r#"["*"]"#,
        "a name, a prefix ending in *, or \"*\"",
    ),
    ("aws_account", r#"["account"]"#, "the account itself"),
    (
        "aws_regions",
        r#"["*"]"#,
        "a region, or \"*\" for every enabled region",
    ),
    (
        "aws_edge",
        r#"["arn:aws:cloudfront::123456789012:distribution/E2EXAMPLE"]"#,
        "CloudFront distribution or ALB ARNs",
    ),
    (
        "source_repositories",
        r#"["your-org/*"]"#,
        "org/repo, or org/* for every non-archived repository",
    ),
    (
        "source_organizations",
        r#"["your-org"]"#,
        "the organisation's 2FA and access settings",
    ),
];

/// The `vouch.toml` text for the built-in library's groups, with `[aws]` when found.
pub fn inventory_text(controls: &[Control], registry: &Registry, aws: Option<&AwsFound>) -> String {
    // group → (probe kinds, control ids), in first-use order of the library's files.
    let mut groups: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for c in controls {
        if let Targets::Group(g) = &c.targets {
            let e = groups.entry(g.clone()).or_default();
            if !e.0.contains(&c.probe) {
                e.0.push(c.probe.clone());
            }
            e.1.push(c.id.clone());
        }
    }
    let mut out = String::from(
        "# vouch.toml: the inventory, what exists. Controls say what must hold of it; flags say how
# a run behaves. Written by `vouch init`; edit freely. Relative paths are relative to this file.
# vouch finds this file in the working directory or its parents, or from VOUCH_INVENTORY.

# Dated statements for the claims no probe can see (attestation controls name their ids).
attestations = \"attestations.toml\"

# Approved, expiring exceptions to failing results.
waivers = \"waivers.toml\"

[targets]
# The groups the built-in library's controls name. Uncomment and fill in the ones you have. A
# group left out makes its controls `n/a` with a warning (never a silent pass); a control that
# does not apply to you is better skipped, with a reason, by an [[override]] (README: Getting
# started).
",
    );
    let aws_on = aws.is_some();
    for (group, (probes, ids)) in &groups {
        let (example, what) = EXAMPLES
            .iter()
            .find(|(g, _, _)| *g == group.as_str())
            .map(|(_, e, w)| (e.to_string(), w.to_string()))
            .unwrap_or_else(|| {
                let syntax = probes
                    .first()
                    .and_then(|p| registry.get(p))
                    .map(|p| p.target_syntax().to_string())
                    .unwrap_or_default();
                ("[]".to_string(), syntax)
            });
        let mut used = ids.clone();
        if used.len() > 4 {
            let more = used.len() - 4;
            used.truncate(4);
            used.push(format!("{more} more"));
        }
        out.push_str(&format!(
            "\n# {}: {what}\n# used by {}\n",
            probes.join(", "),
            used.join(", ")
        ));
        // With credentials that resolved, the AWS `*` groups are on: every resource of the kind.
        let on =
            aws_on && probes.iter().all(|p| p.starts_with("aws.")) && group.as_str() != "aws_edge";
        out.push_str(&format!(
            "{}{group} = {example}\n",
            if on { "" } else { "# " }
        ));
    }
    out.push_str(
        "
[http]
# With no preload_list, vouch fetches Chromium's HSTS preload list at most once a day into the
# user cache folder. For an offline run, give a downloaded copy:
# preload_list = \"transport_security_state_static.json\"
",
    );
    match aws {
        Some(found) => out.push_str(&format!(
            "
[aws]
# From the credentials `vouch init` found (STS GetCallerIdentity). account_id pins the run to
# this account: credentials for another make every AWS result `error`, never a foreign report.
region = \"{}\"
account_id = \"{}\"
# profile = \"audit\"          # otherwise the standard credential chain (env, SSO, roles…)
# regions = [\"eu-west-1\", \"us-east-1\"]   # what `*` covers (default: the home region)
",
            found.region, found.account
        )),
        None => out.push_str(
            "
# [aws]
# No AWS credentials resolved when `vouch init` ran. Fill these in to check an AWS account:
# region = \"eu-west-1\"
# account_id = \"123456789012\"
# profile = \"audit\"
",
        ),
    }
    out
}

/// The `attestations.toml` skeleton, naming the ids the built-in library's controls expect.
pub fn attestations_text(controls: &[Control]) -> String {
    let mut ids: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in controls.iter().filter(|c| c.probe == "attestation") {
        if let Targets::List(l) = &c.targets {
            for t in l {
                ids.entry(t.clone()).or_default().push(c.id.clone());
            }
        }
    }
    let mut out = String::from(
        "# attestations.toml: dated statements for the claims no probe can see. vouch records the
# SHA-256 of each evidence file (relative to this file), so a changed or missing file shows.
# Never record a statement that is not true: an attestation is evidence an auditor will read.
#
# [[attestation]]
# id = \"pentest-annual\"
# statement = \"Annual third-party penetration test, findings tracked to closure\"
# performed_on = 2026-09-14
# evidence = \"evidence/pentest-2026-summary.pdf\"
# attested_by = \"Head of Security\"
#
# The ids the built-in library's controls expect (a missing one is that control's `error`, with
# a hint; skip a control that does not apply with an [[override]]):
",
    );
    for (id, users) in &ids {
        out.push_str(&format!("#   {id:<30} {}\n", users.join(", ")));
    }
    out
}

/// The `waivers.toml` skeleton.
pub const WAIVERS: &str =
    "# waivers.toml: approved, expiring exceptions. A waiver turns a failing (or error) result of
# one control into `waived`, shown with its reason, owner and approver in every report; an
# expired or unused waiver is a warning.
#
# [[waiver]]
# control = \"ENC-TRANSIT-TLS12\"
# targets = [\"legacy.example.com:443\"]
# reason = \"Legacy partner integration; TLS 1.0 retired with the v2 API\"
# owner = \"platform@example.com\"
# approved_by = \"ciso@example.com\"
# ticket = \"SEC-123\"
# expires = 2027-03-31
";

/// The GitHub Actions workflow.
pub const WORKFLOW: &str = "# vouch: check the estate's security promises on every pull request and every morning.
# Written by `vouch init`. Reports: SARIF to code scanning, JUnit and Markdown to the run summary.
name: vouch
on:
  pull_request:
  push:
    branches: [main]
  schedule:
    - cron: \"17 6 * * *\"
  workflow_dispatch:
permissions:
  contents: read
  security-events: write
jobs:
  vouch:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      # AWS controls need read-only credentials, e.g. aws-actions/configure-aws-credentials@v4
      # with an audit role (docs/iam-policy.json lists every call vouch makes).
      - uses: actions/cache@v4
        with:
          path: ~/.cargo/bin/vouch
          key: vouch-${{ runner.os }}-v1
      - name: Install vouch
        # Point --git at the repository you install vouch from (cached after the first run).
        run: command -v vouch || cargo install --locked --git https://github.com/your-org/vouch vouch
      - name: Check
        # Exit 1: something failed at or above --fail-on; 3: something could not be observed.
        run: >
          vouch check --fail-on high
          --output sarif=vouch.sarif --output junit=junit.xml --output markdown=summary.md
      - name: Summary
        if: always()
        run: cat summary.md >> \"$GITHUB_STEP_SUMMARY\"
      - uses: github/codeql-action/upload-sarif@v3
        if: always()
        with:
          sarif_file: vouch.sarif
";

/// The files `init` writes, relative to its folder, in order.
pub fn files(
    controls: &[Control],
    registry: &Registry,
    aws: Option<&AwsFound>,
) -> Vec<(PathBuf, String)> {
    vec![
        (
            PathBuf::from("vouch.toml"),
            inventory_text(controls, registry, aws),
        ),
        (
            PathBuf::from("attestations.toml"),
            attestations_text(controls),
        ),
        (PathBuf::from("waivers.toml"), WAIVERS.to_string()),
        (
            PathBuf::from(".github/workflows/vouch.yml"),
            WORKFLOW.to_string(),
        ),
    ]
}

/// Writes `files` under `dir`; a file that exists is kept byte for byte (never overwritten).
pub fn write(dir: &Path, files: &[(PathBuf, String)]) -> std::io::Result<Outcome> {
    let mut outcome = Outcome::default();
    for (rel, text) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // create_new: a file that appears between a check and the write is still not replaced.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                use std::io::Write;
                f.write_all(text.as_bytes())?;
                outcome.written.push(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => outcome.kept.push(path),
            Err(e) => return Err(e),
        }
    }
    Ok(outcome)
}

/// The account and region of the current AWS credentials (the inventory's `[aws]` settings and
/// the standard chain), through the one client factory, within `timeout`; `None` when they do
/// not resolve.
pub async fn detect_aws(inventory: Inventory, timeout: Duration) -> Option<AwsFound> {
    let ctx = ProbeContext::new(
        Arc::new(inventory),
        ProbeOptions {
            timeout,
            ..ProbeOptions::default()
        },
    );
    let aws = crate::probe::aws::Aws::new();
    let session = tokio::time::timeout(timeout, aws.session(&ctx))
        .await
        .ok()?
        .ok()?;
    let id = session.identity()?;
    (!id.account.is_empty()).then(|| AwsFound {
        account: id.account.clone(),
        region: session.region().to_string(),
    })
}
