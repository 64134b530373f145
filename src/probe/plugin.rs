//! External probes: `probe = "plugin:NAME"` runs an executable that speaks `vouch.plugin/v1`
//! (docs/plugins.md). The plugin observes; vouch judges, as for every built-in probe.
//!
//! - `EXE describe` prints the plugin's declaration (facts with types, params, whether it
//!   discovers `*`). It runs once per run, when the inventory is loaded, so controls naming the
//!   plugin are checked at load time by the same code as built-in probes (unknown fact, wrong
//!   operator → a diagnostic and exit 2).
//! - `EXE observe` reads one JSON request on stdin and prints one JSON observation on stdout.
//! - `EXE discover` reads one JSON request and prints the targets a `*` stands for.
//!
//! Every call runs like a probe, fail closed: an allow-listed environment (no vouch secret leaks
//! in), its own process group killed when the observation timeout expires, stdout capped at
//! [`MAX_OUTPUT`], stderr to the log, a non-zero exit or malformed JSON an `error` carrying the
//! plugin's own message, and a fact that is undeclared or of the wrong type an `error` (never
//! coerced). The executable's path and SHA-256 are recorded in each observation's evidence and in
//! the report's `run.context`, with the declaration, so a replay needs no plugin.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

use super::{
    Attachment, FactSpec, FactType, Observation, Params, Probe, ProbeContext, ProbeError,
    ProbeErrorKind,
};
use crate::diag::Diagnostics;
use crate::inventory::{Inventory, PluginSettings};

/// The protocol this vouch speaks.
pub const PROTOCOL: &str = "vouch.plugin/v1";
/// The prefix of a plugin's probe kind: `plugin:NAME`.
pub const PREFIX: &str = "plugin:";
/// The most a plugin may print on stdout for one call; more is an `error`.
pub const MAX_OUTPUT: usize = 8 * 1024 * 1024;
/// The most of a plugin's stderr kept for the log and error messages; the rest is read and dropped.
const MAX_STDERR: usize = 64 * 1024;
/// Environment variables every plugin gets (when vouch has them); the `[plugins]` entry's `env`
/// adds to these, nothing else passes.
pub const ENV_ALLOW: [&str; 4] = ["PATH", "HOME", "LANG", "TZ"];
/// Concurrent calls of one plugin when its declaration does not say.
const DEFAULT_CONCURRENCY: usize = 4;
/// The key under which evidence and `run.context` record which plugin produced the facts.
const EVIDENCE_KEY: &str = "plugin";

/// `EXE describe`'s output.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Declaration {
    protocol: String,
    description: String,
    /// The target syntax, for help and errors ("a domain name").
    target: String,
    #[serde(default)]
    discovers: bool,
    facts: Vec<DeclaredFact>,
    #[serde(default)]
    params: Vec<DeclaredFact>,
    #[serde(default)]
    max_concurrency: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeclaredFact {
    name: String,
    #[serde(rename = "type")]
    ty: FactType,
    description: String,
}

/// `EXE observe`'s output.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Reply {
    #[serde(default)]
    facts: BTreeMap<String, Json>,
    #[serde(default)]
    unobserved: BTreeMap<String, String>,
    #[serde(default)]
    evidence: serde_json::Map<String, Json>,
    #[serde(default)]
    attachments: Vec<Attachment>,
    #[serde(default)]
    error: Option<PluginError>,
}

/// `EXE discover`'s output.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Discovered {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    error: Option<PluginError>,
}

/// A plugin saying it could not look (`{"error": {...}}`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginError {
    #[serde(default = "other_kind")]
    kind: ProbeErrorKind,
    message: String,
    #[serde(default)]
    hint: Option<String>,
}

fn other_kind() -> ProbeErrorKind {
    ProbeErrorKind::Other
}

/// How a plugin is run (absent for a plugin known only from a replayed bundle).
#[derive(Debug)]
struct Runner {
    path: PathBuf,
    env: Vec<String>,
    config: serde_json::Map<String, Json>,
    limit: Semaphore,
    run_id: String,
}

