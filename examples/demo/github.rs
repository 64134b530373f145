//! A stand-in for the GitHub REST API on loopback, for the demo estate and the `github` probe's
//! tests. It answers as GitHub does for the endpoints the probe reads: bodies built from the
//! examples of GitHub's published OpenAPI description (`fixtures/github/openapi-examples.json`,
//! extracted from the npm package `@octokit/openapi`; the tests validate every body it sends
//! against that description's schemas), GitHub's own error messages, `Link` pagination,
//! `x-ratelimit-*` headers, a primary rate limit that can run out mid-run, a secondary limit
//! with `retry-after`, and `ETag` / `If-None-Match`.
//!
//! Plain HTTP/1.1, one request per connection (`Connection: close`), written by hand so a test
//! controls every header.

#![allow(dead_code)]

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const EXAMPLES: &str = include_str!("../../fixtures/github/openapi-examples.json");

/// GitHub's message when Dependabot alerts are off.
pub const DEPENDABOT_DISABLED: &str = "Dependabot alerts are disabled for this repository.";
/// GitHub's message to a token that may not read an endpoint (fine-grained PAT).
pub const NOT_ACCESSIBLE: &str = "Resource not accessible by personal access token";

/// How the default branch is protected.
#[derive(Clone, Debug)]
pub enum Protection {
    None,
    /// Classic branch protection.
    Classic(Rules),
    /// A repository ruleset (id 42) on the default branch.
    Rulesets(Rules),
    /// Branch protection answers 403 to this token.
    Forbidden,
}

#[derive(Clone, Debug, Default)]
pub struct Rules {
    pub approvals: i64,
    pub dismiss_stale: bool,
    pub code_owners: bool,
    pub admins_enforced: bool,
    pub block_force_push: bool,
    pub block_deletion: bool,
    pub checks: Vec<String>,
}

impl Rules {
    /// Everything APPSEC-SDLC-REVIEW asks for.
    pub fn strict() -> Rules {
        Rules {
            approvals: 1,
            dismiss_stale: true,
            code_owners: true,
            admins_enforced: true,
            block_force_push: true,
            block_deletion: true,
            checks: vec!["ci/test".into()],
        }
    }
}

#[derive(Clone, Debug)]
pub enum Dependabot {
    /// 403 "Dependabot alerts are disabled for this repository."
    Disabled,
    /// 403 to a token without the vulnerability_alerts permission.
    Forbidden,
    /// Open alerts: (severity, age in days).
    Open(Vec<(&'static str, i64)>),
}

#[derive(Clone, Debug)]
pub enum CodeScanning {
    /// 404 "no analysis found".
    NotEnabled,
    /// 403 "Advanced Security must be enabled for this repository to use code scanning." (a
    /// private repository without the licence).
    AdvancedSecurityOff,
    /// 403 to a token without the security_events permission.
    Forbidden,
    /// Last analysis of the default branch `days_ago`; open alerts by security severity.
    Analysed {
        days_ago: i64,
        open: Vec<&'static str>,
    },
}

#[derive(Clone, Debug)]
pub enum SecretScanning {
    /// 404 "Secret scanning is disabled on this repository."
    Disabled,
    Enabled {
        push_protection: bool,
        open: usize,
    },
}

#[derive(Clone, Debug)]
pub struct Repo {
    pub name: String,
    pub archived: bool,
    pub protection: Protection,
    pub dependabot: Dependabot,
    pub code_scanning: CodeScanning,
    pub secret_scanning: SecretScanning,
}

impl Repo {
    /// A repository that passes every library control.
    pub fn good(name: &str) -> Repo {
        Repo {
            name: name.into(),
            archived: false,
            protection: Protection::Classic(Rules::strict()),
            dependabot: Dependabot::Open(vec![("critical", 2), ("high", 10), ("low", 400)]),
            code_scanning: CodeScanning::Analysed {
                days_ago: 1,
                open: vec!["low"],
            },
            secret_scanning: SecretScanning::Enabled {
                push_protection: true,
                open: 0,
            },
        }
    }
}

#[derive(Clone, Debug)]
pub struct Org {
    pub login: String,
    pub two_factor_required: bool,
    pub without_2fa: usize,
    pub owners: usize,
    pub outside: usize,
    pub repos: Vec<Repo>,
}

/// Rate limits and paging the stand-in imposes.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest page served, whatever `per_page` asks (GitHub's is 100).
    pub per_page_max: usize,
    /// After this many requests, the primary limit is used up for `.1` seconds.
    pub primary_after: Option<(usize, u64)>,
    /// Request number `.0` gets a secondary limit with `retry-after: .1`.
    pub secondary_at: Option<(usize, u64)>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_page_max: 100,
            primary_after: None,
            secondary_at: None,
        }
    }
}

