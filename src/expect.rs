//! Typed values, operators and evaluation.
//!
//! A probe declares each fact with a [`FactType`]; a control's `expect`/`where` entries are parsed
//! against that type when the control file is loaded (so a wrong value or an operator that makes no
//! sense for the type is a load error), and evaluated against an observation's facts at run time.
//! One evaluation yields one [`Check`]: `{fact, op, expected, observed, verdict}`.
//!
//! Fail closed: a fact missing from the observation is an `error` ("fact not observed"), never a
//! pass. A fact observed as JSON `null` means the probe looked and found nothing (no restore job,
//! no policy): it satisfies `absent` and fails every other operator.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;
use regex::Regex;
use serde::{Deserialize, Serialize};

/// The type of a fact, which decides how values parse, compare and print.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactType {
    Bool,
    Integer,
    String,
    /// A list of strings (`protocols.accepted`, `certificate.sans`).
    StringList,
    /// A protocol version, ordered `SSLv3 < TLSv1.0 < TLSv1.1 < TLSv1.2 < TLSv1.3`.
    Protocol,
    /// A duration such as `90d`, `12h`, `30m`, `45s` or a sum (`1d12h`).
    Duration,
    /// An RFC 3339 timestamp.
    Timestamp,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// Structured data (a redirect chain, a list of records): only `exists` and `absent` apply.
    Object,
}

impl FactType {
    pub fn name(self) -> &'static str {
        match self {
            FactType::Bool => "bool",
            FactType::Integer => "integer",
            FactType::String => "string",
            FactType::StringList => "list of strings",
            FactType::Protocol => "protocol version",
            FactType::Duration => "duration",
            FactType::Timestamp => "timestamp",
            FactType::Date => "date",
            FactType::Object => "object",
        }
    }

    /// The operators that make sense for this type.
    pub fn operators(self) -> &'static [Op] {
        use Op::*;
        match self {
            FactType::Bool => &[Eq, Ne, Exists, Absent],
            FactType::Integer | FactType::Protocol => {
                &[Eq, Ne, Lt, Le, Gt, Ge, In, NotIn, Exists, Absent]
            }
            FactType::String => &[Eq, Ne, In, NotIn, Contains, Matches, Exists, Absent],
            FactType::StringList => &[Eq, Ne, In, NotIn, Contains, Exists, Absent],
            FactType::Duration => &[Eq, Ne, Lt, Le, Gt, Ge, Within, Exists, Absent],
            FactType::Timestamp | FactType::Date => {
                &[Eq, Ne, Lt, Le, Gt, Ge, Within, Exists, Absent]
            }
            FactType::Object => &[Exists, Absent],
        }
    }
}

/// A comparison operator, spelled in control files as shown by [`Op::as_str`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Contains,
    Matches,
    Exists,
    Absent,
    Within,
}

impl Op {
    pub const ALL: [Op; 13] = [
        Op::Eq,
        Op::Ne,
        Op::Lt,
        Op::Le,
        Op::Gt,
        Op::Ge,
        Op::In,
        Op::NotIn,
        Op::Contains,
        Op::Matches,
        Op::Exists,
        Op::Absent,
        Op::Within,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::In => "in",
            Op::NotIn => "not in",
            Op::Contains => "contains",
            Op::Matches => "matches",
            Op::Exists => "exists",
            Op::Absent => "absent",
            Op::Within => "within",
        }
    }

    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.as_str() == s)
    }

    /// Whether the operator takes no value (`exists`, `absent`).
    pub fn is_unary(self) -> bool {
        matches!(self, Op::Exists | Op::Absent)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Op {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Op {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Op::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown operator `{s}`")))
    }
}

/// Protocol versions in the order a "minimum version" control compares them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    SslV3,
    TlsV1_0,
    TlsV1_1,
    TlsV1_2,
    TlsV1_3,
}

