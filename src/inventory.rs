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
    /// Where to fetch the list from when no `preload_list` is given (default: Chromium's
    /// published file, [`crate::probe::http::preload::DEFAULT_URL`]).
    pub preload_list_url: Option<String>,
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
    /// account. `None` (unset): every region enabled for the account, as for `"enabled"`.
    pub regions: Option<Vec<String>>,
    /// `[aws] account_id`: the account (or accounts) the credentials must belong to; any other
    /// makes every AWS result `error`. Empty: not pinned.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub account_ids: Vec<String>,
    /// `[aws] accounts = [{ id, role_arn, external_id, regions }]`: accounts to examine, each
    /// through its own role. Empty (and no `organization`): the one account of the credentials.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AwsAccount>,
    /// `[aws.organization]`: every active account of the organisation, through one role name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<AwsOrganization>,
}

impl AwsSettings {
    /// Whether the run examines named accounts (a list or an organisation) rather than the one
    /// account of the credentials.
    pub fn multi_account(&self) -> bool {
        !self.accounts.is_empty() || self.organization.is_some()
    }
}

/// One entry of `[aws] accounts`.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq, Hash)]
pub struct AwsAccount {
    /// The 12-digit account id.
    pub id: String,
    /// A display name (the organisation's name for the account when listed from it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The role assumed in the account; `None`: `[aws.organization] role_name` in the account,
    /// or, without one, the credentials themselves (which must be for this account).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// `sts:ExternalId` for the role's trust policy. Never written to reports.
    #[serde(skip)]
    pub external_id: Option<String>,
    /// The regions a regional `*` covers in this account (else `[aws] regions`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
}

/// `[aws.organization]`.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq, Hash)]
pub struct AwsOrganization {
    /// The role assumed in each account: `arn:<partition>:iam::<id>:role/<role_name>`.
    pub role_name: String,
    /// Only accounts under these organisational units (`ou-…`, or a root `r-…`), at any depth.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub include_ous: Vec<String>,
    /// Account ids never examined.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude_accounts: Vec<String>,
    /// `sts:ExternalId` for every account's role. Never written to reports.
    #[serde(skip)]
    pub external_id: Option<String>,
}

/// Whether `s` is a 12-digit AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` is an IAM role ARN (`arn:PARTITION:iam::ACCOUNT:role/NAME`); the account it names.
pub fn role_arn_account(s: &str) -> Option<&str> {
    let mut parts = s.splitn(6, ':');
    (parts.next()? == "arn").then_some(())?;
    let partition = parts.next()?;
    (parts.next()? == "iam" && parts.next()?.is_empty()).then_some(())?;
    let account = parts.next()?;
    let resource = parts.next()?;
    (!partition.is_empty()
        && is_account_id(account)
        && resource
            .strip_prefix("role/")
            .is_some_and(|n| !n.is_empty()))
    .then_some(account)
}

/// An IAM role name (the last path segment): letters, digits and `+=,.@_-`, 1 to 64 characters.
fn is_role_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// An organisational unit (`ou-xxxx-yyyyyyyy`) or root (`r-xxxx`) id.
fn is_ou_or_root(s: &str) -> bool {
    let ok = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    match s.strip_prefix("ou-") {
        Some(rest) => rest.split_once('-').is_some_and(|(a, b)| ok(a) && ok(b)),
        None => s.strip_prefix("r-").is_some_and(ok),
    }
}

