//! A report read as deviations from a profile (`vouch probe tls HOST --profile NAME`): each
//! failed control with what was observed, in words, and each control that could not be checked.

use super::Report;
use crate::expect::{Check, Op, Verdict};

/// The heading with the count, then one block per failed or unobserved result.
pub fn render(report: &Report, heading: &str) -> String {
    let (mut deviations, mut unknown) = (0, 0);
    let mut text = String::new();
    for c in &report.controls {
        for r in &c.results {
            match r.verdict {
                Verdict::Fail => {
                    deviations += 1;
                    text.push_str(&format!("  deviation  {}: {}\n", c.id, c.title));
                    for k in r.checks.iter().filter(|k| k.verdict == Verdict::Fail) {
                        text.push_str(&format!("             {}\n", deviation(k)));
                    }
                }
                Verdict::Error => {
                    unknown += 1;
                    let why = r.error.clone().unwrap_or_else(|| {
                        r.checks
                            .iter()
                            .filter(|k| k.verdict == Verdict::Error)
                            .map(|k| {
                                let m = k.message.as_ref().map(|m| format!(" ({m})"));
                                format!("{} not observed{}", k.fact, m.unwrap_or_default())
                            })
                            .collect::<Vec<_>>()
                            .join("; ")
                    });
                    text.push_str(&format!(
                        "  unknown    {}: {}\n             could not be checked: {why}\n",
                        c.id, c.title
                    ));
                }
                _ => {}
            }
        }
    }
    let summary = match (deviations, unknown) {
        (0, 0) => format!("conforms ({} controls)", report.controls.len()),
        (0, u) => format!("no deviation found, {u} control(s) could not be checked"),
        (d, 0) => format!("{d} deviation(s)"),
        (d, u) => format!("{d} deviation(s), {u} control(s) could not be checked"),
    };
    format!("{heading}: {summary}\n{text}")
}

/// One failed check in words: the values a list holds that the profile does not allow, or the
/// value against the bound.
fn deviation(k: &Check) -> String {
    let observed = k.observed.as_ref();
    if let (Some(serde_json::Value::Array(items)), serde_json::Value::Array(allowed)) =
        (observed, &k.expected)
    {
        if matches!(k.op, Op::In | Op::Eq) {
            let extra: Vec<String> = items
                .iter()
                .filter(|i| !allowed.contains(i))
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| i.to_string())
                })
                .collect();
            if !extra.is_empty() {
                let none = if allowed.is_empty() {
                    " (it allows none)"
                } else {
                    ""
                };
                return format!(
                    "{}: {} not allowed by the profile{none}",
                    k.fact,
                    extra.join(", ")
                );
            }
        }
    }
    let observed = observed.map_or_else(|| "unobserved".to_string(), |v| v.to_string());
    format!(
        "{} is {observed}, the profile wants {} {}",
        k.fact, k.op, k.expected
    )
}