/// One external probe, `plugin:NAME`.
pub struct PluginProbe {
    kind: &'static str,
    name: String,
    description: &'static str,
    target: &'static str,
    facts: &'static [FactSpec],
    params: &'static [FactSpec],
    discovers: bool,
    /// `{name, path, sha256, protocol, declaration}`: provenance, recorded with every observation.
    provenance: Json,
    sha256: String,
    runner: Option<Runner>,
}

impl std::fmt::Debug for PluginProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginProbe")
            .field("kind", &self.kind)
            .finish()
    }
}

/// A `&'static str` for the [`Probe`] trait's static declarations: a plugin is described once per
/// run, so the few bytes live as long as the process.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn specs(list: &[DeclaredFact]) -> &'static [FactSpec] {
    let v: Vec<FactSpec> = list
        .iter()
        .map(|f| FactSpec {
            path: leak(f.name.clone()),
            ty: f.ty,
            doc: leak(f.description.clone()),
        })
        .collect();
    Box::leak(v.into_boxed_slice())
}

/// Whether a declared fact or param name is acceptable: a path of letters, digits, `_`, `-`, `.`.
fn valid_fact_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Reads and checks a declaration; the message says what is wrong and what would be valid.
fn parse_declaration(bytes: &[u8]) -> Result<Declaration, String> {
    let value: Json = serde_json::from_slice(bytes)
        .map_err(|e| format!("`describe` did not print JSON ({e}): {}", excerpt(bytes)))?;
    if let Some(p) = value.get("protocol").and_then(Json::as_str) {
        if p != PROTOCOL {
            return Err(format!(
                "the plugin speaks `{p}`; this vouch speaks `{PROTOCOL}` (docs/plugins.md)"
            ));
        }
    }
    let d: Declaration = serde_json::from_value(value).map_err(|e| {
        format!(
            "`describe` printed an invalid declaration: {e}; fact types: {}",
            TYPE_NAMES.join(", ")
        )
    })?;
    if d.protocol != PROTOCOL {
        return Err(format!("`protocol` must be `{PROTOCOL}`"));
    }
    if d.facts.is_empty() {
        return Err("the declaration lists no facts".into());
    }
    let mut seen = std::collections::BTreeSet::new();
    for f in d.facts.iter().chain(&d.params) {
        if !valid_fact_name(&f.name) {
            return Err(format!(
                "`{}` is not a valid fact or param name: use letters, digits, `_`, `-` and `.` (e.g. `caa.present`)",
                f.name
            ));
        }
    }
    for f in &d.facts {
        if !seen.insert(f.name.as_str()) {
            return Err(format!("fact `{}` is declared twice", f.name));
        }
    }
    if d.max_concurrency == Some(0) {
        return Err("`max_concurrency` must be at least 1".into());
    }
    Ok(d)
}

/// The type names a declaration may use (`FactType`'s JSON names).
pub const TYPE_NAMES: [&str; 9] = [
    "bool",
    "integer",
    "string",
    "string_list",
    "protocol",
    "duration",
    "timestamp",
    "date",
    "object",
];

/// The first bytes of some output, printable, for an error message.
fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]);
    let text = text.trim();
    if text.is_empty() {
        "(nothing)".into()
    } else if bytes.len() > 200 {
        format!("`{text}…`")
    } else {
        format!("`{text}`")
    }
}

/// SHA-256 (hex) of the file at `path`.
fn sha256_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// A fresh id for this run, handed to plugins (`run_id`).
fn new_run_id() -> String {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        b = (std::process::id() as u64 ^ jiff::Timestamp::now().as_nanosecond() as u64)
            .to_be_bytes();
    }
    hex::encode(b)
}

/// Kills a plugin call's whole process group when dropped: on timeout, on an overlong output,
/// when the engine gives up on the observation, and after a normal exit (no child outlives it).
struct GroupGuard(Option<i32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            // SAFETY: killpg has no memory-safety preconditions; ESRCH (already gone) is fine.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }
}