/// One answer the stand-in gave (the tests validate `body` against the OpenAPI description).
#[derive(Clone, Debug)]
pub struct Served {
    pub path: String,
    pub query: String,
    pub status: u16,
    pub body: Value,
    pub authorization: Option<String>,
    pub if_none_match: Option<String>,
}

pub struct GitHub {
    pub orgs: Vec<Org>,
    pub limits: Limits,
    pub token: String,
    log: Mutex<Vec<Served>>,
    requests: AtomicUsize,
    /// When the used-up primary limit resets (epoch seconds), once it ran out.
    reset_at: Mutex<Option<i64>>,
    examples: Value,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn rfc3339(epoch: i64) -> String {
    jiff::Timestamp::from_second(epoch).unwrap().to_string()
}

fn error(message: &str, doc: &str, status: u16) -> Value {
    json!({
        "message": message,
        "documentation_url": format!("https://docs.github.com/rest/{doc}"),
        "status": status.to_string(),
    })
}

impl GitHub {
    pub fn new(orgs: Vec<Org>, token: &str) -> GitHub {
        GitHub {
            orgs,
            limits: Limits::default(),
            token: token.into(),
            log: Mutex::new(Vec::new()),
            requests: AtomicUsize::new(0),
            reset_at: Mutex::new(None),
            examples: serde_json::from_str(EXAMPLES).expect("OpenAPI examples"),
        }
    }

    pub fn with_limits(mut self, limits: Limits) -> GitHub {
        self.limits = limits;
        self
    }

    /// Every answer given so far.
    pub fn served(&self) -> Vec<Served> {
        self.log.lock().unwrap().clone()
    }

    fn example(&self, name: &str) -> Value {
        self.examples[name].clone()
    }

    fn org(&self, login: &str) -> Option<&Org> {
        self.orgs.iter().find(|o| o.login == login)
    }

    fn repo(&self, owner: &str, name: &str) -> Option<&Repo> {
        self.org(owner)?.repos.iter().find(|r| r.name == name)
    }

    fn user(&self, login: &str, id: i64) -> Value {
        let mut u = self.example("simple-user-items")[0].clone();
        u["login"] = json!(login);
        u["id"] = json!(id);
        u
    }

    fn users(&self, prefix: &str, n: usize) -> Vec<Value> {
        (0..n)
            .map(|i| self.user(&format!("{prefix}{i}"), 1000 + i as i64))
            .collect()
    }

    fn minimal_repo(&self, org: &str, r: &Repo, i: usize) -> Value {
        let mut v = self.example("minimal-repository-items")[0].clone();
        v["id"] = json!(5000 + i);
        v["name"] = json!(r.name);
        v["full_name"] = json!(format!("{org}/{}", r.name));
        v["archived"] = json!(r.archived);
        v["private"] = json!(true);
        v["visibility"] = json!("private");
        v
    }

