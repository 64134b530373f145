//! Every report format, rendered from one fixed report (`fixtures/report/sample.json`: pass, fail,
//! error, n/a and waived results, an observation with attachments, text that needs escaping):
//! a snapshot per format, SARIF and OSCAL validated against their published JSON schemas
//! (`fixtures/schemas/`), the HTML opened in headless Chromium, and the CLI's `--output
//! FORMAT=FILE` and `vouch coverage`.

use std::path::{Path, PathBuf};
use std::process::Command;

use vouch::expect::Verdict;
use vouch::report::coverage::{Framework, Kind};
use vouch::report::{Format, Report, Style, render};

use crate::support::{fixture, repo, require, vouch};

fn sample() -> Report {
    let text = std::fs::read_to_string(fixture("report/sample.json")).unwrap();
    serde_json::from_str(&text).expect("the sample is a vouch.report/v1 document")
}

fn rendered(format: Format) -> String {
    render(&sample(), format, Style::default()).unwrap()
}

fn validate(instance: &serde_json::Value, schema_file: &str) -> Vec<String> {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(schema_file)).unwrap()).unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema itself is valid");
    validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

#[test]
fn the_sample_report_is_a_valid_consistent_report_with_every_verdict() {
    let text = std::fs::read_to_string(fixture("report/sample.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let errors = validate(&json, "../docs/report-schema.json");
    assert!(errors.is_empty(), "{errors:#?}");

    let r = sample();
    let mut again = r.clone();
    again.summarise();
    assert_eq!(again.summary, r.summary, "the summary matches the results");
    for (key, obs) in r.observations.iter() {
        assert_eq!(
            &vouch::engine::observation_id(&obs),
            key,
            "keys are digests"
        );
    }
    let verdicts: Vec<Verdict> = r
        .controls
        .iter()
        .flat_map(|c| c.results.iter().map(|x| x.verdict))
        .collect();
    for v in [
        Verdict::Pass,
        Verdict::Fail,
        Verdict::Error,
        Verdict::NotApplicable,
        Verdict::Waived,
    ] {
        assert!(verdicts.contains(&v), "the sample has a {v} result");
    }
    assert!(r.observations.values().any(|o| !o.attachments.is_empty()));
    // The coverage section is what `coverage::compute` makes of these controls' mappings.
    let soc2 = &r.coverage[0];
    let fw = Framework::find("soc2").unwrap();
    assert_eq!(soc2.criteria.len(), fw.criteria.len());
    for c in &r.controls {
        for id in c.frameworks.get("soc2").into_iter().flatten() {
            let crit = soc2.criteria.iter().find(|k| &k.id == id).unwrap();
            assert!(
                crit.controls.iter().any(|m| m.id == c.id),
                "{id} lists {}",
                c.id
            );
        }
    }
}

#[test]
fn soc2_catalogue_lists_the_trust_services_criteria() {
    let fw = Framework::find("soc2").unwrap();
    let ids: Vec<&str> = fw.criteria.iter().map(|c| c.id.as_str()).collect();
    for id in [
        "CC1.1", "CC6.1", "CC6.7", "CC7.2", "CC9.2", "A1.3", "C1.2", "PI1.5", "P8.1",
    ] {
        assert!(ids.contains(&id), "{id}");
    }
    assert_eq!(ids.iter().filter(|i| i.starts_with("CC")).count(), 33);
    assert!(fw.criteria.iter().all(|c| !c.title.is_empty()));
}

#[test]
fn snapshot_junit() {
    insta::assert_snapshot!(rendered(Format::Junit));
}

#[test]
fn snapshot_markdown() {
    insta::assert_snapshot!(rendered(Format::Markdown));
}

#[test]
fn snapshot_html() {
    insta::assert_snapshot!(rendered(Format::Html));
}

#[test]
fn snapshot_csv() {
    insta::assert_snapshot!(rendered(Format::Csv));
}

#[test]
fn snapshot_sarif() {
    insta::assert_snapshot!(rendered(Format::Sarif));
}

#[test]
fn snapshot_oscal() {
    insta::assert_snapshot!(rendered(Format::Oscal));
}

#[test]
fn junit_has_one_testcase_per_control_and_target_with_failures_errors_and_skips() {
    let xml = rendered(Format::Junit);
    assert_eq!(xml.matches("<testcase ").count(), 8);
    assert!(xml.contains("protocols.lowest &gt;= TLSv1.2 (observed TLSv1.0)"));
    assert_eq!(xml.matches("<failure").count(), 1);
    assert_eq!(xml.matches("<error").count(), 2);
    assert_eq!(xml.matches("<skipped").count(), 2, "n/a and waived");
}

#[test]
fn csv_has_a_row_per_control_and_target() {
    let text = rendered(Format::Csv);
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), sample().summary.results.total);
    let legacy = rows
        .iter()
        .find(|r| &r[5] == "legacy.example.com:443")
        .unwrap();
    assert_eq!(&legacy[6], "fail");
    assert_eq!(&legacy[8], "protocols.lowest >= TLSv1.2 (observed TLSv1.0)");
    assert_eq!(
        &legacy[12], "2026-12-28T09:00:02Z",
        "observed_at + max_age 30d (expires_at)"
    );
}

