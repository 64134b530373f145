//! Seeds the demo's cloud estate into an AWS API emulator (moto's server) through the AWS SDK:
//! the same calls an operator would make, so the probes meet real API shapes.

use anyhow::Result;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;

pub const REGION: &str = "eu-west-1";

async fn config(url: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("demo", "demo", None, None, "demo"))
        .load()
        .await
}

/// Buckets encrypted and not, keys rotating and not.
pub async fn seed(url: &str) -> Result<()> {
    let conf = config(url).await;
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
    let key = kms
        .create_key()
        .description("customer data")
        .send()
        .await?
        .key_metadata
        .map(|m| m.key_id)
        .unwrap_or_default();
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
    Ok(())
}
