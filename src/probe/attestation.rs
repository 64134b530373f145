//! The attestation probe: a dated statement from `attestations.toml` with an evidence file.

use async_trait::async_trait;

use super::{FactSpec, Observation, Params, Probe, ProbeContext, ProbeError, ProbeErrorKind};

pub struct AttestationProbe;

#[async_trait]
impl Probe for AttestationProbe {
    fn kind(&self) -> &'static str {
        "attestation"
    }
    fn description(&self) -> &'static str {
        "a dated statement with an evidence file (attestations.toml)"
    }
    fn target_syntax(&self) -> &'static str {
        "an attestation id"
    }
    fn facts(&self) -> &'static [FactSpec] {
        &[]
    }
    async fn observe(&self, _t: &str, _p: &Params, _c: &ProbeContext) -> Result<Observation, ProbeError> {
        Err(ProbeError::new(ProbeErrorKind::Other, "not yet"))
    }
}
