//! Sharded runs and their merge: `vouch check --shard K/N` runs one of N deterministic slices of
//! the plan, and `vouch merge` verifies the shards' bundles (or reports) and judges their
//! observations together, as one run would have.
//!
//! **Slices.** Every `(probe, target)` of the plan has a shard key; its slice is
//! `1 + (u64 from the first 8 bytes, big-endian, of SHA-256(key)) mod N`. The key is
//! `<probe>\n<target>` (UTF-8), except for AWS probes (`aws.*`), whose key is the account:
//! in a multi-account run each `*` and `account` target is first expanded per account, and each
//! (probe, target, account) row is keyed `aws\n<account id>` of the account it is examined in;
//! otherwise `aws\n<account id>` for an ARN or an `ACCOUNT:`/`ACCOUNT/` prefixed target, `aws\n`
//! for every other target of the run's one account. So the same plan always splits the same
//! way, on any machine and build, and an AWS account stays whole within one slice (its API
//! limits, its credentials), while different accounts spread over the slices. A `*` target is keyed by its
//! pattern (per account): its discovery runs only in its slice, and the whole population it
//! finds is observed there (a `min_population` is judged on all of it).
//! Slices are 1-based (`--shard 1/4` … `--shard 4/4`); `--shard-from-env` reads Kubernetes
//! Indexed Jobs' 0-based `JOB_COMPLETION_INDEX` and adds one.
//!
//! **Plans.** Each shard records the plan it ran ([`Plan`]): digests of the control files and
//! selection, of the effective inventory and of the waivers, and `--fail-on`. `vouch merge`
//! refuses shards of different plans, two inputs claiming one slice, and missing slices.
//!
//! **Merge.** The rows of every shard are put together, their observations too, and every row
//! is judged again from its observation by the replay path ([`crate::evidence::replay`]), then
//! expiry, `max_age`, "examined nothing", waivers and coverage are applied as `check` applies
//! them: the summary is recomputed, never added up.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::control::{Control, Severity, Source};
use crate::diag::Diagnostics;
use crate::evidence::{self, Trust, replay::Recorded};
use crate::inventory::Inventory;
use crate::probe::Registry;
use crate::report::{
    MergeInfo, MergedShard, ObservationStore, Plan, Report, ShardInfo, SignatureCheck,
    SignatureStatus,
};

/// The variable a Kubernetes Indexed Job sets in each pod: the 0-based completion index.
pub const INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

/// Parses `K/N` (1 ≤ K ≤ N), or says what would be valid.
pub fn parse_spec(text: &str) -> Result<(u32, u32), String> {
    let bad = || {
        format!(
            "`{text}` is not a shard: write K/N, the K-th of N slices, 1-based (e.g. 1/4 … 4/4)"
        )
    };
    let (k, n) = text.trim().split_once('/').ok_or_else(bad)?;
    let (k, n): (u32, u32) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 {
        return Err(format!("`{text}`: the shard count N must be at least 1"));
    }
    if k == 0 || k > n {
        return Err(format!(
            "`{text}`: K must be between 1 and {n} (shards are 1-based; `--shard-from-env` adds \
             one to {INDEX_ENV})"
        ));
    }
    Ok((k, n))
}

/// The shard of a pod of an Indexed Job: `JOB_COMPLETION_INDEX` (0-based) + 1, of `count`.
pub fn from_env(count: u32) -> Result<(u32, u32), String> {
    let raw = std::env::var(INDEX_ENV).map_err(|_| {
        format!(
            "--shard-from-env: {INDEX_ENV} is not set (a Kubernetes Indexed Job sets it); use \
             --shard K/N elsewhere"
        )
    })?;
    let index: u32 = raw.trim().parse().map_err(|_| {
        format!("--shard-from-env: {INDEX_ENV}=`{raw}` is not a whole number from 0")
    })?;
    if count == 0 || index >= count {
        return Err(format!(
            "--shard-from-env: {INDEX_ENV}={index} is not below --shard-count {count} (indexes \
             run from 0 to N-1)"
        ));
    }
    Ok((index + 1, count))
}

