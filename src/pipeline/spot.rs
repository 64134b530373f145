//! `vouch probe`: a spot check, one probe on one target (or on every target a pattern finds),
//! observed the way a run observes (under the timeout, bounded, stamped with its duration and
//! params) but judged by nobody: the facts are printed as they are.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use futures::StreamExt;

use crate::engine::EngineOptions;
use crate::probe::{Observation, Params, Probe, ProbeContext, ProbeError};

/// Parses `--param NAME=VALUE` flags against what `probe` declares: a TOML literal (`90`,
/// `true`, `["a"]`) when the value reads as one, else the bare string.
pub fn parse_params(probe: &dyn Probe, specs: &[String]) -> Result<Params> {
    let mut params = Params::new();
    for p in specs {
        let Some((name, value)) = p.split_once('=') else {
            bail!("--param {p}: write NAME=VALUE");
        };
        let Some(spec) = probe.params().iter().find(|s| s.path == name) else {
            bail!("probe `{}` takes no parameter `{name}`", probe.kind());
        };
        let literal = format!("v = {value}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"));
        let parsed = literal
            .and_then(|v| crate::expect::Value::from_toml(spec.ty, &v).ok())
            .map_or_else(
                || crate::expect::Value::from_toml(spec.ty, &toml::Value::String(value.into())),
                Ok,
            )
            .map_err(|e| anyhow!("--param {name}: {e}"))?;
        params.insert(name.to_string(), parsed.to_json());
    }
    Ok(params)
}

/// One observation of `target`, under `timeout`, stamped with its duration and params.
pub async fn observe_one(
    probe: &dyn Probe,
    target: &str,
    params: &Params,
    ctx: &ProbeContext,
    timeout: Duration,
) -> Result<Observation, ProbeError> {
    let started = Instant::now();
    match tokio::time::timeout(timeout, probe.observe(target, params, ctx)).await {
        Ok(Ok(mut obs)) => {
            obs.duration_ms = started.elapsed().as_millis() as u64;
            obs.params = params.clone();
            Ok(obs)
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(ProbeError::timeout(timeout)),
    }
}

/// Every target `pattern` discovers, each observed (as `check` would: bounded, timed), in target
/// order; the error when discovery itself fails.
pub async fn observe_pattern(
    probe: Arc<dyn Probe>,
    pattern: &str,
    params: &Params,
    ctx: &ProbeContext,
    timeout: Duration,
) -> Result<Vec<(String, Result<Observation, ProbeError>)>, ProbeError> {
    let found = match tokio::time::timeout(timeout, probe.discover(pattern, ctx)).await {
        Ok(r) => r?,
        Err(_) => return Err(ProbeError::timeout(timeout)),
    };
    let mut results: Vec<(String, Result<Observation, ProbeError>)> =
        futures::stream::iter(found.into_iter().map(|target| {
            let probe = probe.clone();
            async move {
                let res = observe_one(probe.as_ref(), &target, params, ctx, timeout).await;
                (target, res)
            }
        }))
        .buffer_unordered(EngineOptions::default().concurrency)
        .collect()
        .await;
    results.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(results)
}