/// `[aws] accounts`: a list of inline tables, each checked key by key.
fn parse_accounts(
    diags: &mut Diagnostics,
    file: FileId,
    v: &serde_spanned::Spanned<DeValue<'_>>,
) -> Vec<AwsAccount> {
    const KEYS: [&str; 5] = ["id", "name", "role_arn", "external_id", "regions"];
    let example = "accounts = [{ id = \"111122223333\", role_arn = \"arn:aws:iam::111122223333:role/VouchAudit\" }]";
    let items = match v.get_ref() {
        DeValue::Array(items) => items,
        other => {
            diags.error(
                file,
                v.span(),
                "wrong-type",
                "`accounts` must be a list of tables",
                format!("expected e.g. {example}, found {}", diag::de_kind(other)),
            );
            return Vec::new();
        }
    };
    let mut out: Vec<AwsAccount> = Vec::new();
    for item in items.iter() {
        let DeValue::Table(t) = item.get_ref() else {
            diags.error(
                file,
                item.span(),
                "wrong-type",
                "each entry of `accounts` must be a table",
                format!(
                    "expected e.g. {example}, found {}",
                    diag::de_kind(item.get_ref())
                ),
            );
            continue;
        };
        let mut r = TableReader::new(file, item.span(), t);
        let mut acct = AwsAccount::default();
        if let Some(id) = r.string(diags, "id", true, "a 12-digit account id") {
            if !is_account_id(id.get_ref()) {
                diags.error(
                    file,
                    id.span(),
                    "invalid-account-id",
                    "`id` must be a 12-digit AWS account id",
                    "e.g. id = \"111122223333\"",
                );
            } else if out.iter().any(|a| &a.id == id.get_ref()) {
                diags.error(
                    file,
                    id.span(),
                    "duplicate-account",
                    format!("account {} is listed twice", id.get_ref()),
                    "list each account once",
                );
            }
            acct.id = id.into_inner();
        }
        acct.name = r
            .string(diags, "name", false, "a display name")
            .map(|s| s.into_inner());
        if let Some(arn) = r.string(diags, "role_arn", false, "an IAM role ARN") {
            match role_arn_account(arn.get_ref()) {
                None => {
                    diags.error(
                        file,
                        arn.span(),
                        "invalid-role-arn",
                        "`role_arn` must be an IAM role ARN",
                        format!(
                            "e.g. \"arn:aws:iam::{}:role/VouchAudit\"",
                            if is_account_id(&acct.id) {
                                &acct.id
                            } else {
                                "111122223333"
                            }
                        ),
                    );
                }
                Some(a) if is_account_id(&acct.id) && a != acct.id => {
                    diags.error(
                        file,
                        arn.span(),
                        "role-account-mismatch",
                        format!(
                            "`role_arn` is a role in account {a}, not in account {}",
                            acct.id
                        ),
                        format!(
                            "assume a role of account {} (arn:aws:iam::{}:role/…)",
                            acct.id, acct.id
                        ),
                    );
                }
                Some(_) => {}
            }
            acct.role_arn = Some(arn.into_inner());
        }
        acct.external_id = r
            .string(diags, "external_id", false, "the role's sts:ExternalId")
            .map(|s| s.into_inner());
        if let Some(regions) = r.strings(diags, "regions") {
            let names: Vec<String> = regions.iter().map(|s| s.get_ref().clone()).collect();
            match check_regions(&names) {
                Ok(()) => acct.regions = Some(names),
                Err(why) => {
                    diags.error(
                        file,
                        regions
                            .iter()
                            .find(|s| !is_region(s.get_ref()))
                            .map(|s| s.span())
                            .unwrap_or_else(|| item.span()),
                        "invalid-region",
                        "`regions` must list region names, or be \"enabled\"",
                        why,
                    );
                }
            }
        }
        r.finish(diags, &KEYS);
        out.push(acct);
    }
    out
}

