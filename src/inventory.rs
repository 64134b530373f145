//! The inventory (`vouch.toml`): target groups, the `[resolve]` map, TLS trust roots, HTTP and
//! cloud settings, and where attestations and waivers live. It says *what exists*; controls say
//! what must hold of it, and flags say how this run behaves.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;
use toml::de::DeValue;

use crate::diag::{self, Diagnostics, FileId, TableReader};

/// Extra trust roots for TLS and HTTPS probes.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TlsSettings {
    /// PEM file of extra trust roots, on top of the system's.
    pub ca_file: Option<PathBuf>,
    /// Which of a name's addresses the TLS probe scans: `"4"`, `"6"` or `"any"` (the default).
    pub ip_family: IpFamily,
}

/// The address family the TLS probe scans (`[tls] ip_family`, `--ip-family`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum IpFamily {
    #[serde(rename = "4")]
    V4,
    #[serde(rename = "6")]
    V6,
    #[default]
    #[serde(rename = "any")]
    Any,
}

impl IpFamily {
    /// Parses `4`, `6` or `any` (also `ipv4`, `ipv6`), or says what would be valid.
    pub fn parse(s: &str) -> Result<IpFamily, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "4" | "ipv4" | "v4" => Ok(IpFamily::V4),
            "6" | "ipv6" | "v6" => Ok(IpFamily::V6),
            "any" | "both" => Ok(IpFamily::Any),
            other => Err(format!(
                "`{other}` is not an IP family; write \"4\", \"6\" or \"any\""
            )),
        }
    }

    /// Whether an address of this family is scanned.
    pub fn admits(self, ip: std::net::IpAddr) -> bool {
        match self {
            IpFamily::Any => true,
            IpFamily::V4 => ip.is_ipv4(),
            IpFamily::V6 => ip.is_ipv6(),
        }
    }
}

/// Settings of the HTTP probe.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HttpSettings {
    /// Chromium's `transport_security_state_static.json`, for offline preload status.
    pub preload_list: Option<PathBuf>,
}

/// Settings of the AWS probes.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    /// An emulator or VPC endpoint; `AWS_ENDPOINT_URL` works too.
    pub endpoint_url: Option<String>,
    /// The regions a `*` target of a regional service (KMS, logs, RDS, DynamoDB, Backup,
    /// GuardDuty) covers: names, or [`ENABLED_REGIONS`] alone for every region enabled in the
    /// account. `None`: the home region (GuardDuty: every enabled region).
    pub regions: Option<Vec<String>>,
    /// `[aws] account_id`: the account (or accounts) the credentials must belong to; any other
    /// makes every AWS result `error`. Empty: not pinned.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub account_ids: Vec<String>,
}

/// Settings of the `github` probe.
#[derive(Clone, Debug, Default, Serialize)]
pub struct GithubSettings {
    /// The REST API root: `https://api.github.com` when unset; GitHub Enterprise Server's is
    /// `https://HOST/api/v3`.
    pub api_url: Option<String>,
    /// The environment variable holding the token (default `GITHUB_TOKEN`, then `GH_TOKEN`).
    /// The inventory names the variable, never the token.
    pub token_env: Option<String>,
}

/// One `[plugins]` entry: an external probe (`probe = "plugin:NAME"`, docs/plugins.md).
#[derive(Clone, Debug, Default, Serialize)]
pub struct PluginSettings {
    /// The executable (relative paths resolved against the inventory's folder).
    pub path: PathBuf,
    /// Environment variables passed through to the plugin, on top of PATH, HOME, LANG and TZ.
    pub env: Vec<String>,
    /// Free-form settings handed to the plugin in every request (`config`).
    pub config: serde_json::Map<String, serde_json::Value>,
    /// Where the entry was written, for diagnostics about the plugin (`None`: `--plugin`).
    #[serde(skip)]
    pub origin: Option<(FileId, std::ops::Range<usize>)>,
}

/// Whether `name` is a valid plugin name: lower-case letters, digits, `-` and `_`.
pub fn is_plugin_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Whether `name` is a valid environment variable name to pass to a plugin.
fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `[aws] regions = "enabled"`: every region enabled in the account (Account ListRegions).
pub const ENABLED_REGIONS: &str = "enabled";

