//! The `github` probe against a loopback stand-in for the GitHub REST API
//! (`examples/demo/github.rs`). Every body the stand-in serves is validated against GitHub's
//! published OpenAPI description (`@octokit/openapi`, installed by
//! `scripts/setup.d/70-github.sh`, path in `VOUCH_TEST_GITHUB_OPENAPI`), so the probe is tested
//! against what GitHub sends, not against what we think it sends.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vouch::inventory::Inventory;
use vouch::probe::github::GithubProbe;
use vouch::probe::{Observation, Params, Probe, ProbeContext, ProbeError, ProbeOptions};

use crate::support::{self, repo, require, vouch};

// The stand-in, compiled once in this crate as the demo estate's module.
use crate::demo::estate::github as standin;

use standin::{
    CodeScanning, Dependabot, GitHub, Limits, Org, Protection, Repo, Rules, SecretScanning,
};

/// The test token: it must reach the server and nothing else.
const TOKEN: &str = "ghp_vouchTestToken0123456789abcdefSECRET";
/// The variable `[github] token_env` names in these tests (set on the vouch child process only).
const TOKEN_ENV: &str = "VOUCH_TEST_GH_TOKEN";

/// `acme`: 2FA required; 17 repositories built to pass or fail each control: with six per
/// page the listing takes three pages. `lax`: 2FA not required.
fn acme() -> Vec<Org> {
    let mut repos = vec![
        Repo::good("good"),
        Repo {
            protection: Protection::Rulesets(Rules::strict()),
            ..Repo::good("ruleset-good")
        },
        Repo {
            protection: Protection::Rulesets(Rules {
                admins_enforced: false,
                ..Rules::strict()
            }),
            ..Repo::good("ruleset-admin-bypass")
        },
        Repo {
            protection: Protection::None,
            ..Repo::good("unprotected")
        },
        Repo {
            protection: Protection::Classic(Rules {
                dismiss_stale: false,
                ..Rules::strict()
            }),
            ..Repo::good("stale-approvals-kept")
        },
        Repo {
            dependabot: Dependabot::Open(vec![("critical", 10), ("high", 5)]),
            ..Repo::good("critical-past-window")
        },
        Repo {
            dependabot: Dependabot::Open(vec![("high", 31)]),
            ..Repo::good("high-past-window")
        },
        Repo {
            dependabot: Dependabot::Disabled,
            ..Repo::good("dependabot-off")
        },
        Repo {
            dependabot: Dependabot::Forbidden,
            ..Repo::good("dependabot-forbidden")
        },
        Repo {
            code_scanning: CodeScanning::NotEnabled,
            ..Repo::good("no-code-scanning")
        },
        Repo {
            code_scanning: CodeScanning::AdvancedSecurityOff,
            ..Repo::good("code-security-off")
        },
        Repo {
            code_scanning: CodeScanning::Forbidden,
            ..Repo::good("code-scanning-forbidden")
        },
        Repo {
            code_scanning: CodeScanning::Analysed {
                days_ago: 9,
                open: vec![],
            },
            ..Repo::good("stale-analysis")
        },
        Repo {
            secret_scanning: SecretScanning::Enabled {
                push_protection: true,
                open: 1,
            },
            ..Repo::good("leaked-secret")
        },
        Repo {
            secret_scanning: SecretScanning::Enabled {
                push_protection: false,
                open: 0,
            },
            ..Repo::good("no-push-protection")
        },
        Repo {
            secret_scanning: SecretScanning::Disabled,
            ..Repo::good("secret-scanning-off")
        },
        Repo {
            archived: true,
            protection: Protection::None,
            dependabot: Dependabot::Disabled,
            code_scanning: CodeScanning::NotEnabled,
            secret_scanning: SecretScanning::Disabled,
            ..Repo::good("archived")
        },
    ];
    repos.sort_by(|a, b| a.name.cmp(&b.name));
    vec![
        Org {
            login: "acme".into(),
            two_factor_required: true,
            without_2fa: 0,
            owners: 3,
            outside: 7,
            repos,
        },
        Org {
            login: "lax".into(),
            two_factor_required: false,
            without_2fa: 4,
            owners: 1,
            outside: 0,
            repos: vec![],
        },
    ]
}