#[test]
fn csv_cells_never_run_as_spreadsheet_formulas() {
    let mut r = sample();
    r.controls[0].results[0].target = "=HYPERLINK(\"http://evil.example\",\"x\")".into();
    r.controls[0].results[0].error = Some("+1-555".into());
    let text = render(&r, Format::Csv, Style::default()).unwrap();
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let row = rd.records().next().unwrap().unwrap();
    assert_eq!(&row[5], "'=HYPERLINK(\"http://evil.example\",\"x\")");
    assert_eq!(&row[9], "'+1-555");
}

#[test]
fn sarif_matches_the_published_sarif_2_1_0_schema() {
    let doc: serde_json::Value = serde_json::from_str(&rendered(Format::Sarif)).unwrap();
    let errors = validate(&doc, "schemas/sarif-2.1.0.json");
    assert!(errors.is_empty(), "{errors:#?}");
    // The schema does bite: a level SARIF does not define is rejected.
    let mut broken = doc.clone();
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!validate(&broken, "schemas/sarif-2.1.0.json").is_empty());
    let run = &doc["runs"][0];
    assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 5);
    let results = run["results"].as_array().unwrap();
    // 1 fail + 2 errors + the waived fail (kept, suppressed).
    assert_eq!(results.len(), 4);
    let levels: Vec<(&str, &str)> = results
        .iter()
        .map(|r| (r["ruleId"].as_str().unwrap(), r["level"].as_str().unwrap()))
        .collect();
    assert!(
        levels.contains(&("ENC-TRANSIT-TLS12", "error")),
        "high → error"
    );
    assert!(
        levels.contains(&("ENC-TRANSIT-HSTS", "warning")),
        "medium → warning"
    );
    let suppressed = results
        .iter()
        .filter(|r| r["suppressions"].is_array())
        .count();
    assert_eq!(suppressed, 1);
}

