//! Whether a database refuses connections without TLS, read from its parameter group (DB
//! parameter group for an instance, DB cluster parameter group for a cluster), per engine
//! family as RDS documents it:
//!
//! - PostgreSQL, Aurora PostgreSQL and SQL Server: `rds.force_ssl` (`1` requires TLS);
//!   PostgreSQL's lowest version is `ssl_min_protocol_version`.
//! - MySQL, MariaDB and Aurora MySQL: `require_secure_transport` (`ON`/`1` requires TLS); the
//!   versions allowed are `tls_version` (`TLSv1.2,TLSv1.3`).
//! - Any other engine (Oracle, Db2, Neptune, DocumentDB, …) has no such parameter here: the
//!   facts are unobserved with the reason, never `false`.
//!
//! A parameter the group lists without a value is at the engine's default, which for
//! `rds.force_ssl` and `require_secure_transport` is off (PostgreSQL 15's default groups set
//! `rds.force_ssl = 1` explicitly); a minimum version left at the default is unobserved (it
//! differs between engine versions). Each group is read once per run (every page), however
//! many databases use it, and its calls are filed into each observation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_rds::Client;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use super::super::common::walk_pages;
use super::super::{ApiCalls, Session, unobserved};
use crate::expect::Protocol;
use crate::probe::{Observation, ProbeError, ProbeErrorKind};

const SERVICE: &str = "rds";

pub(super) const REQUIRED: &str = "tls.required";
pub(super) const MINIMUM: &str = "tls.minimum_protocol";

/// The parameters read (every other one is dropped after paging).
const WANTED: [&str; 4] = [
    "rds.force_ssl",
    "require_secure_transport",
    "tls_version",
    "ssl_min_protocol_version",
];

/// An engine family's TLS parameters: the one requiring TLS, and the one bounding its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Family {
    pub required: &'static str,
    pub minimum: Option<&'static str>,
}

/// The family of an engine as `DescribeDB*` names it.
pub(super) fn family(engine: &str) -> Option<Family> {
    let mysql = Family {
        required: "require_secure_transport",
        minimum: Some("tls_version"),
    };
    match engine {
        "postgres" | "aurora-postgresql" => Some(Family {
            required: "rds.force_ssl",
            minimum: Some("ssl_min_protocol_version"),
        }),
        "mysql" | "mariadb" | "aurora-mysql" | "aurora" => Some(mysql),
        e if e.starts_with("sqlserver-") => Some(Family {
            required: "rds.force_ssl",
            minimum: None,
        }),
        _ => None,
    }
}

/// A parameter's value as a boolean switch; `None` for anything else (a formula, a typo).
fn switch(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "on" | "true" => Some(true),
        "0" | "off" | "false" => Some(false),
        _ => None,
    }
}

/// The lowest version a `tls_version` list or `ssl_min_protocol_version` names.
pub(super) fn lowest_version(value: &str) -> Option<Protocol> {
    let mut lowest = None;
    for v in value.split(',').map(str::trim).filter(|v| !v.is_empty()) {
        let p = match v {
            "TLSv1" => Protocol::TlsV1_0,
            other => Protocol::parse(other)?,
        };
        lowest = Some(lowest.map_or(p, |l: Protocol| l.min(p)));
    }
    lowest
}

/// The wanted parameters of one group (`None`: listed without a value) and the calls.
type GroupRead = Result<(HashMap<String, Option<String>>, Vec<Value>), ProbeError>;

/// (session, region, cluster parameter group?, name).
type GroupKey = (usize, String, bool, String);

/// Parameter groups read once per (session, region, cluster?, name).
#[derive(Default)]
pub(super) struct Groups(Mutex<HashMap<GroupKey, Arc<OnceCell<GroupRead>>>>);

impl Groups {
    async fn read(
        &self,
        session: &Arc<Session>,
        region: &str,
        cluster: bool,
        name: &str,
    ) -> GroupRead {
        let cell = self
            .0
            .lock()
            .expect("parameter groups lock")
            .entry((
                Arc::as_ptr(session) as usize,
                region.to_string(),
                cluster,
                name.to_string(),
            ))
            .or_default()
            .clone();
        cell.get_or_init(|| async {
            let rds: Client = session.client(Some(region));
            let rds = &rds;
            let calls = ApiCalls::default();
            let mut params = HashMap::new();
            let mut keep = |name: Option<&str>, value: Option<&str>| {
                if let Some(n) = name.filter(|n| WANTED.contains(n)) {
                    params.insert(n.to_string(), value.map(str::to_string));
                }
            };
            if cluster {
                walk_pages(
                    "rds:DescribeDBClusterParameters",
                    |marker| {
                        session.call(
                            &calls,
                            SERVICE,
                            "DescribeDBClusterParameters",
                            region,
                            move |c| {
                                rds.describe_db_cluster_parameters()
                                    .db_cluster_parameter_group_name(name)
                                    .max_records(100)
                                    .set_marker(marker.clone())
                                    .customize()
                                    .interceptor(c)
                                    .send()
                            },
                        )
                    },
                    |page| {
                        for p in page.parameters() {
                            keep(p.parameter_name(), p.parameter_value());
                        }
                        page.marker
                    },
                )
                .await?;
            } else {
                walk_pages(
                    "rds:DescribeDBParameters",
                    |marker| {
                        session.call(&calls, SERVICE, "DescribeDBParameters", region, move |c| {
                            rds.describe_db_parameters()
                                .db_parameter_group_name(name)
                                .max_records(100)
                                .set_marker(marker.clone())
                                .customize()
                                .interceptor(c)
                                .send()
                        })
                    },
                    |page| {
                        for p in page.parameters() {
                            keep(p.parameter_name(), p.parameter_value());
                        }
                        page.marker
                    },
                )
                .await?;
            }
            Ok((params, calls.records()))
        })
        .await
        .clone()
    }
}