/// A runtime that keeps serving while a test runs the vouch binary.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Validation against GitHub's OpenAPI description.

struct OpenApi {
    doc: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

/// OpenAPI 3.0 schemas as JSON Schema: `nullable: true` becomes a `null` alternative, a boolean
/// `exclusiveMinimum`/`exclusiveMaximum` (3.0's form) is dropped.
fn to_json_schema(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (_, child) in m.iter_mut() {
                to_json_schema(child);
            }
            for k in ["exclusiveMinimum", "exclusiveMaximum"] {
                if m.get(k).is_some_and(Value::is_boolean) {
                    m.remove(k);
                }
            }
            if m.remove("nullable") == Some(Value::Bool(true)) {
                match m.get("type").cloned() {
                    Some(Value::String(t)) => {
                        m.insert("type".into(), json!([t, "null"]));
                        if let Some(Value::Array(e)) = m.get_mut("enum") {
                            e.push(Value::Null);
                        }
                    }
                    _ => {
                        let inner = Value::Object(std::mem::take(m));
                        m.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                    }
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(to_json_schema),
        _ => {}
    }
}

fn openapi() -> &'static OpenApi {
    static API: OnceLock<OpenApi> = OnceLock::new();
    API.get_or_init(|| {
        let path = require(
            std::env::var("VOUCH_TEST_GITHUB_OPENAPI").ok(),
            "GitHub's OpenAPI description (VOUCH_TEST_GITHUB_OPENAPI)",
            "source scripts/setup.d/70-github.sh",
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let mut doc: Value = serde_json::from_str(&text).unwrap();
        to_json_schema(&mut doc["components"]);
        OpenApi {
            doc,
            validators: Mutex::new(HashMap::new()),
        }
    })
}

impl OpenApi {
    /// The path template of the description that `path` matches (`{x}` matches one segment).
    fn template(&self, path: &str) -> Option<String> {
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.doc["paths"]
            .as_object()?
            .keys()
            .filter(|t| {
                let ts: Vec<&str> = t.trim_matches('/').split('/').collect();
                ts.len() == segs.len()
                    && ts
                        .iter()
                        .zip(&segs)
                        .all(|(t, s)| (t.starts_with('{') && t.ends_with('}')) || t == s)
            })
            // The most literal template wins (`/orgs/{org}/repos` over `/orgs/{org}/{x}`).
            .max_by_key(|t| t.split('/').filter(|s| !s.starts_with('{')).count())
            .cloned()
    }

    /// The JSON Schema of `GET path`'s answer with `status`.
    fn response_schema(&self, template: &str, status: u16) -> Value {
        let op = &self.doc["paths"][template]["get"];
        assert!(
            op.is_object(),
            "GET {template} is not in GitHub's description"
        );
        let mut resp = op["responses"][status.to_string()].clone();
        assert!(
            resp.is_object(),
            "GitHub's description of GET {template} has no {status} answer"
        );
        if let Some(r) = resp.get("$ref").and_then(Value::as_str) {
            let name = r.rsplit('/').next().unwrap();
            resp = self.doc["components"]["responses"][name].clone();
        }
        let mut schema = resp["content"]["application/json"]["schema"].clone();
        if schema.is_null() {
            // A documented answer without a body schema (e.g. 404 of secret scanning): GitHub's
            // errors are always its basic-error.
            schema = json!({"$ref": "#/components/schemas/basic-error"});
        }
        schema
    }

    /// The component schemas `schema` refers to, directly or through others.
    fn reachable(&self, schema: &Value) -> serde_json::Map<String, Value> {
        fn refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        if let Some(name) = r.strip_prefix("#/components/schemas/") {
                            out.push(name.to_string());
                        }
                    }
                    m.values().for_each(|c| refs(c, out));
                }
                Value::Array(a) => a.iter().for_each(|c| refs(c, out)),
                _ => {}
            }
        }
        let mut found = serde_json::Map::new();
        let mut todo = Vec::new();
        refs(schema, &mut todo);
        while let Some(name) = todo.pop() {
            if found.contains_key(&name) {
                continue;
            }
            let s = self.doc["components"]["schemas"][&name].clone();
            refs(&s, &mut todo);
            found.insert(name, s);
        }
        found
    }

    fn validate(&self, s: &standin::Served) -> Vec<String> {
        if s.status == 304 || s.status == 401 {
            return vec![];
        }
        let Some(template) = self.template(&s.path) else {
            return vec![format!(
                "GET {}: no such path in GitHub's description",
                s.path
            )];
        };
        // Rate-limit answers (403/429) are documented once, for every endpoint, as basic-error.
        let schema = if s.status == 403
            && s.body["message"]
                .as_str()
                .is_some_and(|m| m.contains("rate limit"))
        {
            json!({"$ref": "#/components/schemas/basic-error"})
        } else {
            self.response_schema(&template, s.status)
        };
        let key = schema.to_string();
        let validator = {
            let mut cache = self.validators.lock().unwrap();
            cache
                .entry(key)
                .or_insert_with(|| {
                    // Only the component schemas this one reaches: compiling all of them for
                    // every response would take seconds.
                    let mut root = schema.clone();
                    root.as_object_mut().unwrap().insert(
                        "components".into(),
                        json!({"schemas": self.reachable(&schema)}),
                    );
                    Arc::new(
                        jsonschema::options()
                            .build(&root)
                            .unwrap_or_else(|e| panic!("{template}: {e}")),
                    )
                })
                .clone()
        };
        validator
            .iter_errors(&s.body)
            .take(5)
            .map(|e| {
                format!(
                    "GET {} ({}): {e} at {}",
                    s.path,
                    s.status,
                    e.instance_path()
                )
            })
            .collect()
    }
}