#[test]
fn oscal_matches_the_published_nist_assessment_results_schema() {
    let doc: serde_json::Value = serde_json::from_str(&rendered(Format::Oscal)).unwrap();
    let errors = validate(&doc, "schemas/oscal-1.2.3-assessment-results.json");
    assert!(errors.is_empty(), "{errors:#?}");
    // The schema does bite: a version-1 UUID and a missing `collected` are rejected.
    let mut broken = doc.clone();
    broken["assessment-results"]["uuid"] = "00000000-0000-1000-8000-000000000000".into();
    let obs = &mut broken["assessment-results"]["results"][0]["observations"][0];
    obs.as_object_mut().unwrap().remove("collected");
    assert_eq!(
        validate(&broken, "schemas/oscal-1.2.3-assessment-results.json").len(),
        2
    );
    let ar = &doc["assessment-results"];
    let result = &ar["results"][0];
    let r = sample();
    assert_eq!(
        result["observations"].as_array().unwrap().len(),
        r.observations.len()
    );
    assert_eq!(
        result["findings"].as_array().unwrap().len(),
        r.controls.len()
    );
    let risks = result["risks"].as_array().unwrap();
    assert_eq!(risks.len(), 1);
    assert_eq!(risks[0]["status"], "deviation-approved");
    assert_eq!(risks[0]["deadline"], "2027-03-31T00:00:00Z");
    // Evidence hashes: every observation and attachment is in back-matter with its SHA-256.
    let resources = ar["back-matter"]["resources"].as_array().unwrap();
    for key in r.observations.keys() {
        let hex = key.strip_prefix("sha256:").unwrap();
        assert!(
            resources
                .iter()
                .any(|res| res["rlinks"][0]["hashes"][0]["value"] == hex),
            "{key}"
        );
    }
    // `expires` from the control's max_age: the TLS observation of legacy is good for 30 days.
    let legacy = result["observations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["title"] == "tls legacy.example.com:443")
        .unwrap();
    assert_eq!(legacy["collected"], "2026-11-28T09:00:02Z");
    assert_eq!(legacy["expires"], "2026-12-28T09:00:02Z");
    // Deterministic: the same report renders to the same document.
    assert_eq!(rendered(Format::Oscal), rendered(Format::Oscal));
}

#[test]
fn markdown_puts_failures_first_and_fits_a_pull_request_comment() {
    let md = rendered(Format::Markdown);
    assert!(md.starts_with("### vouch: ❌ 1 control failing, ⚠️ 2 could not be observed"));
    let fail = md.find("legacy.example.com:443").unwrap();
    let details = md.find("<details>").unwrap();
    assert!(fail < details, "the failure is above the folded sections");
    assert!(md.contains("SOC 2 trust services criteria coverage"));
    assert!(md.len() < 65_536);
    assert!(!md.contains("<script"), "report text is escaped");
}

#[test]
fn markdown_of_a_large_estate_still_fits_a_comment() {
    let mut r = sample();
    let base = r.controls.clone();
    r.controls = (0..400)
        .flat_map(|i| {
            base.iter().cloned().map(move |mut c| {
                c.id = format!("{}-{i:03}", c.id);
                c
            })
        })
        .collect();
    r.summarise();
    let md = render(&r, Format::Markdown, Style::default()).unwrap();
    assert!(md.len() < 65_536, "{} bytes", md.len());
    assert!(md.contains("more failures and errors are in the full report"));
    assert!(md.contains("more results are in the full report"));
    assert!(md.contains("SOC 2 trust services criteria coverage"));
    assert!(md.trim_end().ends_with("</sub>"));
}

#[test]
fn html_escapes_everything_that_comes_from_the_report() {
    let html = rendered(Format::Html);
    assert!(!html.to_lowercase().contains("<script"));
    assert!(html.contains("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; friends"));
    for external in ["src=\"http", "href=\"http", "@import", "url("] {
        assert!(!html.contains(external), "no external asset: {external}");
    }
}

/// Runs headless Chromium on `page` with `args`; returns (stdout, stderr).
fn chromium(page: &Path, args: &[&str]) -> (String, String) {
    let bin = require(
        std::env::var_os("VOUCH_CHROMIUM")
            .map(PathBuf::from)
            .or_else(|| {
                ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
                    .iter()
                    .map(PathBuf::from)
                    .find(|p| p.exists())
            }),
        "chromium",
        "install Debian's chromium (scripts/setup.d/40-chromium.sh)",
    );
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium: {out:?}");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Lines where Chromium reports the page's console output (errors, CSP refusals, exceptions).
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .collect()
}

#[test]
fn html_renders_in_headless_chromium_with_no_console_errors_and_the_json_numbers() {
    let dir = tempfile::tempdir().unwrap();

    // The console check is not vacuous: a page with a script error is caught.
    let bad = dir.path().join("bad.html");
    std::fs::write(
        &bad,
        "<!DOCTYPE html><p>x</p><script>console.error('boom'); missing();</script>",
    )
    .unwrap();
    let (_, err) = chromium(&bad, &["--dump-dom"]);
    assert!(
        console_lines(&err).iter().any(|l| l.contains("Uncaught")),
        "the console scan sees errors: {err}"
    );

    let report = sample();
    let page = dir.path().join("report.html");
    std::fs::write(&page, rendered(Format::Html)).unwrap();
    let (dom, err) = chromium(&page, &["--dump-dom"]);
    assert!(console_lines(&err).is_empty(), "{:#?}", console_lines(&err));
    assert!(dom.contains("<h1>vouch report</h1>"), "{dom}");
    assert!(!dom.contains("<script"), "no script element appeared");

    // The summary numbers in the rendered DOM are the report's.
    let re = regex::Regex::new(r#"data-summary="([^"]+)">(\d+)<"#).unwrap();
    let shown: std::collections::BTreeMap<String, usize> = re
        .captures_iter(&dom)
        .map(|c| (c[1].to_string(), c[2].parse().unwrap()))
        .collect();
    let json: serde_json::Value = serde_json::to_value(&report.summary).unwrap();
    let mut expected = std::collections::BTreeMap::new();
    for (k, v) in json.as_object().unwrap() {
        if k == "results" {
            for (k2, v2) in v.as_object().unwrap() {
                expected.insert(format!("results.{k2}"), v2.as_u64().unwrap() as usize);
            }
        } else {
            expected.insert(k.clone(), v.as_u64().unwrap() as usize);
        }
    }
    assert_eq!(shown, expected);
    // One section per control, the chart, the coverage table.
    assert_eq!(dom.matches("<section class=\"control ").count(), 5);
    assert!(dom.contains("<svg class=\"chart\""));
    assert!(dom.contains("Coverage: SOC 2 trust services criteria"));

    // A screenshot: a real PNG of the rendered page. `VOUCH_SCREENSHOT=path` keeps a copy (the
    // one in docs/img/report.png was made so).
    let png = dir.path().join("report.png");
    let (_, err) = chromium(
        &page,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,1800",
            "--hide-scrollbars",
        ],
    );
    assert!(console_lines(&err).is_empty(), "{:#?}", console_lines(&err));
    let bytes = std::fs::read(&png).expect("a screenshot was written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 20_000);
    if let Some(keep) = std::env::var_os("VOUCH_SCREENSHOT") {
        std::fs::copy(&png, keep).unwrap();
    }
}

fn attestation_example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(repo().join("examples/attestations")).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            let sub = dir.path().join(e.file_name());
            std::fs::create_dir_all(&sub).unwrap();
            for f in std::fs::read_dir(e.path()).unwrap() {
                let f = f.unwrap();
                std::fs::copy(f.path(), sub.join(f.file_name())).unwrap();
            }
        } else {
            std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
        }
    }
    dir
}

