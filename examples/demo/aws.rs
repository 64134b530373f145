//! Seeds the demo's cloud estate into an AWS API emulator (moto's server) through the AWS SDK:
//! the same calls an operator would make, so the probes meet real API shapes.

use anyhow::{Context, Result};
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;

pub const REGION: &str = "eu-west-1";
/// The disaster-recovery region: one rotating key lives there, found because the inventory's
/// `[aws] regions` lists both.
pub const DR_REGION: &str = "us-east-1";

async fn config(url: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("demo", "demo", None, None, "demo"))
        .load()
        .await
}

/// The backup vault's name.
pub const VAULT: &str = "opendoors-vault";

/// What the AWS Backup stand-in (`backup.rs`) needs to know of the seeded estate.
pub struct Seeded {
    /// The customer key that encrypts the vault.
    pub vault_key: String,
    /// The `opendoors-uploads` file system (its id is the emulator's choice).
    pub uploads_fs_arn: String,
}

/// The whole cloud estate: storage, keys, databases, tables, a backup vault, the audit trail,
/// log groups, the account's identity settings and threat detection.
pub async fn seed(url: &str) -> Result<Seeded> {
    let conf = config(url).await;
    let vault_key = seed_storage_and_keys(&conf).await?;
    seed_databases(&conf, &vault_key).await?;
    let uploads_fs_arn = seed_at_rest(&conf, &vault_key).await?;
    seed_logging_and_identity(&conf).await?;
    seed_load_balancers(&conf).await?;
    seed_distribution(&conf).await?;
    Ok(Seeded {
        vault_key,
        uploads_fs_arn,
    })
}

/// A CloudFront distribution that still serves plain HTTP on the default certificate and
/// fetches from its origin over HTTP. (No passing one: the emulator reports the default
/// certificate beside any ACM certificate, which vouch reads as TLS 1.0.)
async fn seed_distribution(conf: &aws_config::SdkConfig) -> Result<()> {
    use aws_sdk_cloudfront::types::{
        CustomOriginConfig, DefaultCacheBehavior, DistributionConfig, Origin, OriginProtocolPolicy,
        Origins, ViewerCertificate, ViewerProtocolPolicy,
    };
    let cf = aws_sdk_cloudfront::Client::from_conf(
        aws_sdk_cloudfront::config::Builder::from(conf)
            .region(Region::new("us-east-1"))
            .build(),
    );
    let config = DistributionConfig::builder()
        .caller_reference("opendoors-legacy-cdn")
        .comment("legacy downloads")
        .enabled(true)
        .origins(
            Origins::builder()
                .quantity(1)
                .items(
                    Origin::builder()
                        .id("downloads")
                        .domain_name("downloads.opendoors.ai")
                        .custom_origin_config(
                            CustomOriginConfig::builder()
                                .http_port(80)
                                .https_port(443)
                                .origin_protocol_policy(OriginProtocolPolicy::HttpOnly)
                                .build()?,
                        )
                        .build()?,
                )
                .build()?,
        )
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id("downloads")
                .viewer_protocol_policy(ViewerProtocolPolicy::AllowAll)
                .cache_policy_id("658327ea-f89d-4fab-a63d-7e88639e58f6")
                .build()?,
        )
        .viewer_certificate(
            ViewerCertificate::builder()
                .cloud_front_default_certificate(true)
                .build(),
        )
        .build()?;
    cf.create_distribution()
        .distribution_config(config)
        .send()
        .await?;
    Ok(())
}

/// One unsigned-but-shaped call to the emulator for services the demo has no SDK crate for
/// (EC2 for subnets, ACM for a certificate): a Query form body, or JSON with `x-amz-target`.
async fn raw(
    conf: &aws_config::SdkConfig,
    service: &str,
    target: Option<&str>,
    body: String,
) -> Result<String> {
    let url = conf.endpoint_url().context("no endpoint")?.to_string();
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=demo/20260101/{REGION}/{service}/aws4_request, SignedHeaders=host, Signature=0"
    );
    let req = reqwest::Client::new()
        .post(&url)
        .header("authorization", auth)
        .body(body);
    let req = match target {
        Some(t) => req
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", t),
        None => req.header("content-type", "application/x-www-form-urlencoded"),
    };
    let resp = req.send().await?;
    let status = resp.status();
    let text = resp.text().await?;
    anyhow::ensure!(status.is_success(), "{service}: {status} {text}");
    Ok(text)
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Result<&'a str> {
    let from = text.find(start).context("missing element")? + start.len();
    let to = text[from..].find(end).context("unterminated element")? + from;
    Ok(&text[from..to])
}