impl Protocol {
    pub const ALL: [Protocol; 5] = [
        Protocol::SslV3,
        Protocol::TlsV1_0,
        Protocol::TlsV1_1,
        Protocol::TlsV1_2,
        Protocol::TlsV1_3,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::SslV3 => "SSLv3",
            Protocol::TlsV1_0 => "TLSv1.0",
            Protocol::TlsV1_1 => "TLSv1.1",
            Protocol::TlsV1_2 => "TLSv1.2",
            Protocol::TlsV1_3 => "TLSv1.3",
        }
    }

    pub fn parse(s: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The version's two wire bytes (`0x0303` for TLS 1.2).
    pub fn wire(self) -> u16 {
        match self {
            Protocol::SslV3 => 0x0300,
            Protocol::TlsV1_0 => 0x0301,
            Protocol::TlsV1_1 => 0x0302,
            Protocol::TlsV1_2 => 0x0303,
            Protocol::TlsV1_3 => 0x0304,
        }
    }

    pub fn from_wire(v: u16) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.wire() == v)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses `90d`, `12h`, `30m`, `45s`, `2w` or a sum such as `1d12h` into seconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "`{s}` is not a duration: write a number and a unit, e.g. `90d`, `12h`, `30m`, `45s` (or a sum such as `1d12h`)"
        )
    };
    let s = s.trim();
    if s.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            'w' => 7 * 86_400,
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        total = total
            .checked_add(n.checked_mul(unit).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

/// Formats seconds the way [`parse_duration`] reads them, largest units first (`1d2h3m`).
pub fn format_duration(secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = secs;
    for (unit, len) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= len {
            out.push_str(&format!("{}{unit}", rest / len));
            rest %= len;
        }
    }
    out
}

/// A typed value: an expected value from a control, or an observed fact converted to its type.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Integer(i64),
    String(String),
    StringList(Vec<String>),
    Protocol(Protocol),
    /// Seconds.
    Duration(u64),
    Timestamp(Timestamp),
    Date(Date),
    Object(serde_json::Value),
}

impl Value {
    /// Reads an observed JSON fact as `ty`. `null` is an observed absence.
    pub fn from_json(ty: FactType, v: &serde_json::Value) -> Result<Value, String> {
        use serde_json::Value as J;
        if v.is_null() {
            return Ok(Value::Null);
        }
        let wrong = || {
            format!(
                "the probe reported {} for a {} fact",
                json_kind(v),
                ty.name()
            )
        };
        Ok(match ty {
            FactType::Bool => Value::Bool(v.as_bool().ok_or_else(wrong)?),
            FactType::Integer => Value::Integer(v.as_i64().ok_or_else(wrong)?),
            FactType::String => Value::String(v.as_str().ok_or_else(wrong)?.to_string()),
            FactType::StringList => match v {
                J::Array(items) => Value::StringList(
                    items
                        .iter()
                        .map(|i| i.as_str().map(str::to_string).ok_or_else(wrong))
                        .collect::<Result<_, _>>()?,
                ),
                _ => return Err(wrong()),
            },
            FactType::Protocol => {
                Value::Protocol(v.as_str().and_then(Protocol::parse).ok_or_else(wrong)?)
            }
            FactType::Duration => match v {
                J::Number(n) => Value::Duration(n.as_u64().ok_or_else(wrong)?),
                J::String(s) => Value::Duration(parse_duration(s)?),
                _ => return Err(wrong()),
            },
            FactType::Timestamp => Value::Timestamp(
                v.as_str()
                    .and_then(|s| s.parse::<Timestamp>().ok())
                    .ok_or_else(wrong)?,
            ),
            FactType::Date => Value::Date(
                v.as_str()
                    .and_then(|s| s.parse::<Date>().ok())
                    .ok_or_else(wrong)?,
            ),
            FactType::Object => Value::Object(v.clone()),
        })
    }