#[test]
fn output_may_be_repeated_as_format_equals_file() {
    let dir = attestation_example();
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    vouch()
        .current_dir(dir.path())
        .args(["check", "--controls", "controls.toml", "--format", "json"])
        .args(["--output", "html=out/report.html"])
        .args(["--output", "junit=out/junit.xml"])
        .args(["--output", "sarif=out/vouch.sarif"])
        .args(["--output", "oscal=out/oscal.json"])
        .args(["--output", "out/plain.json"])
        .assert()
        .stdout("");
    let read = |p: &str| std::fs::read_to_string(dir.path().join(p)).unwrap();
    assert!(read("out/report.html").starts_with("<!DOCTYPE html>"));
    assert!(read("out/junit.xml").contains("<testsuites"));
    let sarif: serde_json::Value = serde_json::from_str(&read("out/vouch.sarif")).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let errors = validate(&sarif, "schemas/sarif-2.1.0.json");
    assert!(errors.is_empty(), "{errors:#?}");
    // A real run's OSCAL (nanosecond timestamps, attestation evidence) is valid too.
    let oscal: serde_json::Value = serde_json::from_str(&read("out/oscal.json")).unwrap();
    let errors = validate(&oscal, "schemas/oscal-1.2.3-assessment-results.json");
    assert!(errors.is_empty(), "{errors:#?}");
    // A plain FILE takes --format; the report carries the coverage of the controls that ran.
    let json: serde_json::Value = serde_json::from_str(&read("out/plain.json")).unwrap();
    assert_eq!(json["schema"], "vouch.report/v1");
    assert_eq!(json["coverage"][0]["framework"], "soc2");
    let errors = validate(&json, "../docs/report-schema.json");
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn coverage_lists_controls_per_criterion_and_the_criteria_with_none() {
    let dir = attestation_example();
    let out = vouch()
        .current_dir(dir.path())
        .args([
            "coverage",
            "--controls",
            "controls.toml",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let cov: vouch::report::coverage::Coverage = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cov.framework, "soc2");
    let mapped: Vec<_> = cov
        .criteria
        .iter()
        .filter(|c| !c.controls.is_empty())
        .collect();
    assert!(!mapped.is_empty());
    assert!(
        mapped
            .iter()
            .flat_map(|c| &c.controls)
            .all(|m| m.kind == Kind::Attestation && m.probe == "attestation")
    );
    assert_eq!(
        cov.summary.uncovered,
        cov.criteria.len() - mapped.len(),
        "the rest have no control"
    );

    let table = vouch()
        .current_dir(dir.path())
        .args(["coverage", "--controls", "controls.toml"])
        .output()
        .unwrap();
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.contains("CC9.2"), "{text}");
    assert!(text.contains("with no control"), "{text}");

    let md = vouch()
        .current_dir(dir.path())
        .args([
            "coverage",
            "--controls",
            "controls.toml",
            "--format",
            "markdown",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8(md.stdout)
            .unwrap()
            .contains("| criterion | title | automated | attestation |")
    );

    vouch()
        .args(["coverage", "--framework", "pci"])
        .assert()
        .code(i32::from(vouch::exit::INVALID))
        .stderr(predicates::str::contains("unknown framework `pci`"));
}

#[test]
fn the_built_in_library_names_only_criteria_the_soc2_catalogue_lists() {
    let out = vouch()
        .args(["coverage", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let cov: vouch::report::coverage::Coverage = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        cov.unknown.is_empty(),
        "unknown criteria: {:#?}",
        cov.unknown
    );
    assert!(cov.criteria.iter().any(|c| c.has(Kind::Automated)));
    assert!(cov.criteria.iter().any(|c| c.has(Kind::Attestation)));
    assert!(String::from_utf8_lossy(&out.stderr).is_empty());
}

fn sarif_multitool() -> PathBuf {
    require(
        std::env::var_os("VOUCH_TEST_SARIF_MULTITOOL").map(PathBuf::from),
        "the SARIF multitool (npm @microsoft/sarif-multitool)",
        "source scripts/setup.d/80-sarif.sh to install it and set VOUCH_TEST_SARIF_MULTITOOL",
    )
}

/// What the SARIF multitool's GitHub ingestion rules (`validate --rule-kind Gh`) find wrong with
/// `sarif`, one `RULE message-id location` line per problem, at every level.
fn github_ingestion_problems(sarif: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("vouch.sarif");
    let log = dir.path().join("validation.sarif");
    std::fs::write(&input, sarif).unwrap();
    let out = Command::new(sarif_multitool())
        .env("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")
        .args([
            "validate",
            "--rule-kind",
            "Gh",
            "--level",
            "Error;Warning;Note",
        ])
        .arg("--output")
        .arg(&log)
        .arg(&input)
        .output()
        .expect("the SARIF multitool runs");
    let text = std::fs::read_to_string(&log).unwrap_or_else(|_| {
        panic!(
            "the multitool wrote no log: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let log: serde_json::Value = serde_json::from_str(&text).unwrap();
    let run = &log["runs"][0];
    assert_eq!(run["invocations"][0]["executionSuccessful"], true, "{text}");
    assert!(
        run["invocations"][0]["toolExecutionNotifications"].is_null(),
        "the multitool could not read the file: {text}"
    );
    run["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r["ruleId"].as_str().unwrap_or("?"),
                r["message"]["id"].as_str().unwrap_or("?"),
                r["message"]["arguments"][0].as_str().unwrap_or("?")
            )
        })
        .collect()
}

#[test]
fn sarif_is_accepted_by_github_code_scanning_ingestion_rules() {
    let text = rendered(Format::Sarif);
    let problems = github_ingestion_problems(&text);
    assert!(problems.is_empty(), "{problems:#?}");
    // The rules bite: a result without locations is what GitHub refuses.
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut broken = doc.clone();
    broken["runs"][0]["results"][0]
        .as_object_mut()
        .unwrap()
        .remove("locations");
    let problems = github_ingestion_problems(&broken.to_string());
    assert!(
        problems.iter().any(|p| p.starts_with("GH1015 ")),
        "{problems:#?}"
    );
    // Each result is at its control's definition: file (relative to the repository root,
    // percent-encoded) and the line of its [[control]].
    let report = sample();
    let results = doc["runs"][0]["results"].as_array_mut().unwrap();
    assert_eq!(results.len(), 4);
    for r in results.iter() {
        let id = r["ruleId"].as_str().unwrap();
        let source = report
            .controls
            .iter()
            .find(|c| c.id == id)
            .unwrap()
            .source
            .clone()
            .unwrap();
        let phys = &r["locations"][0]["physicalLocation"];
        assert_eq!(
            phys["artifactLocation"]["uri"],
            source.file.replace(' ', "%20"),
            "{id}"
        );
        assert_eq!(phys["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        assert_eq!(phys["region"]["startLine"], source.line, "{id}");
        assert_eq!(
            r["locations"][0]["logicalLocations"][0]["kind"], "resource",
            "the target stays the logical location"
        );
    }
    assert!(
        results.iter().any(
            |r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                == "security/our%20web.toml"
        ),
        "a path with a space is a valid URI"
    );
}

/// The 1-based line of the `[[control]]` that defines `id` in `text`.
fn control_line(text: &str, id: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim() == format!("id = \"{id}\""))
        .unwrap_or_else(|| panic!("{id} is defined"));
    (0..at)
        .rev()
        .find(|&i| lines[i].trim() == "[[control]]")
        .unwrap()
        + 1
}

#[test]
fn sarif_of_a_real_run_points_at_each_control_line_with_fingerprints_stable_across_runs() {
    let dir = attestation_example();
    let run = || -> serde_json::Value {
        let out = vouch()
            .current_dir(dir.path())
            .args(["check", "--controls", "controls.toml", "--format", "sarif"])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).expect("SARIF on stdout")
    };
    let (first, second) = (run(), run());
    let text = std::fs::read_to_string(dir.path().join("controls.toml")).unwrap();
    let results = first["runs"][0]["results"].as_array().unwrap();
    assert!(!results.is_empty(), "the example has a failing control");
    for r in results {
        let id = r["ruleId"].as_str().unwrap();
        let phys = &r["locations"][0]["physicalLocation"];
        assert_eq!(phys["artifactLocation"]["uri"], "controls.toml");
        assert_eq!(phys["region"]["startLine"], control_line(&text, id), "{id}");
    }
    let prints = |doc: &serde_json::Value| -> Vec<serde_json::Value> {
        doc["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["partialFingerprints"].clone())
            .collect()
    };
    assert_eq!(
        prints(&first),
        prints(&second),
        "fingerprints hold across runs"
    );
    assert_ne!(
        first["runs"][0]["invocations"], second["runs"][0]["invocations"],
        "two distinct runs"
    );
    let problems = github_ingestion_problems(&first.to_string());
    assert!(problems.is_empty(), "{problems:#?}");
    // The JSON report records the same source, with a path given absolute made relative to the
    // working directory.
    let abs = dir.path().join("controls.toml");
    let out = vouch()
        .current_dir(dir.path())
        .args(["check", "--format", "json", "--controls"])
        .arg(&abs)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for c in json["controls"].as_array().unwrap() {
        assert_eq!(c["source"]["file"], "controls.toml");
        assert_eq!(
            c["source"]["line"],
            control_line(&text, c["id"].as_str().unwrap())
        );
    }
}

#[test]
fn built_in_controls_are_located_at_their_file_under_controls_and_their_header_line() {
    let registry = vouch::probe::Registry::builtin();
    let mut diags = vouch::diag::Diagnostics::new();
    let sources = vouch::control::builtin::sources();
    let controls = vouch::control::load_controls(&sources, &registry, None, &mut diags);
    assert_eq!(diags.error_count(), 0);
    assert!(controls.len() > 20);
    for c in &controls {
        let s = vouch::report::ControlSource::of(&c.origin);
        assert!(
            s.file.starts_with("controls/") && s.file.ends_with(".toml"),
            "{s:?}"
        );
        let text = std::fs::read_to_string(repo().join(&s.file)).unwrap();
        assert_eq!(s.line as usize, control_line(&text, &c.id), "{}", c.id);
    }
}

fn ocsf_python() -> PathBuf {
    require(
        std::env::var_os("VOUCH_TEST_OCSF_PYTHON").map(PathBuf::from),
        "Python with py-ocsf-models",
        "source scripts/setup.d/81-ocsf.sh to create the venv and set VOUCH_TEST_OCSF_PYTHON",
    )
}

/// Parses each JSON line as py-ocsf-models' ComplianceFinding and checks that the model keeps
/// every field as given (an unknown field or a coerced value is a difference); the `cloud`
/// profile's object (which the class model does not carry) is checked with the Cloud model, and
/// only when `metadata.profiles` names the profile. Prints one line per record, `ok` or the
/// problem.
const OCSF_CHECK: &str = r#"
import json, sys
from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding
from py_ocsf_models.objects.cloud import Cloud
for n, line in enumerate(sys.stdin, 1):
    rec = json.loads(line)
    try:
        cloud = rec.pop("cloud", None)
        if cloud is not None:
            if "cloud" not in rec["metadata"].get("profiles", []):
                print(f"{n}: cloud without the cloud profile")
                continue
            back = json.loads(Cloud.model_validate(cloud).model_dump_json(exclude_unset=True))
            if back != cloud:
                print(f"{n}: cloud not kept as given: {json.dumps(back, sort_keys=True)}")
                continue
        m = ComplianceFinding.model_validate(rec)
    except Exception as e:
        print(f"{n}: invalid: {e}".replace("\n", " "))
        continue
    back = json.loads(m.model_dump_json(exclude_unset=True))
    print("ok" if back == rec else f"{n}: not kept as given: {json.dumps(back, sort_keys=True)}")
"#;

fn ocsf_problems(jsonl: &str) -> Vec<String> {
    use std::io::Write;
    let mut child = Command::new(ocsf_python())
        .args(["-c", OCSF_CHECK])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(jsonl.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), jsonl.lines().count(), "one answer per record");
    lines.into_iter().filter(|l| l != "ok").collect()
}

#[test]
fn ocsf_is_one_compliance_finding_per_result_that_the_ocsf_models_accept() {
    let text = rendered(Format::Ocsf);
    let report = sample();
    assert_eq!(text.lines().count(), report.summary.results.total);
    let problems = ocsf_problems(&text);
    assert!(problems.is_empty(), "{problems:#?}");
    // The models bite: a type_uid that is not 2003 * 100 + an activity, a compliance status
    // OCSF does not define.
    let recs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut bad = recs[0].clone();
    bad["type_uid"] = 200401.into();
    let mut bad2 = recs[0].clone();
    bad2["compliance"]["status_id"] = 7.into();
    let problems = ocsf_problems(&format!("{bad}\n{bad2}\n"));
    assert_eq!(problems.len(), 2, "{problems:#?}");

    let find = |control: &str, target: &str| {
        recs.iter()
            .find(|r| r["compliance"]["control"] == control && r["resources"][0]["name"] == target)
            .unwrap_or_else(|| panic!("{control} {target}"))
    };
    for r in &recs {
        assert_eq!(r["class_uid"], 2003);
        assert_eq!(r["category_uid"], 2);
        assert_eq!(r["type_uid"], 200301);
        assert_eq!(r["metadata"]["product"]["name"], "vouch");
    }
    let fail = find("ENC-TRANSIT-TLS12", "legacy.example.com:443");
    assert_eq!(fail["compliance"]["status_id"], 3);
    assert_eq!(
        fail["compliance"]["standards"],
        serde_json::json!(["SOC 2", "ISO/IEC 27001:2022"])
    );
    assert_eq!(
        fail["compliance"]["requirements"],
        serde_json::json!(["CC6.7", "A.8.24"])
    );
    assert_eq!(fail["severity_id"], 4);
    assert_eq!(fail["status_id"], 1);
    assert_eq!(fail["status_code"], "fail");
    let obs_key = report
        .controls
        .iter()
        .find(|c| c.id == "ENC-TRANSIT-TLS12")
        .unwrap()
        .results[1]
        .observation
        .clone()
        .unwrap();
    assert_eq!(
        fail["evidences"][0]["data"]["observation"],
        obs_key.as_str()
    );
    assert_eq!(
        fail["resources"][0]["data"]["observation"],
        obs_key.as_str()
    );
    let observed = report
        .observations
        .get(&obs_key)
        .unwrap()
        .observed_at
        .as_millisecond();
    assert_eq!(fail["time"], observed);
    assert!(fail["status_detail"].as_str().unwrap().contains("TLSv1.0"));
    let pass = find("ENC-TRANSIT-TLS12", "app.example.com:443");
    assert_eq!(pass["compliance"]["status_id"], 1);
    assert_ne!(pass["finding_info"]["uid"], fail["finding_info"]["uid"]);
    let waived = find("ENC-TRANSIT-HSTS", "old.example.com");
    assert_eq!(
        waived["status_id"], 3,
        "a waived result is a suppressed finding"
    );
    assert_eq!(waived["compliance"]["status_id"], 3, "of a failure");
    let error = find("ENC-TRANSIT-HSTS", "www.example.com");
    assert_eq!(error["compliance"]["status_id"], 2, "no result: warning");
    assert!(error["evidences"].is_null());
    let na = find("KEYS-KMS-ROTATION", "alias/signing");
    assert_eq!(na["compliance"]["status_id"], 99);
    let bucket = find("STORAGE-S3-ENCRYPTED", "customer-uploads");
    assert_eq!(
        bucket["resources"][0]["uid"],
        "arn:aws:s3:::customer-uploads"
    );
    assert_eq!(bucket["severity_id"], 5);
}

#[test]
fn ocsf_names_the_aws_resource_by_arn_with_its_region_and_account() {
    let mut report = sample();
    report.run.context.insert(
        "aws.caller_identity".into(),
        serde_json::json!({"account": "123456789012", "arn": "arn:aws:sts::123456789012:assumed-role/audit/vouch"}),
    );
    // The key's observation records its ARN (as the aws.kms probe's evidence does).
    let row = &mut report
        .controls
        .iter_mut()
        .find(|c| c.id == "KEYS-KMS-ROTATION")
        .unwrap()
        .results[0];
    let arn = "arn:aws:kms:eu-west-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let mut obs = report
        .observations
        .get(row.observation.as_ref().unwrap())
        .unwrap();
    obs.evidence
        .insert("key".into(), serde_json::json!({"arn": arn}));
    row.observation = Some(report.observations.insert(&obs).unwrap());
    let text = render(&report, Format::Ocsf, Style::default()).unwrap();
    let problems = ocsf_problems(&text);
    assert!(problems.is_empty(), "{problems:#?}");
    let recs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kms = recs
        .iter()
        .find(|r| r["resources"][0]["name"] == "alias/customer-data")
        .unwrap();
    assert_eq!(kms["resources"][0]["uid"], arn);
    assert_eq!(kms["resources"][0]["region"], "eu-west-1");
    assert_eq!(kms["resources"][0]["cloud_partition"], "aws");
    // The account of the ARN, not the caller's: the key lives in another account.
    assert_eq!(kms["cloud"]["account"]["uid"], "210987654321");
    assert_eq!(kms["cloud"]["provider"], "AWS");
    assert_eq!(kms["metadata"]["profiles"], serde_json::json!(["cloud"]));
    // A bucket ARN has no account: the caller's is used.
    let bucket = recs
        .iter()
        .find(|r| r["resources"][0]["name"] == "customer-uploads")
        .unwrap();
    assert_eq!(bucket["cloud"]["account"]["uid"], "123456789012");
    // Endpoints are not cloud resources.
    let tls = recs
        .iter()
        .find(|r| r["resources"][0]["name"] == "app.example.com:443")
        .unwrap();
    assert!(tls["cloud"].is_null());
    assert_eq!(tls["resources"][0]["uid"], "app.example.com:443");
}
