//! `[[override]]` tables: tailor a loaded control (the built-in library's or any other file's)
//! without copying it.
//!
//! ```toml
//! [[override]]
//! control = "ENC-TRANSIT-TLS12"
//! severity = "critical"
//! targets = ["app.example.com:443"]
//!
//! [[override]]
//! control = "PERS-BACKGROUND-CHECKS"
//! skip = true
//! reason = "no employees in scope: contractors are screened by the agency"
//! owner = "security@example.com"
//! ```
//!
//! An override may set `severity`, `max_age`, `targets`, `params` (merged key by key),
//! `min_population`, `require`, or `skip = true` with a mandatory `reason` (and an optional
//! `owner`). Each field is validated exactly as in a `[[control]]` (against the control's probe and
//! the inventory), and every problem is a spanned diagnostic: an unknown control id, a wrong
//! type, a skip without a reason, one field of one control overridden twice. A skipped control is
//! reported `n/a` with its reason, owner and the override's place, never dropped.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::path::PathBuf;

use toml::de::DeValue;

use super::load::{ControlCtx, max_age, min_population, require, severity};
use super::{Control, Skip};
use crate::diag::{self, Diagnostics, FileId, TableReader};
use crate::inventory::Inventory;
use crate::probe::Registry;

/// Every key an `[[override]]` table may have.
pub const KEYS: [&str; 10] = [
    "control",
    "severity",
    "max_age",
    "targets",
    "params",
    "min_population",
    "require",
    "skip",
    "reason",
    "owner",
];

/// The fields that adjust a control (all but `control`, `reason` and `owner`).
const FIELDS: [&str; 7] = [
    "severity",
    "max_age",
    "targets",
    "params",
    "min_population",
    "require",
    "skip",
];