/// Fails the test unless every body served so far is valid for GitHub's description.
fn assert_served_as_github_describes(gh: &GitHub) {
    let api = openapi();
    let served = gh.served();
    assert!(!served.is_empty(), "nothing was served");
    let errors: Vec<String> = served.iter().flat_map(|s| api.validate(s)).collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

// ---------------------------------------------------------------------------------------------
// Library-level observations.

fn ctx(url: &str, timeout: Duration) -> ProbeContext {
    let mut inv = Inventory::default();
    inv.github.api_url = Some(url.to_string());
    inv.github.token_env = Some("VOUCH_TEST_GH_TOKEN_LIB".into());
    // The library tests read the token from their own process's environment: set once, to the
    // same value, by every test (no test reads a different value).
    static SET: OnceLock<()> = OnceLock::new();
    SET.get_or_init(|| unsafe { std::env::set_var("VOUCH_TEST_GH_TOKEN_LIB", TOKEN) });
    ProbeContext::new(
        Arc::new(inv),
        ProbeOptions {
            timeout,
            ..ProbeOptions::default()
        },
    )
}

async fn observe(
    gh: Arc<GitHub>,
    probe: &GithubProbe,
    target: &str,
    timeout: Duration,
) -> Result<Observation, ProbeError> {
    let (url, task) = standin::serve(gh).await;
    let res = probe
        .observe(target, &Params::new(), &ctx(&url, timeout))
        .await;
    task.abort();
    res
}

#[tokio::test]
async fn branch_protection_and_rulesets_read_alike_and_an_admin_bypass_is_seen() {
    let gh = Arc::new(GitHub::new(acme(), TOKEN));
    let probe = GithubProbe::default();
    let t = Duration::from_secs(10);
    let classic = observe(gh.clone(), &probe, "acme/good", t).await.unwrap();
    let rules = observe(gh.clone(), &probe, "acme/ruleset-good", t)
        .await
        .unwrap();
    let bypass = observe(gh.clone(), &probe, "acme/ruleset-admin-bypass", t)
        .await
        .unwrap();
    let none = observe(gh.clone(), &probe, "acme/unprotected", t)
        .await
        .unwrap();
    assert_served_as_github_describes(&gh);

    assert_eq!(classic.facts["protection.source"], "branch_protection");
    assert_eq!(rules.facts["protection.source"], "rulesets");
    for f in [
        "review.required_approvals",
        "review.dismiss_stale",
        "review.code_owners",
        "checks.required",
        "admins.enforced",
        "force_push.allowed",
        "deletion.allowed",
    ] {
        assert_eq!(
            classic.facts[f], rules.facts[f],
            "{f}: rulesets read unlike branch protection"
        );
    }
    assert_eq!(classic.facts["review.required_approvals"], 1);
    assert_eq!(classic.facts["force_push.allowed"], false);
    assert_eq!(classic.facts["checks.required"], json!(["ci/test"]));
    // A ruleset an admin role may bypass does not bind admins.
    assert_eq!(bypass.facts["admins.enforced"], false);
    // Nothing protects the branch: no review, force pushes allowed (not "unknown").
    assert_eq!(none.facts["protection.source"], "none");
    assert_eq!(none.facts["review.required_approvals"], 0);
    assert_eq!(none.facts["force_push.allowed"], true);
}

#[tokio::test]
async fn dependabot_disabled_is_false_but_a_token_without_the_permission_is_unobserved() {
    let gh = Arc::new(GitHub::new(acme(), TOKEN));
    let probe = GithubProbe::default();
    let t = Duration::from_secs(10);
    let off = observe(gh.clone(), &probe, "acme/dependabot-off", t)
        .await
        .unwrap();
    let denied = observe(gh.clone(), &probe, "acme/dependabot-forbidden", t)
        .await
        .unwrap();
    let past = observe(gh.clone(), &probe, "acme/critical-past-window", t)
        .await
        .unwrap();
    assert_served_as_github_describes(&gh);

    // GitHub's "Dependabot alerts are disabled for this repository." is a fact.
    assert_eq!(off.facts["dependabot.alerts_enabled"], false);
    // "Resource not accessible" is the token's: no fact, and the reason names the permission
    // GitHub's x-accepted-github-permissions header asks for.
    assert!(!denied.facts.contains_key("dependabot.alerts_enabled"));
    let why = &denied.unobserved["dependabot.alerts_enabled"];
    assert!(why.contains("vulnerability_alerts=read"), "{why}");
    // The rest of that repository is still observed.
    assert_eq!(denied.facts["secret_scanning.enabled"], true);

    assert_eq!(past.facts["dependabot.open.critical"], 1);
    assert_eq!(past.facts["dependabot.critical_past_window"], 1);
    assert_eq!(past.facts["dependabot.high_past_window"], 0);
    assert_eq!(past.facts["dependabot.oldest_open_critical_age"], "10d");
}

#[tokio::test]
async fn code_scanning_off_is_false_but_a_token_without_security_events_is_unobserved() {
    let gh = Arc::new(GitHub::new(acme(), TOKEN));
    let probe = GithubProbe::default();
    let t = Duration::from_secs(10);
    let off = observe(gh.clone(), &probe, "acme/code-security-off", t)
        .await
        .unwrap();
    let none = observe(gh.clone(), &probe, "acme/no-code-scanning", t)
        .await
        .unwrap();
    let denied = observe(gh.clone(), &probe, "acme/code-scanning-forbidden", t)
        .await
        .unwrap();
    assert_served_as_github_describes(&gh);
    // 403 "Advanced Security must be enabled …" and 404 "no analysis found": off.
    assert_eq!(off.facts["code_scanning.enabled"], false);
    assert_eq!(none.facts["code_scanning.enabled"], false);
    assert_eq!(none.facts["code_scanning.last_analysis"], Value::Null);
    // 403 "Resource not accessible …": unobserved, naming security_events.
    assert!(!denied.facts.contains_key("code_scanning.enabled"));
    let why = &denied.unobserved["code_scanning.last_analysis"];
    assert!(why.contains("security_events=read"), "{why}");
}

#[tokio::test]
async fn a_primary_rate_limit_reached_mid_run_is_waited_out_within_the_timeout() {
    // The limit runs out after the third request and resets two seconds later.
    let gh = Arc::new(GitHub::new(acme(), TOKEN).with_limits(Limits {
        primary_after: Some((3, 2)),
        ..Limits::default()
    }));
    let probe = GithubProbe::default();
    let started = Instant::now();
    let obs = observe(gh.clone(), &probe, "acme/good", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "did not wait for the reset"
    );
    assert_served_as_github_describes(&gh);
    let served = gh.served();
    let limited: Vec<_> = served.iter().filter(|s| s.status == 403).collect();
    assert_eq!(
        limited.len(),
        1,
        "asked again before the reset: {limited:?}"
    );
    // The refused request was made again after the reset, and every fact observed.
    assert_eq!(
        served
            .iter()
            .filter(|s| s.path == limited[0].path && s.status == 200)
            .count(),
        1
    );
    assert!(obs.unobserved.is_empty(), "{:?}", obs.unobserved);
    assert_eq!(obs.facts["review.required_approvals"], 1);
}

#[tokio::test]
async fn a_primary_rate_limit_past_the_timeout_stops_politely_naming_the_reset() {
    let gh = Arc::new(GitHub::new(acme(), TOKEN).with_limits(Limits {
        primary_after: Some((1, 3600)),
        ..Limits::default()
    }));
    let probe = GithubProbe::default();
    let started = Instant::now();
    let err = observe(gh.clone(), &probe, "acme/good", Duration::from_secs(3))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "waited for an hour-away reset"
    );
    // The reset time, as an RFC 3339 timestamp, is in the message.
    let year = jiff::Timestamp::now().strftime("%Y").to_string();
    assert!(
        err.message.contains("rate limit") && err.message.contains(&year),
        "{err}"
    );
    assert!(err.hint.is_some());
    // It stopped: one refused request, not a retry loop.
    assert_eq!(gh.served().iter().filter(|s| s.status == 403).count(), 1);
}

