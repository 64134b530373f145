//! Loading control files: one file, many files or a folder of `*.toml`, or the built-in library.
//!
//! Validation never stops at the first problem: every unknown key, missing key, duplicate id,
//! unknown probe, undeclared fact, unfit operator, mistyped value, unknown target group, bad
//! duration or regex and empty `expect` is reported with its span and what would be valid.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde_spanned::Spanned;
use toml::de::{DeTable, DeValue};

use super::{Control, Origin, Require, Severity, Targets};
use crate::diag::{self, Diagnostics, FileId, TableReader};
use crate::expect::{ExpectError, Expectation, Op, Value, parse_duration};
use crate::inventory::Inventory;
use crate::probe::{Params, Registry};

/// Where control text comes from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A file, or a folder whose `*.toml` files are read in name order.
    Path(PathBuf),
    /// Text already in memory (the built-in library), with the name messages should show.
    Text { name: PathBuf, text: String },
}

const CONTROL_KEYS: [&str; 18] = [
    "id",
    "title",
    "claim",
    "severity",
    "frameworks",
    "rationale",
    "tags",
    "probe",
    "targets",
    "params",
    "where",
    "expect",
    "remediation",
    "max_age",
    "min_population",
    "allow_empty",
    "description",
    "require",
];

/// The 1-based line of the `[[control]]` header of the table whose span starts at `start`: the
/// span's own line when it is the header, otherwise the header above its first key (across blank
/// and comment lines); the span's own line for a table written inline.
fn header_line(text: &str, start: usize) -> u32 {
    let start = start.min(text.len());
    let lines: Vec<&str> = text[..start].split('\n').collect();
    let own = lines.len(); // 1-based line of `start`
    let own_line = text[..start].rsplit('\n').next().unwrap_or("").to_string()
        + text[start..].split('\n').next().unwrap_or("");
    if own_line.trim_start().starts_with("[[") {
        return own as u32;
    }
    let mut n = own - 1; // lines above, 1-based
    while n >= 1 {
        let l = lines[n - 1].trim();
        if l.is_empty() || l.starts_with('#') {
            n -= 1;
            continue;
        }
        if l.starts_with("[[") {
            return n as u32;
        }
        break;
    }
    own as u32
}

/// Loads and validates controls from `sources`. Problems go to `diags`; the controls returned are
/// only meaningful when `diags` has no errors.
pub fn load_controls(
    sources: &[Source],
    registry: &Registry,
    inventory: Option<&Inventory>,
    diags: &mut Diagnostics,
) -> Vec<Control> {
    let mut texts: Vec<(PathBuf, String)> = Vec::new();
    for source in sources {
        match source {
            Source::Text { name, text } => texts.push((name.clone(), text.clone())),
            Source::Path(path) => read_path(path, &mut texts, diags),
        }
    }
    let mut controls = Vec::new();
    let mut seen: HashMap<String, (FileId, Range<usize>)> = HashMap::new();
    // Files with `[[override]]` tables, applied once every control is loaded.
    let mut with_overrides: Vec<(FileId, PathBuf, String)> = Vec::new();
    for (path, text) in texts {
        let builtin = super::builtin::is_builtin(&path, &text);
        let file = diags.add_file(&path, text.clone());
        let Some(doc) = diag::parse_toml(diags, file, &text) else {
            continue;
        };
        let mut top = TableReader::new(file, doc.span(), doc.get_ref());
        let has_overrides = top.get("override").is_some();
        if has_overrides {
            with_overrides.push((file, path.clone(), text.clone()));
        }
        let Some((_, list)) = top.get("control") else {
            top.finish(diags, &["control", "override"]);
            if !has_overrides {
                diags.error(
                    file,
                    0..0,
                    "no-controls",
                    "this file defines no controls",
                    "add one or more [[control]] tables (or [[override]] tables that adjust loaded controls)",
                );
            }
            continue;
        };
        match list.get_ref() {
            DeValue::Array(items) => {
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::Table(t) => {
                            // Duplicate ids are found even when either control has other errors.
                            let id =
                                t.iter()
                                    .find(|(k, _)| k.get_ref() == "id")
                                    .and_then(|(_, v)| match v.get_ref() {
                                        DeValue::String(s) => Some((s.to_string(), v.span())),
                                        _ => None,
                                    });
                            let mut duplicate = false;
                            if let Some((id, span)) = id {
                                if let Some((f, first)) = seen.get(&id) {
                                    duplicate = true;
                                    diags
                                        .error(
                                            file,
                                            span,
                                            "duplicate-id",
                                            format!("control id `{id}` is defined twice"),
                                            "ids must be unique across all control files",
                                        )
                                        .also(*f, first.clone(), "first defined here");
                                } else {
                                    seen.insert(id, (file, span));
                                }
                            }
                            let ctx = ControlCtx {
                                file,
                                path: &path,
                                registry,
                                inventory,
                                builtin,
                            };
                            // A duplicate is still parsed, so its other problems are reported too.
                            if let Some(mut c) = ctx.parse(item.span(), t, diags) {
                                c.origin.line = header_line(&text, item.span().start);
                                if !duplicate {
                                    controls.push(c);
                                }
                            }
                        }
                        other => {
                            diags.error(
                                file,
                                item.span(),
                                "wrong-type",
                                "each control must be a table",
                                format!("write [[control]] tables, found {}", diag::de_kind(other)),
                            );
                        }
                    }
                }
            }
            other => {
                diags.error(
                    file,
                    list.span(),
                    "wrong-type",
                    "`control` must be an array of tables",
                    format!("write [[control]] tables, found {}", diag::de_kind(other)),
                );
            }
        }
        top.finish(diags, &["control", "override"]);
    }
    let defined = seen.into_keys().collect();
    super::overrides::apply(
        &with_overrides,
        &defined,
        &mut controls,
        registry,
        inventory,
        diags,
    );
    controls.sort_by(|a, b| a.id.cmp(&b.id));
    controls
}