/// Two Application load balancers: `opendoors-web` (TLS 1.2+ policy, HTTP redirected to
/// HTTPS) and `opendoors-legacy-web` (a TLS 1.0 policy, and an HTTP listener serving content).
async fn seed_load_balancers(conf: &aws_config::SdkConfig) -> Result<()> {
    use aws_sdk_elasticloadbalancingv2::types::{
        Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, ProtocolEnum,
        RedirectActionConfig, RedirectActionStatusCodeEnum,
    };
    let vpc = raw(
        conf,
        "ec2",
        None,
        "Action=CreateVpc&CidrBlock=10.0.0.0%2F16&Version=2016-11-15".into(),
    )
    .await?;
    let vpc = between(&vpc, "<vpcId>", "</vpcId>")?.to_string();
    let mut subnets = Vec::new();
    for (i, az) in ["a", "b"].iter().enumerate() {
        let out = raw(
            conf,
            "ec2",
            None,
            format!(
                "Action=CreateSubnet&VpcId={vpc}&CidrBlock=10.0.{i}.0%2F24&AvailabilityZone={REGION}{az}&Version=2016-11-15"
            ),
        )
        .await?;
        subnets.push(between(&out, "<subnetId>", "</subnetId>")?.to_string());
    }
    let cert: serde_json::Value = serde_json::from_str(
        &raw(
            conf,
            "acm",
            Some("CertificateManager.RequestCertificate"),
            r#"{"DomainName": "app.opendoors.ai"}"#.into(),
        )
        .await?,
    )?;
    let cert = cert["CertificateArn"]
        .as_str()
        .context("RequestCertificate returned no ARN")?
        .to_string();
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(conf);
    let fixed = || {
        Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                FixedResponseActionConfig::builder()
                    .status_code("200")
                    .build(),
            )
            .build()
    };
    for (name, policy, redirect) in [
        ("opendoors-web", "ELBSecurityPolicy-TLS13-1-2-2021-06", true),
        ("opendoors-legacy-web", "ELBSecurityPolicy-2016-08", false),
    ] {
        let lb = elb
            .create_load_balancer()
            .name(name)
            .set_subnets(Some(subnets.clone()))
            .send()
            .await?;
        let arn = lb
            .load_balancers()
            .first()
            .and_then(|l| l.load_balancer_arn())
            .context("CreateLoadBalancer returned no ARN")?
            .to_string();
        elb.create_listener()
            .load_balancer_arn(&arn)
            .protocol(ProtocolEnum::Https)
            .port(443)
            .ssl_policy(policy)
            .certificates(Certificate::builder().certificate_arn(&cert).build())
            .default_actions(fixed())
            .send()
            .await?;
        let http = if redirect {
            Action::builder()
                .r#type(ActionTypeEnum::Redirect)
                .redirect_config(
                    RedirectActionConfig::builder()
                        .protocol("HTTPS")
                        .port("443")
                        .status_code(RedirectActionStatusCodeEnum::Http301)
                        .build(),
                )
                .build()
        } else {
            fixed()
        };
        elb.create_listener()
            .load_balancer_arn(&arn)
            .protocol(ProtocolEnum::Http)
            .port(80)
            .default_actions(http)
            .send()
            .await?;
    }
    Ok(())
}

