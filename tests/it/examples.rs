//! The shipped YAML and unit files (`examples/schedule/`, `examples/kubernetes/`, `examples/ci/`,
//! `action.yml`): every YAML file parses; the Kubernetes manifests validate against Kubernetes'
//! published schemas (PyPI kubernetes-validate, strict: an unknown field is an error); the
//! workflows give the composite action only inputs it declares and read only outputs it sets;
//! every vouch command line in them names a subcommand and flags vouch has; the systemd units pass
//! `systemd-analyze verify`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{repo, require};

fn examples_python() -> PathBuf {
    let validate = kubernetes_validate();
    validate.with_file_name("python3")
}

fn kubernetes_validate() -> PathBuf {
    require(
        std::env::var_os("VOUCH_TEST_KUBERNETES_VALIDATE").map(PathBuf::from),
        "kubernetes-validate (PyPI)",
        "source scripts/setup.d/82-examples.sh to create the venv and set VOUCH_TEST_KUBERNETES_VALIDATE",
    )
}

/// Every YAML document of `path`, as JSON (PyYAML's safe loader, as GitHub and kubectl read it:
/// YAML 1.1, so a bare `on` key is `true`).
fn yaml_docs(path: &Path) -> Vec<Value> {
    let out = Command::new(examples_python())
        .args([
            "-c",
            "import json, sys, yaml\nprint(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} does not parse as YAML: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The YAML files this module checks: under examples/schedule, examples/kubernetes, examples/ci,
/// and action.yml.
fn yaml_files() -> Vec<PathBuf> {
    let mut files = vec![repo().join("action.yml")];
    for dir in ["examples/schedule", "examples/kubernetes", "examples/ci"] {
        for e in std::fs::read_dir(repo().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

fn is_kubernetes(doc: &Value) -> bool {
    doc["apiVersion"].is_string() && doc["kind"].is_string()
}

fn is_workflow(doc: &Value) -> bool {
    doc["jobs"].is_object()
}

#[test]
fn every_example_parses_and_the_kubernetes_manifests_validate_against_the_published_schema() {
    let files = yaml_files();
    let mut kubernetes = Vec::new();
    let mut workflows = 0;
    for f in &files {
        let docs = yaml_docs(f);
        assert!(!docs.is_empty(), "{} holds a document", f.display());
        if docs.iter().all(is_kubernetes) {
            kubernetes.push(f.clone());
        } else if docs.iter().any(is_workflow) {
            workflows += 1;
        }
    }
    assert!(workflows >= 5, "the CI, schedule and matrix workflows");
    let names: Vec<String> = kubernetes
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "kubernetes-cronjob.yaml",
        "sharded-run.yaml",
        "merge-job.yaml",
    ] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }
    let out = Command::new(kubernetes_validate())
        .arg("--strict")
        .args(&kubernetes)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    let resources: usize = kubernetes.iter().map(|f| yaml_docs(f).len()).sum();
    assert_eq!(
        text.matches(" passed for resource ").count(),
        resources,
        "{text}"
    );
    for kind in ["cronjob/vouch-daily", "job/vouch-shards", "job/vouch-merge"] {
        assert!(text.contains(kind), "{text}");
    }

    // The validator bites: a field the schema does not know, a wrong type.
    let dir = tempfile::tempdir().unwrap();
    let original =
        std::fs::read_to_string(repo().join("examples/kubernetes/sharded-run.yaml")).unwrap();
    let unknown = dir.path().join("unknown.yaml");
    std::fs::write(
        &unknown,
        original.replace(
            "completionMode: Indexed",
            "completionMode: Indexed\n  shardCount: 4",
        ),
    )
    .unwrap();
    let wrong = dir.path().join("wrong.yaml");
    std::fs::write(
        &wrong,
        original.replace("completions: 4", "completions: four"),
    )
    .unwrap();
    for bad in [&unknown, &wrong] {
        let out = Command::new(kubernetes_validate())
            .arg("--strict")
            .arg(bad)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{} was accepted", bad.display());
    }
}

/// The Indexed Job and its merge agree: N pods, `--shard-count N`, and the merge reads N shard
/// folders that the pods write.
#[test]
fn the_indexed_job_runs_n_shards_from_the_environment_and_the_merge_reads_all_n() {
    let docs = yaml_docs(&repo().join("examples/kubernetes/sharded-run.yaml"));
    let job = docs.iter().find(|d| d["kind"] == "Job").unwrap();
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    let n = job["spec"]["completions"].as_u64().unwrap();
    assert_eq!(job["spec"]["parallelism"].as_u64(), Some(n));
    let script = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
        .as_str()
        .unwrap();
    assert!(script.contains("--shard-from-env"), "{script}");
    assert!(script.contains(&format!("--shard-count {n}")), "{script}");
    assert!(script.contains("shard-${JOB_COMPLETION_INDEX}"), "{script}");
    let merge = &yaml_docs(&repo().join("examples/kubernetes/merge-job.yaml"))[0];
    let args: Vec<&str> = merge["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "merge");
    let job_name = job["metadata"]["name"].as_str().unwrap();
    for i in 0..n {
        let shard = format!("/evidence/{job_name}/shard-{i}");
        assert!(args.contains(&shard.as_str()), "{args:?} lacks {shard}");
    }
    let wf = &yaml_docs(&repo().join("examples/kubernetes/github-actions-matrix.yml"))[0];
    let matrix = wf["jobs"]["shard"]["strategy"]["matrix"]["shard"]
        .as_array()
        .unwrap();
    assert_eq!(matrix.len().to_string(), wf["env"]["SHARDS"].to_string());
    assert_eq!(wf["jobs"]["merge"]["needs"], "shard");
}

/// Every `${{ <prefix>.NAME }}`-style reference to `prefix` in `text`.
fn references(text: &str, prefix: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(&format!(r"\b{}\.([A-Za-z0-9_-]+)", regex::escape(prefix))).unwrap();
    re.captures_iter(text).map(|c| c[1].to_string()).collect()
}

#[test]
fn workflows_give_the_action_only_inputs_it_declares_and_read_only_its_outputs() {
    let action_text = std::fs::read_to_string(repo().join("action.yml")).unwrap();
    let action = &yaml_docs(&repo().join("action.yml"))[0];
    assert_eq!(action["runs"]["using"], "composite");
    let inputs: BTreeSet<String> = action["inputs"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let outputs: BTreeSet<String> = action["outputs"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    // The action itself reads only inputs it declares, and each output comes from a step output
    // the check step writes.
    let read = references(&action_text, "inputs");
    assert!(read.is_subset(&inputs), "undeclared: {:?}", &read - &inputs);
    for (name, o) in action["outputs"].as_object().unwrap() {
        let value = o["value"].as_str().unwrap();
        let written = format!("echo \"{name}=");
        assert!(
            value.contains(&format!("steps.check.outputs.{name}"))
                && action_text.contains(&written),
            "output {name}"
        );
    }
    for step in action["runs"]["steps"].as_array().unwrap() {
        assert!(
            step["uses"].is_string() || step["shell"].is_string(),
            "a composite run step names its shell: {step}"
        );
    }

    let mut uses_action = 0;
    for f in yaml_files() {
        let docs = yaml_docs(&f);
        let Some(wf) = docs.iter().find(|d| is_workflow(d)) else {
            continue;
        };
        assert!(
            wf["on"].is_object() || wf["true"].is_object(),
            "{}: triggers",
            f.display()
        );
        for (job_name, job) in wf["jobs"].as_object().unwrap() {
            assert!(
                job["runs-on"].is_string(),
                "{}: {job_name} runs-on",
                f.display()
            );
            let steps = job["steps"].as_array().unwrap();
            let mut ids = BTreeSet::new();
            for step in steps {
                if let Some(id) = step["id"].as_str() {
                    assert!(
                        ids.insert(id.to_string()),
                        "{}: step id {id} twice",
                        f.display()
                    );
                }
                let Some(uses) = step["uses"].as_str() else {
                    assert!(
                        step["run"].is_string(),
                        "{}: a step runs or uses",
                        f.display()
                    );
                    continue;
                };
                assert!(
                    uses.starts_with("./") || uses.contains('@'),
                    "{}: {uses} is pinned to a ref",
                    f.display()
                );
                let is_vouch = uses.starts_with("your-org/vouch@") || uses == "./";
                if !is_vouch {
                    continue;
                }
                uses_action += 1;
                let given: BTreeSet<String> = step["with"]
                    .as_object()
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                assert!(
                    given.is_subset(&inputs),
                    "{}: inputs the action does not declare: {:?}",
                    f.display(),
                    &given - &inputs
                );
                for (name, i) in action["inputs"].as_object().unwrap() {
                    if i["required"] == true && i["default"].is_null() {
                        assert!(
                            given.contains(name),
                            "{}: required input {name}",
                            f.display()
                        );
                    }
                }
                if let Some(id) = step["id"].as_str() {
                    let text = std::fs::read_to_string(&f).unwrap();
                    let read = references(&text, &format!("steps.{id}.outputs"));
                    assert!(
                        read.is_subset(&outputs),
                        "{}: outputs the action does not set: {:?}",
                        f.display(),
                        &read - &outputs
                    );
                }
            }
        }
    }
    assert!(uses_action >= 1, "an example uses the action");
}

/// The command lines of a YAML document: workflow `run:` scripts, and container `command` and
/// `args` (a list that starts with a subcommand reads as `vouch SUBCOMMAND ARGS…`; a shell
/// script's lines as they are).
fn commands_of(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("run", Value::String(s)) => out.push(s.clone()),
                    ("args" | "command", Value::Array(items))
                        if items.iter().all(Value::is_string) =>
                    {
                        let words: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                        if words.first().is_some_and(|w| {
                            !w.starts_with('-')
                                && !w.contains('/')
                                && !w.contains(char::is_whitespace)
                        }) {
                            out.push(format!("vouch {}", words.join(" ")));
                        }
                        out.extend(words.iter().map(|w| w.to_string()));
                    }
                    _ => commands_of(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| commands_of(i, out)),
        _ => {}
    }
}

/// Every `vouch SUBCOMMAND --flag…` in the examples (workflow `run:` scripts, container args and
/// shell scripts, systemd `ExecStart`), as (file, subcommand, flags).
fn vouch_invocations() -> Vec<(String, String, Vec<String>)> {
    let mut found = Vec::new();
    let mut texts: Vec<(String, String)> = Vec::new();
    for f in yaml_files() {
        let name = f.strip_prefix(repo()).unwrap().display().to_string();
        for doc in yaml_docs(&f) {
            let mut commands = Vec::new();
            commands_of(&doc, &mut commands);
            texts.extend(commands.into_iter().map(|s| (name.clone(), s)));
        }
    }
    for unit in ["examples/schedule/vouch.service"] {
        let text = std::fs::read_to_string(repo().join(unit)).unwrap();
        for l in text.lines().filter(|l| l.starts_with("ExecStart=")) {
            // `/usr/local/bin/vouch check …` reads as `vouch check …`.
            let command = l.trim_start_matches("ExecStart=");
            let command = command
                .rsplit_once("/vouch ")
                .map_or(command, |(_, rest)| rest);
            texts.push((unit.to_string(), format!("vouch {command}")));
        }
    }
    // `vouch` as a command: first word of a line, or after `;`, `&&`, `||`, `$(`.
    let re =
        regex::Regex::new(r"(?:^\s*|[;|&]\s*|\$\(\s*)vouch\s+([a-z]+)((?:\s+[^\s;|&]+)*)").unwrap();
    for (name, text) in texts {
        let joined = text.replace("\\\n", " ");
        for line in joined.lines() {
            for c in re.captures_iter(line) {
                let sub = c[1].to_string();
                let flags: Vec<String> = c[2]
                    .split_whitespace()
                    .filter(|w| w.starts_with("--"))
                    .map(|w| w.split('=').next().unwrap().to_string())
                    .collect();
                found.push((name.clone(), sub, flags));
            }
        }
    }
    found
}

#[test]
fn the_examples_name_only_subcommands_and_flags_vouch_has() {
    let calls = vouch_invocations();
    let subs: BTreeSet<&str> = calls.iter().map(|c| c.1.as_str()).collect();
    for expected in ["check", "merge", "validate"] {
        assert!(subs.contains(expected), "{subs:?}");
    }
    let files: BTreeSet<&str> = calls.iter().map(|c| c.0.as_str()).collect();
    for f in [
        "action.yml",
        "examples/schedule/vouch.service",
        "examples/schedule/kubernetes-cronjob.yaml",
        "examples/kubernetes/sharded-run.yaml",
        "examples/kubernetes/merge-job.yaml",
        "examples/ci/github-cargo-cache.yml",
    ] {
        assert!(
            files.contains(f),
            "no vouch command found in {f}: {files:?}"
        );
    }
    let mut problems = Vec::new();
    let mut help = std::collections::HashMap::new();
    for (file, sub, flags) in &calls {
        let text = help.entry(sub.clone()).or_insert_with(|| {
            let out = crate::support::vouch()
                .args([sub, "--help"])
                .output()
                .unwrap();
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        });
        let Some(text) = text else {
            problems.push(format!("{file}: vouch {sub} is not a subcommand"));
            continue;
        };
        for flag in flags {
            let known = text
                .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']')
                .any(|w| {
                    w == flag
                        || w.starts_with(&format!("{flag}="))
                        || w.starts_with(&format!("{flag}<"))
                });
            if !known {
                problems.push(format!("{file}: vouch {sub} has no {flag}"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_systemd_service_and_timer_pass_systemd_analyze_verify() {
    let analyze = require(
        which("systemd-analyze"),
        "systemd-analyze",
        "install systemd (scripts/setup.d/82-examples.sh)",
    );
    let dir = tempfile::tempdir().unwrap();
    let vouch = assert_cmd::cargo::cargo_bin("vouch");
    let service = std::fs::read_to_string(repo().join("examples/schedule/vouch.service")).unwrap();
    assert!(service.contains("ExecStart=/usr/local/bin/vouch check "));
    // The unit as installed, with the binary this test built where it would be installed.
    std::fs::write(
        dir.path().join("vouch.service"),
        service.replace("/usr/local/bin/vouch", &vouch.display().to_string()),
    )
    .unwrap();
    std::fs::copy(
        repo().join("examples/schedule/vouch.timer"),
        dir.path().join("vouch.timer"),
    )
    .unwrap();
    let verify = |files: &[&str]| {
        Command::new(&analyze)
            .arg("verify")
            .args(files.iter().map(|f| dir.path().join(f)))
            .output()
            .unwrap()
    };
    let out = verify(&["vouch.service", "vouch.timer"]);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // It bites: a calendar systemd cannot parse.
    let timer = std::fs::read_to_string(dir.path().join("vouch.timer")).unwrap();
    std::fs::write(
        dir.path().join("vouch.timer"),
        timer.replace("OnCalendar=*-*-* 06:17:00 UTC", "OnCalendar=every morning"),
    )
    .unwrap();
    assert!(!verify(&["vouch.service", "vouch.timer"]).status.success());
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}
