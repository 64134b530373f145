//! Every operator × type, at the boundaries: equal, one off, missing fact, null, wrong type.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Value as J, json};

use super::*;

fn now() -> Timestamp {
    "2026-11-29T12:00:00Z".parse().unwrap()
}

/// Evaluates `fact op value` (value in TOML syntax) against a fact observed as `observed`.
fn eval(ty: FactType, op: &str, value: Option<&str>, observed: Option<J>) -> Check {
    let v = value.map(|v| {
        let doc: toml::Table = format!("v = {v}").parse().expect("test value is TOML");
        doc["v"].clone()
    });
    let e = Expectation::new("f", ty, Op::parse(op).expect("op"), v.as_ref())
        .expect("valid expectation");
    let mut facts = BTreeMap::new();
    if let Some(o) = observed {
        facts.insert("f".to_string(), o);
    }
    e.evaluate(&facts, &BTreeMap::new(), now())
}

fn verdict(ty: FactType, op: &str, value: Option<&str>, observed: J) -> Verdict {
    eval(ty, op, value, Some(observed)).verdict
}

use Verdict::{Error, Fail, Pass};

#[test]
fn bool_operators() {
    assert_eq!(
        verdict(FactType::Bool, "==", Some("true"), json!(true)),
        Pass
    );
    assert_eq!(
        verdict(FactType::Bool, "==", Some("true"), json!(false)),
        Fail
    );
    assert_eq!(
        verdict(FactType::Bool, "!=", Some("true"), json!(false)),
        Pass
    );
    assert_eq!(
        verdict(FactType::Bool, "!=", Some("true"), json!(true)),
        Fail
    );
    assert_eq!(verdict(FactType::Bool, "exists", None, json!(false)), Pass);
    assert_eq!(verdict(FactType::Bool, "absent", None, json!(false)), Fail);
}

#[test]
fn integer_comparisons_at_the_boundary() {
    let cases = [
        ("==", 365, Pass),
        ("==", 366, Fail),
        ("!=", 365, Fail),
        ("!=", 364, Pass),
        ("<", 364, Pass),
        ("<", 365, Fail),
        ("<=", 365, Pass),
        ("<=", 366, Fail),
        (">", 366, Pass),
        (">", 365, Fail),
        (">=", 365, Pass),
        (">=", 364, Fail),
    ];
    for (op, observed, want) in cases {
        assert_eq!(
            verdict(FactType::Integer, op, Some("365"), json!(observed)),
            want,
            "{observed} {op} 365"
        );
    }
    assert_eq!(
        verdict(FactType::Integer, "in", Some("[90, 180, 365]"), json!(180)),
        Pass
    );
    assert_eq!(
        verdict(FactType::Integer, "in", Some("[90, 180, 365]"), json!(181)),
        Fail
    );
    assert_eq!(
        verdict(FactType::Integer, "not in", Some("[0]"), json!(1)),
        Pass
    );
    assert_eq!(
        verdict(FactType::Integer, "not in", Some("[0]"), json!(0)),
        Fail
    );
}

#[test]
fn string_operators() {
    assert_eq!(
        verdict(FactType::String, "==", Some("\"AES256\""), json!("AES256")),
        Pass
    );
    assert_eq!(
        verdict(FactType::String, "==", Some("\"AES256\""), json!("aes256")),
        Fail
    );
    assert_eq!(
        verdict(FactType::String, "!=", Some("\"x\""), json!("y")),
        Pass
    );
    assert_eq!(
        verdict(
            FactType::String,
            "in",
            Some("[\"AES256\", \"aws:kms\"]"),
            json!("aws:kms")
        ),
        Pass
    );
    assert_eq!(
        verdict(
            FactType::String,
            "in",
            Some("[\"AES256\", \"aws:kms\"]"),
            json!("none")
        ),
        Fail
    );
    assert_eq!(
        verdict(
            FactType::String,
            "not in",
            Some("[\"Disabled\"]"),
            json!("Enabled")
        ),
        Pass
    );
    assert_eq!(
        verdict(
            FactType::String,
            "contains",
            Some("\"kms\""),
            json!("aws:kms:dsse")
        ),
        Pass
    );
    assert_eq!(
        verdict(
            FactType::String,
            "contains",
            Some("\"kms\""),
            json!("AES256")
        ),
        Fail
    );
    assert_eq!(
        verdict(
            FactType::String,
            "matches",
            Some("'^arn:aws:kms:'"),
            json!("arn:aws:kms:eu-west-1:1:key/x")
        ),
        Pass
    );
    assert_eq!(
        verdict(
            FactType::String,
            "matches",
            Some("'^arn:aws:kms:'"),
            json!("alias/aws/s3")
        ),
        Fail
    );
}

