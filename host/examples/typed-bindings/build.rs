//! Generates `$OUT_DIR/inventory.rs` from `python/inventory.py`.

fn main() {
    if let Err(error) =
        snakebox_generator::bindings::Bindings::new("python/inventory.py").generate()
    {
        println!("cargo::error={error}");
    }
}