/// Records `tls.required` and `tls.minimum_protocol` of a database of `engine` whose
/// parameter group is `group` (a cluster parameter group when `cluster`).
#[allow(clippy::too_many_arguments)]
pub(super) async fn record(
    obs: &mut Observation,
    groups: &Groups,
    session: &Arc<Session>,
    calls: &ApiCalls,
    region: &str,
    engine: Option<&str>,
    group: Option<&str>,
    cluster: bool,
) {
    let facts = [REQUIRED, MINIMUM];
    let Some(fam) = engine.and_then(family) else {
        let e = ProbeError::new(
            ProbeErrorKind::Other,
            format!(
                "engine `{}` has no parameter vouch knows that requires TLS",
                engine.unwrap_or("?")
            ),
        )
        .with_hint("rds.force_ssl (PostgreSQL, SQL Server) and require_secure_transport (MySQL, MariaDB) are read");
        unobserved(obs, &facts, &e);
        return;
    };
    let Some(group) = group.filter(|g| !g.is_empty()) else {
        let e = ProbeError::new(
            ProbeErrorKind::Protocol,
            "the database names no parameter group",
        );
        unobserved(obs, &facts, &e);
        return;
    };
    obs.evidence(
        "tls_parameters",
        json!({"parameter_group": group, "cluster_parameter_group": cluster,
               "required_by": fam.required, "minimum_by": fam.minimum}),
    );
    let params = match groups.read(session, region, cluster, group).await {
        Ok((params, records)) => {
            calls.extend(records);
            params
        }
        Err(e) => {
            unobserved(obs, &facts, &e);
            return;
        }
    };
    let kind = if cluster {
        "DB cluster parameter group"
    } else {
        "DB parameter group"
    };
    match params.get(fam.required) {
        None => {
            obs.unobserved(
                REQUIRED,
                format!("{kind} `{group}` does not list `{}`", fam.required),
            );
        }
        // Listed without a value: the engine's default, off.
        Some(None) => {
            obs.fact(REQUIRED, false);
        }
        Some(Some(v)) => match switch(v) {
            Some(b) => {
                obs.fact(REQUIRED, b);
            }
            None => {
                obs.unobserved(
                    REQUIRED,
                    format!(
                        "`{}` = `{v}` in {kind} `{group}` is not 0/1/ON/OFF",
                        fam.required
                    ),
                );
            }
        },
    }
    match fam.minimum {
        None => {
            obs.unobserved(
                MINIMUM,
                format!(
                    "engine `{}` has no minimum-TLS-version parameter",
                    engine.unwrap_or("?")
                ),
            );
        }
        Some(p) => match params.get(p).and_then(|v| v.as_deref()) {
            Some(v) => match lowest_version(v) {
                Some(lowest) => {
                    obs.fact(MINIMUM, lowest.as_str());
                }
                None => {
                    obs.unobserved(MINIMUM, format!("`{p}` = `{v}` names no TLS version"));
                }
            },
            None => {
                obs.unobserved(
                    MINIMUM,
                    format!("{kind} `{group}` leaves `{p}` at the engine version's default"),
                );
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_map_to_their_tls_parameters_and_unknown_ones_to_none() {
        assert_eq!(family("postgres").unwrap().required, "rds.force_ssl");
        assert_eq!(
            family("aurora-postgresql").unwrap().required,
            "rds.force_ssl"
        );
        assert_eq!(family("sqlserver-se").unwrap().required, "rds.force_ssl");
        assert_eq!(family("sqlserver-se").unwrap().minimum, None);
        for e in ["mysql", "mariadb", "aurora-mysql"] {
            assert_eq!(
                family(e).unwrap().required,
                "require_secure_transport",
                "{e}"
            );
            assert_eq!(family(e).unwrap().minimum, Some("tls_version"), "{e}");
        }
        for e in [
            "oracle-ee",
            "db2-se",
            "neptune",
            "docdb",
            "custom-oracle-ee",
        ] {
            assert_eq!(family(e), None, "{e}");
        }
    }

    #[test]
    fn switches_and_version_lists_are_read_strictly() {
        assert_eq!(switch("1"), Some(true));
        assert_eq!(switch("ON"), Some(true));
        assert_eq!(switch("0"), Some(false));
        assert_eq!(switch("OFF"), Some(false));
        assert_eq!(switch("{DBInstanceClassMemory}"), None);
        assert_eq!(lowest_version("TLSv1.2,TLSv1.3"), Some(Protocol::TlsV1_2));
        assert_eq!(
            lowest_version("TLSv1, TLSv1.1,TLSv1.2"),
            Some(Protocol::TlsV1_0)
        );
        assert_eq!(lowest_version("TLSv1.3"), Some(Protocol::TlsV1_3));
        assert_eq!(lowest_version("SSLv2"), None);
        assert_eq!(lowest_version(""), None);
    }
}