#[test]
fn string_list_operators() {
    let accepted = json!(["TLSv1.2", "TLSv1.3"]);
    assert_eq!(
        verdict(
            FactType::StringList,
            "contains",
            Some("\"TLSv1.3\""),
            accepted.clone()
        ),
        Pass
    );
    assert_eq!(
        verdict(
            FactType::StringList,
            "contains",
            Some("\"TLSv1.0\""),
            accepted.clone()
        ),
        Fail
    );
    // `in` on a list: every element allowed; `not in`: none of them present.
    assert_eq!(
        verdict(
            FactType::StringList,
            "in",
            Some("[\"TLSv1.2\", \"TLSv1.3\"]"),
            accepted.clone()
        ),
        Pass
    );
    assert_eq!(
        verdict(
            FactType::StringList,
            "in",
            Some("[\"TLSv1.3\"]"),
            accepted.clone()
        ),
        Fail
    );
    assert_eq!(
        verdict(
            FactType::StringList,
            "not in",
            Some("[\"SSLv3\", \"TLSv1.0\"]"),
            accepted.clone()
        ),
        Pass
    );
    assert_eq!(
        verdict(
            FactType::StringList,
            "not in",
            Some("[\"TLSv1.2\"]"),
            accepted.clone()
        ),
        Fail
    );
    assert_eq!(
        verdict(FactType::StringList, "==", Some("[]"), json!([])),
        Pass
    );
    assert_eq!(
        verdict(FactType::StringList, "==", Some("[]"), json!(["alice"])),
        Fail
    );
    assert_eq!(
        verdict(FactType::StringList, "!=", Some("[]"), json!(["alice"])),
        Pass
    );
}

#[test]
fn protocol_versions_order_from_sslv3_to_tls13() {
    let cases = [
        (">=", "TLSv1.2", Pass),
        (">=", "TLSv1.3", Pass),
        (">=", "TLSv1.1", Fail),
        (">=", "SSLv3", Fail),
        (">", "TLSv1.2", Fail),
        (">", "TLSv1.3", Pass),
        ("<", "TLSv1.2", Fail),
        ("<", "TLSv1.0", Pass),
        ("<=", "TLSv1.2", Pass),
        ("==", "TLSv1.2", Pass),
        ("!=", "TLSv1.2", Fail),
    ];
    for (op, observed, want) in cases {
        assert_eq!(
            verdict(FactType::Protocol, op, Some("\"TLSv1.2\""), json!(observed)),
            want,
            "{observed} {op} TLSv1.2"
        );
    }
    assert_eq!(
        verdict(
            FactType::Protocol,
            "in",
            Some("[\"TLSv1.2\", \"TLSv1.3\"]"),
            json!("TLSv1.3")
        ),
        Pass
    );
    assert_eq!(
        verdict(
            FactType::Protocol,
            "not in",
            Some("[\"TLSv1.0\"]"),
            json!("TLSv1.0")
        ),
        Fail
    );
}

