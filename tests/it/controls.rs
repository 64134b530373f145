//! Control-file diagnostics: every mistake reported, each at the right line and column.

use vouch::control::{Source, load_controls};
use vouch::diag::Diagnostics;
use vouch::inventory::Inventory;
use vouch::probe::Registry;

use crate::support::{fixture, repo};

fn diagnose(path: &str, inventory: Option<&str>) -> (Diagnostics, usize) {
    let mut diags = Diagnostics::new();
    let inv = inventory.map(|p| Inventory::load(&fixture(p), &mut diags).expect("inventory"));
    let controls = load_controls(
        &[Source::Path(fixture(path))],
        &Registry::builtin(),
        inv.as_ref(),
        &mut diags,
    );
    (diags, controls.len())
}

/// Paths in messages relative to the repository, so snapshots do not depend on the checkout.
fn relative(s: String) -> String {
    s.replace(&format!("{}/", repo().display()), "")
}

#[test]
fn a_file_with_many_mistakes_reports_every_one_with_line_and_column() {
    let (diags, _) = diagnose(
        "controls/six-mistakes.toml",
        Some("controls/inventory-for-six.toml"),
    );
    assert_eq!(diags.error_count(), 13);
    insta::assert_snapshot!(relative(diags.render_short()));
}

#[test]
fn the_rich_rendering_points_at_the_span_and_the_first_definition() {
    let (diags, _) = diagnose(
        "controls/six-mistakes.toml",
        Some("controls/inventory-for-six.toml"),
    );
    let text = relative(diags.render(false));
    assert!(text.contains("first defined here"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn a_toml_syntax_error_is_reported_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, "[[control]]\nid = \"X\"\ntitle = \"unterminated\n").unwrap();
    let mut diags = Diagnostics::new();
    load_controls(
        &[Source::Path(path.clone())],
        &Registry::builtin(),
        None,
        &mut diags,
    );
    let short = diags.render_short();
    assert!(short.contains("broken.toml:3:"), "{short}");
    assert!(short.contains("error[toml-syntax]"), "{short}");
}

#[test]
fn duplicate_ids_across_files_point_at_both() {
    let dir = tempfile::tempdir().unwrap();
    let one = "[[control]]\nid = \"A\"\ntitle = \"t\"\nseverity = \"low\"\nprobe = \"attestation\"\ntargets = [\"x\"]\nexpect = [{ fact = \"age_days\", op = \"<=\", value = 1 }]\n";
    std::fs::write(dir.path().join("a.toml"), one).unwrap();
    std::fs::write(dir.path().join("b.toml"), one).unwrap();
    let mut diags = Diagnostics::new();
    let controls = load_controls(
        &[Source::Path(dir.path().to_path_buf())],
        &Registry::builtin(),
        None,
        &mut diags,
    );
    assert_eq!(controls.len(), 1);
    assert_eq!(diags.error_count(), 1);
    let d = &diags.items[0];
    assert_eq!(d.code, "duplicate-id");
    assert!(diags.location(d.file, d.span.start).ends_with("b.toml:2:6"));
    let (first_file, first_span, _) = &d.secondary[0];
    assert!(
        diags
            .location(*first_file, first_span.start)
            .ends_with("a.toml:2:6")
    );
}

#[test]
fn the_built_in_library_is_valid() {
    let mut diags = Diagnostics::new();
    load_controls(
        &vouch::control::builtin::sources(),
        &Registry::builtin(),
        None,
        &mut diags,
    );
    assert!(!diags.has_errors(), "{}", diags.render_short());
}

#[test]
fn a_bad_inventory_reports_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vouch.toml");
    std::fs::write(
        &path,
        "colour = 1\n[targets]\nweb = [1]\n[resolve]\n\"app.example.com\" = \"nowhere\"\n[aws]\nregoin = \"eu-west-1\"\nendpoint_url = \"localhost:5000\"\n",
    )
    .unwrap();
    let mut diags = Diagnostics::new();
    assert!(Inventory::load(&path, &mut diags).is_none());
    let codes: Vec<&str> = diags.sorted().iter().map(|d| d.code).collect();
    assert_eq!(
        codes,
        [
            "unknown-key",
            "wrong-type",
            "invalid-resolve",
            "invalid-resolve",
            "unknown-key",
            "invalid-url"
        ]
    );
}

#[test]
fn inventory_regions_must_be_region_names_or_enabled_alone() {
    let dir = tempfile::tempdir().unwrap();
    let load = |regions: &str| {
        let path = dir.path().join("vouch.toml");
        std::fs::write(&path, format!("[aws]\nregions = {regions}\n")).unwrap();
        let mut diags = Diagnostics::new();
        let inv = Inventory::load(&path, &mut diags);
        (inv, diags)
    };
    let (inv, diags) = load(r#"["eu-west-1", "us-gov-west-1"]"#);
    assert!(!diags.has_errors(), "{}", diags.render_short());
    assert_eq!(
        inv.unwrap().aws.regions,
        Some(vec!["eu-west-1".to_string(), "us-gov-west-1".to_string()])
    );
    let (inv, diags) = load(r#""enabled""#);
    assert!(!diags.has_errors(), "{}", diags.render_short());
    assert_eq!(inv.unwrap().aws.regions, Some(vec!["enabled".to_string()]));

    for (bad, says, col) in [
        (
            r#"["eu-west-1", "Europe"]"#,
            "`Europe` is not a region name",
            25,
        ),
        (
            r#"["enabled", "eu-west-1"]"#,
            "\"enabled\" stands alone",
            23,
        ),
        ("[]", "an empty list scans nothing", 1),
    ] {
        let (inv, diags) = load(bad);
        assert!(inv.is_none(), "{bad}");
        let all = diags.render_short();
        assert!(all.contains("invalid-region"), "{bad}: {all}");
        assert!(all.contains(says), "{bad}: {all}");
        let loc = diags.location(diags.sorted()[0].file, diags.sorted()[0].span.start);
        assert!(loc.ends_with(&format!(":{col}")), "{bad}: {loc}");
    }
}
