//! Where data flows (issue #17, transport): `aws.elbv2`, `aws.cloudfront`, `aws.rds`'s TLS
//! facts and the S3 facts that can fail on a real account (`policy.denies_insecure_transport`
//! made exact, `encryption.customer_managed_key`, `encryption.sse_c_blocked`).
//!
//! moto's server for what it implements (seeded through the SDK, or a raw call where the test
//! would otherwise need another SDK crate), the SDK's replay client with bodies written from the
//! AWS API reference for the rest (denied calls, pages moto does not cut). Gaps: docs/testing.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_elasticloadbalancingv2 as elbv2;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, LoadBalancerSchemeEnum,
    ProtocolEnum, RedirectActionConfig, RedirectActionStatusCodeEnum,
};
use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use serde_json::{Value, json};
use vouch::inventory::Inventory;
use vouch::probe::aws::cloudfront::CloudFrontProbe;
use vouch::probe::aws::elbv2::Elbv2Probe;
use vouch::probe::aws::rds::RdsProbe;
use vouch::probe::aws::s3::S3Probe;
use vouch::probe::aws::{Aws, AwsOverrides};
use vouch::probe::{Observation, Params, Probe, ProbeContext, ProbeErrorKind, ProbeOptions};

use crate::aws_audit::aws_sdk_ec2_free::vpc_subnets;
use crate::support;

const REGION: &str = "eu-west-1";

fn moto_url() -> String {
    support::require(
        std::env::var("VOUCH_TEST_MOTO_URL").ok(),
        "moto's server (VOUCH_TEST_MOTO_URL)",
        "source scripts/setup.d/30-moto.sh",
    )
}

/// moto 5.2.5: the first release whose RDS serves DB cluster parameter groups.
fn moto_525_url() -> String {
    support::require(
        std::env::var("VOUCH_TEST_MOTO_RESILIENCE_URL").ok(),
        "moto 5.2.5's server (VOUCH_TEST_MOTO_RESILIENCE_URL)",
        "source scripts/setup.d/31-moto-resilience.sh",
    )
}

fn creds() -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(Credentials::new(
        "testing",
        "testing",
        None,
        None,
        "vouch-tests",
    ))
}

fn moto_aws() -> Arc<Aws> {
    Aws::with_overrides(AwsOverrides {
        credentials: Some(creds()),
        ..AwsOverrides::default()
    })
}

fn ctx_for(url: &str, region: &str) -> ProbeContext {
    let mut inv = Inventory::default();
    inv.aws.region = Some(region.into());
    inv.aws.endpoint_url = Some(url.into());
    ProbeContext::new(Arc::new(inv), ProbeOptions::default())
}

async fn seed_config(url: &str, region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(url)
        .credentials_provider(creds())
        .load()
        .await
}

/// A name no other test (or earlier run against the same server) uses; at most 32 characters
/// (load balancer names).
fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{nanos:x}-{}", N.fetch_add(1, Ordering::Relaxed))
}

async fn observe(probe: &dyn Probe, target: &str, ctx: &ProbeContext) -> Observation {
    let obs = probe
        .observe(target, &Params::new(), ctx)
        .await
        .unwrap_or_else(|e| panic!("observing {target}: {e}"));
    support::assert_iam_policy_allows(&serde_json::to_value(&obs.evidence).unwrap());
    obs
}

fn fact<'a>(obs: &'a Observation, path: &str) -> &'a Value {
    obs.facts.get(path).unwrap_or_else(|| {
        panic!(
            "{path} not observed: {:?} (facts: {:?})",
            obs.unobserved.get(path),
            obs.facts
        )
    })
}

