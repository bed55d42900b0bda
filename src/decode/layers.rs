//! Placeholder: replaced by the real layer decoder.
use super::{DecodeConfig, Decoded, NotIp};
use crate::capture::LinkType;

pub fn decode<'a>(
    _lt: LinkType,
    _data: &'a [u8],
    _cfg: &DecodeConfig,
) -> Result<Decoded<'a>, NotIp> {
    Err(NotIp::NonIp)
}