/// Checks an `[aws] regions` / `--aws-regions` list: region names (`eu-west-1`), or
/// `"enabled"` alone. The error says what would be valid.
pub fn check_regions(regions: &[String]) -> Result<(), String> {
    if regions.is_empty() {
        return Err("an empty list scans nothing: name regions, or \"enabled\"".into());
    }
    if regions.iter().any(|r| r == ENABLED_REGIONS) {
        return if regions.len() == 1 {
            Ok(())
        } else {
            Err("\"enabled\" stands alone: it already means every enabled region".into())
        };
    }
    match regions.iter().find(|r| !is_region(r)) {
        Some(bad) => Err(format!(
            "`{bad}` is not a region name: expected e.g. \"eu-west-1\", or \"enabled\" alone"
        )),
        None => Ok(()),
    }
}

/// `eu-west-1`, `us-gov-west-1`, `ap-southeast-4`, …: lower-case letters and digits in at least
/// three dash-separated parts, the last a number.
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// The parsed inventory. Relative paths are already resolved against the file's folder.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Inventory {
    pub path: Option<PathBuf>,
    pub targets: BTreeMap<String, Vec<String>>,
    /// `name:port` → `address:port`, like curl's `--resolve`: the name is kept for SNI and checks.
    pub resolve: BTreeMap<String, SocketAddr>,
    /// The further addresses of a `[resolve]` entry written as a list (`["a:p", "b:p"]`, like
    /// curl's `--resolve name:port:a,b`): a name with several A/AAAA records. The first address
    /// is in `resolve`.
    pub resolve_more: BTreeMap<String, Vec<SocketAddr>>,
    pub tls: TlsSettings,
    pub http: HttpSettings,
    pub aws: AwsSettings,
    pub github: GithubSettings,
    /// `attestations.toml`, for the attestation probe.
    pub attestations: Option<PathBuf>,
    /// `waivers.toml`.
    pub waivers: Option<PathBuf>,
    /// `[plugins]`: external probes by name.
    pub plugins: BTreeMap<String, PluginSettings>,
    /// `[store]`: where `vouch check` files its evidence (see `crate::store`).
    pub store: crate::store::StoreSettings,
}

const TOP_KEYS: [&str; 10] = [
    "plugins",
    "store",
    "targets",
    "resolve",
    "tls",
    "http",
    "aws",
    "github",
    "attestations",
    "waivers",
];