#[tokio::test]
async fn a_secondary_rate_limit_is_retried_after_retry_after() {
    let gh = Arc::new(GitHub::new(acme(), TOKEN).with_limits(Limits {
        secondary_at: Some((2, 1)),
        ..Limits::default()
    }));
    let probe = GithubProbe::default();
    let started = Instant::now();
    let obs = observe(gh.clone(), &probe, "acme/good", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried before retry-after"
    );
    assert_served_as_github_describes(&gh);
    let served = gh.served();
    assert_eq!(served[1].status, 403);
    assert_eq!(
        served[2].path, served[1].path,
        "the limited request was not retried"
    );
    assert_eq!(served[2].status, 200);
    assert!(obs.unobserved.is_empty(), "{:?}", obs.unobserved);
}

#[tokio::test]
async fn a_repeated_observation_asks_conditionally_and_reuses_304s() {
    let gh = Arc::new(GitHub::new(acme(), TOKEN));
    let probe = GithubProbe::default();
    let t = Duration::from_secs(10);
    // One server (one URL) for both: the cache is keyed by URL.
    let (url, task) = standin::serve(gh.clone()).await;
    let first = probe
        .observe("acme/good", &Params::new(), &ctx(&url, t))
        .await
        .unwrap();
    let n = gh.served().len();
    let second = probe
        .observe("acme/good", &Params::new(), &ctx(&url, t))
        .await
        .unwrap();
    task.abort();
    let served = gh.served();
    let again = &served[n..];
    assert!(!again.is_empty());
    assert!(
        again
            .iter()
            .all(|s| s.if_none_match.is_some() && s.status == 304),
        "{again:?}"
    );
    assert_eq!(first.facts, second.facts);
}