    /// Reads a control file's value as `ty`, with a message that says what would be valid.
    pub fn from_toml(ty: FactType, v: &toml::Value) -> Result<Value, String> {
        use toml::Value as T;
        let found = toml_kind(v);
        Ok(match (ty, v) {
            (FactType::Bool, T::Boolean(b)) => Value::Bool(*b),
            (FactType::Integer, T::Integer(i)) => Value::Integer(*i),
            (FactType::String, T::String(s)) => Value::String(s.clone()),
            (FactType::StringList, T::Array(items)) => Value::StringList(
                items
                    .iter()
                    .map(|i| match i {
                        T::String(s) => Ok(s.clone()),
                        other => Err(format!(
                            "expected a list of strings, found {} in the list",
                            toml_kind(other)
                        )),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            (FactType::Protocol, T::String(s)) => {
                Value::Protocol(Protocol::parse(s).ok_or_else(|| {
                    format!(
                        "`{s}` is not a protocol version: use one of {}",
                        Protocol::ALL.map(|p| p.as_str()).join(", ")
                    )
                })?)
            }
            (FactType::Duration, T::String(s)) => Value::Duration(parse_duration(s)?),
            (FactType::Timestamp, T::Datetime(d)) => Value::Timestamp(
                d.to_string()
                    .parse()
                    .map_err(|_| format!("`{d}` is not an RFC 3339 timestamp with an offset"))?,
            ),
            (FactType::Timestamp, T::String(s)) => Value::Timestamp(s.parse().map_err(|_| {
                format!("`{s}` is not an RFC 3339 timestamp (e.g. 2026-01-31T00:00:00Z)")
            })?),
            (FactType::Date, T::Datetime(d)) => Value::Date(
                d.to_string()
                    .parse()
                    .map_err(|_| format!("`{d}` is not a date (YYYY-MM-DD)"))?,
            ),
            (FactType::Date, T::String(s)) => Value::Date(
                s.parse()
                    .map_err(|_| format!("`{s}` is not a date (YYYY-MM-DD)"))?,
            ),
            (ty, _) => {
                return Err(format!(
                    "expected {}, found {found}",
                    match ty {
                        FactType::Bool => "a boolean (true or false)",
                        FactType::Integer => "an integer",
                        FactType::String => "a string",
                        FactType::StringList => "a list of strings",
                        FactType::Protocol => "a protocol version string such as \"TLSv1.2\"",
                        FactType::Duration => "a duration string such as \"90d\"",
                        FactType::Timestamp => "an RFC 3339 timestamp",
                        FactType::Date => "a date (YYYY-MM-DD)",
                        FactType::Object => "nothing (object facts take only exists/absent)",
                    }
                ));
            }
        })
    }

    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Integer(i) => J::from(*i),
            Value::String(s) => J::String(s.clone()),
            Value::StringList(l) => J::Array(l.iter().cloned().map(J::String).collect()),
            Value::Protocol(p) => J::String(p.as_str().into()),
            Value::Duration(d) => J::String(format_duration(*d)),
            Value::Timestamp(t) => J::String(t.to_string()),
            Value::Date(d) => J::String(d.to_string()),
            Value::Object(v) => v.clone(),
        }
    }

    fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Integer(a), Value::Integer(b)) => Some(a.cmp(b)),
            (Value::Protocol(a), Value::Protocol(b)) => Some(a.cmp(b)),
            (Value::Duration(a), Value::Duration(b)) => Some(a.cmp(b)),
            (Value::Timestamp(a), Value::Timestamp(b)) => Some(a.cmp(b)),
            (Value::Date(a), Value::Date(b)) => Some(a.cmp(b)),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
            (Value::StringList(a), Value::StringList(b)) => (a == b).then_some(Ordering::Equal),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("none"),
            Value::String(s) => f.write_str(s),
            Value::StringList(l) => write!(f, "[{}]", l.join(", ")),
            other => f.write_str(&display_json(&other.to_json())),
        }
    }
}