fn read_path(path: &Path, texts: &mut Vec<(PathBuf, String)>, diags: &mut Diagnostics) {
    let unreadable = |diags: &mut Diagnostics, p: &Path, e: std::io::Error| {
        let file = diags.add_file(p, String::new());
        diags.error(
            file,
            0..0,
            "unreadable-file",
            format!("cannot read {}: {e}", p.display()),
            "give a control file or a folder of *.toml files",
        );
    };
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(rd) => rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
                .collect(),
            Err(e) => return unreadable(diags, path, e),
        };
        entries.sort();
        if entries.is_empty() {
            let file = diags.add_file(path, String::new());
            diags.error(
                file,
                0..0,
                "no-controls",
                format!("{} contains no *.toml control files", path.display()),
                "",
            );
        }
        for p in entries {
            match std::fs::read_to_string(&p) {
                Ok(t) => texts.push((p, t)),
                Err(e) => unreadable(diags, &p, e),
            }
        }
    } else {
        match std::fs::read_to_string(path) {
            Ok(t) => texts.push((path.to_path_buf(), t)),
            Err(e) => unreadable(diags, path, e),
        }
    }
}

/// `severity`: one of the five names.
pub(super) fn severity(
    r: &mut TableReader<'_, '_>,
    diags: &mut Diagnostics,
    required: bool,
) -> Option<Severity> {
    let file = r.file;
    r.string(
        diags,
        "severity",
        required,
        "one of critical, high, medium, low, info",
    )
    .and_then(|s| match Severity::parse(s.get_ref()) {
        Some(sev) => Some(sev),
        None => {
            diags.error(
                file,
                s.span(),
                "invalid-severity",
                format!("`{}` is not a severity", s.get_ref()),
                format!("use one of {}", Severity::NAMES.join(", ")),
            );
            None
        }
    })
}

/// `max_age`: a duration string, in seconds.
pub(super) fn max_age(r: &mut TableReader<'_, '_>, diags: &mut Diagnostics) -> Option<u64> {
    let file = r.file;
    r.string(diags, "max_age", false, "a duration such as \"92d\"")
        .and_then(|s| match parse_duration(s.get_ref()) {
            Ok(d) => Some(d),
            Err(e) => {
                diags.error(file, s.span(), "invalid-duration", "invalid `max_age`", e);
                None
            }
        })
}