    fn full_repo(&self, org: &str, r: &Repo) -> Value {
        let mut v = self.example("full-repository-default-response");
        v["name"] = json!(r.name);
        v["full_name"] = json!(format!("{org}/{}", r.name));
        v["archived"] = json!(r.archived);
        v["private"] = json!(true);
        v["visibility"] = json!("private");
        v["default_branch"] = json!("main");
        // GitHub's example omits `language`, which its schema requires; a repository that is
        // not a fork has no `parent` or `source`.
        v["language"] = json!("Rust");
        let m = v.as_object_mut().unwrap();
        m.remove("parent");
        m.remove("source");
        let status = |on: bool| json!({"status": if on { "enabled" } else { "disabled" }});
        let (ss, pp) = match &r.secret_scanning {
            SecretScanning::Disabled => (false, false),
            SecretScanning::Enabled {
                push_protection, ..
            } => (true, *push_protection),
        };
        v["security_and_analysis"] = json!({
            "secret_scanning": status(ss),
            "secret_scanning_push_protection": status(pp),
            "dependabot_security_updates": status(matches!(r.dependabot, Dependabot::Open(_))),
        });
        v
    }

    fn branch_protection(&self, org: &str, repo: &str, rules: &Rules) -> Value {
        let mut v = self.example("branch-protection");
        let base = format!("https://api.github.com/repos/{org}/{repo}/branches/main/protection");
        v["url"] = json!(base);
        v["required_status_checks"]["contexts"] = json!(rules.checks);
        v["required_status_checks"]["checks"] = json!(
            rules
                .checks
                .iter()
                .map(|c| json!({"context": c, "app_id": null}))
                .collect::<Vec<_>>()
        );
        v["enforce_admins"]["enabled"] = json!(rules.admins_enforced);
        let pr = &mut v["required_pull_request_reviews"];
        pr["required_approving_review_count"] = json!(rules.approvals);
        pr["dismiss_stale_reviews"] = json!(rules.dismiss_stale);
        pr["require_code_owner_reviews"] = json!(rules.code_owners);
        // GitHub's example lists teams without `type` and an app whose owner matches no
        // schema: nobody is singled out here.
        pr["dismissal_restrictions"]["users"] = json!([]);
        pr["dismissal_restrictions"]["teams"] = json!([]);
        pr["dismissal_restrictions"]["apps"] = json!([]);
        for k in ["users", "teams", "apps"] {
            v["restrictions"][k] = json!([]);
        }
        v["allow_force_pushes"] = json!({"enabled": !rules.block_force_push});
        v["allow_deletions"] = json!({"enabled": !rules.block_deletion});
        v
    }

    fn branch_rules(&self, org: &str, repo: &str, rules: &Rules) -> Value {
        let src = format!("{org}/{repo}");
        let detail = |ty: &str, params: Option<Value>| {
            let mut r = json!({
                "type": ty,
                "ruleset_source_type": "Repository",
                "ruleset_source": src,
                "ruleset_id": 42,
            });
            if let Some(p) = params {
                r["parameters"] = p;
            }
            r
        };
        let mut out = vec![detail(
            "pull_request",
            Some(json!({
                "allowed_merge_methods": ["squash"],
                "dismiss_stale_reviews_on_push": rules.dismiss_stale,
                "require_code_owner_review": rules.code_owners,
                "require_last_push_approval": false,
                "required_approving_review_count": rules.approvals,
                "required_review_thread_resolution": false,
            })),
        )];
        if !rules.checks.is_empty() {
            out.push(detail(
                "required_status_checks",
                Some(json!({
                    "required_status_checks": rules.checks.iter().map(|c| json!({"context": c})).collect::<Vec<_>>(),
                    "strict_required_status_checks_policy": true,
                })),
            ));
        }
        if rules.block_force_push {
            out.push(detail("non_fast_forward", None));
        }
        if rules.block_deletion {
            out.push(detail("deletion", None));
        }
        Value::Array(out)
    }