#[test]
fn durations_parse_and_compare() {
    assert_eq!(parse_duration("90d"), Ok(90 * 86_400));
    assert_eq!(parse_duration("12h"), Ok(12 * 3_600));
    assert_eq!(parse_duration("30m"), Ok(1_800));
    assert_eq!(parse_duration("1d12h"), Ok(129_600));
    assert_eq!(parse_duration("2w"), Ok(14 * 86_400));
    for bad in [
        "",
        "90",
        "d",
        "3 months",
        "1.5d",
        "-1d",
        "99999999999999999999d",
    ] {
        assert!(parse_duration(bad).is_err(), "{bad:?} must not parse");
    }
    assert_eq!(format_duration(129_600), "1d12h");
    assert_eq!(format_duration(0), "0s");
    assert_eq!(
        verdict(FactType::Duration, "<=", Some("\"15m\""), json!("15m")),
        Pass
    );
    assert_eq!(
        verdict(FactType::Duration, "<=", Some("\"15m\""), json!("15m1s")),
        Fail
    );
    assert_eq!(
        verdict(
            FactType::Duration,
            "within",
            Some("\"15m\""),
            json!("14m59s")
        ),
        Pass
    );
    assert_eq!(
        verdict(FactType::Duration, "within", Some("\"15m\""), json!(901)),
        Fail
    );
    assert_eq!(
        verdict(FactType::Duration, ">", Some("\"1h\""), json!("1h")),
        Fail
    );
}

#[test]
fn timestamps_within_a_window() {
    // now = 2026-11-29T12:00:00Z
    assert_eq!(
        verdict(
            FactType::Timestamp,
            "within",
            Some("\"92d\""),
            json!("2026-08-29T12:00:00Z")
        ),
        Pass
    );
    assert_eq!(
        verdict(
            FactType::Timestamp,
            "within",
            Some("\"92d\""),
            json!("2026-08-29T11:59:59Z")
        ),
        Fail
    );
    assert_eq!(
        verdict(
            FactType::Timestamp,
            "within",
            Some("\"1h\""),
            json!("2026-11-29T13:00:00Z")
        ),
        Error,
        "an hour in the future is clock skew or bad data, never a pass"
    );
    assert_eq!(
        verdict(
            FactType::Timestamp,
            "within",
            Some("\"1h\""),
            json!("2026-11-29T12:04:00Z")
        ),
        Pass,
        "four minutes ahead is tolerated clock skew"
    );
    assert_eq!(
        verdict(
            FactType::Timestamp,
            ">=",
            Some("2026-01-01T00:00:00Z"),
            json!("2026-01-01T00:00:00Z")
        ),
        Pass
    );
    assert_eq!(
        verdict(
            FactType::Timestamp,
            ">=",
            Some("\"2026-01-01T00:00:00Z\""),
            json!("2025-12-31T23:59:59Z")
        ),
        Fail
    );
    assert_eq!(
        verdict(
            FactType::Timestamp,
            "<",
            Some("2026-01-01T00:00:00Z"),
            json!("2025-12-31T23:59:59Z")
        ),
        Pass
    );
}

#[test]
fn dates_count_in_whole_days() {
    assert_eq!(
        verdict(
            FactType::Date,
            "within",
            Some("\"365d\""),
            json!("2025-11-29")
        ),
        Pass
    );
    assert_eq!(
        verdict(
            FactType::Date,
            "within",
            Some("\"365d\""),
            json!("2025-11-28")
        ),
        Fail
    );
    assert_eq!(
        verdict(
            FactType::Date,
            "==",
            Some("2026-03-14"),
            json!("2026-03-14")
        ),
        Pass
    );
    assert_eq!(
        verdict(
            FactType::Date,
            ">",
            Some("\"2026-03-14\""),
            json!("2026-03-14")
        ),
        Fail
    );
    assert_eq!(
        verdict(
            FactType::Date,
            "<=",
            Some("2026-03-14"),
            json!("2026-03-13")
        ),
        Pass
    );
}

#[test]
fn a_missing_fact_is_an_error_never_a_pass() {
    for (ty, op, value) in [
        (FactType::Bool, "==", Some("true")),
        (FactType::Integer, "<=", Some("365")),
        (FactType::Protocol, ">=", Some("\"TLSv1.2\"")),
        (FactType::Timestamp, "within", Some("\"92d\"")),
        (FactType::String, "exists", None),
        (FactType::String, "absent", None),
    ] {
        let c = eval(ty, op, value, None);
        assert_eq!(c.verdict, Error, "{op}");
        assert_eq!(c.observed, None);
        assert_eq!(c.message.as_deref(), Some("fact not observed"));
    }
}