/// `min_population`: a whole number >= 0.
pub(super) fn min_population(r: &mut TableReader<'_, '_>, diags: &mut Diagnostics) -> Option<u64> {
    let file = r.file;
    match r.get("min_population") {
        Some((_, v)) => match v.get_ref() {
            DeValue::Integer(i)
                if i64::from_str_radix(i.as_str(), i.radix()).is_ok_and(|n| n >= 0) =>
            {
                u64::from_str_radix(i.as_str(), i.radix()).ok()
            }
            other => {
                diags.error(
                    file,
                    v.span(),
                    "wrong-type",
                    "`min_population` must be a whole number",
                    format!("expected an integer >= 0, found {}", diag::de_kind(other)),
                );
                None
            }
        },
        None => None,
    }
}

/// `require`: "all" or "any".
pub(super) fn require(r: &mut TableReader<'_, '_>, diags: &mut Diagnostics) -> Option<Require> {
    let file = r.file;
    r.string(diags, "require", false, "\"all\" or \"any\"")
        .and_then(|s| match s.get_ref().as_str() {
            "all" => Some(Require::All),
            "any" => Some(Require::Any),
            other => {
                diags.error(
                    file,
                    s.span(),
                    "invalid-require",
                    format!("`{other}` is not a value of `require`"),
                    "use \"all\" (every target must pass; the default) or \"any\" (one passing target is enough)",
                );
                None
            }
        })
}

pub(super) struct ControlCtx<'a> {
    pub(super) file: FileId,
    pub(super) path: &'a Path,
    pub(super) registry: &'a Registry,
    pub(super) inventory: Option<&'a Inventory>,
    /// The embedded library: its groups are not checked against the inventory (a given estate
    /// may lack some; those controls are `n/a` with the reason at run time).
    pub(super) builtin: bool,
}