    fn ruleset(&self, org: &str, repo: &str, rules: &Rules) -> Value {
        let mut v = self.example("repository-ruleset");
        v["source"] = json!(format!("{org}/{repo}"));
        v["conditions"] = json!({"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}});
        v["rules"] = self
            .branch_rules(org, repo, rules)
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let mut r = r.clone();
                let m = r.as_object_mut().unwrap();
                m.remove("ruleset_source_type");
                m.remove("ruleset_source");
                m.remove("ruleset_id");
                r
            })
            .collect();
        // Repository role 5 is `admin`: admins may bypass unless the ruleset binds them.
        v["bypass_actors"] = if rules.admins_enforced {
            json!([])
        } else {
            json!([{"actor_id": 5, "actor_type": "RepositoryRole", "bypass_mode": "always"}])
        };
        v
    }

    fn dependabot_alert(&self, n: usize, severity: &str, age_days: i64) -> Value {
        let mut a = self.example("dependabot-alerts-for-repository")[0].clone();
        a["number"] = json!(n);
        a["state"] = json!("open");
        a["security_advisory"]["severity"] = json!(severity);
        a["security_vulnerability"]["severity"] = json!(severity);
        // GitHub's example writes the EPSS numbers as strings; its schema says numbers.
        a["security_advisory"]["epss"] = json!({"percentage": 0.00045, "percentile": 0.16001});
        let created = rfc3339(now() - age_days * 86_400);
        a["created_at"] = json!(created);
        a["updated_at"] = json!(created);
        for k in [
            "dismissed_at",
            "dismissed_by",
            "dismissed_reason",
            "dismissed_comment",
            "fixed_at",
        ] {
            a[k] = Value::Null;
        }
        a
    }

    fn code_scanning_alert(&self, n: usize, severity: &str) -> Value {
        let mut a = self.example("code-scanning-alert-items")[0].clone();
        a["number"] = json!(n);
        a["state"] = json!("open");
        a["rule"]["security_severity_level"] = json!(severity);
        a
    }

    fn secret_alert(&self, n: usize, hide_secret: bool) -> Value {
        let mut a = self.example("secret-scanning-alert-list")[0].clone();
        a["number"] = json!(n);
        a["state"] = json!("open");
        for k in [
            "resolution",
            "resolved_at",
            "resolved_by",
            "resolution_comment",
        ] {
            a[k] = Value::Null;
        }
        let m = a.as_object_mut().unwrap();
        if hide_secret {
            m.remove("secret");
        } else {
            m.insert(
                "secret".into(),
                json!("ghp_StandInLeakedSecretValue0000000000"),
            );
        }
        a
    }

