//! End-to-end tests: real components built from the Python fixtures in
//! `tests/fixtures/`, run under real wasmtime, through the library and the CLI.
//!
//! Each fixture is built once per run (and cached by content across runs in
//! cargo's target directory); see `util`.

mod asyncio;
mod cancellation;
mod classes;
mod cli;
mod contract;
mod description;
mod errors;
mod gradual;
mod host_functions;
mod hostile;
mod layout;
mod limits;
mod loading;
mod mcp;
mod openapi;
mod openapi_tools;
mod packaging;
mod projects;
mod promises;
mod python;
mod serve;
mod stores;
mod streams;
mod types;
mod util;
mod values;
mod wasi_http;