/// Reads at most `cap` bytes; `Err(())` when there was more.
async fn read_capped(
    mut r: impl AsyncRead + Unpin,
    cap: usize,
) -> std::io::Result<Result<Vec<u8>, ()>> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Ok(buf));
        }
        if buf.len() + n > cap {
            return Ok(Err(()));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads everything, keeping the first `cap` bytes (so a chatty plugin never blocks on stderr).
async fn read_keep(mut r: impl AsyncRead + Unpin, cap: usize) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    while let Ok(n) = r.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        let room = cap.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..n.min(room)]);
    }
    buf
}

/// What one call of the executable gave.
struct Output {
    status: std::process::ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Runner {
    /// Runs `EXE verb`, writing `request` on stdin; bounded in time and output.
    async fn call(
        &self,
        name: &str,
        verb: &str,
        request: &Json,
        timeout: Duration,
    ) -> Result<Output, ProbeError> {
        let mut cmd = tokio::process::Command::new(&self.path);
        cmd.arg(verb)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        for var in ENV_ALLOW
            .iter()
            .copied()
            .chain(self.env.iter().map(String::as_str))
        {
            if let Some(v) = std::env::var_os(var) {
                cmd.env(var, v);
            }
        }
        let mut child = cmd.spawn().map_err(|e| {
            ProbeError::new(
                ProbeErrorKind::Config,
                format!("plugin `{name}`: cannot run {}: {e}", self.path.display()),
            )
            .with_hint("check the [plugins] path and that the file is executable (chmod +x)")
        })?;
        let _guard = GroupGuard(child.id().map(|p| p as i32));
        let mut stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let body = serde_json::to_vec(request).expect("a JSON request");
        let run = async {
            let write = async move {
                // A plugin that does not read its request is not an error by itself.
                let _ = stdin.write_all(&body).await;
                let _ = stdin.shutdown().await;
                drop(stdin);
            };
            let (_, out, err) = tokio::join!(
                write,
                read_capped(stdout, MAX_OUTPUT),
                read_keep(stderr, MAX_STDERR)
            );
            (out, err)
        };
        let (out, err) = match tokio::time::timeout(timeout, run).await {
            Ok(r) => r,
            Err(_) => {
                return Err(ProbeError::new(
                    ProbeErrorKind::Timeout,
                    format!(
                        "plugin `{name}` did not answer `{verb}` within {}; its process group was killed",
                        super::humantime(timeout)
                    ),
                )
                .with_hint("the plugin or what it looks at may be hung; raise --timeout if it is only slow"));
            }
        };
        let stdout = match out {
            Ok(Ok(b)) => b,
            Ok(Err(())) => {
                return Err(ProbeError::new(
                    ProbeErrorKind::Protocol,
                    format!(
                        "plugin `{name}` printed more than {} MiB for `{verb}`; it was killed and its output dropped",
                        MAX_OUTPUT / (1024 * 1024)
                    ),
                )
                .with_hint("keep large artefacts out of one observation (docs/plugins.md, limits)"));
            }
            Err(e) => {
                return Err(ProbeError::new(
                    ProbeErrorKind::Other,
                    format!("plugin `{name}`: reading its output: {e}"),
                ));
            }
        };
        // The plugin's own tokens never reach the log or an error message through its stderr.
        let err = redact_secrets(err, &self.env);
        log_stderr(name, &err);
        // The streams are closed; the process exits promptly or is killed with its group.
        let status = match tokio::time::timeout(Duration::from_secs(2), child.wait()).await {
            Ok(Ok(s)) => s,
            _ => {
                return Err(ProbeError::new(
                    ProbeErrorKind::Timeout,
                    format!("plugin `{name}` closed its output but did not exit; it was killed"),
                ));
            }
        };
        Ok(Output {
            status,
            stdout,
            stderr: err,
        })
    }
}

fn log_stderr(name: &str, stderr: &[u8]) {
    for line in String::from_utf8_lossy(stderr).lines() {
        if !line.trim().is_empty() {
            tracing::info!(plugin = name, "{line}");
        }
    }
}

/// The plugin's own words for a failure: its `{"error": …}` on stdout, else the last lines of
/// its stderr.
fn failure_message(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" / ");
    let mut tail: String = tail.chars().take(500).collect();
    if tail.is_empty() {
        tail = format!("no message; stdout: {}", excerpt(&out.stdout));
    }
    tail
}