    /// The answer to one GET: status, extra headers, body (`None`: a list to page).
    fn route(&self, path: &str, query: &str) -> (u16, Vec<(String, String)>, Value) {
        let q = |k: &str| {
            query
                .split('&')
                .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                .map(String::from)
        };
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let not_found = || (404, vec![], error("Not Found", "", 404));
        let forbidden = |perm: &str| {
            (
                403,
                vec![(
                    "x-accepted-github-permissions".to_string(),
                    perm.to_string(),
                )],
                error(NOT_ACCESSIBLE, "", 403),
            )
        };
        let ok = |v: Value| (200, vec![], v);
        match segs.as_slice() {
            ["orgs", org] => match self.org(org) {
                Some(o) => {
                    let mut v = self.example("organization-full");
                    v["login"] = json!(o.login);
                    v["two_factor_requirement_enabled"] = json!(o.two_factor_required);
                    v["default_repository_permission"] = json!("read");
                    // Required by GitHub's schema, absent from its example.
                    v["archived_at"] = Value::Null;
                    ok(v)
                }
                None => not_found(),
            },
            ["orgs", org, "repos"] => match self.org(org) {
                Some(o) => ok(Value::Array(
                    o.repos
                        .iter()
                        .enumerate()
                        .map(|(i, r)| self.minimal_repo(org, r, i))
                        .collect(),
                )),
                None => not_found(),
            },
            ["orgs", org, "members"] => match self.org(org) {
                Some(o) => {
                    let n = match (q("filter").as_deref(), q("role").as_deref()) {
                        (Some("2fa_disabled"), _) => o.without_2fa,
                        (_, Some("admin")) => o.owners,
                        _ => o.owners + o.without_2fa + 3,
                    };
                    ok(Value::Array(self.users("member", n)))
                }
                None => not_found(),
            },
            ["orgs", org, "outside_collaborators"] => match self.org(org) {
                Some(o) => ok(Value::Array(self.users("outsider", o.outside))),
                None => not_found(),
            },
            ["repos", org, name, rest @ ..] => {
                let Some(r) = self.repo(org, name) else {
                    return not_found();
                };
                match rest {
                    [] => ok(self.full_repo(org, r)),
                    ["branches", "main", "protection"] => match &r.protection {
                        Protection::Classic(rules) => ok(self.branch_protection(org, name, rules)),
                        Protection::Forbidden => forbidden("administration=read"),
                        _ => (
                            404,
                            vec![],
                            error(
                                "Branch not protected",
                                "branches/branch-protection#get-branch-protection",
                                404,
                            ),
                        ),
                    },
                    ["rules", "branches", "main"] => match &r.protection {
                        Protection::Rulesets(rules) => ok(self.branch_rules(org, name, rules)),
                        _ => ok(json!([])),
                    },
                    ["rulesets", "42"] => match &r.protection {
                        Protection::Rulesets(rules) => ok(self.ruleset(org, name, rules)),
                        _ => not_found(),
                    },
                    ["dependabot", "alerts"] => match &r.dependabot {
                        Dependabot::Disabled => (
                            403,
                            vec![],
                            error(
                                DEPENDABOT_DISABLED,
                                "dependabot/alerts#list-dependabot-alerts-for-a-repository",
                                403,
                            ),
                        ),
                        Dependabot::Forbidden => forbidden("vulnerability_alerts=read"),
                        Dependabot::Open(list) => ok(Value::Array(
                            list.iter()
                                .enumerate()
                                .map(|(i, (s, d))| self.dependabot_alert(i + 1, s, *d))
                                .collect(),
                        )),
                    },
                    ["code-scanning", _] if matches!(r.code_scanning, CodeScanning::Forbidden) => {
                        forbidden("security_events=read")
                    }
                    ["code-scanning", _]
                        if matches!(r.code_scanning, CodeScanning::AdvancedSecurityOff) =>
                    {
                        (
                            403,
                            vec![],
                            error(
                                "Advanced Security must be enabled for this repository to use code scanning.",
                                "code-scanning/code-scanning#list-code-scanning-analyses-for-a-repository",
                                403,
                            ),
                        )
                    }
                    ["code-scanning", "analyses"] => match &r.code_scanning {
                        CodeScanning::NotEnabled => (
                            404,
                            vec![],
                            error(
                                "no analysis found",
                                "code-scanning/code-scanning#list-code-scanning-analyses-for-a-repository",
                                404,
                            ),
                        ),
                        CodeScanning::AdvancedSecurityOff | CodeScanning::Forbidden => not_found(),
                        CodeScanning::Analysed { days_ago, .. } => {
                            let mut a = self.example("code-scanning-analysis-items")[0].clone();
                            a["ref"] = json!("refs/heads/main");
                            a["created_at"] = json!(rfc3339(now() - days_ago * 86_400));
                            ok(json!([a]))
                        }
                    },
                    ["code-scanning", "alerts"] => match &r.code_scanning {
                        CodeScanning::NotEnabled => (
                            404,
                            vec![],
                            error(
                                "no analysis found",
                                "code-scanning/code-scanning#list-code-scanning-alerts-for-a-repository",
                                404,
                            ),
                        ),
                        CodeScanning::AdvancedSecurityOff | CodeScanning::Forbidden => not_found(),
                        CodeScanning::Analysed { open, .. } => ok(Value::Array(
                            open.iter()
                                .enumerate()
                                .map(|(i, s)| self.code_scanning_alert(i + 1, s))
                                .collect(),
                        )),
                    },
                    ["secret-scanning", "alerts"] => match &r.secret_scanning {
                        SecretScanning::Disabled => (
                            404,
                            vec![],
                            error(
                                "Secret scanning is disabled on this repository.",
                                "secret-scanning/secret-scanning#list-secret-scanning-alerts-for-a-repository",
                                404,
                            ),
                        ),
                        SecretScanning::Enabled { open, .. } => {
                            let hide = q("hide_secret").as_deref() == Some("true");
                            ok(Value::Array(
                                (0..*open).map(|i| self.secret_alert(i + 1, hide)).collect(),
                            ))
                        }
                    },
                    _ => not_found(),
                }
            }
            _ => not_found(),
        }
    }