/// Buckets encrypted and not, keys rotating and not. Returns the customer key's ARN.
async fn seed_storage_and_keys(conf: &aws_config::SdkConfig) -> Result<String> {
    let conf = conf.clone();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    );
    let kms = aws_sdk_kms::Client::new(&conf);
    use aws_sdk_s3::types::{
        BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration,
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    let meta = kms
        .create_key()
        .description("customer data")
        .send()
        .await?
        .key_metadata
        .context("CreateKey returned no metadata")?;
    let key = meta.key_id.clone();
    let key_arn = meta.arn.clone().unwrap_or_default();
    kms.create_alias()
        .alias_name("alias/customer-data")
        .target_key_id(&key)
        .send()
        .await?;
    kms.enable_key_rotation().key_id(&key).send().await?;
    let stale = kms
        .create_key()
        .description("legacy exports")
        .send()
        .await?
        .key_metadata
        .map(|m| m.key_id)
        .unwrap_or_default();
    kms.create_alias()
        .alias_name("alias/legacy-exports")
        .target_key_id(&stale)
        .send()
        .await?;
    let dr_kms = aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::config::Builder::from(&conf)
            .region(Region::new(DR_REGION))
            .build(),
    );
    let dr_key = dr_kms
        .create_key()
        .description("disaster-recovery replicas")
        .send()
        .await?
        .key_metadata
        .map(|m| m.key_id)
        .unwrap_or_default();
    dr_kms.enable_key_rotation().key_id(&dr_key).send().await?;

    let buckets = [
        (
            "opendoors-customer-data",
            Some((ServerSideEncryption::AwsKms, Some(key.clone()))),
            true,
        ),
        (
            "opendoors-backups",
            Some((ServerSideEncryption::Aes256, None)),
            true,
        ),
        ("opendoors-legacy-exports", None, false),
    ];
    for (name, enc, private) in buckets {
        s3.create_bucket()
            .bucket(name)
            .create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(REGION))
                    .build(),
            )
            .send()
            .await?;
        match enc {
            Some((alg, kms_key)) => {
                let by_default = ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(alg)
                    .set_kms_master_key_id(kms_key)
                    .build()?;
                s3.put_bucket_encryption()
                    .bucket(name)
                    .server_side_encryption_configuration(
                        ServerSideEncryptionConfiguration::builder()
                            .rules(
                                ServerSideEncryptionRule::builder()
                                    .apply_server_side_encryption_by_default(by_default)
                                    .bucket_key_enabled(true)
                                    .build(),
                            )
                            .build()?,
                    )
                    .send()
                    .await?;
            }
            None => {
                // A bucket from before default encryption: no rule at all.
                s3.delete_bucket_encryption().bucket(name).send().await?;
            }
        }
        if name == "opendoors-customer-data" {
            // Plain-HTTP requests refused (ENC-TRANSIT-S3 passes here, fails elsewhere).
            let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{
                "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [format!("arn:aws:s3:::{name}"), format!("arn:aws:s3:::{name}/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]});
            s3.put_bucket_policy()
                .bucket(name)
                .policy(policy.to_string())
                .send()
                .await?;
        }
        if private {
            s3.put_public_access_block()
                .bucket(name)
                .public_access_block_configuration(
                    PublicAccessBlockConfiguration::builder()
                        .block_public_acls(true)
                        .ignore_public_acls(true)
                        .block_public_policy(true)
                        .restrict_public_buckets(true)
                        .build(),
                )
                .send()
                .await?;
        }
    }
    Ok(key_arn)
}