impl PluginProbe {
    /// Runs `EXE describe` and builds the probe. The message says what is wrong.
    pub async fn load(
        name: &str,
        settings: &PluginSettings,
        timeout: Duration,
        run_id: &str,
    ) -> Result<PluginProbe, String> {
        // Absolute, so a bare name is never looked up on PATH and the evidence names the file.
        let path = &std::fs::canonicalize(&settings.path).map_err(|e| {
            format!(
                "plugin `{name}`: cannot read {}: {e}",
                settings.path.display()
            )
        })?;
        let meta = std::fs::metadata(path)
            .map_err(|e| format!("plugin `{name}`: cannot read {}: {e}", path.display()))?;
        if !meta.is_file() {
            return Err(format!("plugin `{name}`: {} is not a file", path.display()));
        }
        {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o111 == 0 {
                return Err(format!(
                    "plugin `{name}`: {} is not executable (chmod +x it)",
                    path.display()
                ));
            }
        }
        let sha256 = sha256_file(path)
            .map_err(|e| format!("plugin `{name}`: reading {}: {e}", path.display()))?;
        let runner = Runner {
            path: path.clone(),
            env: settings.env.clone(),
            config: settings.config.clone(),
            limit: Semaphore::new(DEFAULT_CONCURRENCY),
            run_id: run_id.to_string(),
        };
        let request = json!({"protocol": PROTOCOL, "run_id": run_id, "config": runner.config});
        let out = runner
            .call(name, "describe", &request, timeout)
            .await
            .map_err(|e| e.message)?;
        if !out.status.success() {
            return Err(format!(
                "plugin `{name}`: `describe` exited with {}: {}",
                out.status,
                failure_message(&out)
            ));
        }
        let d = parse_declaration(&out.stdout).map_err(|e| format!("plugin `{name}`: {e}"))?;
        let declaration: Json = serde_json::from_slice(&out.stdout).expect("parsed above");
        let limit = Semaphore::new(d.max_concurrency.unwrap_or(DEFAULT_CONCURRENCY));
        let mut probe = PluginProbe::from_declaration(name, &d, declaration, path, sha256);
        probe.runner = Some(Runner { limit, ..runner });
        Ok(probe)
    }

    fn from_declaration(
        name: &str,
        d: &Declaration,
        declaration: Json,
        path: &Path,
        sha256: String,
    ) -> PluginProbe {
        PluginProbe {
            kind: leak(format!("{PREFIX}{name}")),
            name: name.to_string(),
            description: leak(d.description.clone()),
            target: leak(d.target.clone()),
            facts: specs(&d.facts),
            params: specs(&d.params),
            discovers: d.discovers,
            provenance: json!({
                "name": name,
                "path": path.display().to_string(),
                "sha256": sha256,
                "protocol": PROTOCOL,
                "declaration": declaration,
            }),
            sha256,
            runner: None,
        }
    }

    /// A plugin known from a bundle's `run.context` (`plugin.NAME`): it declares the same facts,
    /// so the bundle's controls load, but it never runs (a replay calls no probe).
    pub fn recorded(name: &str, provenance: &Json) -> Option<PluginProbe> {
        let declaration = provenance.get("declaration")?;
        let d = parse_declaration(&serde_json::to_vec(declaration).ok()?).ok()?;
        let path = PathBuf::from(provenance.get("path")?.as_str()?);
        let sha256 = provenance.get("sha256")?.as_str()?.to_string();
        Some(PluginProbe::from_declaration(
            name,
            &d,
            declaration.clone(),
            &path,
            sha256,
        ))
    }