pub use crate::slice::{key, slice_of};

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The plan of a run: `inputs` as [`evidence::collect_inputs`] gives them (control files, then
/// the waivers file), the selected control ids, the `--target` overrides, the effective
/// inventory and `--fail-on`.
pub fn plan(
    inputs: &[(String, Vec<u8>)],
    selected: &[String],
    targets: &[String],
    inventory: &Inventory,
    fail_on: Severity,
) -> Plan {
    let files: Vec<(&str, String)> = inputs
        .iter()
        .filter(|(path, _)| path.starts_with(evidence::INPUT_CONTROLS))
        .map(|(path, bytes)| (path.as_str(), sha256(bytes)))
        .collect();
    let mut selected: Vec<&String> = selected.iter().collect();
    selected.sort();
    selected.dedup();
    let controls = sha256(
        &serde_json::to_vec(&serde_json::json!({
            "files": files, "selected": selected, "targets": targets,
        }))
        .unwrap_or_default(),
    );
    let mut inv = serde_json::to_value(inventory).unwrap_or_default();
    if let Some(o) = inv.as_object_mut() {
        // Where the file sits is not what it says.
        o.remove("path");
    }
    let inventory = sha256(&serde_json::to_vec(&inv).unwrap_or_default());
    let waivers = inputs
        .iter()
        .find(|(path, _)| path == evidence::INPUT_WAIVERS)
        .map(|(_, bytes)| sha256(bytes));
    let digest = sha256(
        format!(
            "vouch.plan/v1\ncontrols {controls}\ninventory {inventory}\nwaivers {}\nfail_on {}\n",
            waivers.as_deref().unwrap_or("none"),
            fail_on.as_str()
        )
        .as_bytes(),
    );
    Plan {
        digest,
        controls,
        inventory,
        waivers,
    }
}

/// `run.shard` for a `check --shard K/N`.
pub fn info(index: u32, count: u32, plan: Plan) -> ShardInfo {
    ShardInfo { index, count, plan }
}

/// One input of a merge, verified and loaded.
pub struct Input {
    pub source: PathBuf,
    pub recorded: Recorded,
    pub report_sha256: String,
    pub manifest_sha256: Option<String>,
}

/// Loads one merge input: a bundle folder (verified as `vouch verify` does, with `trust`), or a
/// report file (each observation checked against its key; a report carries no signature, so
/// only with `--allow-unsigned`).
pub fn load_input(path: &Path, trust: &Trust) -> Result<Input> {
    if path.is_dir() {
        let recorded = evidence::replay::load(path, trust).map_err(|e| {
            anyhow::anyhow!(
                "{}",
                format!("{e:#}").replace("refusing to replay", "refusing to merge")
            )
        })?;
        let mut recorded = recorded;
        // The bundle's observation files are the observations; the report's inline copy of
        // them is not needed twice.
        recorded.report.observations = ObservationStore::new();
        // Hashed as a stream: a shard's report.json holds every observation it made.
        let digest = |name: &str| {
            evidence::sha256_file(&path.join(name))
                .map(|hex| format!("sha256:{hex}"))
                .map_err(anyhow::Error::msg)
        };
        return Ok(Input {
            source: path.to_path_buf(),
            report_sha256: digest(evidence::REPORT)?,
            manifest_sha256: Some(digest(evidence::MANIFEST)?),
            recorded,
        });
    }
    // Read as a stream (its observations are spooled as they are parsed), then hashed.
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let report: Report =
        serde_json::from_reader(std::io::BufReader::with_capacity(256 << 10, file)).with_context(
            || {
                format!(
                    "{} is neither an evidence bundle folder nor a vouch JSON report",
                    path.display()
                )
            },
        )?;
    if !trust.allow_unsigned {
        bail!(
            "{} is a report file, which carries no signature: merge the shards' bundles \
             (--evidence-dir), or give --allow-unsigned to check the observations' digests only",
            path.display()
        );
    }
    // One observation read back from the store at a time.
    for (id, obs) in report.observations.iter() {
        let actual = crate::engine::observation_id(&obs);
        if actual != *id {
            bail!(
                "{}: observation {id} does not match its content ({actual}): the report was \
                 changed; refusing to merge it",
                path.display()
            );
        }
    }
    let mut report = report;
    let observations = std::mem::take(&mut report.observations);
    Ok(Input {
        source: path.to_path_buf(),
        report_sha256: evidence::sha256_file(path)
            .map(|hex| format!("sha256:{hex}"))
            .map_err(anyhow::Error::msg)?,
        manifest_sha256: None,
        recorded: Recorded {
            report,
            observations,
            inputs: BTreeMap::new(),
            signature: SignatureCheck {
                status: SignatureStatus::Unsigned,
                signer: None,
            },
        },
    })
}

/// The shards put together: one recorded run (every shard's rows, observations and context),
/// the run's inputs, and the provenance of each shard.
pub struct Combined {
    pub recorded: Recorded,
    pub merge: MergeInfo,
}

/// Checks that `inputs` are the N slices of one plan, each once, and puts them together.
/// Every refusal names the file(s) it is about.
pub fn combine(mut inputs: Vec<Input>) -> Result<Combined> {
    if inputs.is_empty() {
        bail!("give the shards to merge: their bundle folders or report files");
    }
    let shard_of = |i: &Input| -> Result<ShardInfo> {
        i.recorded.report.run.shard.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "{} is not a shard (its report has no run.shard): merge takes the reports of \
                 `vouch check --shard K/N` runs",
                i.source.display()
            )
        })
    };
    let first = shard_of(&inputs[0])?;
    for i in &inputs[1..] {
        let s = shard_of(i)?;
        // The slicing (which rows a shard owns) is the tool's: shards cut by two versions may
        // overlap or leave rows out although their plans agree.
        let (theirs, ours) = (
            &i.recorded.report.tool.version,
            &inputs[0].recorded.report.tool.version,
        );
        if theirs != ours {
            bail!(
                "{} was made by vouch {theirs} but {} by vouch {ours}: shards of one run are cut                  by one version; refusing to merge",
                i.source.display(),
                inputs[0].source.display(),
            );
        }
        if s.plan.digest != first.plan.digest {
            let mut differs = Vec::new();
            if s.plan.controls != first.plan.controls {
                differs.push("the controls or their selection");
            }
            if s.plan.inventory != first.plan.inventory {
                differs.push("the inventory");
            }
            if s.plan.waivers != first.plan.waivers {
                differs.push("the waivers");
            }
            if differs.is_empty() {
                differs.push("--fail-on");
            }
            bail!(
                "{} is from another plan than {} (plan {} ≠ {}: {} differ): shards of one run \
                 share their plan; refusing to merge",
                i.source.display(),
                inputs[0].source.display(),
                s.plan.digest,
                first.plan.digest,
                differs.join(", ")
            );
        }
        if s.count != first.count {
            bail!(
                "{} is shard {}/{} but {} is shard {}/{}: slices of different counts overlap; \
                 refusing to merge",
                i.source.display(),
                s.index,
                s.count,
                inputs[0].source.display(),
                first.index,
                first.count
            );
        }
    }
    inputs.sort_by_key(|i| i.recorded.report.run.shard.as_ref().map_or(0, |s| s.index));
    for pair in inputs.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let k = a.recorded.report.run.shard.as_ref().map_or(0, |s| s.index);
        if b.recorded.report.run.shard.as_ref().map_or(0, |s| s.index) == k {
            if a.report_sha256 == b.report_sha256 {
                bail!(
                    "{} and {} are two copies of shard {k}/{}: give each shard once",
                    a.source.display(),
                    b.source.display(),
                    first.count
                );
            }
            bail!(
                "{} and {} both claim shard {k}/{} (different runs of one slice overlap): give \
                 each shard once",
                a.source.display(),
                b.source.display(),
                first.count
            );
        }
    }
    let have: BTreeSet<u32> = inputs
        .iter()
        .filter_map(|i| i.recorded.report.run.shard.as_ref().map(|s| s.index))
        .collect();
    let missing: Vec<String> = (1..=first.count)
        .filter(|k| !have.contains(k))
        .map(|k| format!("{k}/{}", first.count))
        .collect();
    if !missing.is_empty() {
        bail!(
            "shard{} {} missing (given: {}): a merge of part of a plan would report less than \
             the plan examined",
            if missing.len() == 1 { "" } else { "s" },
            if missing.len() == 1 {
                format!("{} is", missing[0])
            } else {
                format!("{} are", missing.join(", "))
            },
            inputs
                .iter()
                .map(|i| i.source.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    // One recorded run: every shard's rows under each control, every observation, the union of
    // contexts and warnings; it started when the first shard started and ended with the last.
    let mut shards = Vec::with_capacity(inputs.len());
    let mut iter = inputs.into_iter();
    let head = iter.next().expect("at least one input");
    shards.push(provenance(
        &head.source,
        &head.recorded.report,
        &head.recorded.signature,
        head.report_sha256,
        head.manifest_sha256,
        head.recorded.observations.len(),
    ));
    let mut merged: Report = head.recorded.report;
    let mut observations: ObservationStore = head.recorded.observations;
    let inputs_of_run = head.recorded.inputs;
    let signature = head.recorded.signature;
    for i in iter {
        let r = i.recorded.report;
        shards.push(provenance(
            &i.source,
            &r,
            &i.recorded.signature,
            i.report_sha256,
            i.manifest_sha256,
            i.recorded.observations.len(),
        ));
        merged.run.started_at = merged.run.started_at.min(r.run.started_at);
        merged.run.finished_at = merged.run.finished_at.max(r.run.finished_at);
        merged.run.complete &= r.run.complete;
        for (k, v) in r.run.context {
            merged.run.context.entry(k).or_insert(v);
        }
        for w in r.run.warnings {
            if !merged.run.warnings.contains(&w) {
                merged.run.warnings.push(w);
            }
        }
        for c in r.controls {
            match merged.controls.iter_mut().find(|m| m.id == c.id) {
                Some(m) => m.results.extend(c.results),
                None => merged.controls.push(c),
            }
        }
        observations.extend(i.recorded.observations);
    }
    for c in &mut merged.controls {
        c.results.sort_by(|a, b| a.target.cmp(&b.target));
    }
    merged.controls.sort_by(|a, b| a.id.cmp(&b.id));
    merged.observations = ObservationStore::new();
    merged.run.shard = None;
    Ok(Combined {
        recorded: Recorded {
            report: merged,
            observations,
            inputs: inputs_of_run,
            signature,
        },
        merge: MergeInfo {
            plan: first.plan,
            shards,
        },
    })
}

fn provenance(
    source: &Path,
    report: &Report,
    signature: &SignatureCheck,
    report_sha256: String,
    manifest_sha256: Option<String>,
    observations: usize,
) -> MergedShard {
    let shard = report.run.shard.as_ref();
    MergedShard {
        index: shard.map_or(0, |s| s.index),
        count: shard.map_or(0, |s| s.count),
        source: source.display().to_string(),
        report_sha256,
        manifest_sha256,
        signature: signature.clone(),
        started_at: report.run.started_at,
        finished_at: report.run.finished_at,
        complete: report.run.complete,
        observations,
    }
}

/// A merged run, judged: the report (waivers, coverage and summary applied), the controls it
/// judged and the inputs its bundle keeps.
pub struct Merged {
    pub report: Report,
    pub controls: Vec<Control>,
    /// `(bundle path, bytes)`: the control files and waivers the shards ran.
    pub inputs: Vec<(String, Vec<u8>)>,
    /// Expired and unused waivers, for stderr.
    pub waiver_notes: Vec<String>,
}

/// Where the controls and waivers of report-file inputs come from (bundles carry their own).
pub struct Given {
    /// `--controls` paths (empty: the built-in library).
    pub controls: Vec<PathBuf>,
    /// `--waivers`.
    pub waivers: Option<PathBuf>,
}

/// Judges `combined` as one run: the shards' own control files (checked against the plan's
/// digest when they come from `given`), every row judged again from its observation, then
/// expiry, `max_age`, examined-nothing, waivers and coverage.
pub fn judge(combined: Combined, given: &Given) -> Result<Merged> {
    let Combined { recorded, merge } = combined;
    let mut diags = Diagnostics::new();
    let mut registry = Registry::builtin();
    crate::probe::plugin::register_recorded(&mut registry, &recorded.report.run.context);

    // The run's inputs: from a bundle, else from --controls/--waivers, which must be the plan's.
    let inputs: Vec<(String, Vec<u8>)> = if recorded.inputs.is_empty() {
        let sources = evidence::snapshot_sources(&if given.controls.is_empty() {
            crate::control::builtin::sources()
        } else {
            given.controls.iter().cloned().map(Source::Path).collect()
        });
        let waivers = match &given.waivers {
            Some(p) => Some(std::fs::read(p).with_context(|| format!("reading {}", p.display()))?),
            None => None,
        };
        evidence::collect_inputs(&sources, waivers.as_deref())?
    } else {
        recorded
            .inputs
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let selected: Vec<String> = recorded
        .report
        .controls
        .iter()
        .map(|c| c.id.clone())
        .collect();
    if recorded.inputs.is_empty() {
        // Report files: the given control files and waivers must be the ones the plan names.
        let given_plan = plan(
            &inputs,
            &selected,
            &[],
            &Inventory::default(),
            Severity::Low,
        );
        if given_plan.controls != merge.plan.controls {
            bail!(
                "the control files given (--controls, or the built-in library) are not the ones                  the shards ran (controls {} ≠ {}; or the shards ran with --target): give the                  same control files, or merge the shards' bundles, which keep their own",
                given_plan.controls,
                merge.plan.controls
            );
        }
        if given_plan.waivers != merge.plan.waivers {
            bail!(
                "the shards ran with waivers {} but {} was given: give the waivers file the                  shards ran with (--waivers), or merge their bundles",
                merge.plan.waivers.as_deref().unwrap_or("none"),
                given_plan.waivers.as_deref().unwrap_or("none")
            );
        }
    }
    let sources: Vec<Source> = inputs
        .iter()
        .filter(|(path, _)| path.starts_with(evidence::INPUT_CONTROLS))
        .map(|(path, bytes)| Source::Text {
            name: PathBuf::from(path),
            text: String::from_utf8_lossy(bytes).into_owned(),
        })
        .collect();
    let mut controls = crate::control::load_controls(&sources, &registry, None, &mut diags);
    if diags.has_errors() {
        bail!(
            "the shards' control files do not load:\n{}",
            diags.render_short()
        );
    }
    controls.retain(|c| selected.contains(&c.id));
    if controls.len() != selected.len() {
        let missing: Vec<&String> = selected
            .iter()
            .filter(|id| !controls.iter().any(|c| &c.id == *id))
            .collect();
        bail!(
            "the control files do not define {} that the shards judged: give the control files \
             the shards ran with (--controls), or merge their bundles",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let now = recorded.report.run.finished_at;
    let started_at = recorded.report.run.started_at;
    let mut report = evidence::replay::rejudge(&controls, &registry, recorded, now);
    report.run.replay = None;
    report.run.started_at = started_at;
    report.run.finished_at = now;
    report.run.merge = Some(merge);

    // As `check` finishes a run.
    evidence::stamp_expiry(&mut report, &controls);
    crate::engine::enforce_max_age(&mut report, now);
    crate::engine::mark_examined_nothing(&mut report, &controls);
    let today = now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let waivers = match inputs.iter().find(|(p, _)| p == evidence::INPUT_WAIVERS) {
        Some((path, bytes)) => {
            let ids: Vec<&str> = controls.iter().map(|c| c.id.as_str()).collect();
            let w = crate::waiver::parse(
                Path::new(path),
                &String::from_utf8_lossy(bytes),
                &ids,
                today,
                &mut diags,
            );
            if diags.has_errors() {
                bail!("the shards' waivers do not load:\n{}", diags.render_short());
            }
            w
        }
        None => Vec::new(),
    };
    let applied = crate::waiver::apply(&mut report, &waivers, today);
    let mut waiver_notes = Vec::new();
    for w in &applied.expired {
        waiver_notes.push(format!(
            "the waiver of {} at {} expired on {}; it was ignored",
            w.control, w.location, w.expires
        ));
    }
    for w in &applied.unused {
        waiver_notes.push(format!(
            "the waiver of {} at {} covers no failing result; remove it or fix its targets",
            w.control, w.location
        ));
    }
    report.coverage = crate::report::coverage::builtin(&controls);
    crate::report::coverage::mark_evidenced(&mut report.coverage, &report.controls);
    report.summarise();
    Ok(Merged {
        report,
        controls,
        inputs,
        waiver_notes,
    })
}

/// Writes the merged bundle to `dir` (a new folder), recording it in `report.run.evidence`
/// first: the bundle's report says where it is and who signed it. Returns what was written and
/// the signer's fingerprint.
pub fn write_merged(
    report: &mut Report,
    dir: &Path,
    inputs: &[(String, Vec<u8>)],
    key: Option<&ed25519_dalek::SigningKey>,
) -> Result<(evidence::Written, Option<String>)> {
    let signer = key.map(|k| evidence::sign::fingerprint(&k.verifying_key()));
    report.run.evidence = Some(crate::report::EvidenceInfo {
        bundle: dir.display().to_string(),
        signer: signer.clone(),
    });
    let written = evidence::write_bundle(dir, report, inputs, key)?;
    Ok((written, signer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_one_based_and_bad_ones_say_what_is_valid() {
        assert_eq!(parse_spec("1/4"), Ok((1, 4)));
        assert_eq!(parse_spec("4/4"), Ok((4, 4)));
        assert!(parse_spec("0/4").unwrap_err().contains("between 1 and 4"));
        assert!(parse_spec("5/4").unwrap_err().contains("between 1 and 4"));
        assert!(parse_spec("1/0").unwrap_err().contains("at least 1"));
        assert!(parse_spec("x").unwrap_err().contains("write K/N"));
    }

    #[test]
    fn rows_of_a_multi_account_run_are_sliced_by_their_account() {
        use crate::slice::slice_in;
        for n in [2u32, 3, 7] {
            let ids: Vec<String> = (0..40u64)
                .map(|i| format!("{:012}", 111_111_111_111 + i * 7919))
                .collect();
            // Wrong answer prevented: every account's `*` rows in one slice.
            let used: BTreeSet<u32> = ids
                .iter()
                .map(|id| slice_in("aws.s3", "*", Some(id), n))
                .collect();
            assert_eq!(used.len(), n as usize, "{n} slices");
            for id in &ids {
                // One account, one slice: its `*`, `account` and ARN targets, any AWS probe.
                let s = slice_in("aws.s3", "*", Some(id), n);
                assert_eq!(slice_in("aws.kms", "account", Some(id), n), s);
                let arn = format!("arn:aws:kms:eu-west-1:{id}:key/x");
                assert_eq!(slice_in("aws.kms", &arn, None, n), s);
                assert_eq!(slice_in("aws.kms", &arn, Some(id), n), s);
            }
            // A run of one account splits as it always did.
            assert_eq!(slice_in("aws.s3", "*", None, n), slice_of("aws.s3", "*", n));
            assert_eq!(
                slice_in("tls", "a.example:443", Some(&ids[0]), n),
                slice_of("tls", "a.example:443", n)
            );
        }
    }

    #[test]
    fn slices_are_stable_sha256_and_keep_an_aws_account_whole() {
        // Pinned: the split must not change between builds or machines.
        let digest = Sha256::digest(b"tls\napp.example.com:443");
        let head = u64::from_be_bytes(digest[..8].try_into().unwrap());
        assert_eq!(
            slice_of("tls", "app.example.com:443", 7),
            (head % 7) as u32 + 1
        );
        for n in [1, 2, 3, 7] {
            let s = slice_of("aws.kms", "arn:aws:kms:eu-west-1:123456789012:key/a", n);
            assert_eq!(
                s,
                slice_of("aws.s3", "arn:aws:s3:us-east-1:123456789012:x", n)
            );
            assert_eq!(
                slice_of("aws.s3", "my-bucket", n),
                slice_of("aws.kms", "*", n)
            );
            assert!((1..=n).contains(&s));
        }
        assert_eq!(
            crate::slice::aws_account("123456789012/my-bucket"),
            Some("123456789012")
        );
        assert_eq!(crate::slice::aws_account("my-bucket"), None);
        // Many targets spread over every slice.
        let mut seen = BTreeSet::new();
        for i in 0..200 {
            seen.insert(slice_of("tls", &format!("h{i}.example.com:443"), 7));
        }
        assert_eq!(seen.len(), 7);
    }
}