/// Two databases (one private, encrypted, Multi-AZ with backups; one not), two tables (PITR on
/// and off) and a backup vault encrypted with the customer key.
async fn seed_databases(conf: &aws_config::SdkConfig, key_arn: &str) -> Result<()> {
    let rds = aws_sdk_rds::Client::new(conf);
    // Parameter groups: TLS required for the app database, not for reporting.
    for (group, force_ssl) in [("opendoors-tls", "1"), ("opendoors-legacy", "0")] {
        rds.create_db_parameter_group()
            .db_parameter_group_name(group)
            .db_parameter_group_family("postgres16")
            .description("demo")
            .send()
            .await?;
        rds.modify_db_parameter_group()
            .db_parameter_group_name(group)
            .parameters(
                aws_sdk_rds::types::Parameter::builder()
                    .parameter_name("rds.force_ssl")
                    .parameter_value(force_ssl)
                    .apply_method(aws_sdk_rds::types::ApplyMethod::Immediate)
                    .build(),
            )
            .send()
            .await?;
    }
    for (name, good) in [
        ("opendoors-app-db", true),
        ("opendoors-reporting-db", false),
    ] {
        rds.create_db_instance()
            .db_parameter_group_name(if good {
                "opendoors-tls"
            } else {
                "opendoors-legacy"
            })
            .db_instance_identifier(name)
            .engine("postgres")
            .db_instance_class("db.t3.medium")
            .allocated_storage(50)
            .master_username("opendoors")
            .master_user_password("demo-password-not-a-secret")
            .storage_encrypted(good)
            .set_kms_key_id(good.then(|| key_arn.to_string()))
            .multi_az(good)
            .publicly_accessible(!good)
            .backup_retention_period(if good { 14 } else { 0 })
            .send()
            .await?;
    }
    let ddb = aws_sdk_dynamodb::Client::new(conf);
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType,
        PointInTimeRecoverySpecification, ScalarAttributeType,
    };
    for (name, pitr) in [
        ("opendoors-sessions", true),
        ("opendoors-audit-events", false),
    ] {
        ddb.create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()?,
            )
            .send()
            .await?;
        if pitr {
            ddb.update_continuous_backups()
                .table_name(name)
                .point_in_time_recovery_specification(
                    PointInTimeRecoverySpecification::builder()
                        .point_in_time_recovery_enabled(true)
                        .build()?,
                )
                .send()
                .await?;
        }
    }
    aws_sdk_backup::Client::new(conf)
        .create_backup_vault()
        .backup_vault_name(VAULT)
        .encryption_key_arn(key_arn)
        .send()
        .await?;
    Ok(())
}

/// Encryption at rest where it is not the default, one passing and one failing resource each:
/// EBS encryption by default on in the home region and off in the DR region; an encrypted
/// volume and snapshot at home, an unencrypted volume with a public snapshot in the DR region;
/// a snapshot of each database; an encrypted and a plain file system; a secret that rotates
/// and one that never did. (No ACM certificate: the emulator cannot put one in use.)
/// Returns the ARN of the `opendoors-uploads` file system (AWS Backup protects it).
async fn seed_at_rest(conf: &aws_config::SdkConfig, key_arn: &str) -> Result<String> {
    let ec2 = aws_sdk_ec2::Client::new(conf);
    ec2.enable_ebs_encryption_by_default().send().await?;
    let dr = aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(conf)
            .region(Region::new(DR_REGION))
            .build(),
    );
    for (client, az, key, name) in [
        (&ec2, "eu-west-1a", Some(key_arn), "opendoors-app-data"),
        (&dr, "us-east-1a", None, "opendoors-legacy-scratch"),
    ] {
        use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
        let tags = TagSpecification::builder()
            .resource_type(ResourceType::Volume)
            .tags(Tag::builder().key("Name").value(name).build())
            .build();
        let volume = client
            .create_volume()
            .availability_zone(az)
            .size(20)
            .set_encrypted(key.map(|_| true))
            .set_kms_key_id(key.map(str::to_string))
            .tag_specifications(tags)
            .send()
            .await?
            .volume_id
            .context("CreateVolume returned no id")?;
        let snapshot = client
            .create_snapshot()
            .volume_id(&volume)
            .description(format!("{name} nightly"))
            .send()
            .await?
            .snapshot_id
            .context("CreateSnapshot returned no id")?;
        if key.is_none() {
            client
                .modify_snapshot_attribute()
                .snapshot_id(&snapshot)
                .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
                .operation_type(aws_sdk_ec2::types::OperationType::Add)
                .group_names("all")
                .send()
                .await?;
        }
    }

    let rds = aws_sdk_rds::Client::new(conf);
    for (db, snapshot) in [
        ("opendoors-app-db", "opendoors-app-db-predeploy"),
        ("opendoors-reporting-db", "opendoors-reporting-db-export"),
    ] {
        rds.create_db_snapshot()
            .db_instance_identifier(db)
            .db_snapshot_identifier(snapshot)
            .send()
            .await?;
    }
    rds.modify_db_snapshot_attribute()
        .db_snapshot_identifier("opendoors-reporting-db-export")
        .attribute_name("restore")
        .values_to_add("all")
        .send()
        .await?;

    let efs = aws_sdk_efs::Client::new(conf);
    let mut uploads = String::new();
    for (token, encrypted) in [
        ("opendoors-uploads", true),
        ("opendoors-build-cache", false),
    ] {
        let fs = efs
            .create_file_system()
            .creation_token(token)
            .encrypted(encrypted)
            .set_kms_key_id(encrypted.then(|| key_arn.to_string()))
            .tags(
                aws_sdk_efs::types::Tag::builder()
                    .key("Name")
                    .value(token)
                    .build()?,
            )
            .send()
            .await?;
        if token == "opendoors-uploads" {
            uploads = fs.file_system_arn.unwrap_or_else(|| {
                format!(
                    "arn:aws:elasticfilesystem:{REGION}:123456789012:file-system/{}",
                    fs.file_system_id
                )
            });
        }
    }

    let sm = aws_sdk_secretsmanager::Client::new(conf);
    for name in ["opendoors/app-db-password", "opendoors/legacy-api-token"] {
        sm.create_secret()
            .name(name)
            .secret_string("demo-value-not-a-secret")
            .send()
            .await?;
    }
    sm.rotate_secret()
        .secret_id("opendoors/app-db-password")
        .rotation_rules(
            aws_sdk_secretsmanager::types::RotationRulesType::builder()
                .automatically_after_days(30)
                .build(),
        )
        .send()
        .await?;
    Ok(uploads)
}