/// Applies the `[[override]]` tables of `files` (`(file id, path, text)`, in load order) to
/// `controls`. `defined` holds every control id that was defined, valid or not, so an override
/// of a control with its own errors is not also reported as unknown.
pub(super) fn apply(
    files: &[(FileId, PathBuf, String)],
    defined: &BTreeSet<String>,
    controls: &mut [Control],
    registry: &Registry,
    inventory: Option<&Inventory>,
    diags: &mut Diagnostics,
) {
    // (control id, field) → where it was first overridden.
    let mut set: HashMap<(String, String), (FileId, Range<usize>)> = HashMap::new();
    for (file, path, text) in files {
        let file = *file;
        let (doc, errors) = toml::de::DeTable::parse_recoverable(text);
        if !errors.is_empty() {
            // Reported when the file was first read.
            continue;
        }
        let doc = doc.into_inner();
        let Some((_, list)) = doc.iter().find(|(k, _)| k.get_ref() == "override") else {
            continue;
        };
        let items = match list.get_ref() {
            DeValue::Array(items) => items,
            other => {
                diags.error(
                    file,
                    list.span(),
                    "wrong-type",
                    "`override` must be an array of tables",
                    format!("write [[override]] tables, found {}", diag::de_kind(other)),
                );
                continue;
            }
        };
        for item in items.iter() {
            let DeValue::Table(t) = item.get_ref() else {
                diags.error(
                    file,
                    item.span(),
                    "wrong-type",
                    "each override must be a table",
                    format!(
                        "write [[override]] tables, found {}",
                        diag::de_kind(item.get_ref())
                    ),
                );
                continue;
            };
            let before = diags.error_count();
            let mut r = TableReader::new(file, item.span(), t);
            let id = r.string(
                diags,
                "control",
                true,
                "the id of the control to adjust, e.g. \"ENC-TRANSIT-TLS12\"",
            );
            let index = id.as_ref().and_then(|id| {
                let found = controls.iter().position(|c| &c.id == id.get_ref());
                if found.is_none() && !defined.contains(id.get_ref()) {
                    let ids: Vec<&str> = controls.iter().map(|c| c.id.as_str()).collect();
                    let hint = diag::suggest(id.get_ref(), &ids)
                        .map(|s| format!("did you mean `{s}`? "))
                        .unwrap_or_default();
                    diags.error(
                        file,
                        id.span(),
                        "unknown-control",
                        format!("no loaded control has the id `{}`", id.get_ref()),
                        format!(
                            "{hint}an override adjusts a control loaded by --controls (the \
                             built-in library by default); `vouch list` shows the ids"
                        ),
                    );
                }
                found
            });
            // One field of one control is set by one override only.
            if let Some(id) = &id {
                for (k, v) in t.iter() {
                    let name: &str = k.get_ref();
                    let mut fields: Vec<(String, Range<usize>)> = Vec::new();
                    if name == "params" {
                        if let DeValue::Table(p) = v.get_ref() {
                            for (pk, _) in p.iter() {
                                fields.push((format!("params.{}", pk.get_ref()), pk.span()));
                            }
                        }
                    } else if FIELDS.contains(&name) {
                        fields.push((name.to_string(), k.span()));
                    }
                    for (field, span) in fields {
                        let key = (id.get_ref().clone(), field.clone());
                        if let Some((f, first)) = set.get(&key) {
                            diags
                                .error(
                                    file,
                                    span,
                                    "duplicate-override",
                                    format!("`{field}` of {} is overridden twice", id.get_ref()),
                                    "keep one override of each field of a control",
                                )
                                .also(*f, first.clone(), "first overridden here");
                        } else {
                            set.insert(key, (file, span));
                        }
                    }
                }
            }
            let probe = index.and_then(|i| registry.get(&controls[i].probe));
            let ctx = ControlCtx {
                file,
                path,
                registry,
                inventory,
                builtin: false,
            };
            let sev = severity(&mut r, diags, false);
            let age = max_age(&mut r, diags);
            let min = min_population(&mut r, diags);
            let req = require(&mut r, diags);
            let (targets, target_spans) = if r.get("targets").is_some() {
                ctx.targets(&mut r, diags, probe.as_deref())
            } else {
                (None, Vec::new())
            };
            let params = r
                .get("params")
                .is_some()
                .then(|| ctx.params(&mut r, diags, probe.as_deref()));
            let skip = match r.get("skip") {
                Some((_, v)) => match v.get_ref() {
                    DeValue::Boolean(b) => Some((*b, v.span())),
                    other => {
                        diags.error(
                            file,
                            v.span(),
                            "wrong-type",
                            "`skip` must be true or false",
                            format!(
                                "write `skip = true` with a `reason`, found {}",
                                diag::de_kind(other)
                            ),
                        );
                        None
                    }
                },
                None => None,
            };
            let reason = r.string(diags, "reason", false, "why the control does not apply");
            let owner = r.string(diags, "owner", false, "who decided, e.g. an e-mail address");
            let skipping = skip.as_ref().is_some_and(|(b, _)| *b);
            match (&skip, &reason) {
                (Some((true, span)), None) => {
                    diags.error(
                        file,
                        span.clone(),
                        "skip-without-reason",
                        "a skipped control needs a `reason`",
                        "add `reason = \"…\"` (shown beside the control's n/a in every report)",
                    );
                }
                (Some((true, _)), Some(reason)) if reason.get_ref().trim().is_empty() => {
                    diags.error(
                        file,
                        reason.span(),
                        "skip-without-reason",
                        "the `reason` of a skip is empty",
                        "say why the control does not apply",
                    );
                }
                (_, Some(reason)) if !skipping => {
                    diags.error(
                        file,
                        reason.span(),
                        "reason-without-skip",
                        "`reason` goes with `skip = true`",
                        "add `skip = true`, or remove `reason`",
                    );
                }
                _ => {}
            }
            if let Some(owner) = &owner
                && !skipping
            {
                diags.error(
                    file,
                    owner.span(),
                    "owner-without-skip",
                    "`owner` goes with `skip = true`",
                    "add `skip = true` and a `reason`, or remove `owner`",
                );
            }
            let changes = sev.is_some()
                || age.is_some()
                || min.is_some()
                || req.is_some()
                || targets.is_some()
                || params.is_some()
                || skip.is_some();
            if !changes && diags.error_count() == before {
                diags.error(
                    file,
                    r.header_span(),
                    "empty-override",
                    "this override changes nothing",
                    format!(
                        "set one of {}, or remove it",
                        FIELDS.join(", ").replace("skip", "skip (with reason)")
                    ),
                );
            }
            let header = r.header_span();
            r.finish(diags, &KEYS);
            if diags.error_count() > before {
                continue;
            }
            let Some(c) = index.map(|i| &mut controls[i]) else {
                continue;
            };
            if let Some(s) = sev {
                c.severity = s;
            }
            if let Some(a) = age {
                c.max_age = Some(a);
            }
            if let Some(m) = min {
                c.min_population = Some(m);
            }
            if let Some(q) = req {
                c.require = q;
            }
            if let Some(t) = targets {
                c.targets = t;
                c.origin.target_spans = target_spans;
                c.origin.targets_file = Some(file);
                // The targets are the user's now: attestations they name are checked at load.
                c.origin.builtin = false;
            }
            if let Some(p) = params {
                c.params.extend(p);
            }
            if skipping {
                let at = diags.location(file, header.start);
                let at = at
                    .rsplit_once(':')
                    .map_or(at.clone(), |(a, _)| a.to_string());
                c.skip = Some(Skip {
                    reason: reason.map(|r| r.into_inner()).unwrap_or_default(),
                    owner: owner.map(|o| o.into_inner()),
                    source: at,
                });
            }
        }
    }
}
