//! The one mapping from AWS SDK errors to [`ProbeError`]s, for every service: access denied
//! names the API action and the principal, throttling says it persisted through the retries,
//! unknown resources are `NotFound`, transport failures point at credentials and the endpoint.
//! Which error codes mean "this configuration is absent" is the caller's knowledge, not this.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::probe::{ProbeError, ProbeErrorKind};

/// What an AWS error code means to a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    Denied,
    /// The credentials themselves are bad (unknown key, expired token, bad signature).
    BadCredentials,
    Throttled,
    NotFound,
    Other,
}

/// Classifies an AWS error code (and the HTTP status when the code is missing, as with S3's
/// HEAD requests).
/// The IAM action that allows an API call (`service:Operation` as the evidence records it).
/// Most are the same; S3 names several differently. `docs/iam-policy.json` lists these.
pub fn iam_action(api: &str) -> &str {
    match api {
        "s3:HeadBucket" => "s3:ListBucket",
        "s3:ListBuckets" => "s3:ListAllMyBuckets",
        "s3:GetBucketEncryption" => "s3:GetEncryptionConfiguration",
        "s3:GetPublicAccessBlock" => "s3:GetBucketPublicAccessBlock",
        "s3:GetObjectLockConfiguration" => "s3:GetBucketObjectLockConfiguration",
        other => other,
    }
}

pub fn classify(code: Option<&str>, status: Option<u16>) -> ErrorClass {
    const DENIED: [&str; 6] = [
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedAccess",
        "AuthorizationError",
        "AllAccessDisabled",
    ];
    const BAD_CREDENTIALS: [&str; 10] = [
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "IncompleteSignature",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
        "InvalidToken",
        "AuthFailure",
    ];
    const THROTTLED: [&str; 11] = [
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestThrottled",
        "SlowDown",
    ];
    const NOT_FOUND: [&str; 20] = [
        "NoSuchBucket",
        "NotFoundException",
        "NotFound",
        "ResourceNotFoundException",
        "NoSuchEntity",
        "NoSuchKey",
        "DBInstanceNotFound",
        "DBInstanceNotFoundFault",
        "DBClusterNotFoundFault",
        "TrailNotFoundException",
        "TableNotFoundException",
        "BackupVaultNotFoundException",
        "InvalidArnException",
        "KMSInvalidArnException",
        "InvalidVolume.NotFound",
        "InvalidSnapshot.NotFound",
        "FileSystemNotFound",
        "DBSnapshotNotFound",
        "DBSnapshotNotFoundFault",
        "DBClusterSnapshotNotFoundFault",
    ];
    match code {
        Some(c) if DENIED.contains(&c) => ErrorClass::Denied,
        Some(c) if BAD_CREDENTIALS.contains(&c) => ErrorClass::BadCredentials,
        Some(c) if THROTTLED.contains(&c) => ErrorClass::Throttled,
        Some(c) if NOT_FOUND.contains(&c) => ErrorClass::NotFound,
        Some(_) => ErrorClass::Other,
        None => match status {
            Some(403) => ErrorClass::Denied,
            Some(404) => ErrorClass::NotFound,
            Some(429) => ErrorClass::Throttled,
            _ => ErrorClass::Other,
        },
    }
}