impl ControlCtx<'_> {
    fn parse(
        &self,
        span: Range<usize>,
        t: &DeTable<'_>,
        diags: &mut Diagnostics,
    ) -> Option<Control> {
        let file = self.file;
        let before = diags.error_count();
        let mut r = TableReader::new(file, span.clone(), t);

        let id = r.string(
            diags,
            "id",
            true,
            "a stable id such as \"ENC-TRANSIT-TLS12\"",
        );
        if let Some(id) = &id {
            let ok = !id.get_ref().is_empty()
                && id
                    .get_ref()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !ok {
                diags.error(
                    file,
                    id.span(),
                    "invalid-id",
                    format!("`{}` is not a valid control id", id.get_ref()),
                    "use letters, digits, `-`, `_` and `.` only",
                );
            }
        }
        let title = r.string(diags, "title", true, "a short title");
        let claim = r.string(diags, "claim", false, "the sentence this control backs");
        let description = r.string(diags, "description", false, "a longer explanation");
        let severity = severity(&mut r, diags, true);
        let frameworks = self.frameworks(&mut r, diags);
        let rationale = self.rationale(&mut r, diags, &frameworks);
        let tags = r
            .strings(diags, "tags")
            .map(|v| v.into_iter().map(Spanned::into_inner).collect())
            .unwrap_or_default();
        let remediation = r
            .string(diags, "remediation", false, "what to change when it fails")
            .map(Spanned::into_inner)
            .unwrap_or_default();
        let max_age = max_age(&mut r, diags);
        let min_population = min_population(&mut r, diags);
        let require = require(&mut r, diags).unwrap_or_default();

        let allow_empty = match r.get("allow_empty") {
            Some((_, v)) => match v.get_ref() {
                DeValue::Boolean(b) => *b,
                other => {
                    diags.error(
                        file,
                        v.span(),
                        "wrong-type",
                        "`allow_empty` must be true or false",
                        format!(
                            "write `allow_empty = true` when examining nothing is acceptable, found {}",
                            diag::de_kind(other)
                        ),
                    );
                    false
                }
            },
            None => false,
        };

        // The probe decides which facts, params and targets are valid.
        let probe_name = r.string(diags, "probe", true, "a probe kind");
        let probe = probe_name
            .as_ref()
            .and_then(|p| match self.registry.get(p.get_ref()) {
                Some(probe) => Some(probe),
                None => {
                    let kinds = self.registry.kinds();
                    let mut hint = diag::suggest(p.get_ref(), &kinds)
                        .map(|s| format!("did you mean `{s}`? "))
                        .unwrap_or_default();
                    if let Some(name) = p.get_ref().strip_prefix(crate::probe::plugin::PREFIX) {
                        hint = format!(
                            "declare the plugin in vouch.toml (`[plugins] {name} = \"path/to/executable\"`) or pass `--plugin {name}=PATH`; "
                        );
                    }
                    diags.error(
                        file,
                        p.span(),
                        "unknown-probe",
                        format!("unknown probe `{}`", p.get_ref()),
                        format!("{hint}known probes: {}", kinds.join(", ")),
                    );
                    None
                }
            });

        let (targets, target_spans) = self.targets(&mut r, diags, probe.as_deref());
        let params = self.params(&mut r, diags, probe.as_deref());
        let scope = self.expectations(&mut r, diags, "where", probe.as_deref(), false);
        let expect = self.expectations(&mut r, diags, "expect", probe.as_deref(), true);
        r.finish(diags, &CONTROL_KEYS);

        if diags.error_count() > before {
            return None;
        }
        let mut claim = claim.map(Spanned::into_inner).unwrap_or_default();
        if claim.is_empty() {
            claim = description.map(Spanned::into_inner).unwrap_or_default();
        }
        Some(Control {
            id: id?.into_inner(),
            title: title?.into_inner(),
            claim,
            severity: severity?,
            frameworks,
            rationale,
            tags,
            probe: probe_name?.into_inner(),
            targets: targets?,
            params,
            scope,
            expect,
            remediation,
            max_age,
            min_population,
            allow_empty,
            require,
            skip: None,
            origin: Origin {
                path: self.path.to_path_buf(),
                line: 0,
                span,
                target_spans,
                file,
                targets_file: None,
                builtin: self.builtin,
            },
        })
    }

    fn frameworks(
        &self,
        r: &mut TableReader<'_, '_>,
        diags: &mut Diagnostics,
    ) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        let Some((_, v)) = r.get("frameworks") else {
            return out;
        };
        match v.get_ref() {
            DeValue::Table(t) => {
                for (k, v) in t.iter() {
                    if let Some(list) = diag::string_list(diags, self.file, k.get_ref(), v) {
                        out.insert(
                            k.get_ref().to_string(),
                            list.into_iter().map(Spanned::into_inner).collect(),
                        );
                    }
                }
            }
            other => {
                diags.error(
                    self.file,
                    v.span(),
                    "wrong-type",
                    "`frameworks` must be a table",
                    format!(
                        "e.g. frameworks = {{ soc2 = [\"CC6.7\"] }}, found {}",
                        diag::de_kind(other)
                    ),
                );
            }
        }
        out
    }

    fn rationale(
        &self,
        r: &mut TableReader<'_, '_>,
        diags: &mut Diagnostics,
        frameworks: &BTreeMap<String, Vec<String>>,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some((_, v)) = r.get("rationale") else {
            return out;
        };
        let DeValue::Table(t) = v.get_ref() else {
            diags.error(
                self.file,
                v.span(),
                "wrong-type",
                "`rationale` must be a table",
                "criterion = \"why this control evidences it\"",
            );
            return out;
        };
        let criteria: Vec<&str> = frameworks.values().flatten().map(String::as_str).collect();
        for (k, v) in t.iter() {
            if !criteria.contains(&k.get_ref().as_ref()) {
                diags.error(
                    self.file,
                    k.span(),
                    "unknown-criterion",
                    format!("`{}` is not one of this control's criteria", k.get_ref()),
                    format!("criteria in `frameworks`: {}", criteria.join(", ")),
                );
            }
            match v.get_ref() {
                DeValue::String(s) => {
                    out.insert(k.get_ref().to_string(), s.to_string());
                }
                other => {
                    diags.error(
                        self.file,
                        v.span(),
                        "wrong-type",
                        "a rationale is a string",
                        format!("expected a string, found {}", diag::de_kind(other)),
                    );
                }
            }
        }
        out
    }

    pub(super) fn targets(
        &self,
        r: &mut TableReader<'_, '_>,
        diags: &mut Diagnostics,
        probe: Option<&dyn crate::probe::Probe>,
    ) -> (Option<Targets>, Vec<Range<usize>>) {
        let Some((_, v)) = r.get("targets") else {
            r.missing(
                diags,
                "targets",
                "an inventory group name, or a list of targets",
            );
            return (None, Vec::new());
        };
        match v.get_ref() {
            DeValue::String(group) => {
                if let Some(inv) = self.inventory.filter(|_| !self.builtin) {
                    if !inv.targets.contains_key(group.as_ref()) {
                        let groups: Vec<&str> = inv.targets.keys().map(String::as_str).collect();
                        let hint = diag::suggest(group, &groups)
                            .map(|s| format!("did you mean `{s}`? "))
                            .unwrap_or_default();
                        diags.error(
                            self.file,
                            v.span(),
                            "unknown-target-group",
                            format!("the inventory has no target group `{group}`"),
                            format!(
                                "{hint}groups in {}: {}; or give a list of targets",
                                inv.path
                                    .as_ref()
                                    .map_or("the inventory".into(), |p| p.display().to_string()),
                                if groups.is_empty() {
                                    "none".into()
                                } else {
                                    groups.join(", ")
                                }
                            ),
                        );
                    }
                }
                (Some(Targets::Group(group.to_string())), Vec::new())
            }
            DeValue::Array(_) => {
                let Some(list) = diag::string_list(diags, self.file, "targets", v) else {
                    return (None, Vec::new());
                };
                if list.is_empty() {
                    diags.error(
                        self.file,
                        v.span(),
                        "empty-targets",
                        "`targets` is empty",
                        "list at least one target, or name an inventory group",
                    );
                }
                if let Some(p) = probe {
                    for t in &list {
                        if let Err(e) = p.check_target(t.get_ref()) {
                            diags.error(
                                self.file,
                                t.span(),
                                "invalid-target",
                                format!("`{}` is not a valid {} target", t.get_ref(), p.kind()),
                                format!("{e}; expected {}", p.target_syntax()),
                            );
                        }
                    }
                }
                let spans = list.iter().map(Spanned::span).collect();
                (
                    Some(Targets::List(
                        list.into_iter().map(Spanned::into_inner).collect(),
                    )),
                    spans,
                )
            }
            other => {
                diags.error(
                    self.file,
                    v.span(),
                    "wrong-type",
                    "`targets` must be a group name or a list",
                    format!(
                        "expected a string or a list of strings, found {}",
                        diag::de_kind(other)
                    ),
                );
                (None, Vec::new())
            }
        }
    }

    pub(super) fn params(
        &self,
        r: &mut TableReader<'_, '_>,
        diags: &mut Diagnostics,
        probe: Option<&dyn crate::probe::Probe>,
    ) -> Params {
        let mut out = Params::new();
        let Some((_, v)) = r.get("params") else {
            return out;
        };
        let DeValue::Table(t) = v.get_ref() else {
            diags.error(
                self.file,
                v.span(),
                "wrong-type",
                "`params` must be a table",
                format!("found {}", diag::de_kind(v.get_ref())),
            );
            return out;
        };
        let Some(probe) = probe else { return out };
        let specs = probe.params();
        for (k, v) in t.iter() {
            let Some(spec) = specs.iter().find(|s| s.path == k.get_ref().as_ref()) else {
                let names: Vec<&str> = specs.iter().map(|s| s.path).collect();
                diags.error(
                    self.file,
                    k.span(),
                    "unknown-param",
                    format!(
                        "probe `{}` takes no parameter `{}`",
                        probe.kind(),
                        k.get_ref()
                    ),
                    if names.is_empty() {
                        "this probe takes no parameters".to_string()
                    } else {
                        format!("valid parameters: {}", names.join(", "))
                    },
                );
                continue;
            };
            match Value::from_toml(spec.ty, &diag::to_toml(v.get_ref())) {
                Ok(val) => {
                    out.insert(k.get_ref().to_string(), val.to_json());
                }
                Err(e) => {
                    diags.error(
                        self.file,
                        v.span(),
                        "wrong-type",
                        format!("invalid parameter `{}`", k.get_ref()),
                        e,
                    );
                }
            }
        }
        out
    }

    fn expectations(
        &self,
        r: &mut TableReader<'_, '_>,
        diags: &mut Diagnostics,
        key: &str,
        probe: Option<&dyn crate::probe::Probe>,
        required: bool,
    ) -> Vec<Expectation> {
        let mut out = Vec::new();
        let Some((k, v)) = r.get(key) else {
            if required {
                r.missing(diags, key, "a list of { fact, op, value } checks");
            }
            return out;
        };
        let DeValue::Array(items) = v.get_ref() else {
            diags.error(
                self.file,
                v.span(),
                "wrong-type",
                format!("`{key}` must be a list of checks"),
                "e.g. [ { fact = \"protocols.lowest\", op = \">=\", value = \"TLSv1.2\" } ]",
            );
            return out;
        };
        if items.is_empty() && required {
            diags.error(
                self.file,
                k.span().start..v.span().end,
                "empty-expect",
                "`expect` is empty: this control would check nothing",
                "add at least one { fact, op, value } check",
            );
        }
        for item in items.iter() {
            let DeValue::Table(t) = item.get_ref() else {
                diags.error(
                    self.file,
                    item.span(),
                    "wrong-type",
                    "each check must be a table",
                    "{ fact = \"…\", op = \"…\", value = … }",
                );
                continue;
            };
            if let Some(e) = self.expectation(item.span(), t, diags, probe) {
                out.push(e);
            }
        }
        out
    }

    fn expectation(
        &self,
        span: Range<usize>,
        t: &DeTable<'_>,
        diags: &mut Diagnostics,
        probe: Option<&dyn crate::probe::Probe>,
    ) -> Option<Expectation> {
        let file = self.file;
        let mut r = TableReader::new(file, span.clone(), t);
        let fact = r.string(diags, "fact", true, "a fact path the probe declares");
        let op = r.string(diags, "op", true, "an operator");
        let value = r.get("value").map(|(_, v)| v);
        let alternatives = r.get("or").map(|(_, v)| v);
        r.finish(diags, &["fact", "op", "value", "or"]);
        let mut or = Vec::new();
        if let Some(v) = alternatives {
            match v.get_ref() {
                DeValue::Array(items) if !items.is_empty() => {
                    for item in items.iter() {
                        match item.get_ref() {
                            DeValue::Table(t) => {
                                if let Some(e) = self.expectation(item.span(), t, diags, probe) {
                                    or.push(e);
                                }
                            }
                            _ => {
                                diags.error(
                                    file,
                                    item.span(),
                                    "wrong-type",
                                    "each alternative must be a check",
                                    "{ fact = \"…\", op = \"…\", value = … }",
                                );
                            }
                        }
                    }
                }
                _ => {
                    diags.error(
                        file,
                        v.span(),
                        "wrong-type",
                        "`or` must be a non-empty list of checks",
                        "or = [ { fact = \"…\", op = \"…\", value = … } ]",
                    );
                }
            }
        }
        let fact = fact?;
        let op_s = op?;
        let op = match Op::parse(op_s.get_ref()) {
            Some(op) => op,
            None => {
                diags.error(
                    file,
                    op_s.span(),
                    "unknown-operator",
                    format!("unknown operator `{}`", op_s.get_ref()),
                    format!(
                        "valid operators: {}",
                        Op::ALL.map(|o| format!("`{o}`")).join(", ")
                    ),
                );
                return None;
            }
        };
        let probe = probe?;
        let Some(spec) = probe.fact_spec(fact.get_ref()) else {
            let names: Vec<&str> = probe.facts().iter().map(|f| f.path).collect();
            let hint = diag::suggest(fact.get_ref(), &names)
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            diags.error(
                file,
                fact.span(),
                "unknown-fact",
                format!(
                    "probe `{}` declares no fact `{}`",
                    probe.kind(),
                    fact.get_ref()
                ),
                format!("{hint}see `vouch probe --facts {}`", probe.kind()),
            );
            return None;
        };
        let toml_value = value.map(|v| diag::to_toml(v.get_ref()));
        match Expectation::new(fact.get_ref(), spec.ty, op, toml_value.as_ref()) {
            Ok(mut e) => {
                e.or = or;
                Some(e)
            }
            Err(ExpectError::Operator(msg)) => {
                diags.error(
                    file,
                    op_s.span(),
                    "invalid-operator",
                    "operator does not fit the fact's type",
                    msg,
                );
                None
            }
            Err(ExpectError::Value(msg)) => {
                let at = value.map_or(span, |v| v.span());
                let code = if msg.contains("regular expression") {
                    "invalid-regex"
                } else if msg.contains("not a duration") {
                    "invalid-duration"
                } else {
                    "wrong-value"
                };
                diags.error(
                    file,
                    at,
                    code,
                    format!("invalid value for `{}`", fact.get_ref()),
                    msg,
                );
                None
            }
        }
    }
}