/// The request ids of `action`'s calls in an observation's evidence.
fn request_ids(obs: &Observation, action: &str) -> Vec<String> {
    obs.evidence["api_calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == action)
        .map(|c| c["request_id"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// One JSON-protocol call to moto (ACM: a certificate for HTTPS listeners without the ACM SDK).
async fn json_call(cfg: &SdkConfig, service: &str, target: &str, body: Value) -> Value {
    let url = cfg.endpoint_url().unwrap().to_string();
    let region = cfg.region().unwrap().to_string();
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0"
    );
    let resp = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", target)
        .header("authorization", auth)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_success(), "{target}: {status} {text}");
    serde_json::from_str(&text).unwrap()
}

async fn acm_certificate(cfg: &SdkConfig) -> String {
    json_call(
        cfg,
        "acm",
        "CertificateManager.RequestCertificate",
        json!({"DomainName": "app.example.com"}),
    )
    .await["CertificateArn"]
        .as_str()
        .unwrap()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// aws.elbv2 on moto

struct Estate {
    elb: elbv2::Client,
    subnets: Vec<String>,
    cert: String,
}

async fn estate(cfg: &SdkConfig) -> Estate {
    Estate {
        elb: elbv2::Client::new(cfg),
        subnets: vpc_subnets(cfg).await,
        cert: acm_certificate(cfg).await,
    }
}

impl Estate {
    async fn load_balancer(&self, name: &str, scheme: LoadBalancerSchemeEnum) -> String {
        self.elb
            .create_load_balancer()
            .name(name)
            .set_subnets(Some(self.subnets.clone()))
            .scheme(scheme)
            .send()
            .await
            .unwrap()
            .load_balancers()[0]
            .load_balancer_arn()
            .unwrap()
            .to_string()
    }

    async fn https(&self, lb: &str, port: i32, policy: &str) {
        self.elb
            .create_listener()
            .load_balancer_arn(lb)
            .protocol(ProtocolEnum::Https)
            .port(port)
            .ssl_policy(policy)
            .certificates(Certificate::builder().certificate_arn(&self.cert).build())
            .default_actions(
                Action::builder()
                    .r#type(ActionTypeEnum::FixedResponse)
                    .fixed_response_config(
                        FixedResponseActionConfig::builder()
                            .status_code("200")
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }

    /// A plain HTTP listener: a redirect to `redirect_to` (`HTTPS`, `HTTP`), or content.
    async fn http(&self, lb: &str, redirect_to: Option<&str>) {
        let action = match redirect_to {
            Some(protocol) => Action::builder()
                .r#type(ActionTypeEnum::Redirect)
                .redirect_config(
                    RedirectActionConfig::builder()
                        .protocol(protocol)
                        .port("443")
                        .status_code(RedirectActionStatusCodeEnum::Http301)
                        .build(),
                ),
            None => Action::builder()
                .r#type(ActionTypeEnum::FixedResponse)
                .fixed_response_config(
                    FixedResponseActionConfig::builder()
                        .status_code("200")
                        .build(),
                ),
        };
        self.elb
            .create_listener()
            .load_balancer_arn(lb)
            .protocol(ProtocolEnum::Http)
            .port(80)
            .default_actions(action.build())
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn elbv2_reads_each_load_balancers_lowest_tls_weak_ciphers_and_plain_http() {
    let url = moto_url();
    let cfg = seed_config(&url, REGION).await;
    let e = estate(&cfg).await;
    let strong = unique("lb-strong");
    let weak = unique("lb-weak");
    let wrong_redirect = unique("lb-http");
    let strong_arn = e
        .load_balancer(&strong, LoadBalancerSchemeEnum::Internal)
        .await;
    e.https(&strong_arn, 443, "ELBSecurityPolicy-TLS13-1-2-2021-06")
        .await;
    e.https(&strong_arn, 8443, "ELBSecurityPolicy-TLS13-1-2-2021-06")
        .await;
    e.http(&strong_arn, Some("HTTPS")).await;
    let weak_arn = e
        .load_balancer(&weak, LoadBalancerSchemeEnum::InternetFacing)
        .await;
    e.https(&weak_arn, 443, "ELBSecurityPolicy-TLS13-1-2-2021-06")
        .await;
    e.https(&weak_arn, 8443, "ELBSecurityPolicy-2016-08").await;
    e.http(&weak_arn, None).await;
    let redirect_arn = e
        .load_balancer(&wrong_redirect, LoadBalancerSchemeEnum::InternetFacing)
        .await;
    e.https(&redirect_arn, 443, "ELBSecurityPolicy-TLS13-1-2-2021-06")
        .await;
    // A redirect that keeps plain HTTP is no redirect to HTTPS.
    e.http(&redirect_arn, Some("HTTP")).await;

    let probe = Elbv2Probe::new(moto_aws());
    let ctx = ctx_for(&url, REGION);
    let s = observe(&probe, &strong, &ctx).await;
    assert_eq!(fact(&s, "scheme"), &json!("internal"));
    assert_eq!(fact(&s, "type"), &json!("application"));
    assert_eq!(fact(&s, "listeners.count"), &json!(3));
    assert_eq!(fact(&s, "listeners.lowest_protocol"), &json!("TLSv1.2"));
    assert_eq!(
        fact(&s, "listeners.plain_http_without_redirect"),
        &json!(false)
    );
    assert_eq!(fact(&s, "listeners.plaintext"), &json!([]));
    assert_eq!(fact(&s, "listeners.weak_ciphers"), &json!([]));
    assert_eq!(fact(&s, "listeners.certificate_arns"), &json!([e.cert]));
    assert_eq!(
        fact(&s, "listeners.ssl_policies"),
        &json!(["ELBSecurityPolicy-TLS13-1-2-2021-06"])
    );
    // Two listeners, one policy: asked once. Each listener is in the evidence.
    assert_eq!(
        request_ids(&s, "elasticloadbalancing:DescribeSSLPolicies").len(),
        1
    );
    let listeners = s.evidence["listeners"].as_array().unwrap();
    assert_eq!(listeners.len(), 3);
    assert!(
        listeners
            .iter()
            .any(|l| l["policy_protocols"] == json!(["TLSv1.2", "TLSv1.3"])
                || l["policy_protocols"] == json!(["TLSv1.3", "TLSv1.2"])),
        "{listeners:?}"
    );

    let w = observe(&probe, &weak_arn, &ctx).await;
    assert_eq!(fact(&w, "scheme"), &json!("internet-facing"));
    assert_eq!(fact(&w, "listeners.lowest_protocol"), &json!("TLSv1.0"));
    assert_eq!(
        fact(&w, "listeners.plain_http_without_redirect"),
        &json!(true)
    );
    assert_eq!(fact(&w, "listeners.plaintext"), &json!(["HTTP:80"]));
    let weak_ciphers = fact(&w, "listeners.weak_ciphers").as_array().unwrap();
    assert!(
        weak_ciphers.contains(&json!("AES128-SHA")),
        "{weak_ciphers:?}"
    );
    assert!(!weak_ciphers.contains(&json!("ECDHE-RSA-AES128-GCM-SHA256")));
    // The policy the strong load balancer used was read once in this run, not again.
    assert_eq!(
        request_ids(&w, "elasticloadbalancing:DescribeSSLPolicies").len(),
        2,
        "one per distinct policy"
    );
    assert!(
        request_ids(&w, "elasticloadbalancing:DescribeSSLPolicies")
            .contains(&request_ids(&s, "elasticloadbalancing:DescribeSSLPolicies")[0]),
        "the shared policy's call is the same call"
    );

    let r = observe(&probe, &wrong_redirect, &ctx).await;
    assert_eq!(
        fact(&r, "listeners.plain_http_without_redirect"),
        &json!(true)
    );
    assert_eq!(fact(&r, "listeners.lowest_protocol"), &json!("TLSv1.2"));

    let missing = probe
        .observe("no-such-lb", &Params::new(), &ctx)
        .await
        .unwrap_err();
    assert_eq!(missing.kind, ProbeErrorKind::NotFound, "{missing:?}");
}

#[tokio::test]
async fn elbv2_star_finds_every_load_balancer_over_every_page() {
    let url = moto_url();
    // A region no other test seeds: the population is exactly what this test made.
    let region = "ca-central-1";
    let cfg = seed_config(&url, region).await;
    let e = estate(&cfg).await;
    let mut names = Vec::new();
    for i in 0..3 {
        let name = unique(&format!("star{i}"));
        e.load_balancer(&name, LoadBalancerSchemeEnum::Internal)
            .await;
        names.push(name);
    }
    names.sort();
    let probe = Elbv2Probe::new(moto_aws()).with_page_size(1);
    let ctx = ctx_for(&url, region);
    let found = probe.discover("*", &ctx).await.unwrap();
    for n in &names {
        assert!(found.contains(n), "{n} in {found:?}");
    }
    let info = ctx.run_info();
    let calls = info[&format!("aws.elbv2.discovery.{region}")]["api_calls"]
        .as_array()
        .unwrap()
        .len();
    assert!(calls >= 3, "one page per load balancer: {calls}");
}

// ---------------------------------------------------------------------------------------------
// The SDK's replay client: bodies from the AWS API reference

const ACCOUNT: &str = "123456789012";

fn xml(status: u16, body: &str) -> http::Response<SdkBody> {
    http::Response::builder()
        .status(status)
        .header("content-type", "text/xml")
        .header("x-amzn-requestid", "11111111-2222-3333-4444-555555555555")
        .body(SdkBody::from(body.to_string()))
        .unwrap()
}

fn request(uri: &str) -> http::Request<SdkBody> {
    http::Request::builder()
        .uri(uri)
        .body(SdkBody::empty())
        .unwrap()
}

fn caller_identity() -> ReplayEvent {
    ReplayEvent::new(
        request("https://sts.eu-west-1.amazonaws.com/"),
        xml(
            200,
            &format!(
                r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::{ACCOUNT}:user/auditor</Arn>
    <UserId>AIDASAMPLEUSERID</UserId>
    <Account>{ACCOUNT}</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>"#
            ),
        ),
    )
}

fn access_denied(action: &str) -> http::Response<SdkBody> {
    xml(
        403,
        &format!(
            r#"<ErrorResponse xmlns="https://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
  <Error><Type>Sender</Type><Code>AccessDenied</Code>
  <Message>User: arn:aws:iam::{ACCOUNT}:user/auditor is not authorized to perform: {action}</Message></Error>
  <RequestId>aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee</RequestId>
</ErrorResponse>"#
        ),
    )
}

fn replay(events: Vec<ReplayEvent>) -> (Arc<Aws>, ProbeContext, StaticReplayClient) {
    let client = StaticReplayClient::new(events);
    let aws = Aws::with_overrides(AwsOverrides {
        credentials: Some(creds()),
        http_client: Some(aws_smithy_runtime_api::client::http::SharedHttpClient::new(
            client.clone(),
        )),
        retry: Some(RetryConfig::standard().with_max_attempts(1)),
    });
    let mut inv = Inventory::default();
    inv.aws.region = Some(REGION.into());
    let ctx = ProbeContext::new(Arc::new(inv), ProbeOptions::default());
    (aws, ctx, client)
}

const LB_ARN: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188";

fn describe_load_balancers() -> ReplayEvent {
    ReplayEvent::new(
        request("https://elasticloadbalancing.eu-west-1.amazonaws.com/"),
        xml(
            200,
            &format!(
                r#"<DescribeLoadBalancersResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
  <DescribeLoadBalancersResult>
    <LoadBalancers>
      <member>
        <LoadBalancerArn>{LB_ARN}</LoadBalancerArn>
        <Scheme>internet-facing</Scheme>
        <LoadBalancerName>web</LoadBalancerName>
        <VpcId>vpc-3ac0fb5f</VpcId>
        <CanonicalHostedZoneId>Z2P70J7EXAMPLE</CanonicalHostedZoneId>
        <CreatedTime>2016-03-25T21:26:12.920Z</CreatedTime>
        <DNSName>web-123456789.eu-west-1.elb.amazonaws.com</DNSName>
        <State><Code>active</Code></State>
        <Type>application</Type>
      </member>
    </LoadBalancers>
  </DescribeLoadBalancersResult>
  <ResponseMetadata><RequestId>6581c0ac-f39f-11e5-bb98-57c8d0a4ed5a</RequestId></ResponseMetadata>
</DescribeLoadBalancersResponse>"#
            ),
        ),
    )
}

/// One page of DescribeListeners: an HTTPS listener with `policy` on `port`, an HTTP one that
/// redirects to HTTPS, and `next` as NextMarker.
fn describe_listeners(port: u16, policy: &str, next: Option<&str>) -> ReplayEvent {
    let marker = next
        .map(|m| format!("<NextMarker>{m}</NextMarker>"))
        .unwrap_or_default();
    ReplayEvent::new(
        request("https://elasticloadbalancing.eu-west-1.amazonaws.com/"),
        xml(
            200,
            &format!(
                r#"<DescribeListenersResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
  <DescribeListenersResult>
    <Listeners>
      <member>
        <LoadBalancerArn>{LB_ARN}</LoadBalancerArn>
        <Protocol>HTTPS</Protocol>
        <Port>{port}</Port>
        <ListenerArn>arn:aws:elasticloadbalancing:eu-west-1:{ACCOUNT}:listener/app/web/50dc6c495c0c9188/f2f7dc8efc52{port}</ListenerArn>
        <SslPolicy>{policy}</SslPolicy>
        <Certificates><member><CertificateArn>arn:aws:acm:eu-west-1:{ACCOUNT}:certificate/{port}</CertificateArn></member></Certificates>
        <DefaultActions>
          <member><Type>forward</Type><TargetGroupArn>arn:aws:elasticloadbalancing:eu-west-1:{ACCOUNT}:targetgroup/tg/73e2d6bc24d8a067</TargetGroupArn></member>
        </DefaultActions>
      </member>
      <member>
        <LoadBalancerArn>{LB_ARN}</LoadBalancerArn>
        <Protocol>HTTP</Protocol>
        <Port>{}</Port>
        <ListenerArn>arn:aws:elasticloadbalancing:eu-west-1:{ACCOUNT}:listener/app/web/50dc6c495c0c9188/0467ef3c8400ae{port}</ListenerArn>
        <DefaultActions>
          <member><Type>redirect</Type><Order>1</Order>
            <RedirectConfig><Protocol>HTTPS</Protocol><Port>443</Port><Host>#{{host}}</Host><Path>/#{{path}}</Path><Query>#{{query}}</Query><StatusCode>HTTP_301</StatusCode></RedirectConfig>
          </member>
        </DefaultActions>
      </member>
    </Listeners>
    {marker}
  </DescribeListenersResult>
  <ResponseMetadata><RequestId>18e470d3-f39c-11e5-a53c-67205c0d10fd</RequestId></ResponseMetadata>
</DescribeListenersResponse>"#,
                port - 363
            ),
        ),
    )
}

fn describe_ssl_policies(name: &str, protocols: &[&str], ciphers: &[&str]) -> ReplayEvent {
    let protocols: String = protocols
        .iter()
        .map(|p| format!("<member>{p}</member>"))
        .collect();
    let ciphers: String = ciphers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(
                "<member><Name>{c}</Name><Priority>{}</Priority></member>",
                i + 1
            )
        })
        .collect();
    ReplayEvent::new(
        request("https://elasticloadbalancing.eu-west-1.amazonaws.com/"),
        xml(
            200,
            &format!(
                r#"<DescribeSSLPoliciesResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
  <DescribeSSLPoliciesResult>
    <SslPolicies>
      <member>
        <Name>{name}</Name>
        <SslProtocols>{protocols}</SslProtocols>
        <Ciphers>{ciphers}</Ciphers>
        <SupportedLoadBalancerTypes><member>application</member><member>network</member></SupportedLoadBalancerTypes>
      </member>
    </SslPolicies>
  </DescribeSSLPoliciesResult>
  <ResponseMetadata><RequestId>cd3fbd0d-f39c-11e5-a53c-67205c0d10fd</RequestId></ResponseMetadata>
</DescribeSSLPoliciesResponse>"#
            ),
        ),
    )
}

#[tokio::test]
async fn elbv2_reads_every_page_of_listeners_with_a_policy_newer_than_any_table() {
    // A policy name vouch has never seen: its protocols come from ELB, not from a list.
    let (aws, ctx, client) = replay(vec![
        caller_identity(),
        describe_load_balancers(),
        describe_listeners(
            443,
            "ELBSecurityPolicy-TLS13-1-3-FIPS-2099-01",
            Some("page-2"),
        ),
        describe_listeners(8443, "ELBSecurityPolicy-TLS-1-1-2017-01", None),
        describe_ssl_policies(
            "ELBSecurityPolicy-TLS-1-1-2017-01",
            &["TLSv1.1", "TLSv1.2"],
            &["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-SHA"],
        ),
        describe_ssl_policies(
            "ELBSecurityPolicy-TLS13-1-3-FIPS-2099-01",
            &["TLSv1.3"],
            &["TLS_AES_256_GCM_SHA384"],
        ),
    ]);
    let obs = observe(&Elbv2Probe::new(aws), "web", &ctx).await;
    assert_eq!(fact(&obs, "listeners.count"), &json!(4));
    assert_eq!(fact(&obs, "listeners.lowest_protocol"), &json!("TLSv1.1"));
    assert_eq!(
        fact(&obs, "listeners.weak_ciphers"),
        &json!(["ECDHE-RSA-AES128-SHA"])
    );
    assert_eq!(
        fact(&obs, "listeners.plain_http_without_redirect"),
        &json!(false)
    );
    assert_eq!(fact(&obs, "scheme"), &json!("internet-facing"));
    assert_eq!(
        fact(&obs, "listeners.certificate_arns")
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Every page asked, the second with the first page's marker.
    let asked = bodies(&client);
    assert_eq!(asked.len(), 6, "{asked:?}");
    assert!(
        asked
            .iter()
            .any(|b| b.contains("Action=DescribeListeners") && b.contains("Marker=page-2")),
        "{asked:?}"
    );
}

/// The bodies of the requests a replay client answered, in order.
fn bodies(client: &StaticReplayClient) -> Vec<String> {
    client
        .actual_requests()
        .map(|r| {
            r.body()
                .bytes()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
        })
        .collect()
}

#[tokio::test]
async fn elbv2_denied_policy_read_leaves_only_the_policy_facts_unobserved() {
    let (aws, ctx, _client) = replay(vec![
        caller_identity(),
        describe_load_balancers(),
        describe_listeners(443, "ELBSecurityPolicy-TLS13-1-2-2021-06", None),
        ReplayEvent::new(
            request("https://elasticloadbalancing.eu-west-1.amazonaws.com/"),
            access_denied("elasticloadbalancing:DescribeSSLPolicies"),
        ),
    ]);
    let obs = observe(&Elbv2Probe::new(aws), "web", &ctx).await;
    for p in ["listeners.lowest_protocol", "listeners.weak_ciphers"] {
        assert!(!obs.facts.contains_key(p), "{p} must not be observed");
        assert!(
            obs.unobserved[p].contains("DescribeSSLPolicies"),
            "{p}: {}",
            obs.unobserved[p]
        );
    }
    // What DescribeListeners alone says is still known.
    assert_eq!(
        fact(&obs, "listeners.plain_http_without_redirect"),
        &json!(false)
    );
    assert_eq!(fact(&obs, "listeners.count"), &json!(2));

    // Through the built-in control: an error, never a pass.
    let result = builtin_result("ENC-TRANSIT-LOAD-BALANCERS", &obs);
    assert_eq!(result.verdict.as_str(), "error", "{result:?}");
}

#[tokio::test]
async fn elbv2_denied_listing_is_an_error_for_the_load_balancer() {
    let (aws, ctx, _client) = replay(vec![
        caller_identity(),
        ReplayEvent::new(
            request("https://elasticloadbalancing.eu-west-1.amazonaws.com/"),
            access_denied("elasticloadbalancing:DescribeLoadBalancers"),
        ),
    ]);
    let err = Elbv2Probe::new(aws)
        .observe("web", &Params::new(), &ctx)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProbeErrorKind::Denied, "{err:?}");
}

/// The result of built-in control `id` (loaded as `vouch check` loads it) on one observation.
fn builtin_result(id: &str, obs: &Observation) -> vouch::report::TargetResult {
    let registry = vouch::probe::Registry::builtin();
    let mut diags = vouch::diag::Diagnostics::new();
    let control = vouch::control::load_controls(
        &[vouch::control::Source::Path(
            support::repo().join("controls/02-encryption.toml"),
        )],
        &registry,
        None,
        &mut diags,
    )
    .into_iter()
    .find(|c| c.id == id)
    .unwrap_or_else(|| panic!("the built-in {id}: {}", diags.render(false)));
    vouch::engine::evaluate(&control, obs, None, jiff::Timestamp::now())
}

// ---------------------------------------------------------------------------------------------
// aws.rds TLS

async fn param_group(rds: &aws_sdk_rds::Client, name: &str, family: &str, params: &[(&str, &str)]) {
    rds.create_db_parameter_group()
        .db_parameter_group_name(name)
        .db_parameter_group_family(family)
        .description("vouch test")
        .send()
        .await
        .unwrap();
    let mut req = rds
        .modify_db_parameter_group()
        .db_parameter_group_name(name);
    for (k, v) in params {
        req = req.parameters(
            aws_sdk_rds::types::Parameter::builder()
                .parameter_name(*k)
                .parameter_value(*v)
                .apply_method(aws_sdk_rds::types::ApplyMethod::Immediate)
                .build(),
        );
    }
    req.send().await.unwrap();
}

async fn instance(rds: &aws_sdk_rds::Client, id: &str, engine: &str, group: Option<&str>) {
    rds.create_db_instance()
        .db_instance_identifier(id)
        .engine(engine)
        .db_instance_class("db.t3.micro")
        .master_username("admin")
        .master_user_password("not-a-secret-1")
        .allocated_storage(20)
        .set_db_parameter_group_name(group.map(str::to_string))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn rds_tls_required_and_minimum_version_come_from_the_parameter_group() {
    let url = moto_url();
    let cfg = seed_config(&url, REGION).await;
    let rds = aws_sdk_rds::Client::new(&cfg);
    let pg_on = unique("pg-tls");
    let my_off = unique("my-plain");
    param_group(
        &rds,
        &pg_on,
        "postgres16",
        &[
            ("rds.force_ssl", "1"),
            ("ssl_min_protocol_version", "TLSv1.2"),
        ],
    )
    .await;
    param_group(
        &rds,
        &my_off,
        "mysql8.0",
        &[
            ("require_secure_transport", "0"),
            ("tls_version", "TLSv1,TLSv1.1,TLSv1.2"),
        ],
    )
    .await;
    let pg = unique("pg");
    let my = unique("my");
    let ora = unique("ora");
    instance(&rds, &pg, "postgres", Some(&pg_on)).await;
    instance(&rds, &my, "mysql", Some(&my_off)).await;
    instance(&rds, &ora, "oracle-ee", None).await;

    let probe = RdsProbe::new(moto_aws());
    let ctx = ctx_for(&url, REGION);
    let on = observe(&probe, &pg, &ctx).await;
    assert_eq!(fact(&on, "tls.required"), &json!(true));
    assert_eq!(fact(&on, "tls.minimum_protocol"), &json!("TLSv1.2"));
    assert!(on.facts.contains_key("ca_certificate_identifier"));
    assert_eq!(
        on.evidence["tls_parameters"]["parameter_group"],
        json!(pg_on)
    );
    let off = observe(&probe, &my, &ctx).await;
    assert_eq!(fact(&off, "tls.required"), &json!(false));
    assert_eq!(fact(&off, "tls.minimum_protocol"), &json!("TLSv1.0"));
    // An engine without a known parameter: unobserved with the reason, never false.
    let oracle = observe(&probe, &ora, &ctx).await;
    assert!(!oracle.facts.contains_key("tls.required"));
    assert!(
        oracle.unobserved["tls.required"].contains("oracle-ee"),
        "{:?}",
        oracle.unobserved
    );
    // The other facts are unaffected.
    assert_eq!(fact(&oracle, "kind"), &json!("instance"));
}

#[tokio::test]
async fn rds_cluster_tls_comes_from_the_cluster_parameter_group() {
    let url = moto_525_url();
    let cfg = seed_config(&url, REGION).await;
    let rds = aws_sdk_rds::Client::new(&cfg);
    let group = unique("cpg");
    rds.create_db_cluster_parameter_group()
        .db_cluster_parameter_group_name(&group)
        .db_parameter_group_family("aurora-mysql8.0")
        .description("vouch test")
        .send()
        .await
        .unwrap();
    rds.modify_db_cluster_parameter_group()
        .db_cluster_parameter_group_name(&group)
        .parameters(
            aws_sdk_rds::types::Parameter::builder()
                .parameter_name("require_secure_transport")
                .parameter_value("ON")
                .apply_method(aws_sdk_rds::types::ApplyMethod::Immediate)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let id = unique("aurora");
    rds.create_db_cluster()
        .db_cluster_identifier(&id)
        .engine("aurora-mysql")
        .master_username("admin")
        .master_user_password("not-a-secret-1")
        .db_cluster_parameter_group_name(&group)
        .send()
        .await
        .unwrap();
    let obs = observe(
        &RdsProbe::new(moto_aws()),
        &format!("cluster:{id}"),
        &ctx_for(&url, REGION),
    )
    .await;
    assert_eq!(fact(&obs, "tls.required"), &json!(true));
    // tls_version left at the engine default: not guessed.
    assert!(obs.unobserved.contains_key("tls.minimum_protocol"));
}

fn rds_xml(body: &str) -> ReplayEvent {
    ReplayEvent::new(
        request("https://rds.eu-west-1.amazonaws.com/"),
        xml(200, body),
    )
}

fn describe_db_instance(group: &str) -> ReplayEvent {
    describe_db_instance_with(group, "in-sync")
}

fn describe_db_instance_with(group: &str, apply_status: &str) -> ReplayEvent {
    rds_xml(&format!(
        r#"<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
  <DescribeDBInstancesResult>
    <DBInstances>
      <DBInstance>
        <DBInstanceIdentifier>prod-db</DBInstanceIdentifier>
        <DBInstanceArn>arn:aws:rds:eu-west-1:{ACCOUNT}:db:prod-db</DBInstanceArn>
        <Engine>postgres</Engine>
        <EngineVersion>16.3</EngineVersion>
        <DBInstanceStatus>available</DBInstanceStatus>
        <BackupRetentionPeriod>7</BackupRetentionPeriod>
        <StorageEncrypted>true</StorageEncrypted>
        <MultiAZ>true</MultiAZ>
        <PubliclyAccessible>false</PubliclyAccessible>
        <DeletionProtection>true</DeletionProtection>
        <CACertificateIdentifier>rds-ca-rsa2048-g1</CACertificateIdentifier>
        <DBParameterGroups>
          <DBParameterGroup><DBParameterGroupName>{group}</DBParameterGroupName><ParameterApplyStatus>{apply_status}</ParameterApplyStatus></DBParameterGroup>
        </DBParameterGroups>
      </DBInstance>
    </DBInstances>
  </DescribeDBInstancesResult>
  <ResponseMetadata><RequestId>9135fff3-8509-11e0-bd9b-a7b1ece36d51</RequestId></ResponseMetadata>
</DescribeDBInstancesResponse>"#
    ))
}

fn describe_db_parameters(params: &[(&str, Option<&str>)], marker: Option<&str>) -> ReplayEvent {
    let members: String = params
        .iter()
        .map(|(n, v)| {
            format!(
                "<Parameter><ParameterName>{n}</ParameterName>{}<Source>system</Source><ApplyType>dynamic</ApplyType><DataType>string</DataType><IsModifiable>true</IsModifiable></Parameter>",
                v.map(|v| format!("<ParameterValue>{v}</ParameterValue>"))
                    .unwrap_or_default()
            )
        })
        .collect();
    let marker = marker
        .map(|m| format!("<Marker>{m}</Marker>"))
        .unwrap_or_default();
    rds_xml(&format!(
        r#"<DescribeDBParametersResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
  <DescribeDBParametersResult>
    {marker}
    <Parameters>{members}</Parameters>
  </DescribeDBParametersResult>
  <ResponseMetadata><RequestId>8c40488f-b9ff-11d3-a15e-7ac49293f4fa</RequestId></ResponseMetadata>
</DescribeDBParametersResponse>"#
    ))
}

#[tokio::test]
async fn rds_reads_every_page_of_a_default_parameter_group() {
    // A default group lists every parameter over several pages; the ones that matter are on
    // the last. A parameter listed without a value is at the engine's default.
    let (aws, ctx, client) = replay(vec![
        caller_identity(),
        describe_db_instance("default.postgres16"),
        describe_db_parameters(
            &[("archive_command", None), ("autovacuum", Some("1"))],
            Some("bWFya2VyLTI="),
        ),
        describe_db_parameters(
            &[
                ("rds.force_ssl", Some("1")),
                ("ssl_min_protocol_version", None),
            ],
            None,
        ),
    ]);
    let obs = observe(&RdsProbe::new(aws), "prod-db", &ctx).await;
    assert_eq!(fact(&obs, "tls.required"), &json!(true));
    assert_eq!(
        fact(&obs, "ca_certificate_identifier"),
        &json!("rds-ca-rsa2048-g1")
    );
    assert!(
        obs.unobserved["tls.minimum_protocol"].contains("default"),
        "{:?}",
        obs.unobserved
    );
    let asked = bodies(&client);
    assert_eq!(asked.len(), 4, "{asked:?}");
    assert!(
        asked[3].contains("Action=DescribeDBParameters") && asked[3].contains("Marker=bWFya2VyLTI"),
        "{asked:?}"
    );
}

#[tokio::test]
async fn rds_tls_required_by_a_group_pending_reboot_is_not_taken_as_in_effect() {
    let (aws, ctx, _client) = replay(vec![
        caller_identity(),
        describe_db_instance_with("prod-pg16-tls", "pending-reboot"),
        describe_db_parameters(&[("rds.force_ssl", Some("1"))], None),
    ]);
    let obs = observe(&RdsProbe::new(aws), "prod-db", &ctx).await;
    assert!(!obs.facts.contains_key("tls.required"));
    assert!(
        obs.unobserved["tls.required"].contains("pending-reboot"),
        "{:?}",
        obs.unobserved
    );
    assert_ne!(
        builtin_result("ENC-TRANSIT-DATABASES", &obs)
            .verdict
            .as_str(),
        "pass"
    );
}

#[tokio::test]
async fn rds_denied_parameter_read_leaves_only_the_tls_facts_unobserved() {
    let (aws, ctx, _client) = replay(vec![
        caller_identity(),
        describe_db_instance("prod-pg16"),
        ReplayEvent::new(
            request("https://rds.eu-west-1.amazonaws.com/"),
            xml(
                403,
                &format!(
                    r#"<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
  <Error><Type>Sender</Type><Code>AccessDenied</Code>
  <Message>User: arn:aws:iam::{ACCOUNT}:user/auditor is not authorized to perform: rds:DescribeDBParameters</Message></Error>
  <RequestId>aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee</RequestId>
</ErrorResponse>"#
                ),
            ),
        ),
    ]);
    let obs = observe(&RdsProbe::new(aws), "prod-db", &ctx).await;
    assert!(!obs.facts.contains_key("tls.required"));
    assert!(
        obs.unobserved["tls.required"].contains("DescribeDBParameters"),
        "{:?}",
        obs.unobserved
    );
    assert_eq!(fact(&obs, "storage.encrypted"), &json!(true));
    let result = builtin_result("ENC-TRANSIT-DATABASES", &obs);
    assert_eq!(result.verdict.as_str(), "error", "{result:?}");
}

// ---------------------------------------------------------------------------------------------
// aws.cloudfront: moto 5.0.28's CloudFront answers are refused by the SDK (docs/testing.md), so
// the replay client with GetDistributionConfig / ListDistributions from the API reference.

struct Dist<'a> {
    viewer: &'a str,
    behaviour: Option<&'a str>,
    certificate: &'a str,
    origin_policy: &'a str,
    origin_ssl: &'a [&'a str],
    web_acl: &'a str,
}

fn cf_response(body: String) -> http::Response<SdkBody> {
    http::Response::builder()
        .status(200)
        .header("content-type", "text/xml")
        .header("etag", "E2QWRUHEXAMPLE")
        .header("x-amzn-requestid", "3f3c9e2b-0000-4000-8000-EXAMPLE00001")
        .body(SdkBody::from(body))
        .unwrap()
}

fn get_distribution_config(d: &Dist) -> ReplayEvent {
    let ssl: String = d
        .origin_ssl
        .iter()
        .map(|p| format!("<SslProtocol>{p}</SslProtocol>"))
        .collect();
    let behaviours = match d.behaviour {
        Some(policy) => format!(
            "<CacheBehaviors><Quantity>1</Quantity><Items><CacheBehavior>\
             <PathPattern>/api/*</PathPattern><TargetOriginId>app</TargetOriginId>\
             <ViewerProtocolPolicy>{policy}</ViewerProtocolPolicy>\
             <CachePolicyId>4135ea2d-6df8-44a3-9df3-4b5a84be39ad</CachePolicyId>\
             </CacheBehavior></Items></CacheBehaviors>"
        ),
        None => "<CacheBehaviors><Quantity>0</Quantity></CacheBehaviors>".into(),
    };
    ReplayEvent::new(
        request("https://cloudfront.amazonaws.com/2020-05-31/distribution/E2QWRUHAPOMQZL/config"),
        cf_response(format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<DistributionConfig xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">
  <CallerReference>vouch-edge</CallerReference>
  <Aliases><Quantity>1</Quantity><Items><CNAME>www.example.com</CNAME></Items></Aliases>
  <DefaultRootObject>index.html</DefaultRootObject>
  <Origins><Quantity>1</Quantity><Items><Origin>
    <Id>app</Id><DomainName>origin.example.com</DomainName><OriginPath></OriginPath>
    <CustomHeaders><Quantity>0</Quantity></CustomHeaders>
    <CustomOriginConfig><HTTPPort>80</HTTPPort><HTTPSPort>443</HTTPSPort>
      <OriginProtocolPolicy>{}</OriginProtocolPolicy>
      <OriginSslProtocols><Quantity>{}</Quantity><Items>{ssl}</Items></OriginSslProtocols>
      <OriginReadTimeout>30</OriginReadTimeout><OriginKeepaliveTimeout>5</OriginKeepaliveTimeout>
    </CustomOriginConfig>
    <ConnectionAttempts>3</ConnectionAttempts><ConnectionTimeout>10</ConnectionTimeout>
  </Origin></Items></Origins>
  <DefaultCacheBehavior>
    <TargetOriginId>app</TargetOriginId>
    <ViewerProtocolPolicy>{}</ViewerProtocolPolicy>
    <CachePolicyId>658327ea-f89d-4fab-a63d-7e88639e58f6</CachePolicyId>
    <Compress>true</Compress>
  </DefaultCacheBehavior>
  {behaviours}
  <Comment></Comment>
  <PriceClass>PriceClass_All</PriceClass>
  <Enabled>true</Enabled>
  <ViewerCertificate>{}</ViewerCertificate>
  <WebACLId>{}</WebACLId>
  <HttpVersion>http2</HttpVersion>
  <IsIPV6Enabled>true</IsIPV6Enabled>
</DistributionConfig>"#,
            d.origin_policy,
            d.origin_ssl.len(),
            d.viewer,
            d.certificate,
            d.web_acl
        )),
    )
}

const DEFAULT_CERT: &str = "<CloudFrontDefaultCertificate>true</CloudFrontDefaultCertificate>\
    <SSLSupportMethod>vip</SSLSupportMethod><MinimumProtocolVersion>TLSv1.2_2021</MinimumProtocolVersion>\
    <CertificateSource>cloudfront</CertificateSource>";

fn acm_cert(policy: &str) -> String {
    format!(
        "<CloudFrontDefaultCertificate>false</CloudFrontDefaultCertificate>\
         <ACMCertificateArn>arn:aws:acm:us-east-1:{ACCOUNT}:certificate/12345678-1234-1234-1234-123456789012</ACMCertificateArn>\
         <SSLSupportMethod>sni-only</SSLSupportMethod><MinimumProtocolVersion>{policy}</MinimumProtocolVersion>\
         <Certificate>arn:aws:acm:us-east-1:{ACCOUNT}:certificate/12345678-1234-1234-1234-123456789012</Certificate>\
         <CertificateSource>acm</CertificateSource>"
    )
}

async fn observe_distribution(d: &Dist<'_>) -> Observation {
    let (aws, ctx, client) = replay(vec![caller_identity(), get_distribution_config(d)]);
    let obs = observe(&CloudFrontProbe::new(aws), "E2QWRUHAPOMQZL", &ctx).await;
    assert_eq!(client.actual_requests().count(), 2);
    obs
}

#[tokio::test]
async fn cloudfront_reads_viewer_and_origin_transport_pass_and_fail() {
    let strict = observe_distribution(&Dist {
        viewer: "redirect-to-https",
        behaviour: Some("https-only"),
        certificate: &acm_cert("TLSv1.2_2021"),
        origin_policy: "https-only",
        origin_ssl: &["TLSv1.2"],
        web_acl: "arn:aws:wafv2:us-east-1:123456789012:global/webacl/edge/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
    })
    .await;
    assert_eq!(
        fact(&strict, "viewer.protocol_policies"),
        &json!(["https-only", "redirect-to-https"])
    );
    assert_eq!(fact(&strict, "viewer.allows_plain_http"), &json!(false));
    assert_eq!(fact(&strict, "viewer.default_certificate"), &json!(false));
    assert_eq!(
        fact(&strict, "viewer.minimum_protocol_version"),
        &json!("TLSv1.2_2021")
    );
    assert_eq!(fact(&strict, "viewer.lowest_protocol"), &json!("TLSv1.2"));
    assert_eq!(
        fact(&strict, "origins.protocol_policies"),
        &json!(["https-only"])
    );
    assert_eq!(fact(&strict, "origins.plain_http"), &json!(false));
    assert_eq!(
        fact(&strict, "origins.lowest_ssl_protocol"),
        &json!("TLSv1.2")
    );
    assert!(
        fact(&strict, "web_acl.id")
            .as_str()
            .unwrap()
            .contains("webacl/edge")
    );
    assert_eq!(
        builtin_result("ENC-TRANSIT-CDN", &strict).verdict.as_str(),
        "pass"
    );

    // One behaviour that allows plain HTTP fails the distribution, whatever the default says.
    let one_open_path = observe_distribution(&Dist {
        viewer: "redirect-to-https",
        behaviour: Some("allow-all"),
        certificate: &acm_cert("TLSv1.2_2021"),
        origin_policy: "match-viewer",
        origin_ssl: &["TLSv1.1", "TLSv1.2"],
        web_acl: "",
    })
    .await;
    assert_eq!(
        fact(&one_open_path, "viewer.allows_plain_http"),
        &json!(true)
    );
    // match-viewer behind an allow-all behaviour: plain HTTP to the origin too.
    assert_eq!(fact(&one_open_path, "origins.plain_http"), &json!(true));
    assert_eq!(
        fact(&one_open_path, "origins.lowest_ssl_protocol"),
        &json!("TLSv1.1")
    );
    assert_eq!(fact(&one_open_path, "web_acl.id"), &Value::Null);
    assert_eq!(
        builtin_result("ENC-TRANSIT-CDN", &one_open_path)
            .verdict
            .as_str(),
        "fail"
    );

    // The default certificate accepts TLS 1.0 whatever MinimumProtocolVersion says.
    let default_cert = observe_distribution(&Dist {
        viewer: "https-only",
        behaviour: None,
        certificate: DEFAULT_CERT,
        origin_policy: "http-only",
        origin_ssl: &["TLSv1.2"],
        web_acl: "",
    })
    .await;
    assert_eq!(
        fact(&default_cert, "viewer.default_certificate"),
        &json!(true)
    );
    assert_eq!(
        fact(&default_cert, "viewer.lowest_protocol"),
        &json!("TLSv1.0")
    );
    assert_eq!(fact(&default_cert, "origins.plain_http"), &json!(true));
    // http-only never uses its SSL protocols.
    assert_eq!(
        fact(&default_cert, "origins.lowest_ssl_protocol"),
        &Value::Null
    );
    assert_eq!(
        builtin_result("ENC-TRANSIT-CDN", &default_cert)
            .verdict
            .as_str(),
        "fail"
    );

    // A TLS 1.0 security policy on a custom certificate.
    let old_policy = observe_distribution(&Dist {
        viewer: "https-only",
        behaviour: None,
        certificate: &acm_cert("TLSv1_2016"),
        origin_policy: "https-only",
        origin_ssl: &["TLSv1.2"],
        web_acl: "",
    })
    .await;
    assert_eq!(
        fact(&old_policy, "viewer.lowest_protocol"),
        &json!("TLSv1.0")
    );
}

fn list_distributions(ids: &[&str], next: Option<&str>) -> ReplayEvent {
    let items: String = ids
        .iter()
        .map(|id| {
            format!(
                "<DistributionSummary><Id>{id}</Id>\
                 <ARN>arn:aws:cloudfront::{ACCOUNT}:distribution/{id}</ARN>\
                 <Status>Deployed</Status><LastModifiedTime>2026-01-01T00:00:00Z</LastModifiedTime>\
                 <DomainName>{}.cloudfront.net</DomainName>\
                 <Aliases><Quantity>0</Quantity></Aliases>\
                 <Origins><Quantity>1</Quantity><Items><Origin><Id>app</Id><DomainName>origin.example.com</DomainName>\
                 <CustomOriginConfig><HTTPPort>80</HTTPPort><HTTPSPort>443</HTTPSPort><OriginProtocolPolicy>https-only</OriginProtocolPolicy></CustomOriginConfig></Origin></Items></Origins>\
                 <DefaultCacheBehavior><TargetOriginId>app</TargetOriginId><ViewerProtocolPolicy>https-only</ViewerProtocolPolicy></DefaultCacheBehavior>\
                 <CacheBehaviors><Quantity>0</Quantity></CacheBehaviors>\
                 <CustomErrorResponses><Quantity>0</Quantity></CustomErrorResponses>\
                 <Comment></Comment><PriceClass>PriceClass_All</PriceClass><Enabled>true</Enabled>\
                 <ViewerCertificate><CloudFrontDefaultCertificate>true</CloudFrontDefaultCertificate></ViewerCertificate>\
                 <Restrictions><GeoRestriction><RestrictionType>none</RestrictionType><Quantity>0</Quantity></GeoRestriction></Restrictions>\
                 <WebACLId></WebACLId><HttpVersion>http2</HttpVersion><IsIPV6Enabled>true</IsIPV6Enabled><Staging>false</Staging>\
                 </DistributionSummary>",
                id.to_ascii_lowercase()
            )
        })
        .collect();
    let (truncated, marker) = match next {
        Some(m) => ("true", format!("<NextMarker>{m}</NextMarker>")),
        None => ("false", String::new()),
    };
    ReplayEvent::new(
        request("https://cloudfront.amazonaws.com/2020-05-31/distribution"),
        cf_response(format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<DistributionList xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">
  <Marker></Marker>{marker}<MaxItems>2</MaxItems><IsTruncated>{truncated}</IsTruncated>
  <Quantity>{}</Quantity><Items>{items}</Items>
</DistributionList>"#,
            ids.len()
        )),
    )
}

#[tokio::test]
async fn cloudfront_star_lists_every_distribution_over_every_page() {
    let (aws, ctx, _client) = replay(vec![
        caller_identity(),
        list_distributions(
            &["E1AAAAAAAAAAAA", "E2BBBBBBBBBBBB"],
            Some("E2BBBBBBBBBBBB"),
        ),
        list_distributions(&["E3CCCCCCCCCCCC"], None),
    ]);
    let found = CloudFrontProbe::new(aws)
        .with_page_size(2)
        .discover("*", &ctx)
        .await
        .unwrap();
    assert_eq!(
        found,
        ["E1AAAAAAAAAAAA", "E2BBBBBBBBBBBB", "E3CCCCCCCCCCCC"]
    );
}

#[tokio::test]
async fn cloudfront_unknown_or_denied_distribution_is_an_error() {
    let (aws, ctx, _client) = replay(vec![
        caller_identity(),
        ReplayEvent::new(
            request("https://cloudfront.amazonaws.com/2020-05-31/distribution/E0/config"),
            xml(
                404,
                r#"<?xml version="1.0"?><ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Error><Type>Sender</Type><Code>NoSuchDistribution</Code><Message>The specified distribution does not exist.</Message></Error><RequestId>1</RequestId></ErrorResponse>"#,
            ),
        ),
    ]);
    let err = CloudFrontProbe::new(aws)
        .observe("E0000000000000", &Params::new(), &ctx)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProbeErrorKind::NotFound, "{err:?}");
    let (aws, ctx, _client) = replay(vec![
        caller_identity(),
        ReplayEvent::new(
            request("https://cloudfront.amazonaws.com/2020-05-31/distribution/E0/config"),
            xml(
                403,
                r#"<?xml version="1.0"?><ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: cloudfront:GetDistributionConfig</Message></Error><RequestId>2</RequestId></ErrorResponse>"#,
            ),
        ),
    ]);
    let err = CloudFrontProbe::new(aws)
        .observe("E0000000000000", &Params::new(), &ctx)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ProbeErrorKind::Denied, "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// aws.s3: facts that can fail on a real account

#[tokio::test]
async fn s3_customer_managed_key_is_resolved_and_a_narrowed_tls_deny_does_not_count() {
    use aws_sdk_s3::types::{
        BucketLocationConstraint, CreateBucketConfiguration, ServerSideEncryption,
        ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    };
    let url = moto_url();
    let cfg = seed_config(&url, REGION).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&cfg)
            .force_path_style(true)
            .build(),
    );
    let kms = aws_sdk_kms::Client::new(&cfg);
    let key = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let mut buckets = Vec::new();
    for (prefix, algorithm, key_id) in [
        ("cmk", ServerSideEncryption::AwsKms, Some(key.as_str())),
        ("aws-s3", ServerSideEncryption::AwsKms, Some("alias/aws/s3")),
        ("kms-default", ServerSideEncryption::AwsKms, None),
        ("sse-s3", ServerSideEncryption::Aes256, None),
    ] {
        let b = unique(prefix);
        s3.create_bucket()
            .bucket(&b)
            .create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(REGION))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        s3.put_bucket_encryption()
            .bucket(&b)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(
                                ServerSideEncryptionByDefault::builder()
                                    .sse_algorithm(algorithm)
                                    .set_kms_master_key_id(key_id.map(str::to_string))
                                    .build()
                                    .unwrap(),
                            )
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        buckets.push(b);
    }
    // The TLS-only deny narrowed by a VPC endpoint condition: requests through the endpoint
    // may still use plain HTTP.
    let narrowed = &buckets[3];
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [format!("arn:aws:s3:::{narrowed}"), format!("arn:aws:s3:::{narrowed}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"},
                      "StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}}]});
    s3.put_bucket_policy()
        .bucket(narrowed)
        .policy(policy.to_string())
        .send()
        .await
        .unwrap();

    let probe = S3Probe::new(moto_aws());
    let ctx = ctx_for(&url, REGION);
    let cmk = observe(&probe, &buckets[0], &ctx).await;
    assert_eq!(fact(&cmk, "encryption.customer_managed_key"), &json!(true));
    assert_eq!(request_ids(&cmk, "kms:DescribeKey").len(), 1);
    for b in &buckets[1..] {
        let obs = observe(&probe, b, &ctx).await;
        assert_eq!(
            fact(&obs, "encryption.customer_managed_key"),
            &json!(false),
            "{b}"
        );
        // aws/s3 and SSE-S3 need no KMS call to be known.
        assert!(request_ids(&obs, "kms:DescribeKey").is_empty(), "{b}");
        assert_eq!(fact(&obs, "encryption.sse_c_blocked"), &json!(false));
    }
    let n = observe(&probe, narrowed, &ctx).await;
    assert_eq!(fact(&n, "policy.denies_insecure_transport"), &json!(false));
}

// ---------------------------------------------------------------------------------------------
// vouch check of the built-in transport controls on a seeded moto

#[tokio::test]
async fn vouch_check_of_the_transport_controls_passes_and_fails_the_seeded_resources() {
    let url = moto_url();
    let cfg = seed_config(&url, REGION).await;
    let e = estate(&cfg).await;
    let good_lb = unique("chk-good");
    let bad_lb = unique("chk-bad");
    let good = e
        .load_balancer(&good_lb, LoadBalancerSchemeEnum::InternetFacing)
        .await;
    e.https(&good, 443, "ELBSecurityPolicy-TLS13-1-2-2021-06")
        .await;
    e.http(&good, Some("HTTPS")).await;
    let bad = e
        .load_balancer(&bad_lb, LoadBalancerSchemeEnum::InternetFacing)
        .await;
    e.https(&bad, 443, "ELBSecurityPolicy-2016-08").await;

    let rds = aws_sdk_rds::Client::new(&cfg);
    let on = unique("chk-on");
    let off = unique("chk-off");
    param_group(&rds, &on, "postgres16", &[("rds.force_ssl", "1")]).await;
    param_group(&rds, &off, "postgres16", &[("rds.force_ssl", "0")]).await;
    let db_on = unique("chk-db-on");
    let db_off = unique("chk-db-off");
    instance(&rds, &db_on, "postgres", Some(&on)).await;
    instance(&rds, &db_off, "postgres", Some(&off)).await;

    // Buckets: TLS-only policy and a customer key; a VPC-endpoint-narrowed deny and SSE-S3.
    let (good_bucket, bad_bucket) = seed_buckets(&cfg).await;

    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("vouch.toml");
    std::fs::write(
        &inv,
        format!(
            "[targets]\naws_load_balancers = [{good_lb:?}, {bad_lb:?}]\n\
             aws_databases = [{db_on:?}, {db_off:?}]\n\
             aws_buckets = [{good_bucket:?}, {bad_bucket:?}]\n\n\
             [aws]\nregion = \"{REGION}\"\nendpoint_url = \"{url}\"\n"
        ),
    )
    .unwrap();
    let out = support::vouch()
        .args(["check", "--inventory"])
        .arg(&inv)
        .args([
            "--only",
            "ENC-TRANSIT-LOAD-BALANCERS",
            "--only",
            "ENC-TRANSIT-DATABASES",
            "--only",
            "ENC-TRANSIT-S3",
            "--only",
            "ENC-REST-S3-CMK",
            "--only",
            "ENC-S3-SSE-C-BLOCKED",
            "--format",
            "json",
        ])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|err| {
        panic!(
            "{err}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(out.status.code(), Some(1), "something fails");
    let lbs = support::verdicts(&report, "ENC-TRANSIT-LOAD-BALANCERS");
    assert_eq!(lbs[&good_lb], "pass");
    assert_eq!(lbs[&bad_lb], "fail");
    let dbs = support::verdicts(&report, "ENC-TRANSIT-DATABASES");
    assert_eq!(dbs[&db_on], "pass");
    assert_eq!(dbs[&db_off], "fail");
    let tls = support::verdicts(&report, "ENC-TRANSIT-S3");
    assert_eq!(tls[&good_bucket], "pass");
    assert_eq!(tls[&bad_bucket], "fail");
    let cmk = support::verdicts(&report, "ENC-REST-S3-CMK");
    assert_eq!(cmk[&good_bucket], "pass");
    assert_eq!(cmk[&bad_bucket], "fail");
    // moto cannot block SSE-C: both fail (the pass is proven on the fake endpoint).
    let sse_c = support::verdicts(&report, "ENC-S3-SSE-C-BLOCKED");
    assert_eq!(sse_c[&good_bucket], "fail");
    assert_eq!(sse_c[&bad_bucket], "fail");
}

/// Two buckets: (TLS-only policy + customer-managed key, narrowed deny + SSE-S3).
async fn seed_buckets(cfg: &SdkConfig) -> (String, String) {
    use aws_sdk_s3::types::{
        BucketLocationConstraint, CreateBucketConfiguration, ServerSideEncryption,
        ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    };
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(cfg)
            .force_path_style(true)
            .build(),
    );
    let key = aws_sdk_kms::Client::new(cfg)
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string();
    let good = unique("chk-good-bucket");
    let bad = unique("chk-bad-bucket");
    for (b, algorithm, key, extra) in [
        (&good, ServerSideEncryption::AwsKms, Some(key), None),
        (
            &bad,
            ServerSideEncryption::Aes256,
            None,
            Some(json!({"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}})),
        ),
    ] {
        s3.create_bucket()
            .bucket(b)
            .create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(REGION))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        s3.put_bucket_encryption()
            .bucket(b)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(
                                ServerSideEncryptionByDefault::builder()
                                    .sse_algorithm(algorithm)
                                    .set_kms_master_key_id(key)
                                    .build()
                                    .unwrap(),
                            )
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let mut condition = json!({"Bool": {"aws:SecureTransport": "false"}});
        if let Some(Value::Object(more)) = extra {
            condition.as_object_mut().unwrap().extend(more);
        }
        let policy = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [format!("arn:aws:s3:::{b}"), format!("arn:aws:s3:::{b}/*")],
            "Condition": condition}]});
        s3.put_bucket_policy()
            .bucket(b)
            .policy(policy.to_string())
            .send()
            .await
            .unwrap();
    }
    (good, bad)
}