    /// Answers one request: authentication, rate limits, paging, conditional requests.
    fn answer(
        &self,
        host: &str,
        target: &str,
        authorization: Option<&str>,
        if_none_match: Option<&str>,
    ) -> (u16, Vec<(String, String)>, Value) {
        let n = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut headers: Vec<(String, String)> = vec![
            ("x-ratelimit-limit".into(), "5000".into()),
            ("x-ratelimit-resource".into(), "core".into()),
            ("x-github-api-version-selected".into(), "2022-11-28".into()),
        ];
        let expected = format!("Bearer {}", self.token);
        if authorization != Some(expected.as_str()) {
            return (401, headers, error("Bad credentials", "", 401));
        }
        if let Some((k, secs)) = self.limits.secondary_at {
            if n == k {
                headers.push(("retry-after".into(), secs.to_string()));
                return (
                    403,
                    headers,
                    error(
                        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                        "overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
                        403,
                    ),
                );
            }
        }
        let mut remaining = 5000 - n as i64;
        let mut reset = now() + 3600;
        if let Some((after, secs)) = self.limits.primary_after {
            if n > after {
                let mut at = self.reset_at.lock().unwrap();
                let r = *at.get_or_insert(now() + secs as i64);
                if now() < r {
                    headers.push(("x-ratelimit-remaining".into(), "0".into()));
                    headers.push(("x-ratelimit-used".into(), "5000".into()));
                    headers.push(("x-ratelimit-reset".into(), r.to_string()));
                    return (
                        403,
                        headers,
                        error(
                            "API rate limit exceeded for user ID 1.",
                            "overview/rate-limits-for-the-rest-api#about-primary-rate-limits",
                            403,
                        ),
                    );
                }
                remaining = 4999;
                reset = r + 3600;
            }
        }
        headers.push(("x-ratelimit-remaining".into(), remaining.to_string()));
        headers.push(("x-ratelimit-reset".into(), reset.to_string()));

        let (status, extra, body) = self.route(path, query);
        headers.extend(extra);
        let mut body = body;
        if status == 200 {
            if let Value::Array(items) = &body {
                // Page by `page` and `per_page`, linking to the next page as GitHub does.
                let per_page = query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("per_page="))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(30usize)
                    .min(self.limits.per_page_max)
                    .max(1);
                let page: usize = query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("page="))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1)
                    .max(1);
                let last = items.len().div_ceil(per_page).max(1);
                let slice: Vec<Value> = items
                    .iter()
                    .skip((page - 1) * per_page)
                    .take(per_page)
                    .cloned()
                    .collect();
                let other: Vec<&str> = query
                    .split('&')
                    .filter(|kv| !kv.is_empty() && !kv.starts_with("page="))
                    .collect();
                let link = |p: usize| {
                    let mut q = other.clone();
                    let page = format!("page={p}");
                    q.push(&page);
                    format!("<http://{host}{path}?{}>", q.join("&"))
                };
                let mut links = Vec::new();
                if page < last {
                    links.push(format!("{}; rel=\"next\"", link(page + 1)));
                    links.push(format!("{}; rel=\"last\"", link(last)));
                }
                if page > 1 {
                    links.push(format!("{}; rel=\"prev\"", link(page - 1)));
                    links.push(format!("{}; rel=\"first\"", link(1)));
                }
                if !links.is_empty() {
                    headers.push(("link".into(), links.join(", ")));
                }
                body = Value::Array(slice);
            }
            let text = body.to_string();
            let mut h = DefaultHasher::new();
            text.hash(&mut h);
            let etag = format!("\"{:016x}\"", h.finish());
            if if_none_match == Some(etag.as_str()) {
                headers.push(("etag".into(), etag));
                return (304, headers, Value::Null);
            }
            headers.push(("etag".into(), etag));
        }
        (status, headers, body)
    }

    async fn handle(self: Arc<Self>, mut stream: tokio::net::TcpStream) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if buf.len() > 64 * 1024 {
                return;
            }
        }
        let head = String::from_utf8_lossy(&buf).to_string();
        let mut lines = head.split("\r\n");
        let request = lines.next().unwrap_or_default();
        let mut parts = request.split(' ');
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or("/").to_string();
        let mut host = String::new();
        let mut auth = None;
        let mut inm = None;
        for l in lines {
            if let Some((k, v)) = l.split_once(':') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "host" => host = v.trim().to_string(),
                    "authorization" => auth = Some(v.trim().to_string()),
                    "if-none-match" => inm = Some(v.trim().to_string()),
                    _ => {}
                }
            }
        }
        let (status, headers, body) = if method == "GET" {
            self.answer(&host, &target, auth.as_deref(), inm.as_deref())
        } else {
            (404, vec![], error("Not Found", "", 404))
        };
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        self.log.lock().unwrap().push(Served {
            path: path.to_string(),
            query: query.to_string(),
            status,
            body: body.clone(),
            authorization: auth,
            if_none_match: inm,
        });
        let text = if status == 304 {
            String::new()
        } else {
            body.to_string()
        };
        let reason = match status {
            200 => "OK",
            304 => "Not Modified",
            401 => "Unauthorized",
            403 => "Forbidden",
            _ => "Not Found",
        };
        let mut out = format!("HTTP/1.1 {status} {reason}\r\n");
        if status != 304 {
            out.push_str("Content-Type: application/json; charset=utf-8\r\n");
        }
        for (k, v) in headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        ));
        let _ = stream.write_all(out.as_bytes()).await;
        let _ = stream.shutdown().await;
    }
}