/// Renders a JSON fact for a human: strings bare, lists bracketed, `null` as `none`.
pub fn display_json(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "none".into(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(display_json)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

pub(crate) fn toml_kind(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a datetime",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// What a control expects of a fact, already typed and validated.
#[derive(Clone, Debug)]
pub enum Expected {
    /// `exists` / `absent`.
    Nothing,
    One(Value),
    /// `in` / `not in`.
    Set(Vec<Value>),
    /// `matches`.
    Pattern(Regex),
}

impl Expected {
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Expected::Nothing => serde_json::Value::Null,
            Expected::One(v) => v.to_json(),
            Expected::Set(vs) => serde_json::Value::Array(vs.iter().map(Value::to_json).collect()),
            Expected::Pattern(r) => serde_json::Value::String(r.as_str().to_string()),
        }
    }
}

/// One typed expectation: a fact, an operator and what is expected.
#[derive(Clone, Debug)]
pub struct Expectation {
    pub fact: String,
    pub ty: FactType,
    pub op: Op,
    pub expected: Expected,
    /// Alternatives: the expectation holds when it or any of these holds
    /// (`retention_days >= 365` or `retention.never_expires == true`).
    pub or: Vec<Expectation>,
}

impl Expectation {
    /// Builds an expectation, checking that `op` suits `ty` and that `value` has the right type.
    pub fn new(
        fact: &str,
        ty: FactType,
        op: Op,
        value: Option<&toml::Value>,
    ) -> Result<Expectation, ExpectError> {
        if !ty.operators().contains(&op) {
            return Err(ExpectError::Operator(format!(
                "`{op}` does not apply to `{fact}` ({}); valid operators: {}",
                ty.name(),
                ty.operators()
                    .iter()
                    .map(|o| format!("`{o}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let expected = match (op, value) {
            (op, None) if op.is_unary() => Expected::Nothing,
            (op, Some(_)) if op.is_unary() => {
                return Err(ExpectError::Value(format!("`{op}` takes no `value`")));
            }
            (_, None) => {
                return Err(ExpectError::Value(format!("`{op}` needs a `value`")));
            }
            (Op::In | Op::NotIn, Some(v)) => {
                let toml::Value::Array(items) = v else {
                    return Err(ExpectError::Value(format!(
                        "`{op}` needs a list of values, found {}",
                        toml_kind(v)
                    )));
                };
                if items.is_empty() {
                    // `in []` can never hold and `not in []` always does: a typo, not a check.
                    return Err(ExpectError::Value(format!(
                        "`{op}` needs at least one value, found an empty list"
                    )));
                }
                // On a list fact, `in` means "every element is one of these".
                let item_ty = if ty == FactType::StringList {
                    FactType::String
                } else {
                    ty
                };
                Expected::Set(
                    items
                        .iter()
                        .map(|i| Value::from_toml(item_ty, i))
                        .collect::<Result<_, _>>()
                        .map_err(ExpectError::Value)?,
                )
            }
            (Op::Matches, Some(v)) => {
                let toml::Value::String(s) = v else {
                    return Err(ExpectError::Value(format!(
                        "`matches` needs a regular expression string, found {}",
                        toml_kind(v)
                    )));
                };
                Expected::Pattern(Regex::new(s).map_err(|e| ExpectError::Value(regex_error(&e)))?)
            }
            (Op::Contains, Some(v)) => {
                Expected::One(Value::from_toml(FactType::String, v).map_err(ExpectError::Value)?)
            }
            (Op::Within, Some(v)) => {
                Expected::One(Value::from_toml(FactType::Duration, v).map_err(ExpectError::Value)?)
            }
            (_, Some(v)) => Expected::One(Value::from_toml(ty, v).map_err(ExpectError::Value)?),
        };
        Ok(Expectation {
            fact: fact.to_string(),
            ty,
            op,
            expected,
            or: Vec::new(),
        })
    }

    /// `fact op value` (and its alternatives), as a report prints it.
    pub fn describe(&self) -> String {
        let mut s = self.describe_one();
        for alt in &self.or {
            s.push_str(" or ");
            s.push_str(&alt.describe());
        }
        s
    }

    fn describe_one(&self) -> String {
        match &self.expected {
            Expected::Nothing => format!("{} {}", self.fact, self.op),
            e => format!("{} {} {}", self.fact, self.op, display_json(&e.to_json())),
        }
    }

    /// Evaluates against one observation's facts. `unobserved` maps facts the probe could not
    /// observe to the reason, which the check carries as its message. With alternatives, the
    /// check passes when any of them passes; otherwise it is `error` when any could not be
    /// observed (one might have held), and `fail` when all were seen to fail.
    pub fn evaluate(
        &self,
        facts: &BTreeMap<String, serde_json::Value>,
        unobserved: &BTreeMap<String, String>,
        now: Timestamp,
    ) -> Check {
        self.evaluate_as(facts, unobserved, now, false)
    }

    /// Evaluates a `where` entry: like [`Expectation::evaluate`], except that a fact observed as
    /// nothing there (`null`) satisfies `!=` and `not in` (an untagged resource is not in
    /// `env == "dev"`, so `env != "dev"` keeps it in scope). In `expect`, `null` passes only
    /// `absent`.
    pub fn evaluate_where(
        &self,
        facts: &BTreeMap<String, serde_json::Value>,
        unobserved: &BTreeMap<String, String>,
        now: Timestamp,
    ) -> Check {
        self.evaluate_as(facts, unobserved, now, true)
    }

    fn evaluate_as(
        &self,
        facts: &BTreeMap<String, serde_json::Value>,
        unobserved: &BTreeMap<String, String>,
        now: Timestamp,
        scope: bool,
    ) -> Check {
        let mut check = self.evaluate_one(facts, unobserved, now, scope);
        if self.or.is_empty() || check.verdict == Verdict::Pass {
            return check;
        }
        check.or = self
            .or
            .iter()
            .map(|alt| alt.evaluate_as(facts, unobserved, now, scope))
            .collect();
        let all = || std::iter::once(check.verdict).chain(check.or.iter().map(|c| c.verdict));
        check.verdict = if all().any(|v| v == Verdict::Pass) {
            Verdict::Pass
        } else if all().any(|v| v == Verdict::Error) {
            Verdict::Error
        } else {
            Verdict::Fail
        };
        check
    }

    fn evaluate_one(
        &self,
        facts: &BTreeMap<String, serde_json::Value>,
        unobserved: &BTreeMap<String, String>,
        now: Timestamp,
        scope: bool,
    ) -> Check {
        let mut check = Check {
            fact: self.fact.clone(),
            op: self.op,
            expected: self.expected.to_json(),
            observed: None,
            verdict: Verdict::Error,
            message: None,
            or: Vec::new(),
        };
        let Some(raw) = facts.get(&self.fact) else {
            check.message = Some(match unobserved.get(&self.fact) {
                Some(reason) => format!("fact not observed: {reason}"),
                None => "fact not observed".into(),
            });
            return check;
        };
        check.observed = Some(raw.clone());
        let observed = match Value::from_json(self.ty, raw) {
            Ok(v) => v,
            Err(e) => {
                check.message = Some(e);
                return check;
            }
        };
        if scope && observed == Value::Null && matches!(self.op, Op::Ne | Op::NotIn) {
            check.verdict = Verdict::Pass;
            return check;
        }
        match self.compare(&observed, now) {
            Ok(true) => check.verdict = Verdict::Pass,
            Ok(false) => check.verdict = Verdict::Fail,
            Err(e) => check.message = Some(e),
        }
        check
    }

    fn compare(&self, observed: &Value, now: Timestamp) -> Result<bool, String> {
        if let Value::Null = observed {
            return Ok(self.op == Op::Absent);
        }
        Ok(match (self.op, &self.expected) {
            (Op::Exists, _) => true,
            (Op::Absent, _) => false,
            (Op::Eq, Expected::One(e)) => observed.compare(e) == Some(Ordering::Equal),
            (Op::Ne, Expected::One(e)) => observed.compare(e) != Some(Ordering::Equal),
            (Op::Lt | Op::Le | Op::Gt | Op::Ge, Expected::One(e)) => {
                let ord = observed
                    .compare(e)
                    .ok_or_else(|| format!("cannot order {observed} against {e}"))?;
                match self.op {
                    Op::Lt => ord == Ordering::Less,
                    Op::Le => ord != Ordering::Greater,
                    Op::Gt => ord == Ordering::Greater,
                    _ => ord != Ordering::Less,
                }
            }
            (Op::In | Op::NotIn, Expected::Set(set)) => {
                let member = |v: &Value| set.iter().any(|s| v.compare(s) == Some(Ordering::Equal));
                match observed {
                    // On a list: `in` = every element is allowed; `not in` = none is.
                    Value::StringList(items) => {
                        let items: Vec<Value> = items.iter().cloned().map(Value::String).collect();
                        if self.op == Op::In {
                            items.iter().all(member)
                        } else {
                            !items.iter().any(member)
                        }
                    }
                    v => member(v) == (self.op == Op::In),
                }
            }
            (Op::Contains, Expected::One(Value::String(needle))) => match observed {
                Value::StringList(items) => items.iter().any(|i| i == needle),
                Value::String(s) => s.contains(needle.as_str()),
                other => return Err(format!("`contains` does not apply to {other}")),
            },
            (Op::Matches, Expected::Pattern(re)) => match observed {
                Value::String(s) => re.is_match(s),
                other => return Err(format!("`matches` does not apply to {other}")),
            },
            (Op::Within, Expected::One(Value::Duration(limit))) => {
                // i128: no user number (a limit near u64::MAX, a timestamp in year 9999) wraps.
                let limit = i128::from(*limit);
                match observed {
                    Value::Duration(d) => i128::from(*d) <= limit,
                    Value::Timestamp(t) => {
                        let age = i128::from(now.duration_since(*t).as_secs());
                        if age < -FUTURE_TOLERANCE_SECS {
                            return Err(format!(
                                "observed in the future: clock skew or bad data ({t} is after {now})"
                            ));
                        }
                        age <= limit
                    }
                    Value::Date(d) => {
                        // A date counts in whole days: performed on the 1st is 0 days old that day.
                        let start = d
                            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                            .map_err(|e| e.to_string())?
                            .timestamp();
                        if i128::from(start.duration_since(now).as_secs()) > FUTURE_TOLERANCE_SECS {
                            return Err(format!(
                                "observed in the future: clock skew or bad data ({d} is after {})",
                                now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date()
                            ));
                        }
                        let today = now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
                        let days =
                            i128::from(d.until(today).map_err(|e| e.to_string())?.get_days());
                        days * 86_400 <= limit
                    }
                    other => return Err(format!("`within` does not apply to {other}")),
                }
            }
            (op, e) => return Err(format!("`{op}` cannot compare {observed} with {e:?}")),
        })
    }
}

/// How far in the future a timestamp under `within` may be (clock skew between hosts) before it
/// is an `error` rather than a pass.
pub const FUTURE_TOLERANCE_SECS: i128 = 5 * 60;

/// A regex error on one line (the crate's own message points with a caret over several lines).
fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    format!(
        "invalid regular expression: {}",
        last.trim().trim_start_matches("error: ")
    )
}

/// Why an expectation could not be built (reported by the loader at the right span).
#[derive(Debug, Clone, PartialEq)]
pub enum ExpectError {
    Operator(String),
    Value(String),
}

/// A verdict: for one check, one target's result, or a whole control.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Verdict {
    #[serde(rename = "pass")]
    Pass,
    #[serde(rename = "fail")]
    Fail,
    /// Could not observe (refused, timed out, denied, a fact missing).
    #[serde(rename = "error")]
    Error,
    /// Outside the control's `where`.
    #[serde(rename = "n/a")]
    NotApplicable,
    /// A valid, unexpired waiver covers a fail or an error.
    #[serde(rename = "waived")]
    Waived,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
            Verdict::NotApplicable => "n/a",
            Verdict::Waived => "waived",
        }
    }

    /// How bad a verdict is, for "the worst of": fail > error > waived > pass > n/a.
    pub fn rank(self) -> u8 {
        match self {
            Verdict::NotApplicable => 0,
            Verdict::Pass => 1,
            Verdict::Waived => 2,
            Verdict::Error => 3,
            Verdict::Fail => 4,
        }
    }

    /// The worst of several verdicts; `n/a` when there are none.
    pub fn worst(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
        verdicts
            .into_iter()
            .max_by_key(|v| v.rank())
            .unwrap_or(Verdict::NotApplicable)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One evaluated expectation: `{fact, op, expected, observed, verdict}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub fact: String,
    pub op: Op,
    pub expected: serde_json::Value,
    /// `None` (the key absent in JSON) when the fact was not observed at all, and the verdict
    /// is `error`; `Some(null)` when the probe looked and found nothing.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "observed_value"
    )]
    pub observed: Option<serde_json::Value>,
    pub verdict: Verdict,
    /// Why the check is `error`, or other context a reader needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The alternatives' checks, when the expectation has `or` and did not hold by itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub or: Vec<Check>,
}

/// Reads a present `observed` key, `null` included, as `Some`: only an absent key is `None`.
fn observed_value<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

impl Check {
    /// `protocols.lowest >= TLSv1.2 (observed TLSv1.0)`, as the table prints a failing check.
    pub fn describe(&self) -> String {
        let expected = if self.op.is_unary() {
            String::new()
        } else {
            format!(" {}", display_json(&self.expected))
        };
        let observed = match (&self.observed, &self.message) {
            (Some(o), _) => format!("observed {}", display_json(o)),
            (None, Some(m)) => m.clone(),
            (None, None) => "not observed".into(),
        };
        let mut s = format!("{} {}{expected} ({observed})", self.fact, self.op);
        for alt in &self.or {
            s.push_str(" or ");
            s.push_str(&alt.describe());
        }
        s
    }
}

#[cfg(test)]
#[path = "expect_tests.rs"]
mod tests;
