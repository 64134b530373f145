//! The built-in control library backs every sentence of the trust-center page, each control is
//! complete (claim, SOC 2 criteria with a rationale each, severity, remediation), and
//! `docs/claims.md` cannot drift from `controls/`.

use vouch::control::{Control, builtin, load_controls};
use vouch::diag::Diagnostics;
use vouch::probe::Registry;

use crate::support::{repo, vouch};

fn library() -> Vec<Control> {
    let mut diags = Diagnostics::new();
    let controls = load_controls(&builtin::sources(), &Registry::builtin(), None, &mut diags);
    assert!(!diags.has_errors(), "{}", diags.render_short());
    controls
}

/// Lines of the page that are not promises a control could back, and why.
const NOT_CLAIMS: [&str; 14] = [
    "Trust Center",       // navigation
    "Security practices", // heading
    "The engineering and operational controls that protect your data.",
    "Last updated: 24 April 2026",
    "Encryption",
    "Authentication and access control",
    "Application security",
    "Infrastructure",
    "Detection and response",
    "Personnel and vendor risk",
    "Resilience",
    "Questions about this page? Contact privacy@opendoors.ai.", // a contact, not a practice
    "← Back to Privacy & Security",
    "Security at Open Doors is a product function, not a bolt-on.", // a stance; its sentences follow
];

/// Splits a line of the page into sentences (". " followed by a capital letter ends one).
fn sentences(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = line.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        cur.push(*c);
        let ends = *c == '.'
            && chars.get(i + 1) == Some(&' ')
            && chars.get(i + 2).is_some_and(|n| n.is_uppercase());
        if ends {
            out.push(cur.trim().to_string());
            cur.clear();
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

#[test]
fn every_sentence_of_the_trust_center_page_is_backed_by_a_control() {
    let page = std::fs::read_to_string(repo().join("docs/trust-center.txt")).unwrap();
    let controls = library();
    let mut missing = Vec::new();
    let mut claims = 0;
    for line in page.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let line = line.strip_prefix("- ").unwrap_or(line);
        for s in sentences(line) {
            if NOT_CLAIMS.contains(&s.as_str()) || s.starts_with("It covers the platform we build")
            {
                continue;
            }
            claims += 1;
            if !controls.iter().any(|c| c.claim == s) {
                missing.push(s);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "sentences with no control: {missing:#?}"
    );
    assert!(
        claims >= 30,
        "only {claims} claim sentences found: is the page complete?"
    );
}

#[test]
fn every_control_is_complete() {
    for c in library() {
        assert!(!c.claim.is_empty(), "{}: claim", c.id);
        assert!(!c.remediation.is_empty(), "{}: remediation", c.id);
        let soc2 = c
            .frameworks
            .get("soc2")
            .unwrap_or_else(|| panic!("{}: no SOC 2 criteria", c.id));
        assert!(!soc2.is_empty(), "{}", c.id);
        for id in soc2 {
            assert!(
                c.rationale.contains_key(id),
                "{}: no rationale for {id}",
                c.id
            );
        }
        if c.probe == "attestation" {
            assert!(
                c.tags.iter().any(|t| t == "attestation"),
                "{}: tag attestation controls",
                c.id
            );
        }
    }
}

#[test]
fn claims_md_is_what_vouch_list_generates() {
    let out = vouch()
        .args(["list", "--format", "markdown"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    let committed = std::fs::read_to_string(repo().join("docs/claims.md")).unwrap();
    assert!(
        generated == committed,
        "docs/claims.md is out of date: run `cargo run -- list --format markdown > docs/claims.md`"
    );
}

#[test]
fn list_json_has_the_fields_a_dashboard_needs() {
    let out = vouch().args(["list", "--format", "json"]).output().unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), library().len());
    for item in items {
        for key in ["id", "title", "claim", "probe", "severity", "frameworks"] {
            assert!(
                item.get(key).is_some_and(|v| !v.is_null()),
                "{key} in {item}"
            );
        }
    }
}