/// Serves `gh` on a free loopback port until the task is aborted; returns the API root URL.
pub async fn serve(gh: Arc<GitHub>) -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr: SocketAddr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(gh.clone().handle(stream));
        }
    });
    (format!("http://{addr}"), task)
}

/// The demo estate's organisation: `opendoors`, 2FA required, with a repository that passes
/// every control (`platform`), one that fails them (`website`: unprotected, a critical
/// Dependabot alert three weeks old, no code scanning, secret scanning off) and an archived one
/// that `opendoors/*` skips (`legacy-billing`).
pub fn demo_org() -> Org {
    Org {
        login: "opendoors".into(),
        two_factor_required: true,
        without_2fa: 0,
        owners: 2,
        outside: 1,
        repos: vec![
            Repo::good("platform"),
            Repo {
                name: "website".into(),
                archived: false,
                protection: Protection::None,
                dependabot: Dependabot::Open(vec![("critical", 21), ("high", 3)]),
                code_scanning: CodeScanning::NotEnabled,
                secret_scanning: SecretScanning::Disabled,
            },
            Repo {
                name: "legacy-billing".into(),
                archived: true,
                protection: Protection::None,
                dependabot: Dependabot::Disabled,
                code_scanning: CodeScanning::NotEnabled,
                secret_scanning: SecretScanning::Disabled,
            },
        ],
    }
}