#[test]
fn the_reason_a_fact_was_not_observed_reaches_the_check() {
    let e = Expectation::new(
        "protocols.lowest",
        FactType::Protocol,
        Op::Ge,
        Some(&toml::Value::String("TLSv1.2".into())),
    )
    .unwrap();
    let mut why = BTreeMap::new();
    why.insert(
        "protocols.lowest".to_string(),
        "TLSv1.0 was inconclusive (timeout)".to_string(),
    );
    let c = e.evaluate(&BTreeMap::new(), &why, now());
    assert_eq!(c.verdict, Error);
    assert_eq!(
        c.message.as_deref(),
        Some("fact not observed: TLSv1.0 was inconclusive (timeout)")
    );
}

#[test]
fn an_observed_absence_fails_everything_but_absent() {
    assert_eq!(
        verdict(FactType::Timestamp, "within", Some("\"92d\""), J::Null),
        Fail
    );
    assert_eq!(verdict(FactType::Integer, "<=", Some("365"), J::Null), Fail);
    assert_eq!(verdict(FactType::String, "exists", None, J::Null), Fail);
    assert_eq!(verdict(FactType::String, "absent", None, J::Null), Pass);
    assert_eq!(
        verdict(FactType::String, "!=", Some("\"x\""), J::Null),
        Fail,
        "none is not evidence of anything"
    );
}

#[test]
fn a_fact_of_the_wrong_type_is_an_error() {
    let c = eval(FactType::Integer, "<=", Some("365"), Some(json!("365")));
    assert_eq!(c.verdict, Error);
    assert!(c.message.unwrap().contains("a string for a integer fact"));
    assert_eq!(
        verdict(
            FactType::Protocol,
            ">=",
            Some("\"TLSv1.2\""),
            json!("TLS 1.2")
        ),
        Error
    );
    assert_eq!(
        verdict(
            FactType::Timestamp,
            "within",
            Some("\"1d\""),
            json!("yesterday")
        ),
        Error
    );
    assert_eq!(verdict(FactType::Bool, "==", Some("true"), json!(1)), Error);
}

#[test]
fn operators_that_do_not_fit_a_type_are_rejected_at_load() {
    let t = toml::Value::Boolean(true);
    assert!(matches!(
        Expectation::new("f", FactType::Bool, Op::Gt, Some(&t)),
        Err(ExpectError::Operator(_))
    ));
    assert!(matches!(
        Expectation::new(
            "f",
            FactType::Integer,
            Op::Matches,
            Some(&toml::Value::String("x".into()))
        ),
        Err(ExpectError::Operator(_))
    ));
    assert!(matches!(
        Expectation::new("f", FactType::Object, Op::Eq, Some(&t)),
        Err(ExpectError::Operator(_))
    ));
    assert!(matches!(
        Expectation::new(
            "f",
            FactType::Integer,
            Op::Within,
            Some(&toml::Value::String("1d".into()))
        ),
        Err(ExpectError::Operator(_))
    ));
}

#[test]
fn values_of_the_wrong_type_are_rejected_at_load() {
    let s = |v: &str| toml::Value::String(v.into());
    let bad = [
        (FactType::Integer, Op::Le, s("365")),
        (FactType::Protocol, Op::Ge, s("TLS1.2")),
        (FactType::Bool, Op::Eq, s("yes")),
        (FactType::Duration, Op::Le, s("15 minutes")),
        (FactType::String, Op::In, s("not a list")),
        (FactType::String, Op::Matches, s("(")),
        (FactType::Timestamp, Op::Within, s("3 months")),
    ];
    for (ty, op, v) in bad {
        assert!(
            matches!(
                Expectation::new("f", ty, op, Some(&v)),
                Err(ExpectError::Value(_))
            ),
            "{ty:?} {op} {v}"
        );
    }
    assert!(
        Expectation::new("f", FactType::Integer, Op::Le, None).is_err(),
        "a binary operator needs a value"
    );
    assert!(
        Expectation::new(
            "f",
            FactType::Integer,
            Op::Exists,
            Some(&toml::Value::Integer(1))
        )
        .is_err(),
        "exists takes none"
    );
}