/// `[aws.organization]`.
fn parse_organization(
    diags: &mut Diagnostics,
    file: FileId,
    v: &serde_spanned::Spanned<DeValue<'_>>,
) -> Option<AwsOrganization> {
    let t = table_of(diags, file, "aws.organization", v)?;
    let mut r = TableReader::new(file, v.span(), t);
    let mut org = AwsOrganization::default();
    if let Some(name) = r.string(
        diags,
        "role_name",
        true,
        "the role name, e.g. \"VouchAudit\"",
    ) {
        if !is_role_name(name.get_ref()) {
            diags.error(
                file,
                name.span(),
                "invalid-role-name",
                "`role_name` must be an IAM role name (not an ARN)",
                "letters, digits and +=,.@_- (at most 64), e.g. role_name = \"VouchAudit\"",
            );
        }
        org.role_name = name.into_inner();
    }
    if let Some(ous) = r.strings(diags, "include_ous") {
        for ou in &ous {
            if !is_ou_or_root(ou.get_ref()) {
                diags.error(
                    file,
                    ou.span(),
                    "invalid-ou",
                    format!(
                        "`{}` is not an organisational unit or root id",
                        ou.get_ref()
                    ),
                    "e.g. \"ou-ab12-cdef3456\" (an OU) or \"r-ab12\" (the root)",
                );
            }
        }
        org.include_ous = ous.into_iter().map(|s| s.into_inner()).collect();
    }
    if let Some(ids) = r.strings(diags, "exclude_accounts") {
        for id in &ids {
            if !is_account_id(id.get_ref()) {
                diags.error(
                    file,
                    id.span(),
                    "invalid-account-id",
                    "`exclude_accounts` must list 12-digit AWS account ids",
                    "e.g. exclude_accounts = [\"111122223333\"]",
                );
            }
        }
        org.exclude_accounts = ids.into_iter().map(|s| s.into_inner()).collect();
    }
    org.external_id = r
        .string(diags, "external_id", false, "the roles' sts:ExternalId")
        .map(|s| s.into_inner());
    r.finish(
        diags,
        &[
            "role_name",
            "include_ous",
            "exclude_accounts",
            "external_id",
        ],
    );
    Some(org)
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

/// `[aws] regions = "enabled"`: every region enabled in the account (EC2 DescribeRegions).
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
    pub store: crate::store_config::StoreSettings,
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

/// The inventory's file name, looked for in the working directory and its parents.
pub const FILE_NAME: &str = "vouch.toml";

/// The inventory file of a run: the one given (`--inventory`, or `VOUCH_INVENTORY`), else the
/// `vouch.toml` of the working directory or of its nearest parent that has one (as cargo finds
/// `Cargo.toml`), else none. One in the working directory is named `vouch.toml`, as before;
/// one in a parent by its full path.
pub fn discover(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = given {
        return Some(p.to_path_buf());
    }
    let here = Path::new(FILE_NAME);
    if here.is_file() {
        return Some(here.to_path_buf());
    }
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors()
        .skip(1)
        .map(|d| d.join(FILE_NAME))
        .find(|p| p.is_file())
}

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
                inv.http.preload_list_url = r
                    .string(
                        diags,
                        "preload_list_url",
                        false,
                        "an http(s) URL serving Chromium's preload JSON",
                    )
                    .and_then(|s| {
                        let ok = reqwest::Url::parse(s.get_ref())
                            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
                        if !ok {
                            diags.error(
                                file,
                                s.span(),
                                "invalid-url",
                                format!("`{}` is not an http(s) URL", s.get_ref()),
                                "e.g. https://example.com/transport_security_state_static.json",
                            );
                        }
                        ok.then(|| s.into_inner())
                    });
                r.finish(diags, &["preload_list", "preload_list_url"]);
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
                if let Some((_, v)) = r.get("accounts") {
                    inv.aws.accounts = parse_accounts(diags, file, v);
                }
                if let Some((_, v)) = r.get("organization") {
                    inv.aws.organization = parse_organization(diags, file, v);
                }
                r.finish(
                    diags,
                    &[
                        "region",
                        "profile",
                        "endpoint_url",
                        "regions",
                        "account_id",
                        "accounts",
                        "organization",
                    ],
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
                    match crate::store_config::Location::parse(loc.get_ref()) {
                        // A relative folder is the inventory's neighbour, like every other path.
                        Ok(crate::store_config::Location::Local(p)) => {
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
                    match crate::store_config::RetentionMode::parse(m.get_ref()) {
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
                if let Some(u) = r.string(
                    diags,
                    "timestamp_url",
                    false,
                    "the http(s) URL of an RFC 3161 time-stamping authority",
                ) {
                    let t = u.get_ref();
                    if t.starts_with("http://") || t.starts_with("https://") {
                        inv.store.timestamp_url = Some(t.clone());
                    } else {
                        diags.error(
                            file,
                            u.span(),
                            "invalid-store",
                            "`[store] timestamp_url` is the http(s) URL of an RFC 3161 time-stamping authority",
                            "e.g. timestamp_url = \"http://timestamp.digicert.com\"",
                        );
                    }
                }
                r.finish(
                    diags,
                    &[
                        "location",
                        "retention_mode",
                        "retention_days",
                        "timestamp_url",
                    ],
                );
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
