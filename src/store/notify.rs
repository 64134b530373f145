//! `vouch check --store … --notify URL`: after a run is filed, what changed since the previous
//! stored run (regressions and fixes, from [`crate::diff::compare`]), posted as JSON with a
//! `text` field that Slack and Microsoft Teams incoming webhooks display as is. Nothing is sent
//! when nothing changed. A failed post is a warning for the caller: the run is already stored.

use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use crate::diff::Drift;
use crate::expect::Verdict;
use crate::report::{Report, Severity};

pub const SCHEMA: &str = "vouch.notify/v1";

/// One regression or fix, in words.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Item {
    pub control: String,
    pub target: String,
    pub severity: Severity,
    pub old: Option<Verdict>,
    pub new: Option<Verdict>,
    /// The failing check(s) in words: the new run's for a regression, the previous run's for a
    /// fix (what was fixed); or why the target could not be observed.
    pub check: String,
}

/// What is posted.
#[derive(Clone, Debug, Serialize)]
pub struct Message {
    pub schema: &'static str,
    pub text: String,
    pub store: String,
    pub run: serde_json::Value,
    pub previous_run: serde_json::Value,
    pub regressions: Vec<Item>,
    pub fixes: Vec<Item>,
}

/// The failing checks of `control` on `target` in `report`, in words.
fn failing_check(report: &Report, control: &str, target: &str) -> String {
    let Some(c) = report.controls.iter().find(|c| c.id == control) else {
        return "the control is not in this run".into();
    };
    let Some(r) = c.results.iter().find(|r| r.target == target) else {
        return if target.is_empty() {
            "no result".into()
        } else {
            "the target is not in this run".into()
        };
    };
    let failing: Vec<String> = r
        .checks
        .iter()
        .filter(|k| matches!(k.verdict, Verdict::Fail | Verdict::Error))
        .map(|k| k.describe())
        .collect();
    if !failing.is_empty() {
        return failing.join("; ");
    }
    r.error.clone().unwrap_or_default()
}

fn verdict(v: Option<Verdict>) -> &'static str {
    v.map_or("absent", |v| v.as_str())
}

/// The message for the drift from `old` to `new`; `None` when there is no regression and no fix.
pub fn message(
    drift: &Drift,
    old: &Report,
    new: &Report,
    store: &str,
    run: serde_json::Value,
    previous_run: serde_json::Value,
) -> Option<Message> {
    if drift.regressions.is_empty() && drift.fixes.is_empty() {
        return None;
    }
    let regressions: Vec<Item> = drift
        .regressions
        .iter()
        .map(|r| Item {
            control: r.control.clone(),
            target: r.target.clone(),
            severity: r.severity,
            old: r.old,
            new: r.new,
            check: if r.new.is_some() {
                failing_check(new, &r.control, &r.target)
            } else {
                r.reason.clone()
            },
        })
        .collect();
    let fixes: Vec<Item> = drift
        .fixes
        .iter()
        .map(|f| Item {
            control: f.control.clone(),
            target: f.target.clone(),
            severity: f.severity,
            old: Some(f.old),
            new: Some(f.new),
            check: failing_check(old, &f.control, &f.target),
        })
        .collect();
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut text = format!(
        "vouch: {} and {} since the previous run ({store})",
        plural(regressions.len(), "regression", "regressions"),
        plural(fixes.len(), "fix", "fixes")
    );
    for (label, items) in [("REGRESSION", &regressions), ("fixed", &fixes)] {
        for i in items {
            let on = if i.target.is_empty() {
                String::new()
            } else {
                format!(" on {}", i.target)
            };
            text.push_str(&format!(
                "\n• {label} [{}] {}{on}: {} → {}{}",
                i.severity.as_str(),
                i.control,
                verdict(i.old),
                verdict(i.new),
                if i.check.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", i.check)
                }
            ));
        }
    }
    Some(Message {
        schema: SCHEMA,
        text,
        store: store.to_string(),
        run,
        previous_run,
        regressions,
        fixes,
    })
}

/// Posts `msg` to each URL; returns one warning per URL that did not take it (never an error:
/// the run is stored whatever a receiver answers).
pub fn post(urls: &[String], msg: &Message) -> Vec<String> {
    let mut warnings = Vec::new();
    let body = match serde_json::to_vec(msg) {
        Ok(b) => b,
        Err(e) => return vec![format!("--notify: cannot encode the message: {e}")],
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return vec![format!("--notify: cannot start the async runtime: {e}")],
    };
    let built = rt.block_on(async {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
    });
    let client = match built {
        Ok(c) => c,
        Err(e) => return vec![format!("--notify: cannot build an HTTP client: {e}")],
    };
    for url in urls {
        let shown = redact(url);
        let sent = rt.block_on(async {
            client
                .post(url)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
        });
        match sent {
            Ok(resp) if resp.status().is_success() => {}
            Ok(resp) => warnings.push(format!(
                "--notify {shown}: the receiver answered {}; the run is stored",
                resp.status()
            )),
            Err(e) => warnings.push(format!(
                "--notify {shown}: not delivered ({}); the run is stored",
                e.without_url()
            )),
        }
    }
    warnings
}

/// A webhook URL's path is its secret (Slack, Teams): messages show scheme and host only.
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = host.rsplit('@').next().unwrap_or(host);
            format!("{scheme}://{host}/…")
        }
        None => "(not a URL)".into(),
    }
}

/// Checks a `--notify` value: an http:// or https:// URL.
pub fn parse_url(s: &str) -> Result<String, String> {
    if (s.starts_with("https://") || s.starts_with("http://")) && s.len() > 8 {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{}` is not an http:// or https:// URL (a Slack or Teams incoming webhook, or any \
             receiver of JSON)",
            redact(s)
        ))
    }
}

/// The `run` / `previous_run` object of a message.
pub fn run_ref(run_id: &str, started_at: jiff::Timestamp, bundle: &str) -> serde_json::Value {
    json!({ "run_id": run_id, "started_at": started_at, "bundle": bundle })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_secrets_stay_out_of_messages() {
        assert_eq!(
            redact("https://hooks.slack.com/services/T000/B000/XXXX"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(redact("http://u:p@127.0.0.1:9/x"), "http://127.0.0.1:9/…");
        assert!(parse_url("ftp://x").is_err());
    }
}