/// A multi-region trail logging every management event, log groups kept long and not, the
/// account password policy, a console user without MFA, and GuardDuty in the home region.
async fn seed_logging_and_identity(conf: &aws_config::SdkConfig) -> Result<()> {
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(conf)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket("opendoors-cloudtrail")
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(REGION))
                .build(),
        )
        .send()
        .await?;
    s3.put_bucket_encryption()
        .bucket("opendoors-cloudtrail")
        .server_side_encryption_configuration(
            aws_sdk_s3::types::ServerSideEncryptionConfiguration::builder()
                .rules(
                    aws_sdk_s3::types::ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            aws_sdk_s3::types::ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(aws_sdk_s3::types::ServerSideEncryption::Aes256)
                                .build()?,
                        )
                        .build(),
                )
                .build()?,
        )
        .send()
        .await?;
    s3.put_public_access_block()
        .bucket("opendoors-cloudtrail")
        .public_access_block_configuration(
            aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await?;
    let ct = aws_sdk_cloudtrail::Client::new(conf);
    ct.create_trail()
        .name("opendoors-audit")
        .s3_bucket_name("opendoors-cloudtrail")
        .is_multi_region_trail(true)
        .enable_log_file_validation(true)
        .send()
        .await?;
    ct.put_event_selectors()
        .trail_name("opendoors-audit")
        .event_selectors(
            aws_sdk_cloudtrail::types::EventSelector::builder()
                .read_write_type(aws_sdk_cloudtrail::types::ReadWriteType::All)
                .include_management_events(true)
                .build(),
        )
        .send()
        .await?;
    ct.start_logging().name("opendoors-audit").send().await?;

    let logs = aws_sdk_cloudwatchlogs::Client::new(conf);
    for (name, days) in [
        ("/security/audit", Some(400)),
        ("/security/vpc-flow", None),
        ("/security/waf", Some(30)),
    ] {
        logs.create_log_group().log_group_name(name).send().await?;
        if let Some(d) = days {
            logs.put_retention_policy()
                .log_group_name(name)
                .retention_in_days(d)
                .send()
                .await?;
        }
    }

    let iam = aws_sdk_iam::Client::new(conf);
    iam.update_account_password_policy()
        .minimum_password_length(14)
        .require_symbols(true)
        .require_numbers(true)
        .require_uppercase_characters(true)
        .require_lowercase_characters(true)
        .password_reuse_prevention(24)
        .send()
        .await?;
    iam.create_user().user_name("alice").send().await?;
    iam.create_login_profile()
        .user_name("alice")
        .password("Demo-password-1!")
        .send()
        .await?;

    aws_sdk_guardduty::Client::new(conf)
        .create_detector()
        .enable(true)
        .send()
        .await?;
    Ok(())
}
