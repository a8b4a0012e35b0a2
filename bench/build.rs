//! Lets the bench binary find the libpython that PyO3 linked against, also
//! when that library lives outside the system's search path (pyenv, for one),
//! and generates typed bindings of `python/peers.py` for the typed rows.

fn main() {
    let config = pyo3_build_config::get();
    if let Some(lib_dir) = config.lib_dir() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    }
    if let Err(error) = snakebox_generator::bindings::Bindings::new("python/peers.py").generate() {
        for line in error.lines() {
            println!("cargo::error={line}");
        }
    }
}