impl Inventory {
    /// Reads and validates an inventory file, adding every problem to `diags`.
    pub fn load(path: &Path, diags: &mut Diagnostics) -> Option<Inventory> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                let file = diags.add_file(path, String::new());
                diags.error(
                    file,
                    0..0,
                    "unreadable-file",
                    format!("cannot read inventory {}: {e}", path.display()),
                    "",
                );
                return None;
            }
        };
        let file = diags.add_file(path, text.clone());
        let before = diags.error_count();
        let inv = Self::parse(path, file, &text, diags);
        (diags.error_count() == before).then_some(inv).flatten()
    }

    /// Parses inventory text already registered as `file`.
    pub fn parse(
        path: &Path,
        file: FileId,
        text: &str,
        diags: &mut Diagnostics,
    ) -> Option<Inventory> {
        let doc = diag::parse_toml(diags, file, text)?;
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut inv = Inventory {
            path: Some(path.to_path_buf()),
            ..Inventory::default()
        };
        let mut top = TableReader::new(file, doc.span(), doc.get_ref());

        if let Some((_, v)) = top.get("targets") {
            if let Some(t) = table_of(diags, file, "targets", v) {
                for (k, v) in t.iter() {
                    if let Some(list) = diag::string_list(diags, file, k.get_ref(), v) {
                        inv.targets.insert(
                            k.get_ref().to_string(),
                            list.into_iter().map(|s| s.into_inner()).collect(),
                        );
                    }
                }
            }
        }
        if let Some((_, v)) = top.get("resolve") {
            if let Some(t) = table_of(diags, file, "resolve", v) {
                for (k, v) in t.iter() {
                    let name: &str = k.get_ref();
                    if parse_host_port(name).is_none() {
                        diags.error(
                            file,
                            k.span(),
                            "invalid-resolve",
                            format!("`{name}` is not `name:port`"),
                            "write the name and port the target uses, e.g. \"app.example.com:443\"",
                        );
                    }
                    let addrs: Vec<&serde_spanned::Spanned<DeValue>> = match v.get_ref() {
                        DeValue::String(_) => vec![v],
                        DeValue::Array(a) if !a.is_empty() => a.iter().collect(),
                        other => {
                            diags.error(
                                file,
                                v.span(),
                                "wrong-type",
                                "a resolve entry maps to an address or a list of addresses",
                                format!(
                                    "expected \"address:port\" or [\"address:port\", …], found {}",
                                    diag::de_kind(other)
                                ),
                            );
                            vec![]
                        }
                    };
                    for (i, a) in addrs.into_iter().enumerate() {
                        let parsed = match a.get_ref() {
                            DeValue::String(s) => s.parse::<SocketAddr>().ok(),
                            _ => None,
                        };
                        match parsed {
                            Some(addr) if i == 0 => {
                                inv.resolve.insert(name.to_ascii_lowercase(), addr);
                            }
                            Some(addr) => {
                                inv.resolve_more
                                    .entry(name.to_ascii_lowercase())
                                    .or_default()
                                    .push(addr);
                            }
                            None => {
                                diags.error(
                                    file,
                                    a.span(),
                                    "invalid-resolve",
                                    format!(
                                        "`{}` is not an address:port",
                                        diag::to_toml(a.get_ref())
                                    ),
                                    "e.g. \"127.0.0.1:8443\" or \"[::1]:8443\"",
                                );
                            }
                        }
                    }
                }
            }
        }
        if let Some((_, v)) = top.get("tls") {
            if let Some(t) = table_of(diags, file, "tls", v) {
                let mut r = TableReader::new(file, v.span(), t);
                inv.tls.ca_file = r
                    .string(diags, "ca_file", false, "a path to a PEM file")
                    .map(|s| base.join(s.get_ref()));
                if let Some(f) = r.string(diags, "ip_family", false, "\"4\", \"6\" or \"any\"") {
                    match IpFamily::parse(f.get_ref()) {
                        Ok(family) => inv.tls.ip_family = family,
                        Err(e) => {
                            diags.error(
                                file,
                                f.span(),
                                "invalid-ip-family",
                                "`[tls] ip_family` is not an IP family",
                                e,
                            );
                        }
                    }
                }
                r.finish(diags, &["ca_file", "ip_family"]);
            }
        }
        if let Some((_, v)) = top.get("http") {
            if let Some(t) = table_of(diags, file, "http", v) {
                let mut r = TableReader::new(file, v.span(), t);
                inv.http.preload_list = r
                    .string(
                        diags,
                        "preload_list",
                        false,
                        "a path to Chromium's preload JSON",
                    )
                    .map(|s| base.join(s.get_ref()));
                r.finish(diags, &["preload_list"]);
            }
        }
        if let Some((_, v)) = top.get("aws") {
            if let Some(t) = table_of(diags, file, "aws", v) {
                let mut r = TableReader::new(file, v.span(), t);
                inv.aws.region = r
                    .string(
                        diags,
                        "region",
                        false,
                        "an AWS region such as \"eu-west-1\"",
                    )
                    .map(|s| s.into_inner());
                inv.aws.profile = r
                    .string(diags, "profile", false, "a profile name from ~/.aws/config")
                    .map(|s| s.into_inner());
                if let Some(url) = r.string(diags, "endpoint_url", false, "a URL") {
                    if !(url.get_ref().starts_with("http://")
                        || url.get_ref().starts_with("https://"))
                    {
                        diags.error(
                            file,
                            url.span(),
                            "invalid-url",
                            "`endpoint_url` must be an http:// or https:// URL",
                            "e.g. \"http://127.0.0.1:5000\"",
                        );
                    }
                    inv.aws.endpoint_url = Some(url.into_inner());
                }
                if let Some((_, v)) = r.get("account_id") {
                    let ids: Vec<(String, std::ops::Range<usize>)> = match v.get_ref() {
                        DeValue::String(s) => vec![(s.to_string(), v.span())],
                        DeValue::Array(items) if !items.is_empty() => items
                            .iter()
                            .map(|i| match i.get_ref() {
                                DeValue::String(s) => (s.to_string(), i.span()),
                                _ => (String::new(), i.span()),
                            })
                            .collect(),
                        _ => vec![(String::new(), v.span())],
                    };
                    for (id, span) in ids {
                        if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
                            inv.aws.account_ids.push(id);
                        } else {
                            diags.error(
                                file,
                                span,
                                "invalid-account-id",
                                "`account_id` must be a 12-digit AWS account id (or a list of them)",
                                "e.g. account_id = \"123456789012\" or [\"123456789012\", \"210987654321\"]",
                            );
                        }
                    }
                }
                if let Some(regions) = r.strings(diags, "regions") {
                    let names: Vec<String> = regions.iter().map(|s| s.get_ref().clone()).collect();
                    match check_regions(&names) {
                        Ok(()) => inv.aws.regions = Some(names),
                        Err(why) => {
                            // Point at the first name that is not a region, else the list.
                            let span = regions
                                .iter()
                                .find(|s| !is_region(s.get_ref()) && s.get_ref() != ENABLED_REGIONS)
                                .or(regions.get(1).filter(|_| names.len() > 1))
                                .map(|s| s.span())
                                .unwrap_or_else(|| r.header_span());
                            diags.error(
                                file,
                                span,
                                "invalid-region",
                                "`regions` must list region names, or be \"enabled\"",
                                why,
                            );
                        }
                    }
                }
                r.finish(
                    diags,
                    &["region", "profile", "endpoint_url", "regions", "account_id"],
                );
            }
        }
        if let Some((_, v)) = top.get("github") {
            if let Some(t) = table_of(diags, file, "github", v) {
                let mut r = TableReader::new(file, v.span(), t);
                if let Some(url) = r.string(diags, "api_url", false, "a URL") {
                    if !(url.get_ref().starts_with("http://")
                        || url.get_ref().starts_with("https://"))
                    {
                        diags.error(
                            file,
                            url.span(),
                            "invalid-url",
                            "`api_url` must be an http:// or https:// URL",
                            "e.g. \"https://github.example.com/api/v3\" (GitHub Enterprise Server)",
                        );
                    }
                    inv.github.api_url = Some(url.into_inner());
                }
                if let Some(name) = r.string(
                    diags,
                    "token_env",
                    false,
                    "the name of an environment variable",
                ) {
                    if !is_env_name(name.get_ref()) {
                        diags.error(
                            file,
                            name.span(),
                            "invalid-env-name",
                            "`token_env` names the environment variable that holds the token",
                            "letters, digits and _, e.g. \"GITHUB_TOKEN\"; never the token itself",
                        );
                    }
                    inv.github.token_env = Some(name.into_inner());
                }
                r.finish(diags, &["api_url", "token_env"]);
            }
        }
        if let Some((_, v)) = top.get("store") {
            if let Some(t) = table_of(diags, file, "store", v) {
                let mut r = TableReader::new(file, v.span(), t);
                if let Some(loc) = r.string(
                    diags,
                    "location",
                    false,
                    "a folder, file:///path or s3://bucket/prefix",
                ) {
                    match crate::store::Location::parse(loc.get_ref()) {
                        // A relative folder is the inventory's neighbour, like every other path.
                        Ok(crate::store::Location::Local(p)) => {
                            inv.store.location = Some(base.join(p).display().to_string());
                        }
                        Ok(_) => inv.store.location = Some(loc.into_inner()),
                        Err(e) => {
                            diags.error(
                                file,
                                loc.span(),
                                "invalid-store",
                                "`[store] location` is not a store location",
                                e,
                            );
                        }
                    }
                }
                if let Some(m) = r.string(
                    diags,
                    "retention_mode",
                    false,
                    "\"GOVERNANCE\" or \"COMPLIANCE\"",
                ) {
                    match crate::store::RetentionMode::parse(m.get_ref()) {
                        Ok(mode) => inv.store.retention_mode = Some(mode),
                        Err(e) => {
                            diags.error(
                                file,
                                m.span(),
                                "invalid-retention",
                                "`[store] retention_mode` is not an Object Lock mode",
                                e,
                            );
                        }
                    }
                }
                if let Some((_, d)) = r.get("retention_days") {
                    match d.get_ref() {
                        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix())
                            .ok()
                            .and_then(|n| u32::try_from(n).ok())
                        {
                            Some(n) if n > 0 => inv.store.retention_days = Some(n),
                            _ => {
                                diags.error(
                                    file,
                                    d.span(),
                                    "invalid-retention",
                                    "`[store] retention_days` must be a whole number of days, at least 1",
                                    "e.g. retention_days = 400 (an audit period plus its report)",
                                );
                            }
                        },
                        other => {
                            diags.error(
                                file,
                                d.span(),
                                "wrong-type",
                                "`[store] retention_days` is a number of days",
                                format!("expected an integer, found {}", diag::de_kind(other)),
                            );
                        }
                    }
                }
                if inv.store.retention_mode.is_some() != inv.store.retention_days.is_some() {
                    diags.error(
                        file,
                        v.span(),
                        "invalid-retention",
                        "`[store] retention_mode` and `retention_days` go together",
                        "give both (e.g. \"COMPLIANCE\" and 400), or neither to use the bucket's default retention",
                    );
                }
                r.finish(diags, &["location", "retention_mode", "retention_days"]);
            }
        }
        if let Some((_, v)) = top.get("plugins") {
            if let Some(t) = table_of(diags, file, "plugins", v) {
                for (k, v) in t.iter() {
                    if let Some(p) = plugin_entry(diags, file, &base, k, v) {
                        inv.plugins.insert(k.get_ref().to_string(), p);
                    }
                }
            }
        }
        inv.attestations = top
            .string(diags, "attestations", false, "a path to attestations.toml")
            .map(|s| base.join(s.get_ref()));
        inv.waivers = top
            .string(diags, "waivers", false, "a path to waivers.toml")
            .map(|s| base.join(s.get_ref()));
        top.finish(diags, &TOP_KEYS);
        Some(inv)
    }

    /// The address to connect to for `host:port`, when `[resolve]` maps it.
    pub fn resolve_override(&self, host: &str, port: u16) -> Option<SocketAddr> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.resolve
            .get(&format!("{}:{port}", host.to_ascii_lowercase()))
            .copied()
    }

    /// Adds a `--plugin NAME=PATH` entry (the path relative to the working directory); it
    /// replaces a `[plugins]` entry of the same name.
    pub fn add_plugin(&mut self, spec: &str) -> Result<(), String> {
        let (name, path) = spec
            .split_once('=')
            .ok_or_else(|| format!("`{spec}` is not NAME=PATH (e.g. dns=./plugins/dns.py)"))?;
        if !is_plugin_name(name) {
            return Err(format!(
                "`{name}` is not a plugin name: use lower-case letters, digits, `-` and `_`"
            ));
        }
        if path.is_empty() {
            return Err(format!("give the executable after `{name}=`"));
        }
        let old = self.plugins.remove(name).unwrap_or_default();
        self.plugins.insert(
            name.to_string(),
            PluginSettings {
                path: PathBuf::from(path),
                origin: None,
                ..old
            },
        );
        Ok(())
    }

    /// Every address to connect to for `host:port` when `[resolve]` maps it (a list maps a name
    /// to several addresses); empty when it does not.
    pub fn resolve_all(&self, host: &str, port: u16) -> Vec<SocketAddr> {
        let Some(first) = self.resolve_override(host, port) else {
            return vec![];
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let more = self
            .resolve_more
            .get(&format!("{}:{port}", host.to_ascii_lowercase()))
            .cloned()
            .unwrap_or_default();
        std::iter::once(first).chain(more).collect()
    }

    /// Adds a `--resolve name:port:addr[,addr…]` entry (curl syntax).
    pub fn add_resolve(&mut self, spec: &str) -> Result<(), String> {
        let bad = || {
            format!(
                "`{spec}` is not name:port:address[,address…] (e.g. app.example.com:443:127.0.0.1)"
            )
        };
        let (name, rest) = spec.split_once(':').ok_or_else(bad)?;
        let (port, addrs) = rest.split_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let key = format!("{}:{port}", name.to_ascii_lowercase());
        for (i, addr) in addrs.split(',').enumerate() {
            let addr = addr.trim().trim_start_matches('[').trim_end_matches(']');
            let ip: std::net::IpAddr = addr.parse().map_err(|_| bad())?;
            let addr = SocketAddr::new(ip, port);
            if i == 0 {
                self.resolve.insert(key.clone(), addr);
                self.resolve_more.remove(&key);
            } else {
                self.resolve_more.entry(key.clone()).or_default().push(addr);
            }
        }
        Ok(())
    }
}

