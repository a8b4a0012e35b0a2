//! The one value rule: JSON to and from WIT values, typed by the
//! component's own signatures, and JSON arguments bound to a function's
//! parameters. `tests/fixtures/contract.json` holds every surface to it.

pub(crate) mod arguments;
pub(crate) mod check;
pub(crate) mod json;