    fn runner(&self) -> Result<&Runner, ProbeError> {
        self.runner.as_ref().ok_or_else(|| {
            ProbeError::new(
                ProbeErrorKind::Config,
                format!(
                    "plugin `{}` is known only from a recorded bundle",
                    self.name
                ),
            )
            .with_hint("configure it in [plugins] to observe with it")
        })
    }

    /// Refuses to run an executable that changed since `describe` (the recorded SHA-256 would lie).
    fn check_unchanged(&self, runner: &Runner) -> Result<(), ProbeError> {
        let now = sha256_file(&runner.path).map_err(|e| {
            ProbeError::new(
                ProbeErrorKind::Config,
                format!(
                    "plugin `{}`: reading {}: {e}",
                    self.name,
                    runner.path.display()
                ),
            )
        })?;
        if now != self.sha256 {
            return Err(ProbeError::new(
                ProbeErrorKind::Config,
                format!(
                    "plugin `{}`: {} changed during the run (sha256 {} at describe, {now} now)",
                    self.name,
                    runner.path.display(),
                    self.sha256
                ),
            )
            .with_hint("run again once the plugin is no longer being replaced"));
        }
        Ok(())
    }

    /// Calls `verb`, mapping a non-zero exit to the plugin's message; the stdout of a clean exit.
    async fn invoke(
        &self,
        verb: &str,
        request: Json,
        ctx: &ProbeContext,
    ) -> Result<Vec<u8>, ProbeError> {
        let runner = self.runner()?;
        let _permit = runner
            .limit
            .acquire()
            .await
            .expect("semaphore never closed");
        self.check_unchanged(runner)?;
        ctx.record_run_info(
            &format!("{EVIDENCE_KEY}.{}", self.name),
            self.provenance.clone(),
        );
        let out = runner
            .call(&self.name, verb, &request, ctx.options.timeout)
            .await?;
        let stdout = redact_secrets(out.stdout.clone(), &runner.env);
        if !out.status.success() {
            // A plugin may explain itself with {"error": …} and a non-zero exit.
            if let Ok(Reply { error: Some(e), .. }) = serde_json::from_slice::<Reply>(&stdout) {
                return Err(self.plugin_error(e));
            }
            return Err(ProbeError::new(
                ProbeErrorKind::Other,
                format!(
                    "plugin `{}` failed ({}): {}",
                    self.name,
                    out.status,
                    failure_message(&Output { stdout, ..out })
                ),
            )
            .with_hint(format!(
                "run `{} {verb}` by hand to see why",
                runner.path.display()
            )));
        }
        Ok(stdout)
    }

    fn plugin_error(&self, e: PluginError) -> ProbeError {
        ProbeError {
            kind: e.kind,
            message: format!("plugin `{}`: {}", self.name, e.message),
            hint: e.hint,
        }
    }

    fn malformed(&self, verb: &str, why: impl std::fmt::Display) -> ProbeError {
        ProbeError::new(
            ProbeErrorKind::Protocol,
            format!("plugin `{}` answered `{verb}` with {why}", self.name),
        )
        .with_hint(format!(
            "the plugin must print one {PROTOCOL} JSON object (docs/plugins.md)"
        ))
    }

    /// Checks a reply against the declaration: every fact declared, every value of its type.
    fn check_reply(&self, reply: &Reply) -> Result<(), ProbeError> {
        let declared: Vec<&str> = self.facts.iter().map(|f| f.path).collect();
        for (path, value) in &reply.facts {
            let Some(spec) = self.facts.iter().find(|f| f.path == path) else {
                return Err(self.malformed(
                    "observe",
                    format!(
                        "fact `{path}`, which its declaration does not list (declared: {})",
                        declared.join(", ")
                    ),
                ));
            };
            if let Err(why) = crate::expect::Value::from_json(spec.ty, value) {
                return Err(self.malformed(
                    "observe",
                    format!("a wrong value for `{path}` ({why}); nothing is coerced"),
                ));
            }
        }
        for path in reply.unobserved.keys() {
            if !declared.contains(&path.as_str()) {
                return Err(self.malformed(
                    "observe",
                    format!("`unobserved` fact `{path}`, which its declaration does not list"),
                ));
            }
            if reply.facts.contains_key(path) {
                return Err(self.malformed(
                    "observe",
                    format!("fact `{path}` both observed and unobserved"),
                ));
            }
        }
        if reply.evidence.contains_key(EVIDENCE_KEY) {
            return Err(self.malformed(
                "observe",
                format!("evidence key `{EVIDENCE_KEY}`, which vouch reserves for provenance"),
            ));
        }
        Ok(())
    }
}