/// CloudFront on moto 5.2.5 (5.0.28's answers are unreadable, docs/testing.md): one
/// distribution seeded to pass `ENC-TRANSIT-CDN`'s facts and one to fail them, both found by `*`.
#[tokio::test]
async fn cloudfront_on_moto_reads_seeded_distributions_pass_and_fail() {
    use aws_sdk_cloudfront::types::{
        CustomOriginConfig, DefaultCacheBehavior, DistributionConfig, MinimumProtocolVersion,
        Origin, OriginProtocolPolicy, OriginSslProtocols, Origins, SslProtocol, SslSupportMethod,
        ViewerCertificate, ViewerProtocolPolicy,
    };
    let url = moto_525_url();
    let cfg = seed_config(&url, "us-east-1").await;
    let cf = aws_sdk_cloudfront::Client::new(&cfg);
    let cert = acm_certificate(&cfg).await;
    let create = |viewer: ViewerProtocolPolicy,
                  certificate: ViewerCertificate,
                  origin: OriginProtocolPolicy| {
        let cf = cf.clone();
        async move {
            let config = DistributionConfig::builder()
                .caller_reference(unique("ref"))
                .comment("vouch test")
                .enabled(true)
                .origins(
                    Origins::builder()
                        .quantity(1)
                        .items(
                            Origin::builder()
                                .id("app")
                                .domain_name("origin.example.com")
                                .custom_origin_config(
                                    CustomOriginConfig::builder()
                                        .http_port(80)
                                        .https_port(443)
                                        .origin_protocol_policy(origin)
                                        .origin_ssl_protocols(
                                            OriginSslProtocols::builder()
                                                .quantity(1)
                                                .items(SslProtocol::TlSv12)
                                                .build()
                                                .unwrap(),
                                        )
                                        .build()
                                        .unwrap(),
                                )
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .default_cache_behavior(
                    DefaultCacheBehavior::builder()
                        .target_origin_id("app")
                        .viewer_protocol_policy(viewer)
                        .cache_policy_id("658327ea-f89d-4fab-a63d-7e88639e58f6")
                        .build()
                        .unwrap(),
                )
                .viewer_certificate(certificate)
                .build()
                .unwrap();
            cf.create_distribution()
                .distribution_config(config)
                .send()
                .await
                .unwrap()
                .distribution()
                .unwrap()
                .id()
                .to_string()
        }
    };
    let open = create(
        ViewerProtocolPolicy::AllowAll,
        ViewerCertificate::builder()
            .cloud_front_default_certificate(true)
            .build(),
        OriginProtocolPolicy::HttpOnly,
    )
    .await;
    let strict = create(
        ViewerProtocolPolicy::RedirectToHttps,
        ViewerCertificate::builder()
            .acm_certificate_arn(&cert)
            .ssl_support_method(SslSupportMethod::SniOnly)
            .minimum_protocol_version(MinimumProtocolVersion::TlSv122021)
            .build(),
        OriginProtocolPolicy::HttpsOnly,
    )
    .await;

    let probe = CloudFrontProbe::new(moto_aws()).with_page_size(1);
    let ctx = ctx_for(&url, REGION);
    let o = observe(&probe, &open, &ctx).await;
    assert_eq!(fact(&o, "viewer.allows_plain_http"), &json!(true));
    assert_eq!(fact(&o, "viewer.default_certificate"), &json!(true));
    assert_eq!(fact(&o, "viewer.lowest_protocol"), &json!("TLSv1.0"));
    assert_eq!(fact(&o, "origins.plain_http"), &json!(true));
    assert_eq!(
        builtin_result("ENC-TRANSIT-CDN", &o).verdict.as_str(),
        "fail"
    );
    let s = observe(&probe, &strict, &ctx).await;
    assert_eq!(fact(&s, "viewer.allows_plain_http"), &json!(false));
    assert_eq!(
        fact(&s, "viewer.protocol_policies"),
        &json!(["redirect-to-https"])
    );
    assert_eq!(
        fact(&s, "viewer.minimum_protocol_version"),
        &json!("TLSv1.2_2021")
    );
    assert_eq!(fact(&s, "origins.plain_http"), &json!(false));
    assert_eq!(fact(&s, "origins.lowest_ssl_protocol"), &json!("TLSv1.2"));
    // moto answers CloudFrontDefaultCertificate = true beside the ACM certificate (AWS never
    // does): vouch then takes the default certificate's TLS 1.0, never the configured minimum,
    // so against moto this distribution is not a pass (the pass is proven by replay above).
    assert_ne!(
        builtin_result("ENC-TRANSIT-CDN", &s).verdict.as_str(),
        "pass"
    );
    let found = probe.discover("*", &ctx).await.unwrap();
    assert!(
        found.contains(&open) && found.contains(&strict),
        "{found:?}"
    );
}