#[test]
fn failing_checks_describe_themselves_for_the_table() {
    let c = eval(
        FactType::Protocol,
        ">=",
        Some("\"TLSv1.2\""),
        Some(json!("TLSv1.0")),
    );
    assert_eq!(c.describe(), "f >= TLSv1.2 (observed TLSv1.0)");
    let c = eval(FactType::Bool, "exists", None, None);
    assert_eq!(c.describe(), "f exists (fact not observed)");
}

#[test]
fn the_worst_verdict_wins() {
    assert_eq!(Verdict::worst([Pass, Fail, Error]), Fail);
    assert_eq!(Verdict::worst([Pass, Error]), Error);
    assert_eq!(Verdict::worst([Pass, Verdict::Waived]), Verdict::Waived);
    assert_eq!(Verdict::worst([Verdict::NotApplicable, Pass]), Pass);
    assert_eq!(Verdict::worst([]), Verdict::NotApplicable);
}

#[test]
fn an_expectation_holds_when_any_alternative_holds() {
    let days = toml::Value::Integer(365);
    let yes = toml::Value::Boolean(true);
    let mut e = Expectation::new("retention_days", FactType::Integer, Op::Ge, Some(&days)).unwrap();
    e.or.push(
        Expectation::new(
            "retention.never_expires",
            FactType::Bool,
            Op::Eq,
            Some(&yes),
        )
        .unwrap(),
    );
    let eval = |facts: &[(&str, J)]| {
        let facts: BTreeMap<String, J> = facts
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        e.evaluate(&facts, &BTreeMap::new(), now())
    };
    let kept = eval(&[
        ("retention_days", json!(400)),
        ("retention.never_expires", json!(false)),
    ]);
    assert_eq!(
        (kept.verdict, kept.or.len()),
        (Pass, 0),
        "the first holds: alternatives not needed"
    );
    let forever = eval(&[
        ("retention_days", J::Null),
        ("retention.never_expires", json!(true)),
    ]);
    assert_eq!(forever.verdict, Pass);
    assert_eq!(forever.or[0].verdict, Pass);
    let short = eval(&[
        ("retention_days", json!(30)),
        ("retention.never_expires", json!(false)),
    ]);
    assert_eq!(short.verdict, Fail);
    assert_eq!(
        short.describe(),
        "retention_days >= 365 (observed 30) or retention.never_expires == true (observed false)"
    );
    let unknown = eval(&[("retention_days", json!(30))]);
    assert_eq!(
        unknown.verdict, Error,
        "an alternative that could not be observed might have held"
    );
    assert_eq!(
        e.describe(),
        "retention_days >= 365 or retention.never_expires == true"
    );
}

#[test]
fn an_observed_absence_survives_a_json_round_trip_and_differs_from_not_observed() {
    let nothing = eval(
        FactType::Timestamp,
        "within",
        Some("\"92d\""),
        Some(J::Null),
    );
    let unseen = eval(FactType::Timestamp, "within", Some("\"92d\""), None);
    let nothing_json = serde_json::to_value(&nothing).unwrap();
    let unseen_json = serde_json::to_value(&unseen).unwrap();
    assert_eq!(nothing_json["observed"], J::Null);
    assert!(nothing_json.as_object().unwrap().contains_key("observed"));
    assert!(!unseen_json.as_object().unwrap().contains_key("observed"));
    let back: Check = serde_json::from_value(nothing_json).unwrap();
    assert_eq!(back, nothing, "null stays an observed absence");
    let back: Check = serde_json::from_value(unseen_json).unwrap();
    assert_eq!(back, unseen);
}
