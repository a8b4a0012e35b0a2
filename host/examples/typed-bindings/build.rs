//! Generates `$OUT_DIR/inventory.rs` from `python/inventory.py`, with the
//! component built from it, and the same for the shared JSON corpus of the
//! end-to-end tests, which `tests/corpus.rs` reads through typed bindings,
//! for their type table, whose parameter kinds `tests/kinds.rs` calls,
//! for the value contract's fixture, which `tests/contract.rs` runs,
//! for the host-functions fixture, whose host `tests/host.rs` implements
//! as the generated trait, and for the README's bank, whose classes
//! `tests/classes.rs` uses as Rust types.

fn main() {
    for module in [
        "python/inventory.py",
        "../../../tests/fixtures/corpus.py",
        "../../../tests/fixtures/types_table.py",
        "../../../tests/fixtures/contract.py",
        "../../../examples/bank/bank.py",
    ] {
        if let Err(error) = snakebox_generator::bindings::Bindings::new(module).generate() {
            report(&error);
        }
    }
    let host =
        snakebox_generator::bindings::Bindings::new("../../../tests/fixtures/host/host_calls.py")
            .import("../../../tests/fixtures/host/directory.pyi");
    if let Err(error) = host.generate() {
        report(&error);
    }
}

/// Fails the build with `error`, the errors under it included.
fn report(error: &snakebox_generator::bindings::BindingsError) {
    for line in error.lines() {
        println!("cargo::error={line}");
    }
}