/// Replaces the values of the environment variables passed to a plugin (its tokens) wherever they
/// appear in its output, so a plugin that echoes its credentials cannot put them in evidence.
fn redact_secrets(stdout: Vec<u8>, env: &[String]) -> Vec<u8> {
    let mut text = match String::from_utf8(stdout) {
        Ok(t) => t,
        Err(e) => return e.into_bytes(),
    };
    for var in env {
        let Ok(value) = std::env::var(var) else {
            continue;
        };
        if value.len() < 4 {
            continue;
        }
        let escaped = serde_json::to_string(&value).expect("a JSON string");
        let escaped = &escaped[1..escaped.len() - 1];
        if text.contains(escaped) {
            text = text.replace(escaped, "[redacted]");
        }
    }
    text.into_bytes()
}

#[async_trait]
impl Probe for PluginProbe {
    fn kind(&self) -> &'static str {
        self.kind
    }
    fn description(&self) -> &'static str {
        self.description
    }
    fn target_syntax(&self) -> &'static str {
        self.target
    }
    fn facts(&self) -> &'static [FactSpec] {
        self.facts
    }
    fn params(&self) -> &'static [FactSpec] {
        self.params
    }
    fn check_target(&self, target: &str) -> Result<(), String> {
        if target.trim().is_empty() {
            return Err("the target is empty".into());
        }
        if target == "*" && !self.discovers {
            return Err(format!(
                "plugin `{}` does not discover `*`: name each target",
                self.name
            ));
        }
        Ok(())
    }
    /// One plugin is one "host" for `--per-host`: its calls usually share one backend (an API,
    /// a resolver), and waiting for that limit does not count against the timeout.
    fn host_key(&self, _target: &str) -> String {
        self.kind.to_string()
    }
    fn is_pattern(&self, target: &str) -> bool {
        self.discovers && target == "*"
    }

    async fn discover(&self, pattern: &str, ctx: &ProbeContext) -> Result<Vec<String>, ProbeError> {
        let runner = self.runner()?;
        let request = json!({
            "protocol": PROTOCOL, "run_id": runner.run_id, "pattern": pattern,
            "config": runner.config, "timeout_ms": ctx.options.timeout.as_millis() as u64,
        });
        let stdout = self.invoke("discover", request, ctx).await?;
        let d: Discovered = serde_json::from_slice(&stdout).map_err(|e| {
            self.malformed(
                "discover",
                format!("malformed JSON ({e}): {}", excerpt(&stdout)),
            )
        })?;
        if let Some(e) = d.error {
            return Err(self.plugin_error(e));
        }
        if let Some(bad) = d.targets.iter().find(|t| t.trim().is_empty() || *t == "*") {
            return Err(self.malformed("discover", format!("the target `{bad}`")));
        }
        Ok(d.targets)
    }

    async fn observe(
        &self,
        target: &str,
        params: &Params,
        ctx: &ProbeContext,
    ) -> Result<Observation, ProbeError> {
        let runner = self.runner()?;
        let request = json!({
            "protocol": PROTOCOL, "run_id": runner.run_id, "target": target, "params": params,
            "config": runner.config, "timeout_ms": ctx.options.timeout.as_millis() as u64,
        });
        let stdout = self.invoke("observe", request, ctx).await?;
        let reply: Reply = serde_json::from_slice(&stdout).map_err(|e| {
            self.malformed(
                "observe",
                format!("malformed JSON ({e}): {}", excerpt(&stdout)),
            )
        })?;
        if let Some(e) = reply.error {
            return Err(self.plugin_error(e));
        }
        self.check_reply(&reply)?;
        let mut obs = Observation::new(self.kind, target);
        obs.facts = reply.facts;
        obs.unobserved = reply.unobserved;
        obs.evidence = reply.evidence;
        obs.evidence(EVIDENCE_KEY, self.provenance.clone());
        obs.attachments = reply.attachments;
        Ok(obs)
    }
}