/// Maps an SDK error of `service:action` to a [`ProbeError`] with a hint a human can act on.
/// `principal` is the caller's ARN when known; `attempts` how many tries the SDK made.
pub fn map_sdk_error<E>(
    err: &SdkError<E, HttpResponse>,
    service: &str,
    action: &str,
    principal: Option<&str>,
    attempts: u32,
) -> ProbeError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let api = format!("{service}:{action}");
    let who = principal.unwrap_or("the configured credentials");
    match err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            let status = se.raw().status().as_u16();
            let code = e.code();
            let text = e.message().unwrap_or("");
            let said = match (code, text) {
                (Some(c), "") => c.to_string(),
                (Some(c), m) => format!("{c}: {m}"),
                (None, "") => format!("HTTP {status}"),
                (None, m) => format!("HTTP {status}: {m}"),
            };
            match classify(code, Some(status)) {
                ErrorClass::Denied => ProbeError::new(
                    ProbeErrorKind::Denied,
                    format!("{api} was denied to {who} ({said})"),
                )
                .with_hint(format!(
                    "allow {} for {who}: docs/iam-policy.json lists every read-only action vouch \
                     calls; check SCPs, permission boundaries and resource policies too",
                    iam_action(&api)
                )),
                ErrorClass::BadCredentials => ProbeError::new(
                    ProbeErrorKind::Denied,
                    format!("{api} rejected the credentials ({said})"),
                )
                .with_hint(
                    "refresh the credentials (aws sso login, a new session token) or pick another \
                     profile with [aws] profile / --aws-profile",
                ),
                ErrorClass::Throttled => ProbeError::new(
                    ProbeErrorKind::Other,
                    format!("{api} was still throttled after {attempts} attempts ({said})"),
                )
                .with_hint(
                    "lower --aws-concurrency, or run when the account is quieter; the account's \
                     own workloads share this API's request quota",
                ),
                ErrorClass::NotFound => {
                    ProbeError::new(ProbeErrorKind::NotFound, format!("{api}: {said}")).with_hint(
                        "check the name and the region ([aws] region / --aws-region); \
                         `*` lists what exists",
                    )
                }
                // No code usually means the SDK could not read the answer: say why.
                ErrorClass::Other if code.is_none() => ProbeError::new(
                    ProbeErrorKind::Protocol,
                    format!("{api} failed ({said}; {})", chain(e)),
                )
                .with_hint("the endpoint answered in a shape the AWS SDK does not accept"),
                ErrorClass::Other => {
                    ProbeError::new(ProbeErrorKind::Protocol, format!("{api} failed ({said})"))
                }
            }
        }
        SdkError::TimeoutError(_) => ProbeError::new(
            ProbeErrorKind::Timeout,
            format!("{api} got no answer in time"),
        )
        .with_hint("the AWS endpoint is slow or unreachable; raise --timeout or check the network"),
        SdkError::DispatchFailure(df) if df.is_timeout() => ProbeError::new(
            ProbeErrorKind::Timeout,
            format!("{api} timed out: {}", chain(err)),
        )
        .with_hint("the AWS endpoint is slow or unreachable; raise --timeout or check the network"),
        SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_) => {
            let detail = chain(err).to_string();
            if detail.to_ascii_lowercase().contains("credential") {
                ProbeError::new(
                    ProbeErrorKind::Config,
                    format!("{api}: no usable AWS credentials ({detail})"),
                )
                .with_hint(
                    "provide credentials the standard way: AWS_PROFILE or [aws] profile (run \
                     `aws sso login` for SSO), AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an \
                     instance/container role",
                )
            } else {
                ProbeError::new(
                    ProbeErrorKind::Unreachable,
                    format!("{api} could not be sent ({detail})"),
                )
                .with_hint(
                    "check the network and the endpoint ([aws] endpoint_url, AWS_ENDPOINT_URL, \
                     proxy settings) and that credentials can be loaded",
                )
            }
        }
        SdkError::ResponseError(_) => ProbeError::new(
            ProbeErrorKind::Protocol,
            format!("{api}: unreadable response ({})", chain(err)),
        )
        .with_hint("the endpoint may not be AWS or an emulator that speaks this API"),
        _ => ProbeError::new(
            ProbeErrorKind::Other,
            format!("{api} failed: {}", chain(err)),
        ),
    }
}

/// An error and its sources, `outer: inner: innermost`, each message once, at most 400 chars
/// (the SDK's Debug forms are for developers, not for a report).
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    let mut out = parts.join(": ");
    if out.len() > 400 {
        let cut = (0..=400)
            .rev()
            .find(|i| out.is_char_boundary(*i))
            .unwrap_or(0);
        out.truncate(cut);
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_classify_by_meaning() {
        assert_eq!(
            classify(Some("AccessDeniedException"), Some(400)),
            ErrorClass::Denied
        );
        assert_eq!(
            classify(Some("ThrottlingException"), Some(400)),
            ErrorClass::Throttled
        );
        assert_eq!(classify(Some("SlowDown"), Some(503)), ErrorClass::Throttled);
        assert_eq!(
            classify(Some("NoSuchBucket"), Some(404)),
            ErrorClass::NotFound
        );
        assert_eq!(
            classify(Some("ExpiredToken"), Some(400)),
            ErrorClass::BadCredentials
        );
        assert_eq!(classify(None, Some(403)), ErrorClass::Denied);
        assert_eq!(classify(None, Some(404)), ErrorClass::NotFound);
        assert_eq!(classify(Some("Weird"), Some(500)), ErrorClass::Other);
    }
}