fn table_of<'t, 'a>(
    diags: &mut Diagnostics,
    file: FileId,
    name: &str,
    v: &'t serde_spanned::Spanned<DeValue<'a>>,
) -> Option<&'t toml::de::DeTable<'a>> {
    match v.get_ref() {
        DeValue::Table(t) => Some(t),
        other => {
            diags.error(
                file,
                v.span(),
                "wrong-type",
                format!("`{name}` must be a table"),
                format!("expected [{name}], found {}", diag::de_kind(other)),
            );
            None
        }
    }
}

/// One `[plugins]` entry: `NAME = "path"` or `NAME = { path = "…", env = […], config = {…} }`.
fn plugin_entry(
    diags: &mut Diagnostics,
    file: FileId,
    base: &Path,
    key: &serde_spanned::Spanned<std::borrow::Cow<'_, str>>,
    v: &serde_spanned::Spanned<DeValue<'_>>,
) -> Option<PluginSettings> {
    let name: &str = key.get_ref();
    if !is_plugin_name(name) {
        diags.error(
            file,
            key.span(),
            "invalid-plugin",
            format!("`{name}` is not a plugin name"),
            "use lower-case letters, digits, `-` and `_` (controls name it as `plugin:NAME`)",
        );
        return None;
    }
    let origin = Some((file, key.span().start..v.span().end));
    match v.get_ref() {
        DeValue::String(s) => Some(PluginSettings {
            path: base.join(s.as_ref()),
            origin,
            ..PluginSettings::default()
        }),
        DeValue::Table(t) => {
            let mut r = TableReader::new(file, v.span(), t);
            let path = r.string(diags, "path", true, "the plugin's executable");
            let mut env = Vec::new();
            for e in r.strings(diags, "env").unwrap_or_default() {
                if is_env_name(e.get_ref()) {
                    env.push(e.into_inner());
                } else {
                    diags.error(
                        file,
                        e.span(),
                        "invalid-env",
                        format!("`{}` is not an environment variable name", e.get_ref()),
                        "letters, digits and `_`, e.g. \"PAGERDUTY_TOKEN\"",
                    );
                }
            }
            let config = match r.get("config") {
                Some((_, c)) => match diag::to_json(c.get_ref()) {
                    serde_json::Value::Object(m) => m,
                    _ => {
                        diags.error(
                            file,
                            c.span(),
                            "wrong-type",
                            "`config` must be a table",
                            "e.g. config = { api_base = \"https://api.example.com\" }",
                        );
                        serde_json::Map::new()
                    }
                },
                None => serde_json::Map::new(),
            };
            r.finish(diags, &["path", "env", "config"]);
            Some(PluginSettings {
                path: base.join(path?.get_ref()),
                env,
                config,
                origin,
            })
        }
        other => {
            diags.error(
                file,
                v.span(),
                "wrong-type",
                format!("plugin `{name}` must be a path or a table"),
                format!(
                    "expected \"path/to/executable\" or {{ path = \"…\", env = [\"VAR\"], config = {{ … }} }}, found {}",
                    diag::de_kind(other)
                ),
            );
            None
        }
    }
}

/// Splits `host:port` (IPv6 in brackets). `None` when there is no valid port.
pub fn parse_host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then(|| (host.to_string(), port))
}