#[tokio::test]
async fn an_organisation_without_2fa_required_is_seen_as_such() {
    let gh = Arc::new(GitHub::new(acme(), TOKEN));
    let probe = GithubProbe::default();
    let t = Duration::from_secs(10);
    let acme = observe(gh.clone(), &probe, "acme", t).await.unwrap();
    let lax = observe(gh.clone(), &probe, "lax", t).await.unwrap();
    assert_served_as_github_describes(&gh);
    assert_eq!(acme.facts["two_factor_required"], true);
    assert_eq!(acme.facts["owners.count"], 3);
    assert_eq!(acme.facts["outside_collaborators.count"], 7);
    assert_eq!(acme.facts["default_repository_permission"], "read");
    assert_eq!(lax.facts["two_factor_required"], false);
    assert_eq!(lax.facts["members.without_2fa"], 4);
}

#[tokio::test]
async fn without_a_token_it_is_a_configuration_error_that_says_where_to_put_one() {
    let mut inv = Inventory::default();
    inv.github.api_url = Some("http://127.0.0.1:1".into());
    inv.github.token_env = Some("VOUCH_TEST_GH_TOKEN_NEVER_SET".into());
    let ctx = ProbeContext::new(Arc::new(inv), ProbeOptions::default());
    let err = GithubProbe::default()
        .observe("acme/good", &Params::new(), &ctx)
        .await
        .unwrap_err();
    assert_eq!(err.kind, vouch::probe::ProbeErrorKind::Config);
    assert!(
        err.message.contains("VOUCH_TEST_GH_TOKEN_NEVER_SET"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// The library's controls, through the binary.

const CONTROLS: [&str; 5] = [
    "APPSEC-SDLC-REVIEW",
    "APPSEC-DEPENDENCIES",
    "APPSEC-SAST",
    "KEY-NO-SECRETS-IN-CODE",
    "ACCESS-WORKFORCE-2FA",
];

#[test]
fn the_library_controls_pass_and_fail_exactly_the_repositories_built_to() {
    let rt = runtime();
    // Six per page: `acme/*` (17 repositories) takes three pages.
    let gh = Arc::new(GitHub::new(acme(), TOKEN).with_limits(Limits {
        per_page_max: 6,
        ..Limits::default()
    }));
    let (url, task) = rt.block_on(standin::serve(gh.clone()));
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("vouch.toml");
    std::fs::write(
        &inventory,
        format!(
            "[targets]\nsource_repositories = [\"acme/*\"]\nsource_organizations = [\"acme\", \"lax\"]\n\n\
             [github]\napi_url = \"{url}\"\ntoken_env = \"{TOKEN_ENV}\"\n"
        ),
    )
    .unwrap();
    let mut cmd = vouch();
    cmd.args(["check", "--inventory"])
        .arg(&inventory)
        .args(["--format", "json", "--timeout", "20s"])
        .env(TOKEN_ENV, TOKEN)
        .env_remove("GITHUB_TOKEN")
        .env_remove("GH_TOKEN");
    for c in CONTROLS {
        cmd.args(["--only", c]);
    }
    let out = cmd.output().unwrap();
    task.abort();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_served_as_github_describes(&gh);

    // The listing was read over three pages, by its Link headers.
    let pages: Vec<String> = gh
        .served()
        .iter()
        .filter(|s| s.path == "/orgs/acme/repos")
        .map(|s| s.query.clone())
        .collect();
    assert_eq!(pages.len(), 3, "{pages:?}");

    // The token reached the server on every request, and nothing else.
    assert!(
        gh.served()
            .iter()
            .all(|s| s.authorization.as_deref() == Some(&format!("Bearer {TOKEN}")))
    );
    assert!(
        !stdout.contains(TOKEN) && !stderr.contains(TOKEN),
        "the token leaked"
    );
    assert!(
        !stdout.contains("ghp_StandInLeakedSecretValue"),
        "a secret reached evidence"
    );
    assert!(
        stdout.contains("[redacted]"),
        "temp_clone_token is not redacted"
    );

    let fails = |id: &str| -> Vec<String> {
        let v = support::verdicts(&report, id);
        let everyone: Vec<&String> = v.keys().collect();
        assert!(
            !everyone.iter().any(|t| t.contains("archived")),
            "{id}: the archived repository was not skipped: {everyone:?}"
        );
        v.into_iter()
            .filter(|(_, verdict)| verdict != "pass")
            .map(|(t, verdict)| format!("{t}={verdict}"))
            .collect()
    };
    // 16 non-archived repositories each; those not named pass.
    assert_eq!(support::verdicts(&report, "APPSEC-SDLC-REVIEW").len(), 16);
    assert_eq!(
        fails("APPSEC-SDLC-REVIEW"),
        [
            "acme/ruleset-admin-bypass=fail",
            "acme/stale-approvals-kept=fail",
            "acme/unprotected=fail",
        ]
    );
    assert_eq!(
        fails("APPSEC-DEPENDENCIES"),
        [
            "acme/critical-past-window=fail",
            // No permission: could not look, never a pass and never a fail.
            "acme/dependabot-forbidden=error",
            "acme/dependabot-off=fail",
            "acme/high-past-window=fail",
        ]
    );
    assert_eq!(
        fails("APPSEC-SAST"),
        [
            "acme/code-scanning-forbidden=error",
            "acme/code-security-off=fail",
            "acme/no-code-scanning=fail",
            "acme/stale-analysis=fail",
        ]
    );
    assert_eq!(
        fails("KEY-NO-SECRETS-IN-CODE"),
        [
            "acme/leaked-secret=fail",
            "acme/no-push-protection=fail",
            "acme/secret-scanning-off=fail",
        ]
    );
    let twofa = support::verdicts(&report, "ACCESS-WORKFORCE-2FA");
    assert_eq!(
        twofa,
        BTreeMap::from([
            ("acme".to_string(), "pass".to_string()),
            ("lax".to_string(), "fail".to_string())
        ])
    );
}

#[test]
fn vouch_probe_github_prints_one_readable_screen() {
    let rt = runtime();
    let gh = Arc::new(GitHub::new(acme(), TOKEN));
    let (url, task) = rt.block_on(standin::serve(gh.clone()));
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("vouch.toml");
    std::fs::write(
        &inventory,
        format!("[github]\napi_url = \"{url}\"\ntoken_env = \"{TOKEN_ENV}\"\n"),
    )
    .unwrap();
    let out = vouch()
        .args([
            "probe",
            "github",
            "acme/critical-past-window",
            "--inventory",
        ])
        .arg(&inventory)
        .env(TOKEN_ENV, TOKEN)
        .output()
        .unwrap();
    task.abort();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.lines().count() <= 40, "more than a screen:\n{text}");
    for want in [
        "acme/critical-past-window",
        "required approvals",
        "1 critical",
        "push protection",
        "last analysis",
    ] {
        assert!(text.contains(want), "no `{want}` in:\n{text}");
    }
    assert!(!text.contains(TOKEN));
}

#[test]
fn the_stand_in_matches_the_repository_fixture_of_examples() {
    // The examples the stand-in builds on come from the installed description: if the package
    // is updated, the fixture is regenerated with it (see fixtures/github/SOURCES.md).
    let api = openapi();
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("fixtures/github/openapi-examples.json")).unwrap(),
    )
    .unwrap();
    for (name, value) in fixture.as_object().unwrap() {
        assert_eq!(
            &api.doc["components"]["examples"][name]["value"], value,
            "fixtures/github/openapi-examples.json: `{name}` differs from the description"
        );
    }
}
