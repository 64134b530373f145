//! vouch turns a company's security promises into controls that run.
//!
//! Control files (TOML) say what must hold; probes observe live systems; the engine compares what
//! was observed with what was expected and produces a [`report::Report`] that an auditor can file,
//! a CI job can gate on and an on-call engineer can read at a glance. The library is usable
//! without the command line: [`pipeline::check`] is `vouch check` as one call (its stages are
//! public: load, observe or replay, evaluate, waive, gate), or, lower down, load controls, build
//! a context, run the engine and render, as below. docs/architecture.md draws the stages.
//!
//! ```
//! use std::sync::Arc;
//! use vouch::control::{Source, load_controls};
//! use vouch::diag::Diagnostics;
//! use vouch::engine::{self, EngineOptions};
//! use vouch::expect::Verdict;
//! use vouch::inventory::Inventory;
//! use vouch::probe::{ProbeContext, ProbeOptions, Registry};
//!
//! # fn main() -> anyhow::Result<()> {
//! // An attested claim: a penetration test, with its report as evidence.
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("pentest.txt"), "no critical findings")?;
//! let today = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
//! std::fs::write(
//!     dir.path().join("attestations.toml"),
//!     format!("[[attestation]]\nid = \"pentest\"\nstatement = \"Annual penetration test\"\n\
//!              performed_on = {today}\nevidence = \"pentest.txt\"\nattested_by = \"CISO\"\n"),
//! )?;
//!
//! let controls_toml = r#"
//! [[control]]
//! id = "APPSEC-PENTEST"
//! title = "Annual third-party penetration test"
//! severity = "high"
//! probe = "attestation"
//! targets = ["pentest"]
//! expect = [{ fact = "age_days", op = "<=", value = 365 }]
//! "#;
//! let registry = Registry::builtin();
//! let mut diags = Diagnostics::new();
//! let source = Source::Text { name: "inline.toml".into(), text: controls_toml.into() };
//! let controls = load_controls(&[source], &registry, None, &mut diags);
//! assert!(!diags.has_errors(), "{}", diags.render_short());
//!
//! let inventory = Inventory {
//!     attestations: Some(dir.path().join("attestations.toml")),
//!     ..Inventory::default()
//! };
//! let ctx = ProbeContext::new(Arc::new(inventory), ProbeOptions::default());
//! let report = tokio::runtime::Runtime::new()?.block_on(engine::run(
//!     &controls, &registry, &ctx, &EngineOptions::default(), None, None,
//! ));
//! assert_eq!(report.controls[0].verdict, Verdict::Pass);
//! println!("{}", vouch::report::json::render(&report)?);
//! # Ok(())
//! # }
//! ```

pub mod bundle;
pub mod cli;
pub mod control;
pub mod diag;
pub mod diff;
pub mod engine;
pub mod evidence;
pub mod exit;
pub mod expect;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod init;
pub mod inventory;
pub mod pipeline;
pub mod probe;
pub mod report;
pub mod shard;
pub mod slice;
pub mod store;
pub mod store_config;
pub mod waiver;