/// Describes every plugin of the inventory (once per run) and adds it to `registry`. A plugin
/// that cannot be described is a diagnostic at its `[plugins]` entry (exit 2: nothing runs).
pub async fn register(
    registry: &mut super::Registry,
    inventory: &Inventory,
    timeout: Duration,
    diags: &mut Diagnostics,
) {
    let run_id = new_run_id();
    let loads = futures::future::join_all(inventory.plugins.iter().map(|(name, s)| {
        let run_id = run_id.clone();
        async move { (name, s, PluginProbe::load(name, s, timeout, &run_id).await) }
    }))
    .await;
    for (name, settings, res) in loads {
        match res {
            Ok(p) => registry.add(Arc::new(p)),
            Err(msg) => {
                let (file, span) = match &settings.origin {
                    Some((f, s)) => (*f, s.clone()),
                    None => (
                        diags.add_file(
                            Path::new("--plugin"),
                            format!("{name}={}", settings.path.display()),
                        ),
                        0..name.len(),
                    ),
                };
                diags.error(
                    file,
                    span,
                    "plugin-unusable",
                    msg,
                    format!(
                        "`{name}` must be an executable that speaks {PROTOCOL} (docs/plugins.md)"
                    ),
                );
            }
        }
    }
}

/// Adds the plugins a bundle's report recorded (`run.context` `plugin.NAME`), for a replay:
/// their controls load with the recorded declarations, and nothing is run.
pub fn register_recorded(registry: &mut super::Registry, context: &BTreeMap<String, Json>) {
    for (key, provenance) in context {
        let Some(name) = key.strip_prefix("plugin.") else {
            continue;
        };
        if registry.get(&format!("{PREFIX}{name}")).is_some() {
            continue;
        }
        if let Some(p) = PluginProbe::recorded(name, provenance) {
            registry.add(Arc::new(p));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declaration_with_an_unknown_type_names_the_valid_ones() {
        let e = parse_declaration(
            br#"{"protocol":"vouch.plugin/v1","description":"d","target":"t",
                 "facts":[{"name":"a","type":"number","description":"x"}]}"#,
        )
        .unwrap_err();
        assert!(e.contains("string_list") && e.contains("number"), "{e}");
    }

    #[test]
    fn another_protocol_version_is_refused_by_name() {
        let e = parse_declaration(br#"{"protocol":"vouch.plugin/v2"}"#).unwrap_err();
        assert!(e.contains("vouch.plugin/v2") && e.contains(PROTOCOL), "{e}");
    }

    #[test]
    fn a_fact_declared_twice_is_refused() {
        let e = parse_declaration(
            br#"{"protocol":"vouch.plugin/v1","description":"d","target":"t",
                 "facts":[{"name":"a","type":"bool","description":"x"},
                          {"name":"a","type":"integer","description":"y"}]}"#,
        )
        .unwrap_err();
        assert!(e.contains("twice"), "{e}");
    }

    #[test]
    fn a_passed_token_is_redacted_from_plugin_output() {
        // SAFETY: test-local variable name, read back only by this test.
        unsafe { std::env::set_var("VOUCH_PLUGIN_UNIT_TOKEN", "s3cr\"et-token") };
        let out = redact_secrets(
            br#"{"evidence":{"echo":"s3cr\"et-token"}}"#.to_vec(),
            &["VOUCH_PLUGIN_UNIT_TOKEN".to_string()],
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"evidence":{"echo":"[redacted]"}}"#
        );
    }
}
