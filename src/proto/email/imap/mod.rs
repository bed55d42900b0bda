//! PLACEHOLDER
use crate::proto::{AppParser, Direction, ParseCtx, Transport};

#[derive(Debug, Default)]
struct Placeholder;

impl AppParser for Placeholder {
    fn on_data(&mut self, _dir: Direction, _data: &[u8], _ctx: &mut ParseCtx<'_>) {}
}

/// An IMAP parser for a flow.
pub fn new_parser(_transport: Transport) -> Box<dyn AppParser> {
    Box::new(Placeholder)
}
